package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// CenterView is a center as the API shows it.
type CenterView struct {
	core.Center
	Simulated bool             `json:"simulated" doc:"True for modelled centers: jobs there do not execute, they run for their declared duration."`
	Stats     core.CenterStats `json:"stats"`
	Util      float64          `json:"utilization"`
}

type centersOut struct {
	Body struct {
		Centers []CenterView `json:"centers"`
	}
}

func (s *Server) centerViews(ctx context.Context, p core.Principal) ([]CenterView, error) {
	centers, err := s.Store.Centers(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	stats, err := s.Store.CenterStats(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := []CenterView{}
	for _, c := range centers {
		if p.Role == core.RoleProvider && c.ProviderOrgID != p.OrgID {
			continue
		}
		v := CenterView{Center: c, Simulated: c.Executor == core.ExecutorSimulated}
		if st := stats[c.ID]; st != nil {
			v.Stats, v.Util = *st, st.Utilization()
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Server) listCenters(ctx context.Context, _ *struct{}) (*centersOut, error) {
	views, err := s.centerViews(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := &centersOut{}
	out.Body.Centers = views
	return out, nil
}

type nameIn struct {
	Name string `path:"name" maxLength:"128"`
}

type centerOut struct{ Body CenterView }

func (s *Server) getCenter(ctx context.Context, in *nameIn) (*centerOut, error) {
	views, err := s.centerViews(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	for _, v := range views {
		if v.Name == in.Name || v.ID == in.Name {
			return &centerOut{Body: v}, nil
		}
	}
	return nil, notFound("center", in.Name)
}

type acceleratorsOut struct {
	Body struct {
		Accelerators []core.Accelerator `json:"accelerators"`
		CPUs         []core.CPUModel    `json:"cpus"`
	}
}

func (s *Server) listAccelerators(ctx context.Context, _ *struct{}) (*acceleratorsOut, error) {
	out := &acceleratorsOut{}
	out.Body.Accelerators, out.Body.CPUs = core.Catalog(), core.CPUCatalog()
	return out, nil
}

// ReplicaRequest asks for Count identical replicas.
type ReplicaRequest struct {
	Count       int      `json:"count,omitempty" minimum:"1" maximum:"256" doc:"Identical replicas of this shape (default 1)."`
	AccelModels []string `json:"accel_models,omitempty" maxItems:"16" doc:"Acceptable accelerator models; empty means any model when accel_count > 0."`
	AccelCount  int64    `json:"accel_count,omitempty" minimum:"0" maximum:"64"`
	CPUMilli    int64    `json:"cpu_milli" minimum:"1" maximum:"1024000" doc:"CPU in milli-cores (1000 = one core)."`
	MemMiB      int64    `json:"mem_mib" minimum:"1" maximum:"16777216"`
}

// JobRequest is a job submission. All replicas start together (a gang).
type JobRequest struct {
	Name         string           `json:"name,omitempty" maxLength:"128"`
	Replicas     []ReplicaRequest `json:"replicas" minItems:"1" maxItems:"256"`
	Command      string           `json:"command,omitempty" maxLength:"8192" doc:"Shell command; runs for real on centers with a real executor (local)."`
	DurationS    int64            `json:"duration_s,omitempty" minimum:"0" maximum:"2592000" doc:"Declared run time in seconds; simulated centers model the run for this long."`
	ExitCode     int              `json:"exit_code,omitempty" minimum:"0" maximum:"255" doc:"Exit code a simulated run reports."`
	MaxDurationS int64            `json:"max_duration_s" minimum:"1" maximum:"2592000" doc:"The job is stopped (timed-out) after this many seconds; the hold covers this long."`
	Priority     int              `json:"priority,omitempty" minimum:"-1000" maximum:"1000"`
	Tier         string           `json:"tier,omitempty" enum:"spot,normal,guaranteed," doc:"Price tier: spot 0.6x (preemptible by jobs of equal or higher priority), normal 1x (default; preemptible by higher priority), guaranteed 1.3x the list price (never preempted)."`
	Constraints  core.Constraints `json:"constraints,omitempty"`
	// PriorityClass names an operator-defined class whose value becomes
	// the job's priority (resolved at submission; see resolvePriorityClass).
	PriorityClass string `json:"priority_class,omitempty" maxLength:"63" doc:"A priority class (GET /api/v1/priority-classes): the job's priority becomes its value; a non-zero priority must equal it."`
	// IdempotencyKey makes a retried submission return the first one's job.
	IdempotencyKey string          `json:"idempotency_key,omitempty" maxLength:"128" doc:"Retrying with the same key returns the job the first request created."`
	MaxAttempts    int             `json:"max_attempts,omitempty" minimum:"0" maximum:"10" doc:"Attempts in all when a run is lost with its center (agent silent, server restart): 1 fails the job instead of requeueing it elsewhere; 0 = 3."`
	Data           core.DataSpec   `json:"data,omitzero" doc:"Where the job's input data is; centers near it or holding it rank higher."`
	Weights        *WeightsRequest `json:"weights,omitempty" doc:"Weights that rank centers for this job; absent = the tenant's or the platform's."`
}

// Spec converts the request to a domain spec.
func (r JobRequest) Spec() (core.JobSpec, error) {
	spec := core.JobSpec{Name: r.Name, Command: r.Command, Duration: time.Duration(r.DurationS) * time.Second,
		ExitCode: r.ExitCode, MaxDuration: time.Duration(r.MaxDurationS) * time.Second, Priority: r.Priority,
		Tier: r.Tier, Constraints: r.Constraints, IdempotencyKey: r.IdempotencyKey, MaxAttempts: r.MaxAttempts,
		Data: r.Data, Weights: weightsPtr(r.Weights), PriorityClass: r.PriorityClass}
	for i, rr := range r.Replicas {
		n := max(rr.Count, 1)
		if len(spec.Replicas)+n > core.ReplicasMax {
			return spec, core.FieldErrorf(fmt.Sprintf("replicas[%d].count", i), "more than %d replicas in all", core.ReplicasMax)
		}
		for k := 0; k < n; k++ {
			spec.Replicas = append(spec.Replicas, core.Replica{AccelModels: rr.AccelModels, AccelCount: rr.AccelCount,
				CPUMilli: rr.CPUMilli, MemMiB: rr.MemMiB})
		}
	}
	return spec, spec.Validate()
}

type submitIn struct {
	Body JobRequest
}

// JobView is a job as the API shows it. Durations are in seconds; money in
// micro-CNY with a yuan string beside it.
type JobView struct {
	ID           string             `json:"id"`
	Name         string             `json:"name"`
	State        core.JobState      `json:"state"`
	TenantOrgID  string             `json:"tenant_org_id"`
	Center       string             `json:"center,omitempty"`
	Simulated    bool               `json:"simulated"`
	Replicas     []core.Replica     `json:"replicas"`
	Command      string             `json:"command,omitempty"`
	DurationS    int64              `json:"duration_s,omitempty"`
	MaxDurationS int64              `json:"max_duration_s"`
	Priority     int                `json:"priority"`
	Tier         string             `json:"tier"`
	Constraints  core.Constraints   `json:"constraints"`
	Data         core.DataSpec      `json:"data,omitzero"`
	Weights      *core.ScoreWeights `json:"weights,omitempty"`
	Attempt      int                `json:"attempt"`
	Preemptions  int                `json:"preemptions,omitempty" doc:"Attempts that ended because the job was preempted."`
	BackendID    string             `json:"backend_id,omitempty" doc:"The run's id in its center's own system (Slurm job id, Kubernetes Job)."`
	Charges      core.Charges       `json:"charges"`
	HoldMicros   core.Micros        `json:"hold_micros"`
	CostMicros   core.Micros        `json:"cost_micros"`
	Cost         string             `json:"cost" doc:"cost_micros in CNY, two decimals"`
	UsageS       float64            `json:"usage_s" doc:"Billed replica-seconds."`
	ExitCode     *int               `json:"exit_code,omitempty"`
	Reason       string             `json:"reason,omitempty"`
	Placements   []core.Placement   `json:"placements,omitempty"`
	SubmittedAt  time.Time          `json:"submitted_at"`
	ScheduledAt  *time.Time         `json:"scheduled_at,omitempty"`
	StartedAt    *time.Time         `json:"started_at,omitempty"`
	FinishedAt   *time.Time         `json:"finished_at,omitempty"`
	// PriorityClass is the class Priority came from, if the job named one.
	PriorityClass string `json:"priority_class,omitempty"`
}

func view(j core.Job, centers map[string]core.Center) JobView {
	c := centers[j.CenterID]
	return JobView{ID: j.ID, Name: j.Spec.Name, State: j.State, TenantOrgID: j.TenantOrgID, Center: c.Name,
		Simulated: c.Executor == core.ExecutorSimulated, Replicas: j.Spec.Replicas, Command: j.Spec.Command,
		DurationS: int64(j.Spec.Duration / time.Second), MaxDurationS: int64(j.Spec.MaxDuration / time.Second),
		Priority: j.Spec.Priority, Tier: j.Spec.Tier, Constraints: j.Spec.Constraints, Data: j.Spec.Data,
		Weights: j.Spec.Weights, Attempt: j.Attempt, Preemptions: j.Preemptions, BackendID: j.BackendID,
		Charges: j.Charges, HoldMicros: j.HoldMicros,
		CostMicros: j.CostMicros, Cost: j.CostMicros.Yuan(), UsageS: float64(j.UsageMs) / 1000, ExitCode: j.ExitCode,
		Reason: j.Reason, Placements: j.Placements, SubmittedAt: j.SubmittedAt, ScheduledAt: j.ScheduledAt,
		StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, PriorityClass: j.Spec.PriorityClass}
}

func (s *Server) centerMap(ctx context.Context) (map[string]core.Center, error) {
	cs, err := s.Store.Centers(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	m := make(map[string]core.Center, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	return m, nil
}

type jobOut struct{ Body JobView }

func (s *Server) submitJob(ctx context.Context, in *submitIn) (*jobOut, error) {
	p := principal(ctx)
	if p.Role != core.RoleTenant {
		return nil, forbidden("only tenants submit jobs")
	}
	spec, err := in.Body.Spec()
	if err != nil {
		return nil, s.fail(err)
	}
	if err := s.resolvePriorityClass(ctx, &spec); err != nil {
		return nil, s.fail(err)
	}
	rate, err := s.Quote(ctx, spec)
	if err != nil {
		return nil, s.fail(err)
	}
	j, err := s.Store.SubmitJob(ctx, p.OrgID, spec, rate)
	if err != nil {
		return nil, s.fail(err)
	}
	if s.Wake != nil {
		s.Wake()
	}
	centers := map[string]core.Center{}
	if j.CenterID != "" { // a replayed submission may have been placed since
		if centers, err = s.centerMap(ctx); err != nil {
			return nil, err
		}
	}
	return &jobOut{Body: view(j, centers)}, nil
}

type listJobsIn struct {
	State  string `query:"state" enum:"queued,scheduled,running,succeeded,failed,cancelled,timed-out,"`
	Center string `query:"center" maxLength:"128"`
	Limit  int    `query:"limit" minimum:"0" maximum:"500" default:"50"`
	Offset int    `query:"offset" minimum:"0" maximum:"100000000"`
}

type jobsOut struct {
	Body struct {
		Jobs  []JobView `json:"jobs"`
		Total int       `json:"total"`
	}
}

func (s *Server) listJobs(ctx context.Context, in *listJobsIn) (*jobsOut, error) {
	p := principal(ctx)
	f := store.JobFilter{State: core.JobState(in.State), Limit: in.Limit, Offset: in.Offset}
	switch p.Role {
	case core.RoleTenant:
		f.TenantOrgID = p.OrgID
	case core.RoleProvider:
		f.ProviderOrgID = p.OrgID
	}
	centers, err := s.centerMap(ctx)
	if err != nil {
		return nil, err
	}
	if in.Center != "" {
		for id, c := range centers {
			if c.Name == in.Center || id == in.Center {
				f.CenterID = id
			}
		}
		if f.CenterID == "" {
			return nil, notFound("center", in.Center)
		}
	}
	jobs, total, err := s.Store.Jobs(ctx, f)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &jobsOut{}
	out.Body.Total = total
	out.Body.Jobs = make([]JobView, 0, len(jobs))
	for _, j := range jobs {
		out.Body.Jobs = append(out.Body.Jobs, view(j, centers))
	}
	return out, nil
}

type idIn struct {
	ID string `path:"id" maxLength:"128"`
}

// visibleJob returns the job if the caller may see it, else 404 — also for
// another tenant's job, so ids cannot be probed.
func (s *Server) visibleJob(ctx context.Context, id string) (core.Job, map[string]core.Center, error) {
	p := principal(ctx)
	j, err := s.Store.Job(ctx, id)
	if err != nil {
		if core.ErrorCode(err) == core.ENotFound {
			return j, nil, notFound("job", id)
		}
		return j, nil, s.fail(err)
	}
	centers, err := s.centerMap(ctx)
	if err != nil {
		return j, nil, err
	}
	switch p.Role {
	case core.RoleTenant:
		if j.TenantOrgID != p.OrgID {
			return j, nil, notFound("job", id)
		}
	case core.RoleProvider:
		if centers[j.CenterID].ProviderOrgID != p.OrgID {
			return j, nil, notFound("job", id)
		}
	}
	return j, centers, nil
}

func (s *Server) getJob(ctx context.Context, in *idIn) (*jobOut, error) {
	j, centers, err := s.visibleJob(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &jobOut{Body: view(j, centers)}, nil
}

type eventsOut struct {
	Body struct {
		Events []core.Event `json:"events"`
	}
}

func (s *Server) jobEvents(ctx context.Context, in *idIn) (*eventsOut, error) {
	if _, _, err := s.visibleJob(ctx, in.ID); err != nil {
		return nil, err
	}
	evs, err := s.Store.Events(ctx, in.ID)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &eventsOut{}
	out.Body.Events = evs
	if out.Body.Events == nil {
		out.Body.Events = []core.Event{}
	}
	return out, nil
}

type logsOut struct {
	Body struct {
		JobID string `json:"job_id"`
		Logs  string `json:"logs"`
	}
}

func (s *Server) jobLogs(ctx context.Context, in *idIn) (*logsOut, error) {
	j, _, err := s.visibleJob(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	logs, err := s.Logs(ctx, j)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &logsOut{}
	out.Body.JobID, out.Body.Logs = j.ID, logs
	return out, nil
}

func (s *Server) cancelJob(ctx context.Context, in *idIn) (*jobOut, error) {
	p := principal(ctx)
	if p.Role == core.RoleProvider {
		return nil, forbidden("providers cannot cancel tenants' jobs")
	}
	if _, _, err := s.visibleJob(ctx, in.ID); err != nil {
		return nil, err
	}
	if _, err := s.Store.CancelJob(ctx, in.ID); err != nil {
		return nil, s.fail(err)
	}
	if s.Wake != nil {
		s.Wake()
	}
	j, centers, err := s.visibleJob(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &jobOut{Body: view(j, centers)}, nil
}

// WalletView is a wallet account's balances.
type WalletView struct {
	OrgID           string      `json:"org_id"`
	AccountID       string      `json:"account_id"`
	AvailableMicros core.Micros `json:"available_micros" doc:"Credits less posted and held debits: what new jobs can hold."`
	HeldMicros      core.Micros `json:"held_micros" doc:"Holds of queued and running jobs."`
	SpentMicros     core.Micros `json:"spent_micros" doc:"Posted debits: charges captured so far."`
	CreditedMicros  core.Micros `json:"credited_micros" doc:"Posted credits: top-ups."`
	Available       string      `json:"available"`
	Held            string      `json:"held"`
	Spent           string      `json:"spent"`
}

func walletView(orgID string, a ledger.Account) WalletView {
	return WalletView{OrgID: orgID, AccountID: a.ID, AvailableMicros: a.Available(), HeldMicros: a.DebitsPending,
		SpentMicros: a.DebitsPosted, CreditedMicros: a.CreditsPosted, Available: a.Available().Yuan(),
		Held: a.DebitsPending.Yuan(), Spent: a.DebitsPosted.Yuan()}
}

type walletIn struct {
	OrgID string `query:"org_id" maxLength:"128" doc:"Operator only: the tenant whose wallet to show."`
}

type walletOut struct{ Body WalletView }

func (s *Server) getWallet(ctx context.Context, in *walletIn) (*walletOut, error) {
	p := principal(ctx)
	org := p.OrgID
	switch p.Role {
	case core.RoleOperator:
		if in.OrgID == "" {
			return nil, &Error{Status: http.StatusUnprocessableEntity, Code: core.EInvalid, Field: "query.org_id",
				Message: "org_id: operators must name the tenant"}
		}
		org = in.OrgID
	case core.RoleProvider:
		return nil, forbidden("providers have no wallet; see the ledger transfers of their payable account")
	default:
		if in.OrgID != "" && in.OrgID != p.OrgID {
			return nil, notFound("wallet of", in.OrgID)
		}
	}
	a, err := s.Store.Account(ctx, ledger.WalletID(org))
	if err != nil {
		if core.ErrorCode(err) == core.ENotFound {
			return nil, notFound("wallet of", org)
		}
		return nil, s.fail(err)
	}
	return &walletOut{Body: walletView(org, a)}, nil
}

type topUpIn struct {
	Body struct {
		OrgID        string      `json:"org_id" minLength:"1" maxLength:"128"`
		AmountMicros core.Micros `json:"amount_micros" minimum:"1" maximum:"1000000000000000" doc:"Amount in micro-CNY."`
		Reference    string      `json:"reference" minLength:"1" maxLength:"128" doc:"Bank transfer reference; makes the top-up idempotent."`
	}
}

func (s *Server) topUp(ctx context.Context, in *topUpIn) (*walletOut, error) {
	if principal(ctx).Role != core.RoleOperator {
		return nil, forbidden("only the operator tops up wallets")
	}
	a, err := s.Store.TopUp(ctx, in.Body.OrgID, in.Body.AmountMicros, in.Body.Reference)
	if err != nil {
		return nil, s.fail(err)
	}
	return &walletOut{Body: walletView(in.Body.OrgID, a)}, nil
}

type transfersIn struct {
	Account string `query:"account" maxLength:"256"`
	JobID   string `query:"job_id" maxLength:"128"`
	Limit   int    `query:"limit" minimum:"0" maximum:"1000" default:"100"`
	Offset  int    `query:"offset" minimum:"0" maximum:"100000000"`
}

type transfersOut struct {
	Body struct {
		Transfers []ledger.Transfer `json:"transfers"`
		Total     int               `json:"total"`
	}
}

func (s *Server) listTransfers(ctx context.Context, in *transfersIn) (*transfersOut, error) {
	p := principal(ctx)
	f := store.TransferFilter{AccountID: in.Account, JobID: in.JobID, Limit: in.Limit, Offset: in.Offset}
	switch p.Role {
	case core.RoleTenant:
		f.AccountID = ledger.WalletID(p.OrgID)
	case core.RoleProvider:
		f.AccountID = ledger.PayableID(p.OrgID)
	}
	ts, total, err := s.Store.Transfers(ctx, f)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &transfersOut{}
	out.Body.Transfers, out.Body.Total = ts, total
	if out.Body.Transfers == nil {
		out.Body.Transfers = []ledger.Transfer{}
	}
	return out, nil
}

type checkOut struct {
	Body struct {
		OK      bool   `json:"ok"`
		Message string `json:"message"`
	}
}

func (s *Server) checkLedger(ctx context.Context, _ *struct{}) (*checkOut, error) {
	if principal(ctx).Role != core.RoleOperator {
		return nil, forbidden("only the operator checks the ledger")
	}
	out := &checkOut{}
	if err := s.Store.CheckLedger(ctx); err != nil {
		out.Body.Message = err.Error()
		return out, nil
	}
	out.Body.OK, out.Body.Message = true, "balanced: every account equals the fold of its transfers; debits equal credits"
	return out, nil
}

type orgsOut struct {
	Body struct {
		Orgs []core.Org `json:"orgs"`
	}
}

func (s *Server) listOrgs(ctx context.Context, _ *struct{}) (*orgsOut, error) {
	if principal(ctx).Role != core.RoleOperator {
		return nil, forbidden("only the operator lists organizations")
	}
	orgs, err := s.Store.Orgs(ctx, "")
	if err != nil {
		return nil, s.fail(err)
	}
	out := &orgsOut{}
	out.Body.Orgs = orgs
	return out, nil
}

type createOrgIn struct {
	Body struct {
		Name       string    `json:"name" minLength:"1" maxLength:"200"`
		CreditCode string    `json:"credit_code" minLength:"18" maxLength:"18" doc:"统一社会信用代码 (GB 32100), checked with its check character."`
		Role       core.Role `json:"role" enum:"tenant,provider,operator"`
	}
}

type orgOut struct{ Body core.Org }

func (s *Server) createOrg(ctx context.Context, in *createOrgIn) (*orgOut, error) {
	if principal(ctx).Role != core.RoleOperator {
		return nil, forbidden("only the operator registers organizations")
	}
	o, err := s.Store.CreateOrg(ctx, in.Body.Name, in.Body.CreditCode, in.Body.Role)
	if err != nil {
		return nil, s.fail(err)
	}
	return &orgOut{Body: o}, nil
}

type createTokenIn struct {
	ID   string `path:"id" maxLength:"128"`
	Body struct {
		Name string `json:"name,omitempty" maxLength:"100" doc:"A label for the token, e.g. the person or system using it."`
	}
}

type tokenOut struct {
	Body struct {
		OrgID string    `json:"org_id"`
		Role  core.Role `json:"role"`
		Token string    `json:"token" doc:"Shown once; only its hash is stored."`
	}
}

func (s *Server) createToken(ctx context.Context, in *createTokenIn) (*tokenOut, error) {
	if principal(ctx).Role != core.RoleOperator {
		return nil, forbidden("only the operator mints tokens")
	}
	o, err := s.Store.Org(ctx, in.ID)
	if err != nil {
		if core.ErrorCode(err) == core.ENotFound {
			return nil, notFound("organization", in.ID)
		}
		return nil, s.fail(err)
	}
	tok, err := s.Store.CreateToken(ctx, o.ID, in.Body.Name)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &tokenOut{}
	out.Body.OrgID, out.Body.Role, out.Body.Token = o.ID, o.Role, tok
	return out, nil
}

type whoamiOut struct{ Body core.Org }

func (s *Server) whoami(ctx context.Context, _ *struct{}) (*whoamiOut, error) {
	o, err := s.Store.Org(ctx, principal(ctx).OrgID)
	if err != nil {
		return nil, s.fail(err)
	}
	return &whoamiOut{Body: o}, nil
}

// Overview is the network at a glance.
type Overview struct {
	SchedulablePFLOPSByKind   map[core.CenterKind]float64 `json:"schedulable_pflops_by_kind"`
	SchedulablePFLOPSByRegion map[string]float64          `json:"schedulable_pflops_by_region"`
	Utilization               float64                     `json:"utilization"`
	QueueLength               int                         `json:"queue_length"`
	JobsByState               map[core.JobState]int       `json:"jobs_by_state"`
	RevenueTodayMicros        core.Micros                 `json:"revenue_today_micros" doc:"Operator: all tenants; tenant: its own spend."`
	Centers                   int                         `json:"centers"`
}

type overviewOut struct{ Body Overview }

func (s *Server) overview(ctx context.Context, _ *struct{}) (*overviewOut, error) {
	p := principal(ctx)
	views, err := s.centerViews(ctx, p)
	if err != nil {
		return nil, err
	}
	o := Overview{SchedulablePFLOPSByKind: map[core.CenterKind]float64{}, SchedulablePFLOPSByRegion: map[string]float64{},
		Centers: len(views)}
	var sched, alloc float64
	for _, v := range views {
		o.SchedulablePFLOPSByKind[v.Kind] += v.Stats.SchedulablePFLOPS
		o.SchedulablePFLOPSByRegion[v.Region] += v.Stats.SchedulablePFLOPS
		sched += v.Stats.SchedulablePFLOPS
		alloc += v.Stats.AllocatedPFLOPS
	}
	if sched > 0 {
		o.Utilization = alloc / sched
	}
	tenant := ""
	if p.Role == core.RoleTenant {
		tenant = p.OrgID
	}
	if o.JobsByState, err = s.Store.JobCounts(ctx, tenant); err != nil {
		return nil, s.fail(err)
	}
	o.QueueLength = o.JobsByState[core.JobQueued]
	day := s.Now().Truncate(24 * time.Hour)
	switch p.Role {
	case core.RoleOperator:
		r, err := s.Store.RevenueSince(ctx, day)
		if err != nil {
			return nil, s.fail(err)
		}
		o.RevenueTodayMicros = r.Gross
	case core.RoleTenant:
		ts, _, err := s.Store.Transfers(ctx, store.TransferFilter{AccountID: ledger.WalletID(p.OrgID), Limit: store.TransfersPageMax})
		if err != nil {
			return nil, s.fail(err)
		}
		for _, t := range ts {
			if (t.Code == "capture" || t.Code == "capture_direct") && !t.CreatedAt.Before(day) {
				o.RevenueTodayMicros += t.Amount
			}
		}
	}
	return &overviewOut{Body: o}, nil
}
