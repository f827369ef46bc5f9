package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/suanli/suanli/internal/core"
)

// NetworkStore is what the network (运力) and scheduler-weight endpoints
// need from the store.
type NetworkStore interface {
	Links(ctx context.Context) ([]core.Link, error)
	SetLink(ctx context.Context, l core.Link, actor string) error
	DeleteLink(ctx context.Context, from, to string, actor string) error
	SchedWeights(ctx context.Context) (core.ScoreWeights, error)
	SetSchedWeights(ctx context.Context, w core.ScoreWeights, actor string) error
}

// WeightsRequest is core.ScoreWeights on the wire. Factors left out are 0,
// as in core.ParseScoreWeights, so a body names only the factors it
// wants; the bounds are checked by ScoreWeights.Validate, the one place
// that knows them.
type WeightsRequest struct {
	Price    int `json:"price,omitempty" doc:"Cheaper per normalized PFLOPS ranks higher."`
	Network  int `json:"network,omitempty" doc:"运力: a shorter transfer of the job's data to the center ranks higher."`
	Locality int `json:"locality,omitempty" doc:"存力: the job's data is already stored at the center."`
	Domestic int `json:"domestic,omitempty" doc:"The job runs on domestic (国产) chips."`
	Green    int `json:"green,omitempty" doc:"A larger share of green power."`
	Load     int `json:"load,omitempty" doc:"Less loaded centers, to spread work."`
}

// Weights converts the request to the domain type.
func (w WeightsRequest) Weights() core.ScoreWeights {
	return core.ScoreWeights{Price: w.Price, Network: w.Network, Locality: w.Locality, Domestic: w.Domestic,
		Green: w.Green, Load: w.Load}
}

// weightsPtr converts an optional request, keeping nil as nil.
func weightsPtr(w *WeightsRequest) *core.ScoreWeights {
	if w == nil {
		return nil
	}
	cw := w.Weights()
	return &cw
}

func (s *Server) networkRoutes(a huma.API) {
	if s.Network == nil {
		return
	}
	huma.Register(a, huma.Operation{OperationID: "list-links", Method: http.MethodGet, Path: "/api/v1/network/links",
		Summary: "The network between regions (运力): latency and bandwidth of each link, the same both ways",
		Tags:    []string{"network"}}, s.listLinks)
	huma.Register(a, huma.Operation{OperationID: "set-link", Method: http.MethodPut, Path: "/api/v1/network/links",
		Summary: "Set the link between two regions, either way round (operator)", Tags: []string{"network"},
		MaxBodyBytes: BodyBytesMax + 1}, s.setLink)
	huma.Register(a, huma.Operation{OperationID: "delete-link", Method: http.MethodDelete, Path: "/api/v1/network/links/{from}/{to}",
		Summary: "Remove the link between two regions, either way round (operator)", Tags: []string{"network"}}, s.deleteLink)
	huma.Register(a, huma.Operation{OperationID: "get-scheduler-weights", Method: http.MethodGet, Path: "/api/v1/scheduler/weights",
		Summary: "The platform's default weights for ranking centers (a tenant's or a job's weights override them)",
		Tags:    []string{"network"}}, s.getWeights)
	huma.Register(a, huma.Operation{OperationID: "set-scheduler-weights", Method: http.MethodPut, Path: "/api/v1/scheduler/weights",
		Summary: "Set the platform's default weights for ranking centers (operator)", Tags: []string{"network"},
		MaxBodyBytes: BodyBytesMax + 1}, s.setWeights)
}

type linksOut struct {
	Body struct {
		Links []core.Link `json:"links" doc:"Each link once, from < to; at most 10000."`
	}
}

func (s *Server) listLinks(ctx context.Context, _ *struct{}) (*linksOut, error) {
	ls, err := s.Network.Links(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &linksOut{}
	out.Body.Links = append([]core.Link{}, ls...)
	return out, nil
}

type linkIn struct {
	Body struct {
		From          string `json:"from" minLength:"1" maxLength:"64" doc:"A region, as centers name theirs."`
		To            string `json:"to" minLength:"1" maxLength:"64"`
		LatencyMs     int64  `json:"latency_ms" minimum:"0" maximum:"10000" doc:"One-way latency in milliseconds."`
		BandwidthMbps int64  `json:"bandwidth_mbps" minimum:"1" maximum:"100000000" doc:"Bandwidth in Mbit/s."`
	}
}

type linkOut struct{ Body core.Link }

func (s *Server) setLink(ctx context.Context, in *linkIn) (*linkOut, error) {
	if err := s.operatorOnly(ctx, "sets network links"); err != nil {
		return nil, err
	}
	b := in.Body
	l := core.Link{From: b.From, To: b.To, LatencyMs: b.LatencyMs, BandwidthMbps: b.BandwidthMbps}
	if err := s.Network.SetLink(ctx, l, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	s.wake()
	return &linkOut{Body: l}, nil
}

type linkPathIn struct {
	From string `path:"from" minLength:"1" maxLength:"64"`
	To   string `path:"to" minLength:"1" maxLength:"64"`
}

func (s *Server) deleteLink(ctx context.Context, in *linkPathIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "removes network links"); err != nil {
		return nil, err
	}
	if err := s.Network.DeleteLink(ctx, in.From, in.To, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	s.wake()
	return ok(), nil
}

type weightsOut struct {
	Body struct {
		Weights core.ScoreWeights `json:"weights"`
	}
}

func (s *Server) getWeights(ctx context.Context, _ *struct{}) (*weightsOut, error) {
	w, err := s.Network.SchedWeights(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &weightsOut{}
	out.Body.Weights = w
	return out, nil
}

// weightsIn has the shape of weightsOut, so a GET's body can be PUT back.
type weightsIn struct {
	Body struct {
		Weights WeightsRequest `json:"weights"`
	}
}

func (s *Server) setWeights(ctx context.Context, in *weightsIn) (*weightsOut, error) {
	if err := s.operatorOnly(ctx, "sets the scheduler's weights"); err != nil {
		return nil, err
	}
	w := in.Body.Weights.Weights()
	if err := s.Network.SetSchedWeights(ctx, w, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	s.wake()
	out := &weightsOut{}
	out.Body.Weights = w
	return out, nil
}

// wake nudges the control loop: a changed network or weights may change
// where queued jobs go.
func (s *Server) wake() {
	if s.Wake != nil {
		s.Wake()
	}
}
