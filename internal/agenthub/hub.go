// Package agenthub is the server's side of `suanli agent`: it answers each
// agent's sync from the store (what the center must run), writes what the
// agent reports to the store (starts, usage, ends, logs), and gives a
// silent center's work to others. Every decision reads the store, not this
// process's memory, so any server replica can answer any agent; the control
// loop only places jobs on agent centers and, as leader, calls Reap.
package agenthub

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/agentproto"
	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// Limits.
const (
	CenterJobsMax = agentproto.RunsMax // active jobs answered per sync
	// LogWait bounds how long a log request waits for the agent's upload.
	LogWait = 5 * time.Second
	// TimeoutMin and TimeoutMax bound the heartbeat timeout agents ask for.
	TimeoutMin = 2 * time.Second
	TimeoutMax = 30 * time.Minute
)

// Store is what the hub needs from the database.
type Store interface {
	Center(ctx context.Context, idOrName string) (core.Center, error)
	AgentHeartbeat(ctx context.Context, centerID string, timeout time.Duration) (bool, error)
	SyncNodes(ctx context.Context, centerID string, nodes []core.Node) (int, error)
	StaleAgentCenters(ctx context.Context) ([]core.Center, error)
	LoseCenter(ctx context.Context, centerID string, commissionBPS int64) (requeued, failed []string, err error)
	CenterJobs(ctx context.Context, centerID string, limit int) ([]core.Job, error)
	MarkStarted(ctx context.Context, jobID string, attempt int, backendID string, startedAt time.Time, msg string) error
	SetBackendID(ctx context.Context, jobID string, attempt int, backendID string) error
	Job(ctx context.Context, id string) (core.Job, error)
	SaveLogs(ctx context.Context, jobID string, attempt int, text string) error
	JobLogs(ctx context.Context, jobID string) (string, time.Time, error)
	Meter(ctx context.Context, jobID string, totals map[int]int64, commissionBPS int64) (store.MeterStatus, error)
	FinishJob(ctx context.Context, jobID string, r store.Result, commissionBPS int64) (core.Job, error)
}

// run is what this replica knows of one job's current attempt: only
// caches and throttles, never the truth.
type run struct {
	center    string
	attempt   int
	usage     map[int]int64 // replica → wall ms, as last reported here
	meteredAt time.Time     // when this replica last metered it
}

// Hub serves agent centers. It is safe for concurrent use.
type Hub struct {
	Store         Store
	CommissionBPS int64
	Log           *slog.Logger
	// MeterInterval is how often a running job's reported usage is metered
	// (recorded and, for long jobs, captured in rolling windows).
	MeterInterval time.Duration
	// OnFinish observes jobs that end through an agent (metrics); may be nil.
	OnFinish func(core.Job)

	mu       sync.Mutex
	runs     map[string]*run            // by job ID
	logsWant map[string]chan struct{}   // job ID → closed when logs arrive
	wantAt   map[string]map[string]bool // center ID → job IDs whose logs are wanted
}

// New returns a hub.
func New(st Store, commissionBPS int64, meterInterval time.Duration, log *slog.Logger) *Hub {
	return &Hub{Store: st, CommissionBPS: commissionBPS, MeterInterval: meterInterval, Log: log,
		runs: map[string]*run{}, logsWant: map[string]chan struct{}{}, wantAt: map[string]map[string]bool{}}
}

// Authorize checks that p may act for the center: its provider or the
// operator. Another provider's center is not found.
func Authorize(p core.Principal, c core.Center) error {
	if p.Role == core.RoleOperator || (p.Role == core.RoleProvider && p.OrgID == c.ProviderOrgID) {
		return nil
	}
	return core.Errorf(core.ENotFound, "center %q not found", c.Name)
}

func (h *Hub) center(ctx context.Context, p core.Principal, name string) (core.Center, error) {
	c, err := h.Store.Center(ctx, name)
	if err != nil {
		return c, err
	}
	if err := Authorize(p, c); err != nil {
		return c, err
	}
	if c.Executor != core.ExecutorAgent {
		return c, core.Errorf(core.EConflict, "center %q is run by the %s executor, not by an agent", c.Name, c.Executor)
	}
	return c, nil
}

// Sync records an agent's heartbeat and report and answers what it must
// do.
func (h *Hub) Sync(ctx context.Context, p core.Principal, centerName string, req agentproto.SyncRequest) (agentproto.SyncResponse, error) {
	resp := agentproto.SyncResponse{Start: []agentproto.RunOrder{}, Cancel: []agentproto.RunRef{},
		Forget: []agentproto.RunRef{}, Logs: []agentproto.RunRef{}}
	if len(req.Runs) > agentproto.RunsMax {
		return resp, core.FieldErrorf("runs", "at most %d", agentproto.RunsMax)
	}
	c, err := h.center(ctx, p, centerName)
	if err != nil {
		return resp, err
	}
	var nodes []core.Node
	if req.Nodes != nil {
		nodes = make([]core.Node, 0, len(req.Nodes))
		for _, n := range req.Nodes {
			st := core.NodeReady
			if !n.Ready {
				st = core.NodeDown
			}
			nodes = append(nodes, core.Node{Name: n.Name, CPUMilli: n.CPUMilli, MemMiB: n.MemMiB,
				AccelModel: n.AccelModel, AccelCount: n.AccelCount, Status: st})
		}
		// Checked before anything is written: a refused sync changes
		// nothing, not even the heartbeat.
		if err := core.ValidateNodes(nodes); err != nil {
			return resp, err
		}
	}
	// The heartbeat first: once the center shows the agent's nodes it also
	// shows the agent as seen.
	timeout := min(max(time.Duration(req.IntervalMs)*time.Millisecond*agentproto.MissedHeartbeats, TimeoutMin), TimeoutMax)
	restored, err := h.Store.AgentHeartbeat(ctx, c.ID, timeout)
	if err != nil {
		return resp, fmt.Errorf("heartbeat: %w", err)
	}
	if restored {
		h.Log.Info("agent is back; center available again", "center", c.Name)
	}
	if req.Nodes != nil {
		if n, err := h.Store.SyncNodes(ctx, c.ID, nodes); err != nil {
			return resp, err
		} else if n > 0 {
			h.Log.Info("center nodes changed", "center", c.Name, "changed", n)
		}
	}
	jobs, err := h.Store.CenterJobs(ctx, c.ID, CenterJobsMax)
	if err != nil {
		return resp, fmt.Errorf("center jobs: %w", err)
	}
	byID := make(map[string]core.Job, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	seen := make(map[string]bool, len(req.Runs))
	for _, r := range req.Runs {
		ref := agentproto.RunRef{JobID: r.JobID, Attempt: r.Attempt}
		j, ok := byID[r.JobID]
		if !ok || j.Attempt != r.Attempt {
			// Not this center's current work: settled already, requeued
			// elsewhere after the center went silent, or never ours.
			if r.State.Terminal() {
				resp.Forget = append(resp.Forget, ref)
			} else {
				ref.Reason = "not expected on this center any more (settled, cancelled or moved to another attempt)"
				resp.Cancel = append(resp.Cancel, ref)
			}
			continue
		}
		seen[j.ID] = true
		if err := h.apply(ctx, c, j, r); err != nil {
			return resp, err
		}
		if !r.State.Terminal() && j.CancelRequested {
			ref.Reason = "cancelled by its tenant"
			resp.Cancel = append(resp.Cancel, ref)
		}
	}
	for _, j := range jobs {
		if seen[j.ID] {
			continue
		}
		if j.CancelRequested {
			// The tenant cancelled and the center's system has no run: end
			// it here; what ran before was metered already.
			h.finish(ctx, j, store.Result{State: core.JobCancelled, Reason: "cancelled before it ran on " + c.Name})
			continue
		}
		resp.Start = append(resp.Start, agentproto.RunOrder{JobID: j.ID, Attempt: j.Attempt, TenantID: j.TenantOrgID,
			Spec: j.Spec, Placements: j.Placements})
	}
	resp.Logs = h.logsWanted(c.ID, byID)
	h.prune(c.ID, byID)
	resp.CenterID, resp.CenterStatus = c.ID, c.Status
	if restored {
		resp.CenterStatus = core.CenterAvailable
	}
	return resp, nil
}

func (h *Hub) track(j core.Job) *run {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.runs[j.ID]
	if r == nil || r.attempt != j.Attempt {
		r = &run{center: j.CenterID, attempt: j.Attempt}
		h.runs[j.ID] = r
	}
	return r
}

// apply records one report of a job's current attempt.
func (h *Hub) apply(ctx context.Context, c core.Center, j core.Job, r agentproto.RunReport) error {
	tr := h.track(j)
	if len(r.Replicas) > 0 {
		usage := make(map[int]int64, len(r.Replicas))
		for _, rs := range r.Replicas {
			if rs.Index >= 0 && rs.Index < len(j.Spec.Replicas) {
				usage[rs.Index] = max(rs.WallMs, 0)
			}
		}
		h.mu.Lock()
		tr.usage = usage
		h.mu.Unlock()
	}
	started := r.State == backend.Running || r.State.Terminal() && r.StartedAt != nil
	switch {
	case started && j.State == core.JobScheduled:
		var at time.Time
		if r.StartedAt != nil {
			at = *r.StartedAt
		}
		msg := fmt.Sprintf("running on %s", c.Name)
		if r.BackendID != "" {
			msg += " as " + r.BackendID
		}
		if err := h.Store.MarkStarted(ctx, j.ID, j.Attempt, r.BackendID, at, msg); err != nil && core.ErrorCode(err) != core.EConflict {
			return fmt.Errorf("mark started: %w", err)
		}
	case r.BackendID != "" && r.BackendID != j.BackendID:
		if err := h.Store.SetBackendID(ctx, j.ID, j.Attempt, r.BackendID); err != nil {
			return fmt.Errorf("backend id: %w", err)
		}
	}
	if !r.State.Terminal() {
		h.meter(ctx, j, tr)
		return nil
	}
	res := store.Result{State: jobState(r.State), ExitCode: r.ExitCode, Reason: r.Reason}
	for _, rs := range r.Replicas {
		wall := max(rs.WallMs, 0)
		if wall == 0 && r.StartedAt != nil {
			// Backends that count whole seconds (Slurm) report a sub-second
			// run as 0; it ran, so it pays for the second it started.
			wall = 1
		}
		res.Replicas = append(res.Replicas, store.ReplicaResult{Index: rs.Index, ExitCode: rs.ExitCode, UsageMs: wall})
	}
	if res.Reason == "" {
		res.Reason = fmt.Sprintf("%s on %s", r.State, c.Name)
	}
	h.finish(ctx, j, res)
	return nil
}

// meter records a running job's reported usage every MeterInterval (and
// captures rolling windows); a wallet that stays short past its grace
// period gets the job cancelled.
func (h *Hub) meter(ctx context.Context, j core.Job, tr *run) {
	h.mu.Lock()
	due := time.Since(tr.meteredAt) >= h.MeterInterval && len(tr.usage) > 0 && j.State == core.JobRunning
	var totals map[int]int64
	if due {
		tr.meteredAt, totals = time.Now(), maps.Clone(tr.usage)
	}
	h.mu.Unlock()
	if !due {
		return
	}
	st, err := h.Store.Meter(ctx, j.ID, totals, h.CommissionBPS)
	if err != nil {
		h.Log.Error("meter an agent run", "job", j.ID, "err", err)
		return
	}
	if st.Short && !time.Now().Before(st.StopAt) && !j.CancelRequested {
		h.Log.Warn("stopping a job whose wallet ran dry", "job", j.ID)
		// The agent gets the cancel at its next sync; FinishJob records
		// what ran, charged up to the last report.
		if _, err := h.Store.FinishJob(ctx, j.ID, store.Result{State: core.JobCancelled, Attempt: &j.Attempt,
			Reason: "stopped: the wallet could not fund the next window and the grace period ended"}, h.CommissionBPS); err != nil {
			h.Log.Error("stop a job whose wallet ran dry", "job", j.ID, "err", err)
		}
	}
}

// finish settles a run's end in the store. It is idempotent: a repeat
// (the agent reports an end until told to forget it) is a conflict the
// store refuses without effect.
func (h *Hub) finish(ctx context.Context, j core.Job, res store.Result) {
	attempt := j.Attempt
	res.Attempt = &attempt
	done, err := h.Store.FinishJob(ctx, j.ID, res, h.CommissionBPS)
	switch {
	case err == nil:
		h.mu.Lock()
		delete(h.runs, j.ID)
		h.mu.Unlock()
		if h.OnFinish != nil {
			h.OnFinish(done)
		}
	case core.ErrorCode(err) == core.EConflict || core.ErrorCode(err) == core.ENotFound:
	default:
		// The next sync reports the end again.
		h.Log.Error("finish an agent run", "job", j.ID, "err", err)
	}
}

func jobState(s backend.State) core.JobState {
	switch s {
	case backend.Succeeded:
		return core.JobSucceeded
	case backend.Cancelled:
		return core.JobCancelled
	case backend.TimedOut:
		return core.JobTimedOut
	default:
		return core.JobFailed
	}
}

// prune forgets runs of this center that are no longer active in the
// store, so the hub's memory stays bounded by active work.
func (h *Hub) prune(centerID string, active map[string]core.Job) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.wantAt[centerID] {
		if _, ok := active[id]; !ok {
			delete(h.wantAt[centerID], id)
		}
	}
	for id, r := range h.runs {
		// Runs of this center no longer active; other centers' runs are
		// pruned by their own syncs.
		if j, ok := active[id]; ok && j.Attempt != r.attempt || !ok && r.center == centerID {
			delete(h.runs, id)
		}
	}
}

// Reap gives the work of centers whose agent went silent to others: the
// usage each run last reported to this replica is metered (usage is
// recorded once whatever replica reports it), then the store requeues or
// fails the center's jobs. Only the leader calls it.
func (h *Hub) Reap(ctx context.Context) error {
	stale, err := h.Store.StaleAgentCenters(ctx)
	if err != nil {
		return err
	}
	for _, c := range stale {
		jobs, err := h.Store.CenterJobs(ctx, c.ID, CenterJobsMax)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.State != core.JobRunning {
				continue
			}
			h.mu.Lock()
			var totals map[int]int64
			if r := h.runs[j.ID]; r != nil && r.attempt == j.Attempt {
				totals = maps.Clone(r.usage)
			}
			h.mu.Unlock()
			if len(totals) > 0 {
				if _, err := h.Store.Meter(ctx, j.ID, totals, h.CommissionBPS); err != nil {
					h.Log.Error("meter a lost run", "job", j.ID, "err", err)
				}
			}
		}
		requeued, failed, err := h.Store.LoseCenter(ctx, c.ID, h.CommissionBPS)
		if err != nil {
			return fmt.Errorf("lose center %s: %w", c.Name, err)
		}
		h.Log.Warn("agent missed its heartbeats; center unavailable, its work moved",
			"center", c.Name, "requeued", len(requeued), "failed", len(failed))
		h.mu.Lock()
		for _, id := range append(requeued, failed...) {
			delete(h.runs, id)
		}
		h.mu.Unlock()
	}
	return nil
}

// UploadLogs stores logs an agent uploaded for one of its center's runs.
func (h *Hub) UploadLogs(ctx context.Context, p core.Principal, centerName string, u agentproto.LogUpload) error {
	c, err := h.center(ctx, p, centerName)
	if err != nil {
		return err
	}
	j, err := h.Store.Job(ctx, u.JobID)
	if err != nil || j.CenterID != c.ID {
		return core.Errorf(core.ENotFound, "job %q not found on center %q", u.JobID, c.Name)
	}
	if u.Attempt != j.Attempt {
		return core.Errorf(core.EConflict, "job %s is on attempt %d, not %d", j.ID, j.Attempt, u.Attempt)
	}
	if err := h.Store.SaveLogs(ctx, j.ID, u.Attempt, u.Text); err != nil {
		return err
	}
	h.mu.Lock()
	if ch := h.logsWant[j.ID]; ch != nil {
		close(ch)
		delete(h.logsWant, j.ID)
	}
	delete(h.wantAt[c.ID], j.ID)
	h.mu.Unlock()
	return nil
}

// Logs returns a job's logs as its agent last uploaded them. For an active
// job it first asks the agent for fresh ones and waits up to LogWait.
func (h *Hub) Logs(ctx context.Context, j core.Job) (string, error) {
	if !j.State.Terminal() && j.CenterID != "" {
		h.mu.Lock()
		ch := h.logsWant[j.ID]
		if ch == nil {
			ch = make(chan struct{})
			h.logsWant[j.ID] = ch
		}
		if h.wantAt[j.CenterID] == nil {
			h.wantAt[j.CenterID] = map[string]bool{}
		}
		h.wantAt[j.CenterID][j.ID] = true
		h.mu.Unlock()
		t := time.NewTimer(LogWait)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	text, _, err := h.Store.JobLogs(ctx, j.ID)
	return text, err
}

func (h *Hub) logsWanted(centerID string, active map[string]core.Job) []agentproto.RunRef {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []agentproto.RunRef{}
	for id := range h.wantAt[centerID] {
		if j, ok := active[id]; ok {
			out = append(out, agentproto.RunRef{JobID: id, Attempt: j.Attempt})
		}
	}
	return out
}
