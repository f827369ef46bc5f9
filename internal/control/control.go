// Package control drives the job lifecycle: it schedules queued jobs with a
// sched.Policy, starts placed runs on the center's executor, stops cancelled
// ones, and settles each run's outcome in the store. One goroutine owns all
// of it, so no locks guard the loop's state.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/executor"
	"github.com/suanli/suanli/internal/sched"
	"github.com/suanli/suanli/internal/store"
)

// Limits of the loop.
const (
	ActiveJobsMax   = 100_000 // running and scheduled jobs considered per cycle
	RetryOutcomeMax = 10_000  // outcomes kept for retry when the store fails
	DefaultInterval = 500 * time.Millisecond
	// DefaultMeterInterval is how often usage is recorded while jobs run.
	DefaultMeterInterval = 15 * time.Second
)

// Store is what the loop needs from the database.
type Store interface {
	Centers(ctx context.Context) ([]core.Center, error)
	Nodes(ctx context.Context, centerID string) ([]core.Node, error)
	TopologyVersion(ctx context.Context) (int64, error)
	Allocations(ctx context.Context) ([]store.Allocation, error)
	TenantPolicies(ctx context.Context) ([]store.TenantPolicy, error)
	Links(ctx context.Context) ([]core.Link, error)
	SchedWeights(ctx context.Context) (core.ScoreWeights, error)
	PreemptJob(ctx context.Context, jobID string, attempt int, forJobID, reason string, commissionBPS int64) error
	JobsInStates(ctx context.Context, limit int, states ...core.JobState) ([]core.Job, error)
	ApplyPlan(ctx context.Context, as []store.Assignment, pending map[string]string) (int, error)
	MarkRunning(ctx context.Context, jobID, msg string) error
	FinishJob(ctx context.Context, jobID string, r store.Result, commissionBPS int64) (core.Job, error)
	CancelRequested(ctx context.Context) ([]string, error)
	Meter(ctx context.Context, jobID string, totals map[int]int64, commissionBPS int64) (store.MeterStatus, error)
	ExpireHolds(ctx context.Context) (int, error)
	ExpireBundles(ctx context.Context) (int, error)
}

// Runner runs jobs on one kind of executor.
type Runner interface {
	Start(ctx context.Context, run executor.Run) error
	Cancel(jobID string) bool
	// Usage returns each replica's wall time so far, and whether the run
	// is this runner's.
	Usage(jobID string) (map[int]int64, bool)
}

// Loop is the control loop.
type Loop struct {
	Store         Store
	Topology      *Topology
	Runners       map[string]Runner // by core.Center.Executor
	Outcomes      <-chan executor.Outcome
	Policy        sched.Policy
	CommissionBPS int64
	Interval      time.Duration
	Log           *slog.Logger
	// OnCycle observes each scheduling pass (for metrics); may be nil.
	OnCycle func(d time.Duration, placed int)
	// OnFinish observes each job that ends (for metrics); may be nil.
	OnFinish func(j core.Job)
	// OnError observes a failed cycle (the leader steps down on a fenced
	// write); may be nil.
	OnError func(err error)
	// Lost, when set, runs every cycle: it moves the work of centers found
	// lost (agenthub.Reap). Agent centers' jobs are never in the loop's own
	// running set, so there is nothing for the loop to forget.
	Lost func(ctx context.Context) error

	// MeterInterval is how often running jobs' usage is recorded (and
	// rolling windows captured).
	MeterInterval time.Duration

	wake      chan struct{}
	running   map[string]bool   // jobs whose run this process started
	stopping  map[string]string // jobs being stopped by the loop itself, with the reason
	preempted map[string]bool   // preempted runs whose end has not been seen: their outcome is dropped
	lastMeter time.Time
	retry     []executor.Outcome
	resumed   bool // running jobs left by an earlier process were picked up
}

// New returns a loop; call Run to start it.
func New(st Store, runners map[string]Runner, outcomes <-chan executor.Outcome, commissionBPS int64, log *slog.Logger) *Loop {
	return &Loop{Store: st, Topology: NewTopology(st), Runners: runners, Outcomes: outcomes, Policy: sched.CheapestFirst{},
		CommissionBPS: commissionBPS, Interval: DefaultInterval, MeterInterval: DefaultMeterInterval, Log: log,
		wake: make(chan struct{}, 1), running: map[string]bool{}, stopping: map[string]string{}, preempted: map[string]bool{}}
}

// Wake asks for a cycle now (after a submit or cancel). It never blocks.
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run runs cycles until ctx is done.
func (l *Loop) Run(ctx context.Context) error {
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	for {
		l.cycleSafe(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-l.wake:
		case o := <-l.Outcomes:
			l.finish(ctx, o)
		}
	}
}

// cycleSafe runs one cycle; a panic in it is logged and the loop goes on,
// so one bad job cannot stop scheduling for everyone.
func (l *Loop) cycleSafe(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			l.Log.Error("control cycle panicked", "panic", r)
		}
	}()
	if err := l.Cycle(ctx); err != nil && ctx.Err() == nil {
		l.Log.Error("control cycle", "err", err)
		if l.OnError != nil {
			l.OnError(err)
		}
	}
}

// Cycle runs one pass: drain outcomes, cancels, scheduling, starts.
func (l *Loop) Cycle(ctx context.Context) error {
	for drained := false; !drained; {
		select {
		case o := <-l.Outcomes:
			l.finish(ctx, o)
		default:
			drained = true
		}
	}
	l.retryOutcomes(ctx)
	if l.Lost != nil {
		if err := l.Lost(ctx); err != nil {
			return fmt.Errorf("lost centers: %w", err)
		}
	}
	if err := l.cancels(ctx); err != nil {
		return fmt.Errorf("cancels: %w", err)
	}
	if err := l.schedule(ctx); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if err := l.start(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if time.Since(l.lastMeter) >= l.MeterInterval {
		l.lastMeter = time.Now()
		if err := l.meter(ctx); err != nil {
			return fmt.Errorf("meter: %w", err)
		}
		if n, err := l.Store.ExpireHolds(ctx); err != nil {
			return fmt.Errorf("expire holds: %w", err)
		} else if n > 0 {
			l.Log.Info("expired holds", "count", n)
		}
		if n, err := l.Store.ExpireBundles(ctx); err != nil {
			return fmt.Errorf("expire bundles: %w", err)
		} else if n > 0 {
			l.Log.Info("expired bundles", "count", n)
		}
	}
	return nil
}

// meter records usage of the runs this process owns and captures rolling
// windows; a job whose wallet stays short past the grace period is stopped.
func (l *Loop) meter(ctx context.Context) error {
	for id := range l.running {
		for _, r := range l.Runners {
			totals, ok := r.Usage(id)
			if !ok {
				continue
			}
			st, err := l.Store.Meter(ctx, id, totals, l.CommissionBPS)
			if err != nil {
				l.Log.Error("meter", "job", id, "err", err)
				break
			}
			if st.Short && !time.Now().Before(st.StopAt) && l.stopping[id] == "" {
				l.stopping[id] = "stopped: the wallet could not fund the next window and the grace period ended"
				r.Cancel(id)
			}
			break
		}
	}
	return nil
}

func (l *Loop) finish(ctx context.Context, o executor.Outcome) {
	if l.preempted[o.JobID] {
		// The job was requeued when it was preempted; this is the end of
		// the stopped run, not of the job.
		delete(l.preempted, o.JobID)
		return
	}
	if reason := l.stopping[o.JobID]; reason != "" && o.Result.State == core.JobCancelled {
		o.Result.Reason = reason
	}
	j, err := l.Store.FinishJob(ctx, o.JobID, o.Result, l.CommissionBPS)
	switch {
	case err == nil:
		delete(l.running, o.JobID)
		delete(l.stopping, o.JobID)
		if l.OnFinish != nil {
			l.OnFinish(j)
		}
	case core.ErrorCode(err) == core.EConflict || core.ErrorCode(err) == core.ENotFound:
		delete(l.running, o.JobID)
		delete(l.stopping, o.JobID)
		l.Log.Warn("dropping outcome", "job", o.JobID, "err", err)
	default:
		// The store failed: keep the outcome and settle it next cycle, so a
		// run is never lost nor charged twice (settlement IDs derive from
		// the job ID).
		if len(l.retry) < RetryOutcomeMax {
			l.retry = append(l.retry, o)
		} else {
			l.Log.Error("outcome retry queue full; job stays running until restart recovery", "job", o.JobID)
		}
		l.Log.Error("finish job", "job", o.JobID, "err", err)
	}
}

func (l *Loop) retryOutcomes(ctx context.Context) {
	pending := l.retry
	l.retry = nil
	for _, o := range pending {
		l.finish(ctx, o)
	}
}

func (l *Loop) cancels(ctx context.Context) error {
	ids, err := l.Store.CancelRequested(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if l.running[id] {
			for _, r := range l.Runners {
				if r.Cancel(id) {
					break
				}
			}
			continue
		}
		// Scheduled but not started by this process: nothing ran.
		l.finish(ctx, executor.Outcome{JobID: id, Result: store.Result{State: core.JobCancelled, Reason: "cancelled before it started"}})
	}
	return nil
}

// Topology caches centers and nodes between changes: reading ~20,000 nodes
// from SQLite takes tens of milliseconds, and they change only when a
// center is registered or changes status (see TopologyVersion). It is safe
// for concurrent use; the slices it returns are shared and must not be
// modified.
type Topology struct {
	st      Store
	mu      sync.Mutex
	version int64
	loaded  bool
	centers []core.Center
	nodes   []core.Node

	quotesVersion int64
	quotes        map[sched.Shape]quoted // by job shape, for quotesVersion
	lastVersion   int64                  // the version as last read, for quotes
	versionRead   time.Time
	inflight      map[sched.Shape]chan struct{} // quotes being computed, by shape
}

// NewTopology returns an empty cache over st.
func NewTopology(st Store) *Topology { return &Topology{st: st} }

// Get returns the current centers and nodes.
func (t *Topology) Get(ctx context.Context) ([]core.Center, []core.Node, error) {
	v, err := t.st.TopologyVersion(ctx)
	if err != nil {
		return nil, nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loaded && v == t.version {
		return t.centers, t.nodes, nil
	}
	centers, err := t.st.Centers(ctx)
	if err != nil {
		return nil, nil, err
	}
	nodes, err := t.st.Nodes(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	t.centers, t.nodes, t.version, t.loaded = centers, nodes, v, true
	return centers, nodes, nil
}

// Snapshot reads the scheduler's input: centers, nodes with what is
// allocated on them, and (if withQueue) the queued jobs.
func Snapshot(ctx context.Context, st Store, topo *Topology, withQueue bool) (sched.Snapshot, error) {
	var s sched.Snapshot
	centers, nodes, err := topo.Get(ctx)
	if err != nil {
		return s, err
	}
	allocs, err := st.Allocations(ctx)
	if err != nil {
		return s, err
	}
	used := make(map[string][3]int64, len(allocs))
	for _, a := range allocs {
		u := used[a.NodeID]
		used[a.NodeID] = [3]int64{u[0] + a.CPU, u[1] + a.Mem, u[2] + a.Accel}
	}
	s.Centers, s.Nodes = topology(centers, nodes, used)
	if !withQueue {
		return s, nil
	}
	s.NowMs = time.Now().UnixMilli() // the snapshot's time, as data for the pure scheduler
	s.TenantUsage = map[string][3]int64{}
	s.TenantAccelTFLOPS = map[string]int64{}
	model := make(map[string]string, len(nodes))
	for _, n := range nodes {
		model[n.ID] = n.AccelModel
	}
	for _, a := range allocs {
		if a.Accel > 0 {
			if acc, ok := core.LookupAccelerator(model[a.NodeID]); ok {
				s.TenantAccelTFLOPS[a.TenantOrgID] += a.Accel * int64(acc.FP16TFLOPS)
			}
		}
		s.Releases = append(s.Releases, sched.Release{NodeID: a.NodeID, AtMs: a.ReleaseAtMs, CPU: a.CPU, Mem: a.Mem, Accel: a.Accel})
		u := s.TenantUsage[a.TenantOrgID]
		s.TenantUsage[a.TenantOrgID] = [3]int64{u[0] + a.CPU, u[1] + a.Mem, u[2] + a.Accel}
		// Allocations come ordered by job: one Running per job.
		if n := len(s.Running); n == 0 || s.Running[n-1].ID != a.JobID {
			s.Running = append(s.Running, sched.Running{ID: a.JobID, Attempt: a.Attempt, Tenant: a.TenantOrgID, Priority: a.Priority,
				Tier: a.Tier, CenterID: a.CenterID, StartedAtMs: a.StartedAtMs})
		}
		r := &s.Running[len(s.Running)-1]
		r.RateScaled += a.RateScaled
		r.Allocs = append(r.Allocs, sched.Alloc{NodeID: a.NodeID, CPU: a.CPU, Mem: a.Mem, Accel: a.Accel})
	}
	if s.Links, err = st.Links(ctx); err != nil {
		return s, err
	}
	w, err := st.SchedWeights(ctx)
	if err != nil {
		return s, err
	}
	s.Weights = &w
	pols, err := st.TenantPolicies(ctx)
	if err != nil {
		return s, err
	}
	s.Tenants = make(map[string]sched.Tenant, len(pols))
	for _, p := range pols {
		s.Tenants[p.OrgID] = sched.Tenant{Weight: p.Weight, Quota: [3]int64{p.QuotaCPU, p.QuotaMem, p.QuotaAccel},
			Cohort: p.Cohort, Borrow: [3]int64{p.BorrowCPU, p.BorrowMem, p.BorrowAccel}, Weights: p.Weights}
	}
	queued, err := st.JobsInStates(ctx, sched.QueueScanMax, core.JobQueued)
	if err != nil {
		return s, err
	}
	for _, j := range queued {
		s.Queue = append(s.Queue, SchedJob(j))
	}
	return s, nil
}

// topology converts centers and nodes to the scheduler's view, with used
// capacity per node ID.
func topology(centers []core.Center, nodes []core.Node, used map[string][3]int64) ([]sched.Center, []sched.Node) {
	cs := make([]sched.Center, 0, len(centers))
	for _, c := range centers {
		cs = append(cs, sched.Center{ID: c.ID, Name: c.Name, Kind: c.Kind, Region: c.Region, Domestic: c.Domestic,
			Available: c.Status == core.CenterAvailable, Executor: c.Executor, Prices: c.Prices, GreenPercent: c.GreenPercent})
	}
	ns := make([]sched.Node, 0, len(nodes))
	for _, n := range nodes {
		u := used[n.ID]
		ns = append(ns, sched.Node{ID: n.ID, Name: n.Name, CenterID: n.CenterID, Ready: n.Status == core.NodeReady,
			CPUMilli: n.CPUMilli, MemMiB: n.MemMiB, AccelModel: n.AccelModel, AccelCount: n.AccelCount,
			UsedCPU: u[0], UsedMem: u[1], UsedAccel: u[2]})
	}
	return cs, ns
}

// SchedJob converts a job to the scheduler's view of it.
func SchedJob(j core.Job) sched.Job {
	return sched.Job{ID: j.ID, Tenant: j.TenantOrgID, Seq: j.Seq, Priority: j.Spec.Priority, Replicas: j.Spec.Replicas, Constraints: j.Spec.Constraints,
		HasCommand: j.Spec.Command != "", HasDuration: j.Spec.Duration > 0, MaxDurationMs: j.Spec.MaxDuration.Milliseconds(),
		Tier: j.Spec.Tier, Data: j.Spec.Data, Weights: j.Spec.Weights, WaitsFor: j.WaitsFor, WaitsUntilMs: waitsUntilMs(j)}
}

func waitsUntilMs(j core.Job) int64 {
	if j.WaitsUntil == nil {
		return 0
	}
	return j.WaitsUntil.UnixMilli()
}

// Quote returns the highest total rate (core.RateScale fixed point, per
// hour, list price) the job could run at: its replicas at the most
// expensive center that could run it. The store turns it into the hold. It
// fails with EUnschedulable when no center could ever run the spec. Quotes
// depend only on the topology (capacity and prices, not usage), so they
// are cached per job shape until the topology changes.
func Quote(ctx context.Context, st Store, topo *Topology, spec core.JobSpec) (int64, error) {
	job := SchedJob(core.Job{Spec: spec})
	key := sched.ShapeOf(job)
	version, err := topo.recentVersion(ctx)
	if err != nil {
		return 0, err
	}
	if q, ok := topo.quote(version, key); ok {
		return q.rate, q.err
	}
	// One computation per shape at a time: a burst of submissions of a
	// new shape waits for the first instead of each building the state.
	done, first := topo.computing(key)
	if !first {
		select {
		case <-done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if q, ok := topo.quote(version, key); ok {
			return q.rate, q.err
		}
	} else {
		defer topo.computed(key)
	}
	centers, nodes, err := topo.Get(ctx)
	if err != nil {
		return 0, err
	}
	var s sched.Snapshot
	s.Centers, s.Nodes = topology(centers, nodes, nil) // quotes look at empty capacity
	q := quoted{}
	rate, ok, reason := sched.Quote(s, job)
	if ok {
		q.rate = rate
	} else {
		q.err = core.Errorf(core.EUnschedulable, "no center can run this job: %s", reason)
	}
	topo.remember(version, key, q)
	return q.rate, q.err
}

// QuoteCacheMax bounds the quotes cached per topology version.
const QuoteCacheMax = 4096

// quoteVersionTTL is how long quotes trust the topology version they last
// read: submissions come by the thousand per second, topology changes
// (a center registered, a node drained) by the minute; a hold quoted on a
// topology a quarter second old is still a bound the rolling holds correct.
const quoteVersionTTL = 250 * time.Millisecond

func (t *Topology) recentVersion(ctx context.Context) (int64, error) {
	t.mu.Lock()
	if t.versionRead.After(time.Now().Add(-quoteVersionTTL)) {
		v := t.lastVersion
		t.mu.Unlock()
		return v, nil
	}
	t.mu.Unlock()
	v, err := t.st.TopologyVersion(ctx)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	t.lastVersion, t.versionRead = v, time.Now()
	t.mu.Unlock()
	return v, nil
}

type quoted struct {
	rate int64
	err  error
}

func (t *Topology) quote(version int64, key sched.Shape) (quoted, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.quotesVersion != version {
		return quoted{}, false
	}
	q, ok := t.quotes[key]
	return q, ok
}

// computing registers a quote computation for key; first is false when
// another is under way, whose end done signals.
func (t *Topology) computing(key sched.Shape) (done chan struct{}, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch, ok := t.inflight[key]; ok {
		return ch, false
	}
	if t.inflight == nil {
		t.inflight = map[sched.Shape]chan struct{}{}
	}
	ch := make(chan struct{})
	t.inflight[key] = ch
	return ch, true
}

func (t *Topology) computed(key sched.Shape) {
	t.mu.Lock()
	defer t.mu.Unlock()
	close(t.inflight[key])
	delete(t.inflight, key)
}

func (t *Topology) remember(version int64, key sched.Shape, q quoted) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.quotesVersion != version || len(t.quotes) >= QuoteCacheMax {
		t.quotes, t.quotesVersion = map[sched.Shape]quoted{}, version
	}
	t.quotes[key] = q
}

func (l *Loop) schedule(ctx context.Context) error {
	t0 := time.Now()
	s, err := Snapshot(ctx, l.Store, l.Topology, true)
	if err != nil {
		return err
	}
	if len(s.Queue) == 0 {
		return nil
	}
	plan := l.Policy.Schedule(s)
	if err := l.preempt(ctx, s.Running, plan.Preemptions); err != nil {
		return err
	}
	as := make([]store.Assignment, 0, len(plan.Decisions))
	for _, d := range plan.Decisions {
		as = append(as, store.Assignment{JobID: d.JobID, CenterID: d.CenterID, Placements: d.Placements, Why: d.Why.String()})
	}
	pending := make(map[string]string, len(plan.Pending))
	for _, p := range plan.Pending {
		pending[p.JobID] = p.Reason
	}
	// Apply in chunks: one transaction holds the store's write lock, and
	// submissions wait behind it (on PostgreSQL every statement is a round
	// trip, so a plan of thousands of jobs would hold it for seconds).
	n := 0
	for len(as) > 0 || len(pending) > 0 {
		k := min(len(as), PlanChunkMax)
		chunk := pending
		if len(pending) > PlanChunkMax {
			chunk = map[string]string{}
			for id, why := range pending {
				if len(chunk) == PlanChunkMax {
					break
				}
				chunk[id] = why
			}
		}
		applied, err := l.Store.ApplyPlan(ctx, as[:k], chunk)
		n += applied
		if err != nil {
			return err
		}
		as = as[k:]
		if len(chunk) == len(pending) {
			pending = nil
		} else {
			for id := range chunk {
				delete(pending, id)
			}
		}
	}
	if l.OnCycle != nil {
		l.OnCycle(time.Since(t0), n)
	}
	return nil
}

// preempt stops the plan's victims and queues them again: a run this
// process owns has its usage metered and is cancelled (its end is then
// ignored); an agent center's run is cancelled by its agent once the store
// has moved the job to a new attempt.
func (l *Loop) preempt(ctx context.Context, running []sched.Running, ps []sched.Preemption) error {
	if len(ps) == 0 {
		return nil
	}
	attempts := make(map[string]int, len(running))
	for _, r := range running {
		attempts[r.ID] = r.Attempt
	}
	for _, p := range ps {
		attempt := attempts[p.JobID] // the run the snapshot saw; the store refuses a later one
		if l.running[p.JobID] {
			for _, r := range l.Runners {
				totals, ok := r.Usage(p.JobID)
				if !ok {
					continue
				}
				if _, err := l.Store.Meter(ctx, p.JobID, totals, l.CommissionBPS); err != nil {
					return fmt.Errorf("meter preempted job %s: %w", p.JobID, err)
				}
				break
			}
		}
		err := l.Store.PreemptJob(ctx, p.JobID, attempt, p.ForJobID, p.Reason, l.CommissionBPS)
		if core.ErrorCode(err) == core.EConflict {
			l.Log.Info("preemption skipped", "job", p.JobID, "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("preempt job %s: %w", p.JobID, err)
		}
		l.Log.Info("preempted", "job", p.JobID, "for", p.ForJobID)
		if l.running[p.JobID] {
			delete(l.running, p.JobID)
			l.preempted[p.JobID] = true
			for _, r := range l.Runners {
				if r.Cancel(p.JobID) {
					break
				}
			}
		}
	}
	return nil
}

// PlanChunkMax bounds the assignments (and pending reasons) one store
// transaction applies.
const PlanChunkMax = 256

// start starts scheduled jobs. On its first pass it also resumes jobs left
// running by an earlier process (simulated runs; real ones were requeued by
// recovery before the loop started); after that only scheduled jobs can
// need a start, which keeps the per-cycle query small.
func (l *Loop) start(ctx context.Context) error {
	states := []core.JobState{core.JobScheduled}
	if !l.resumed {
		states = append(states, core.JobRunning)
	}
	jobs, err := l.Store.JobsInStates(ctx, ActiveJobsMax, states...)
	if err != nil {
		return err
	}
	l.resumed = true
	centers, _, err := l.Topology.Get(ctx)
	if err != nil {
		return err
	}
	exec := map[string]string{}
	names := map[string]string{}
	for _, c := range centers {
		exec[c.ID], names[c.ID] = c.Executor, c.Name
	}
	for _, j := range jobs {
		if l.running[j.ID] || exec[j.CenterID] == core.ExecutorAgent {
			continue // agent centers' agents pull their work themselves (agenthub)
		}
		if l.preempted[j.ID] {
			continue // its preempted run has not ended yet; start the new attempt after
		}
		r := l.Runners[exec[j.CenterID]]
		if r == nil {
			l.Log.Error("no executor for center", "job", j.ID, "center", j.CenterID)
			continue
		}
		run := executor.Run{JobID: j.ID, Attempt: j.Attempt, Spec: j.Spec, Placements: j.Placements}
		if j.State == core.JobRunning && j.StartedAt != nil {
			run.StartedAt = *j.StartedAt
		}
		if err := r.Start(ctx, run); err != nil {
			l.finish(ctx, executor.Outcome{JobID: j.ID, Result: store.Result{State: core.JobFailed, Reason: "cannot start: " + err.Error()}})
			continue
		}
		l.running[j.ID] = true
		if j.State == core.JobScheduled {
			msg := fmt.Sprintf("started %d replicas on %s", len(j.Placements), names[j.CenterID])
			if exec[j.CenterID] == core.ExecutorSimulated {
				msg = fmt.Sprintf("simulated run of %d replicas on %s for the declared %s", len(j.Placements), names[j.CenterID], j.Spec.Duration)
			}
			if err := l.Store.MarkRunning(ctx, j.ID, msg); err != nil && !errors.Is(err, context.Canceled) {
				l.Log.Warn("mark running", "job", j.ID, "err", err)
			}
		}
	}
	return nil
}
