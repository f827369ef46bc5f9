// Package api serves suanli's REST API under /api/v1 with huma, which
// generates the OpenAPI 3.1 document (/openapi.json) from the Go types here.
// Every operation authenticates a bearer token and enforces tenant
// isolation: a tenant sees only its own jobs and wallet (another tenant's
// object is 404), a provider only its own centers, the operator everything.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// BodyBytesMax bounds request bodies; larger ones get 413. (huma refuses a
// body that reaches its limit, hence the +1 where operations set it.)
const BodyBytesMax = 1 << 20

// Store is what the API needs from the database.
type Store interface {
	Authenticate(ctx context.Context, token string) (core.Principal, error)
	Org(ctx context.Context, id string) (core.Org, error)
	Orgs(ctx context.Context, role core.Role) ([]core.Org, error)
	CreateOrg(ctx context.Context, name, creditCode string, role core.Role) (core.Org, error)
	CreateToken(ctx context.Context, orgID, name string) (string, error)
	Centers(ctx context.Context) ([]core.Center, error)
	Center(ctx context.Context, idOrName string) (core.Center, error)
	CenterStats(ctx context.Context) (map[string]*core.CenterStats, error)
	SubmitJob(ctx context.Context, tenantOrgID string, spec core.JobSpec, maxRateScaled int64) (core.Job, error)
	Job(ctx context.Context, id string) (core.Job, error)
	Jobs(ctx context.Context, f store.JobFilter) ([]core.Job, int, error)
	Events(ctx context.Context, jobID string) ([]core.Event, error)
	CancelJob(ctx context.Context, jobID string) (bool, error)
	Account(ctx context.Context, id string) (ledger.Account, error)
	Transfers(ctx context.Context, f store.TransferFilter) ([]ledger.Transfer, int, error)
	TopUp(ctx context.Context, orgID string, amount core.Micros, ref string) (ledger.Account, error)
	CheckLedger(ctx context.Context) error
	JobCounts(ctx context.Context, tenantOrgID string) (map[core.JobState]int, error)
	RevenueSince(ctx context.Context, since time.Time) (store.Revenue, error)
}

// Server holds the API's dependencies.
type Server struct {
	Store Store
	// Money serves vouchers, usage reports, corrections and verification.
	Money MoneyStore
	// CommissionBPS is the operator's commission, for refunds and late usage.
	CommissionBPS int64
	// Quote returns the highest rate a spec could run at, or EUnschedulable.
	Quote func(ctx context.Context, spec core.JobSpec) (int64, error)
	// Logs returns a job's combined logs.
	Logs func(ctx context.Context, j core.Job) (string, error)
	// Wake nudges the control loop after a submit or cancel.
	Wake func()
	Log  *slog.Logger
	Now  func() time.Time
	// Observe records one request's latency (for metrics); may be nil.
	Observe func(op string, status int, d time.Duration)
	// Settlement serves statements, invoices and reports; nil leaves
	// those endpoints out.
	Settlement SettlementStore
	// Agents serves `suanli agent`; nil leaves the agent endpoints out.
	Agents Agents
	// Centers registers agent centers; nil leaves the endpoint out.
	Centers CenterCreator
	// Network serves the links between regions and the scheduler's
	// weights; nil leaves those endpoints out.
	Network NetworkStore
	// PriorityClasses serves the named priority classes and resolves the
	// class a submission names; nil leaves the endpoints out (and any
	// named class is unknown).
	PriorityClasses PriorityClassStore
	// Retryable reports transient database failures (answered 503); may be
	// nil.
	Retryable func(error) bool
}

type principalKey struct{}

func principal(ctx context.Context) core.Principal {
	p, _ := ctx.Value(principalKey{}).(core.Principal)
	return p
}

// Register mounts the API and /openapi.json on mux.
func (s *Server) Register(mux *http.ServeMux) huma.API {
	installErrorModel()
	cfg := huma.DefaultConfig("suanli API", "1.0.0")
	cfg.Info.Description = "suanli (算力) compute-power network: centers, jobs, wallets. " +
		"Authenticate with `Authorization: Bearer <token>`. Money is in micro-CNY (1e-6 CNY) integers."
	cfg.DocsPath = "/api/docs"
	cfg.SchemasPath = "/api/schemas"
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer"},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	a := humago.New(mux, cfg)
	a.UseMiddleware(s.middleware(a))
	s.routes(a)
	return a
}

func (s *Server) middleware(a huma.API) func(ctx huma.Context, next func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		t0 := time.Now()
		defer func() {
			if s.Observe != nil {
				s.Observe(ctx.Operation().OperationID, ctx.Status(), time.Since(t0))
			}
		}()
		auth := ctx.Header("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" {
			_ = huma.WriteErr(a, ctx, http.StatusUnauthorized, "missing bearer token") // write errors only mean the client left
			return
		}
		p, err := s.Store.Authenticate(ctx.Context(), strings.TrimSpace(token))
		if err != nil {
			if core.ErrorCode(err) != core.EUnauthorized {
				// The token could not be checked: not the client's fault.
				var e *Error
				if errors.As(s.fail(err), &e) {
					_ = huma.WriteErr(a, ctx, e.Status, e.Message)
				}
				return
			}
			_ = huma.WriteErr(a, ctx, http.StatusUnauthorized, "unknown token")
			return
		}
		next(huma.WithValue(ctx, principalKey{}, p))
	}
}

func forbidden(msg string) error {
	return &Error{Status: http.StatusForbidden, Code: core.EForbidden, Message: msg}
}

func notFound(what, id string) error {
	return &Error{Status: http.StatusNotFound, Code: core.ENotFound, Message: what + " " + quote(id) + " not found"}
}

func quote(s string) string { return "\"" + s + "\"" }

func (s *Server) routes(a huma.API) {
	huma.Register(a, huma.Operation{OperationID: "list-centers", Method: http.MethodGet, Path: "/api/v1/centers",
		Summary: "List compute centers with capacity and prices", Tags: []string{"centers"}}, s.listCenters)
	huma.Register(a, huma.Operation{OperationID: "get-center", Method: http.MethodGet, Path: "/api/v1/centers/{name}",
		Summary: "Get one center", Tags: []string{"centers"}}, s.getCenter)
	huma.Register(a, huma.Operation{OperationID: "list-accelerators", Method: http.MethodGet, Path: "/api/v1/catalog/accelerators",
		Summary: "The accelerator catalog with the source of each figure", Tags: []string{"centers"}}, s.listAccelerators)
	huma.Register(a, huma.Operation{OperationID: "submit-job", Method: http.MethodPost, Path: "/api/v1/jobs",
		Summary: "Submit a batch job (tenant)", Tags: []string{"jobs"}, DefaultStatus: http.StatusCreated,
		MaxBodyBytes: BodyBytesMax + 1}, s.submitJob)
	huma.Register(a, huma.Operation{OperationID: "list-jobs", Method: http.MethodGet, Path: "/api/v1/jobs",
		Summary: "List jobs visible to the caller", Tags: []string{"jobs"}}, s.listJobs)
	huma.Register(a, huma.Operation{OperationID: "get-job", Method: http.MethodGet, Path: "/api/v1/jobs/{id}",
		Summary: "Get a job", Tags: []string{"jobs"}}, s.getJob)
	huma.Register(a, huma.Operation{OperationID: "job-events", Method: http.MethodGet, Path: "/api/v1/jobs/{id}/events",
		Summary: "A job's event history", Tags: []string{"jobs"}}, s.jobEvents)
	huma.Register(a, huma.Operation{OperationID: "job-logs", Method: http.MethodGet, Path: "/api/v1/jobs/{id}/logs",
		Summary: "A job's logs (stdout and stderr of each replica)", Tags: []string{"jobs"}}, s.jobLogs)
	huma.Register(a, huma.Operation{OperationID: "cancel-job", Method: http.MethodPost, Path: "/api/v1/jobs/{id}/cancel",
		Summary: "Cancel a job; a running job is stopped and pays for the time it ran", Tags: []string{"jobs"}}, s.cancelJob)
	huma.Register(a, huma.Operation{OperationID: "get-wallet", Method: http.MethodGet, Path: "/api/v1/wallet",
		Summary: "A tenant's wallet (operators pass org_id)", Tags: []string{"money"}}, s.getWallet)
	huma.Register(a, huma.Operation{OperationID: "topup-wallet", Method: http.MethodPost, Path: "/api/v1/wallet/topup",
		Summary: "Credit a tenant's wallet (operator)", Tags: []string{"money"}, MaxBodyBytes: BodyBytesMax + 1}, s.topUp)
	huma.Register(a, huma.Operation{OperationID: "list-transfers", Method: http.MethodGet, Path: "/api/v1/ledger/transfers",
		Summary: "Ledger transfers (operator: all; tenant: its wallet's; provider: its payable's)", Tags: []string{"money"}}, s.listTransfers)
	huma.Register(a, huma.Operation{OperationID: "check-ledger", Method: http.MethodGet, Path: "/api/v1/ledger/check",
		Summary: "Verify the ledger's invariants (operator)", Tags: []string{"money"}}, s.checkLedger)
	huma.Register(a, huma.Operation{OperationID: "list-orgs", Method: http.MethodGet, Path: "/api/v1/orgs",
		Summary: "Organizations (operator)", Tags: []string{"orgs"}}, s.listOrgs)
	huma.Register(a, huma.Operation{OperationID: "create-org", Method: http.MethodPost, Path: "/api/v1/orgs",
		Summary: "Register an organization with its unified social credit code (operator)", Tags: []string{"orgs"},
		DefaultStatus: http.StatusCreated, MaxBodyBytes: BodyBytesMax + 1}, s.createOrg)
	huma.Register(a, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: "/api/v1/orgs/{id}/tokens",
		Summary: "Mint an API token for an organization (operator); the token is shown once", Tags: []string{"orgs"},
		DefaultStatus: http.StatusCreated, MaxBodyBytes: BodyBytesMax + 1}, s.createToken)
	huma.Register(a, huma.Operation{OperationID: "whoami", Method: http.MethodGet, Path: "/api/v1/whoami",
		Summary: "The caller's organization and role", Tags: []string{"orgs"}}, s.whoami)
	huma.Register(a, huma.Operation{OperationID: "overview", Method: http.MethodGet, Path: "/api/v1/overview",
		Summary: "Network overview: schedulable P, utilization, queue, jobs by state, revenue today", Tags: []string{"centers"}}, s.overview)
	s.moneyRoutes(a)
	s.settlementRoutes(a)
	s.agentRoutes(a)
	s.networkRoutes(a)
	s.priorityClassRoutes(a)
}
