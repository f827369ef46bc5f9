package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/suanli/suanli/internal/agentproto"
	"github.com/suanli/suanli/internal/core"
)

// Agents serves `suanli agent`: syncs and log uploads.
type Agents interface {
	Sync(ctx context.Context, p core.Principal, center string, req agentproto.SyncRequest) (agentproto.SyncResponse, error)
	UploadLogs(ctx context.Context, p core.Principal, center string, u agentproto.LogUpload) error
}

// CenterCreator registers centers.
type CenterCreator interface {
	CreateCenter(ctx context.Context, c core.Center, nodes []core.Node) (core.Center, error)
}

func (s *Server) agentRoutes(a huma.API) {
	if s.Agents == nil {
		return
	}
	huma.Register(a, huma.Operation{OperationID: "agent-sync", Method: http.MethodPost, Path: "/api/v1/agent/centers/{name}/sync",
		Summary:      "An agent's heartbeat and report; answers what to start, cancel, forget and upload logs for",
		Tags:         []string{"agents"},
		MaxBodyBytes: agentproto.BodyBytesMax}, s.agentSync)
	huma.Register(a, huma.Operation{OperationID: "agent-logs", Method: http.MethodPut, Path: "/api/v1/agent/centers/{name}/logs",
		Summary: "An agent uploads a run's logs", Tags: []string{"agents"}, MaxBodyBytes: 2*agentproto.LogBytesMax + 1}, s.agentLogs)
	if s.Centers != nil {
		huma.Register(a, huma.Operation{OperationID: "create-center", Method: http.MethodPost, Path: "/api/v1/centers",
			Summary: "Register a center whose own system (Slurm, Kubernetes) an agent drives", Tags: []string{"centers"},
			DefaultStatus: http.StatusCreated}, s.createCenter)
	}
}

type agentSyncIn struct {
	Name string `path:"name" maxLength:"128"`
	Body agentproto.SyncRequest
}

type agentSyncOut struct{ Body agentproto.SyncResponse }

func (s *Server) agentSync(ctx context.Context, in *agentSyncIn) (*agentSyncOut, error) {
	resp, err := s.Agents.Sync(ctx, principal(ctx), in.Name, in.Body)
	if err != nil {
		return nil, s.fail(err)
	}
	if s.Wake != nil {
		s.Wake() // reports may have ended runs or freed capacity
	}
	return &agentSyncOut{Body: resp}, nil
}

type agentLogsIn struct {
	Name string `path:"name" maxLength:"128"`
	Body agentproto.LogUpload
}

func (s *Server) agentLogs(ctx context.Context, in *agentLogsIn) (*struct{}, error) {
	if err := s.Agents.UploadLogs(ctx, principal(ctx), in.Name, in.Body); err != nil {
		return nil, s.fail(err)
	}
	return &struct{}{}, nil
}

// CenterRequest registers an agent center. Its nodes come from the agent.
type CenterRequest struct {
	Name          string                 `json:"name" minLength:"1" maxLength:"64" pattern:"^[a-z0-9][a-z0-9-]*$" doc:"Unique name, lower-case letters, digits and dashes."`
	DisplayName   string                 `json:"display_name,omitempty" maxLength:"256"`
	Kind          core.CenterKind        `json:"kind" enum:"ai,hpc,general" doc:"ai = 智算, hpc = 超算, general = 通算."`
	Region        string                 `json:"region" minLength:"1" maxLength:"128"`
	PUEMilli      int                    `json:"pue_milli,omitempty" minimum:"0" maximum:"5000" doc:"PUE x 1000; 0 = unknown."`
	GreenPercent  int                    `json:"green_percent,omitempty" minimum:"0" maximum:"100"`
	Domestic      bool                   `json:"domestic,omitempty"`
	ProviderOrgID string                 `json:"provider_org_id,omitempty" maxLength:"64" doc:"The provider that runs it; a provider registers only its own."`
	CoreHour      core.Micros            `json:"core_hour_micros" minimum:"0" doc:"List price per core-hour, 1e-6 CNY."`
	MemGiBHour    core.Micros            `json:"mem_gib_hour_micros,omitempty" minimum:"0"`
	CardHour      map[string]core.Micros `json:"card_hour_micros,omitempty" doc:"List price per card-hour by catalog accelerator model, 1e-6 CNY."`
}

type createCenterIn struct{ Body CenterRequest }

func (s *Server) createCenter(ctx context.Context, in *createCenterIn) (*centerOut, error) {
	p := principal(ctx)
	r := in.Body
	switch p.Role {
	case core.RoleOperator:
		if r.ProviderOrgID == "" {
			return nil, core.FieldErrorf("provider_org_id", "is required when the operator registers a center")
		}
	case core.RoleProvider:
		if r.ProviderOrgID != "" && r.ProviderOrgID != p.OrgID {
			return nil, forbidden("a provider registers only its own centers")
		}
		r.ProviderOrgID = p.OrgID
	default:
		return nil, forbidden("only providers and the operator register centers")
	}
	if org, err := s.Store.Org(ctx, r.ProviderOrgID); err != nil || org.Role != core.RoleProvider {
		return nil, core.FieldErrorf("provider_org_id", "%q is not a provider", r.ProviderOrgID)
	}
	for model, price := range r.CardHour {
		if _, ok := core.LookupAccelerator(model); !ok {
			return nil, core.FieldErrorf("card_hour_micros", "%q is not in the accelerator catalog", model)
		}
		if price < 0 {
			return nil, core.FieldErrorf("card_hour_micros", "price of %s is negative", model)
		}
	}
	display := r.DisplayName
	if display == "" {
		display = r.Name
	}
	c, err := s.Centers.CreateCenter(ctx, core.Center{Name: r.Name, DisplayName: display, Kind: r.Kind, Region: r.Region,
		PUEMilli: r.PUEMilli, GreenPercent: r.GreenPercent, Domestic: r.Domestic, ProviderOrgID: r.ProviderOrgID,
		Executor: core.ExecutorAgent, Status: core.CenterAvailable,
		Prices: core.PriceBook{CardHour: r.CardHour, CoreHour: r.CoreHour, MemGiBHour: r.MemGiBHour},
		Source: "registered through the API; nodes reported by its agent"}, nil)
	if err != nil {
		return nil, s.fail(err)
	}
	return &centerOut{Body: CenterView{Center: c}}, nil
}
