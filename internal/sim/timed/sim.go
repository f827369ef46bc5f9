package timed

import (
	"container/heap"
	"fmt"
	"sort"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

// Limits of one replay. Each is far above what the traces need; reaching
// one means a policy that never converges, and the replay stops with an
// error instead of running forever.
const (
	// EventsPerJobMax bounds the loop's iterations per job (arrival,
	// completion, interval ticks while it waits, preemptions).
	EventsPerJobMax = 10_000
	// PassesPerInstantMax bounds the passes at one instant: a pass whose
	// plan preempts frees capacity, so another pass follows at once.
	PassesPerInstantMax = 8
	// PreemptedWaitMs is how long a preempted job waits at most for its
	// preemptor to start (the server's store: sqlstore.PreemptedWaitMax).
	PreemptedWaitMs = 60_000
	// PreemptionsPerJobMax bounds how often one job may be stopped.
	PreemptionsPerJobMax = 100
	// IntervalMinMs is the shortest periodic pass interval.
	IntervalMinMs = 1_000
)

// DefaultIntervalMs is the periodic pass interval Pollux's simulator uses.
const DefaultIntervalMs = 60_000

// Options configure one replay.
type Options struct {
	Cluster Cluster
	Policy  sched.Policy
	// IntervalMs makes passes run in rounds: at multiples of IntervalMs
	// of virtual time, when the queue or capacity changed since the last
	// pass (0: a pass at every instant something changed).
	IntervalMs int64
	// QueueMax caps the queued jobs one snapshot carries, in the order the
	// scheduler would consider them (priority, then arrival); 0 means
	// sched.QueueScanMax, which the scheduler applies anyway.
	QueueMax int
	// BucketMs is the utilization series' step; 0 means one hour.
	BucketMs int64
}

func (o Options) validate() error {
	switch {
	case len(o.Cluster.Centers) == 0:
		return fmt.Errorf("timed: no cluster")
	case o.Policy == nil:
		return fmt.Errorf("timed: no policy")
	case o.IntervalMs != 0 && o.IntervalMs < IntervalMinMs:
		return fmt.Errorf("timed: interval %d ms is below %d ms", o.IntervalMs, IntervalMinMs)
	case o.QueueMax < 0 || o.BucketMs < 0:
		return fmt.Errorf("timed: negative queue cap or bucket")
	}
	return nil
}

// Job states during a replay.
const (
	statePending  = iota // not arrived yet
	stateQueued          // waiting
	stateRunning         // holding capacity
	stateFinished        // done, once
	stateNeverFit        // larger than any center even when empty
)

// simJob is a job's replay state.
type simJob struct {
	Job
	seq         int64
	spec        sched.Job // what the scheduler sees while it is queued
	state       int
	startMs     int64 // of the current (last) run
	finishMs    int64
	epoch       int // bumped per run, so stale completions are skipped
	preemptions int
	allocs      []sched.Alloc
	centerID    string
	runs        []interval // every run, including preempted ones
}

// interval is a run of a job: it held accelMilli from startMs to endMs.
type interval struct {
	startMs, endMs, accelMilli int64
}

// completion is a pending end of a run.
type completion struct {
	atMs  int64
	job   int
	epoch int
}

type completions []completion

func (h completions) Len() int { return len(h) }
func (h completions) Less(i, j int) bool {
	if h[i].atMs != h[j].atMs {
		return h[i].atMs < h[j].atMs
	}
	return h[i].job < h[j].job
}
func (h completions) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *completions) Push(x any)   { *h = append(*h, x.(completion)) }
func (h *completions) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sim is one replay's state. It is used by one goroutine.
type sim struct {
	opt     Options
	centers []sched.Center
	nodes   []sched.Node // Used* kept current
	nodeIdx map[string]int
	jobs    []simJob // in arrival order
	byID    map[string]int
	queue   []int       // queued jobs in (priority desc, seq) order
	specs   []sched.Job // the queued jobs' specs, in the same order: the snapshot's queue without a copy
	running []int       // running jobs, in start order (swap-removed)
	done    completions
	tenants map[string]sched.Tenant
	usage   map[string][3]int64
	nowMs   int64
	dirty   bool // queue or capacity changed since the last pass
	next    int  // next job to arrive
	passes  int64
	preempt int
	fitMemo map[sched.Shape]bool // fits an empty center, by job shape
	buf     snapshotBuffers
}

// snapshotBuffers hold a pass's snapshot; reused, so a pass allocates
// little whatever the queue's length.
type snapshotBuffers struct {
	nodes    []sched.Node
	releases []sched.Release
	running  []sched.Running
	usage    map[string][3]int64
}

// Run replays jobs on the cluster under the policy and returns what
// happened to every job and the run's metrics.
func Run(jobs []Job, opt Options) (*Result, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	s, err := newSim(jobs, opt)
	if err != nil {
		return nil, err
	}
	if err := s.loop(); err != nil {
		return nil, err
	}
	if err := s.checkDone(); err != nil {
		return nil, err
	}
	return s.result(), nil
}

func newSim(jobs []Job, opt Options) (*sim, error) {
	if len(jobs) > JobsMax {
		return nil, fmt.Errorf("timed: %d jobs, at most %d", len(jobs), JobsMax)
	}
	s := &sim{opt: opt, nodeIdx: map[string]int{}, byID: make(map[string]int, len(jobs)),
		tenants: map[string]sched.Tenant{}, usage: map[string][3]int64{}, fitMemo: map[sched.Shape]bool{}}
	s.buf.usage = map[string][3]int64{}
	s.buildCluster()
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	// Arrival order; input order breaks ties, so it is the jobs' Seq.
	sort.SliceStable(order, func(a, b int) bool { return jobs[order[a]].ArrivalMs < jobs[order[b]].ArrivalMs })
	perNode := opt.Cluster.maxCardsPerNode()
	s.jobs = make([]simJob, len(jobs))
	for k, i := range order {
		j := jobs[i]
		if err := j.validate(); err != nil {
			return nil, fmt.Errorf("timed: %w", err)
		}
		if _, dup := s.byID[j.ID]; dup {
			return nil, fmt.Errorf("timed: duplicate job ID %s", j.ID)
		}
		s.byID[j.ID] = k
		s.tenants[j.Tenant] = sched.Tenant{Weight: 1}
		s.jobs[k] = simJob{Job: j, seq: int64(k), spec: sched.Job{ID: j.ID, Tenant: j.Tenant, Seq: int64(k),
			MaxDurationMs: j.DurationMs, Priority: j.Priority, Tier: j.Tier, HasDuration: true,
			Replicas: replicas(j, perNode)}}
	}
	return s, nil
}

// buildCluster makes the simulated centers and their nodes.
func (s *sim) buildCluster() {
	for ci, cs := range s.opt.Cluster.Centers {
		c := sched.Center{ID: fmt.Sprintf("c%02d", ci), Name: fmt.Sprintf("sim-%02d", ci), Kind: core.KindAI,
			Region: "sim", Available: true, Executor: core.ExecutorSimulated,
			Prices: core.PriceBook{CardHour: map[string]core.Micros{cs.Model: CardHourPrice}}}
		s.centers = append(s.centers, c)
		for ni := 0; ni < cs.Nodes; ni++ {
			id := fmt.Sprintf("%s-n%05d", c.ID, ni)
			s.nodeIdx[id] = len(s.nodes)
			s.nodes = append(s.nodes, sched.Node{ID: id, Name: id, CenterID: c.ID, Ready: true,
				CPUMilli: NodeCPUMilli, MemMiB: NodeMemMiB, AccelModel: cs.Model, AccelCount: cs.CardsPerNode * MilliPerCard})
		}
	}
}

// loop processes events in time order until none is left. A change (an
// arrival, a completion, a preemption) marks the state dirty; a pass runs
// at once (IntervalMs 0) or at the next multiple of IntervalMs, so all
// changes of one round share one pass, as in Pollux's 60-s rounds. A round
// with no change gets no pass: for the policies here a pass on an
// unchanged queue and capacity starts nothing new (EASY backfill's
// "ends before the reservation" test only gets harder as time passes).
func (s *sim) loop() error {
	eventsMax := int64(len(s.jobs)+1) * EventsPerJobMax
	for events := int64(0); ; events++ {
		if events >= eventsMax {
			return fmt.Errorf("timed: more than %d events at %d ms; the policy does not converge", eventsMax, s.nowMs)
		}
		at, ok := s.nextEventMs()
		if !ok {
			return nil
		}
		invariant(at >= s.nowMs, "virtual time goes backwards")
		s.nowMs = at
		if s.completeDue() {
			s.dirty = true
		}
		if s.arriveDue() {
			s.dirty = true
		}
		if !s.dirty || len(s.queue) == 0 || (s.opt.IntervalMs > 0 && s.nowMs%s.opt.IntervalMs != 0) {
			continue
		}
		s.dirty = false
		if err := s.passes1(); err != nil {
			return err
		}
		if len(s.running) == 0 && s.next == len(s.jobs) && len(s.queue) > 0 {
			return fmt.Errorf("timed: %d jobs wait on an idle cluster with nothing left to arrive at %d ms; the policy never starts them (first: %s)",
				len(s.queue), s.nowMs, s.jobs[s.queue[0]].ID)
		}
	}
}

// nextEventMs is the earliest arrival, completion or, when a change waits
// for its round, the round's start.
func (s *sim) nextEventMs() (int64, bool) {
	at, ok := int64(0), false
	take := func(t int64) {
		if !ok || t < at {
			at, ok = t, true
		}
	}
	if s.next < len(s.jobs) {
		take(s.jobs[s.next].ArrivalMs)
	}
	if len(s.done) > 0 {
		take(s.done[0].atMs)
	}
	if s.opt.IntervalMs > 0 && s.dirty && len(s.queue) > 0 {
		take((s.nowMs/s.opt.IntervalMs + 1) * s.opt.IntervalMs) // a round at now has passed already
	}
	return at, ok
}

// completeDue ends every run due by now; true if any did.
func (s *sim) completeDue() bool {
	changed := false
	for len(s.done) > 0 && s.done[0].atMs <= s.nowMs {
		c := heap.Pop(&s.done).(completion)
		j := &s.jobs[c.job]
		if j.state != stateRunning || j.epoch != c.epoch {
			continue // the run was preempted; its completion is stale
		}
		invariant(c.atMs == j.startMs+j.DurationMs, "completion time is start plus duration")
		s.stop(c.job)
		j.state, j.finishMs = stateFinished, c.atMs
		changed = true
	}
	return changed
}

// arriveDue queues every job arrived by now; true if any did. A job whose
// gang fits no center even when empty is set aside as never fitting.
func (s *sim) arriveDue() bool {
	changed := false
	for s.next < len(s.jobs) && s.jobs[s.next].ArrivalMs <= s.nowMs {
		i := s.next
		s.next++
		j := &s.jobs[i]
		invariant(j.state == statePending, "a job arrives once")
		if !s.fits(j.spec) {
			j.state = stateNeverFit
			continue
		}
		j.state = stateQueued
		s.enqueue(i)
		changed = true
	}
	return changed
}

// fits asks the production quote whether job could ever start on the
// cluster, memoized by the job's shape.
func (s *sim) fits(job sched.Job) bool {
	sig := sched.ShapeOf(job)
	if ok, known := s.fitMemo[sig]; known {
		return ok
	}
	_, ok, _ := sched.Quote(sched.Snapshot{Centers: s.centers, Nodes: s.nodes}, job)
	s.fitMemo[sig] = ok
	return ok
}

// enqueue inserts job i at its place in (priority desc, seq) order.
func (s *sim) enqueue(i int) {
	before := func(a, b int) bool {
		ja, jb := &s.jobs[a], &s.jobs[b]
		if ja.Priority != jb.Priority {
			return ja.Priority > jb.Priority
		}
		return ja.seq < jb.seq
	}
	k := sort.Search(len(s.queue), func(k int) bool { return before(i, s.queue[k]) })
	s.queue = append(s.queue, 0)
	copy(s.queue[k+1:], s.queue[k:])
	s.queue[k] = i
	s.specs = append(s.specs, sched.Job{})
	copy(s.specs[k+1:], s.specs[k:])
	s.specs[k] = s.jobs[i].spec
}

// stop ends job i's current run (completion or preemption): its capacity
// and its tenant's usage are given back and the run is recorded.
func (s *sim) stop(i int) {
	j := &s.jobs[i]
	invariant(j.state == stateRunning, "only a running job stops")
	for _, a := range j.allocs {
		n := &s.nodes[s.nodeIdx[a.NodeID]]
		n.UsedCPU, n.UsedMem, n.UsedAccel = n.UsedCPU-a.CPU, n.UsedMem-a.Mem, n.UsedAccel-a.Accel
		invariant(n.UsedCPU >= 0 && n.UsedMem >= 0 && n.UsedAccel >= 0, "node usage never negative")
	}
	u := s.usage[j.Tenant]
	s.usage[j.Tenant] = [3]int64{u[0] - j.CPUMilli, u[1] - j.MemMiB, u[2] - j.AccelMilli}
	j.runs = append(j.runs, interval{startMs: j.startMs, endMs: s.nowMs, accelMilli: j.AccelMilli})
	j.allocs = nil
	for k, r := range s.running {
		if r == i {
			last := len(s.running) - 1
			s.running[k] = s.running[last]
			s.running = s.running[:last]
			break
		}
	}
}

// invariant panics when a condition that only a bug can break fails.
func invariant(ok bool, what string) {
	if !ok {
		panic("timed: invariant violated: " + what)
	}
}
