// Package sched places queued jobs on nodes. It is pure: a Snapshot goes in,
// a Plan comes out; it reads no clock, no database and no randomness, so the
// server and the simulator get the same answer for the same input.
package sched

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/suanli/suanli/internal/core"
)

// QueueScanMax bounds how many queued jobs one cycle considers, so a huge
// backlog cannot stall the control loop.
const QueueScanMax = 10_000

// Center is a center as the scheduler sees it.
type Center struct {
	ID        string
	Name      string
	Kind      core.CenterKind
	Region    string
	Domestic  bool
	Available bool
	Executor  string // core.ExecutorLocal or core.ExecutorSimulated
	Prices    core.PriceBook
	// GreenPercent is the center's share of green power, 0..100.
	GreenPercent int
}

// Node is a node with what is already allocated on it.
type Node struct {
	ID         string
	Name       string
	CenterID   string
	Ready      bool
	CPUMilli   int64
	MemMiB     int64
	AccelModel string
	AccelCount int64
	UsedCPU    int64 // milli-cores allocated to scheduled or running replicas
	UsedMem    int64 // MiB
	UsedAccel  int64

	loadPPM int64 // load(n), cached by the working state (the index orders by it)
	ord     int32 // position in its center's ID order, set by the working state
}

// Release is capacity an allocation gives back when its job ends, at the
// latest at AtMs (its start plus its max duration): what backfill plans
// with.
type Release struct {
	NodeID          string
	AtMs            int64
	CPU, Mem, Accel int64
}

// Job is a queued job.
type Job struct {
	ID            string
	Tenant        string // fair share and quotas are per tenant
	Seq           int64  // submission order
	MaxDurationMs int64  // how long it may run once started (backfill)
	Priority      int
	Replicas      []core.Replica
	Constraints   core.Constraints
	HasCommand    bool // a real executor can run it
	HasDuration   bool // a simulated center can model it
	// Tier is spot, normal (or "") or guaranteed: spot work may be
	// preempted by any job of equal or higher priority, normal work only by
	// higher priority, guaranteed work never.
	Tier string
	// Data is where the job's input is (the network and locality factors).
	Data core.DataSpec
	// Weights, when set, rank centers for this job (else the tenant's).
	Weights *core.ScoreWeights
	// WaitsFor is the job that preempted this one: while that job is
	// still queued, and until WaitsUntilMs at the latest, this one may not
	// start, so it cannot take back the capacity it was stopped for.
	WaitsFor     string
	WaitsUntilMs int64
}

// Running is a job that holds capacity now: what preemption may take
// back. Allocs say what it holds on which node.
type Running struct {
	ID          string
	Attempt     int // which run of the job holds it: a preemption stops that run, not a later one
	Tenant      string
	Priority    int
	Tier        string
	CenterID    string
	StartedAtMs int64
	RateScaled  int64 // what it pays per hour, core.RateScale fixed point
	Allocs      []Alloc
}

// Alloc is capacity a running job holds on one node.
type Alloc struct {
	NodeID          string
	CPU, Mem, Accel int64
}

// Preemption asks to stop running job JobID and requeue it, so that
// ForJobID can start once its capacity is free.
type Preemption struct {
	JobID    string
	ForJobID string
	Reason   string
}

// Snapshot is the scheduler's whole input. NowMs is the time the
// snapshot describes (data, not a clock read); Releases say when running
// work gives its capacity back.
type Snapshot struct {
	Centers  []Center
	Nodes    []Node
	Queue    []Job
	NowMs    int64
	Releases []Release
	// Tenants' share policies, and what each holds now (CPU milli-cores,
	// memory MiB, accelerators) on scheduled and running work.
	Tenants     map[string]Tenant
	TenantUsage map[string][3]int64
	// TenantAccelTFLOPS, when set, is the dense FP16 TFLOPS of the
	// accelerators each tenant holds: fair share then weighs accelerators
	// by compute (normalized by the catalog) instead of by count.
	TenantAccelTFLOPS map[string]int64
	// Running is the work that preemption may stop; its capacity is
	// already counted in the nodes' Used fields.
	Running []Running
	// Links is the network between regions; Weights the platform's
	// default center-scoring weights (nil: core.DefaultScoreWeights).
	Links   []core.Link
	Weights *core.ScoreWeights
}

// Decision places every replica of one job on one center.
type Decision struct {
	JobID      string
	CenterID   string
	Placements []core.Placement
	RateScaled int64 // Σ replica rates at the chosen nodes, core.RateScale fixed point
	// Why records the scores that chose the center ("why here").
	Why *Explanation
}

// Pending explains why a job stays queued.
type Pending struct {
	JobID  string
	Reason string
}

// Plan is the scheduler's whole output.
type Plan struct {
	Decisions   []Decision
	Pending     []Pending
	Preemptions []Preemption
}

// Policy is a scheduling policy. Implementations must be deterministic
// functions of the snapshot.
type Policy interface {
	Schedule(s Snapshot) Plan
}

// CheapestFirst is scheduler v1: jobs by priority then FIFO; each job goes to
// the cheapest center where its whole gang fits now, on the least-loaded
// nodes there. The first job that does not fit gets a reservation (EASY
// backfill): the earliest time, from the max durations of running work,
// at which its whole gang fits, and the nodes it would take. Jobs behind it
// still start now, but only if they end before that time or leave the
// reserved capacity alone, so a large gang is never starved by a stream of
// small jobs.
type CheapestFirst struct {
	// Baseline scans every node for every replica (no index, no bounds):
	// the naive reference that benchmarks compare against. Same decisions.
	Baseline bool
	// Observe, if set, is called after each job's decision, in order; a
	// benchmark reads its own clock there. The scheduler never does.
	Observe func(jobID string, placed bool)
	// QueueMax bounds the jobs one pass considers; 0 means QueueScanMax.
	QueueMax int
}

// ReserveTriesMax bounds how many future times a reservation tries.
const ReserveTriesMax = 64

// Schedule implements Policy.
func (p CheapestFirst) Schedule(s Snapshot) Plan {
	st := newState(s)
	if p.Baseline {
		st.scan = true
		for _, cs := range st.cs {
			cs.ix, cs.bound = nil, nil
		}
	}
	// Sort positions, not jobs: a Job is a few hundred bytes to move.
	pos := make([]int32, len(s.Queue))
	for i := range pos {
		pos[i] = int32(i)
	}
	slices.SortStableFunc(pos, func(x, y int32) int {
		a, b := &s.Queue[x], &s.Queue[y]
		if a.Priority != b.Priority {
			return cmp.Compare(b.Priority, a.Priority)
		}
		if a.Seq != b.Seq {
			return cmp.Compare(a.Seq, b.Seq)
		}
		return strings.Compare(a.ID, b.ID)
	})
	queue := make([]*Job, len(pos)) // pointers into the snapshot, which the pass only reads
	for i, x := range pos {
		queue[i] = &s.Queue[x]
	}
	limit := QueueScanMax
	if p.QueueMax > 0 {
		limit = p.QueueMax
	}
	if len(queue) > limit {
		queue = queue[:limit]
	}
	plan := Plan{Decisions: make([]Decision, 0, len(queue)), Pending: make([]Pending, 0, len(queue))}
	var res *reservation
	observe := func(string, bool) {}
	if p.Observe != nil {
		observe = p.Observe
	}
	// A job shape that found no room stays without room while the pass
	// only allocates; freeing capacity clears the memo.
	failed := map[Shape]string{}
	fair := newFairShare(s, st)
	vs := newVictims(s)
	detailed, attempts := 0, 0
	pending := func(job Job, reason string) bool {
		plan.Pending = append(plan.Pending, Pending{JobID: job.ID, Reason: reason})
		observe(job.ID, false)
		return false
	}
	var queued map[string]bool // only needed when a preempted job waits for its preemptor
	for _, j := range queue {
		if j.WaitsFor != "" {
			queued = make(map[string]bool, len(queue))
			for _, j := range queue {
				queued[j.ID] = true
			}
			break
		}
	}
	decide := func(jp *Job) bool {
		job := *jp
		if job.WaitsFor != "" && queued[job.WaitsFor] && s.NowMs < job.WaitsUntilMs {
			return pending(job, fmt.Sprintf("preempted for job %s; waits until that job starts (at most until %s)",
				job.WaitsFor, atString(job.WaitsUntilMs, s.NowMs)))
		}
		if why := fair.overQuota(job); why != "" {
			return pending(job, why)
		}
		w := weightsFor(&s, job)
		sig := ShapeOf(job)
		var d *Decision
		reason, known := failed[sig]
		if p.Baseline {
			known = false // the baseline decides every job from scratch
		}
		if !known {
			detail := detailed < DetailedReasonsMax
			if d, reason = st.place(job, w, detail); d == nil {
				failed[sig] = reason
				if detail {
					detailed++
				}
			}
		}
		if d != nil && res != nil && !st.respects(res, d, job, s.NowMs) {
			st.unplace(d, job)
			clear(failed)
			d, reason = nil, fmt.Sprintf("would delay job %s, which has capacity reserved from %s", res.jobID, atString(res.atMs, s.NowMs))
		}
		if d != nil {
			fair.placed(job, d)
			plan.Decisions = append(plan.Decisions, *d)
			observe(job.ID, true)
			return true
		}
		// Blocked: stop lower-priority, spot or borrowed work if that lets
		// it start (not once a reservation holds capacity for an earlier
		// job: victims freed now could break it).
		if res == nil && len(s.Running) > 0 && attempts < PreemptAttemptsMax && len(plan.Preemptions) < PreemptionsMax {
			attempts++
			allowed := func(v *Running) bool {
				return v.Tier != core.TierGuaranteed && (mayPreempt(job, v) || fair.reclaims(job, v))
			}
			if o := st.preempt(job, vs, allowed); o != nil {
				for _, v := range o.victims {
					why := fmt.Sprintf("preempted for job %s (priority %d) on %s", job.ID, job.Priority, o.center.Name)
					if v.Priority >= job.Priority && v.Tier != core.TierSpot {
						why = fmt.Sprintf("preempted: tenant %s reclaims quota lent to cohort %s, for job %s on %s",
							job.Tenant, s.Tenants[job.Tenant].Cohort, job.ID, o.center.Name)
					}
					plan.Preemptions = append(plan.Preemptions, Preemption{JobID: v.ID, ForJobID: job.ID, Reason: why})
					fair.remove(v)
				}
				pending(job, o.describe())
				return true // it will hold the victims' capacity: for fairness as if placed
			}
		}
		if res == nil {
			if res = st.reserve(job, s, w); res != nil {
				reason = fmt.Sprintf("%s; capacity reserved on %s from %s", reason, res.centerName, atString(res.atMs, s.NowMs))
			}
		}
		return pending(job, reason)
	}
	fair.run(queue, decide)
	return plan
}

// signature spells out, for a gang of differing replicas, what Shape
// holds for uniform gangs.
func signature(j Job) string {
	b := make([]byte, 0, 64+32*len(j.Replicas))
	b = strconv.AppendBool(b, j.HasCommand)
	b = strconv.AppendBool(b, j.HasDuration)
	k := j.Constraints
	b = append(b, '|')
	b = append(b, k.Center...)
	b = append(b, '|')
	b = append(b, k.Region...)
	b = append(b, '|')
	b = append(b, k.Kind...)
	b = strconv.AppendBool(b, k.DomesticOnly)
	b = append(b, '|')
	for _, r := range j.Replicas {
		b = strconv.AppendInt(b, r.AccelCount, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.CPUMilli, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, r.MemMiB, 10)
		for _, m := range r.AccelModels {
			b = append(b, ',')
			b = append(b, m...)
		}
		b = append(b, ';')
	}
	return string(b)
}

// Shape identifies what placement and quotes depend on in a job: its
// replicas and constraints, and what it can run (command or duration). It
// is comparable, so it keys memos and caches; for a gang of identical
// replicas (nearly every job) it is built without allocating, other gangs
// carry their whole signature in mixed.
type Shape struct {
	command, duration, domestic bool
	center, region              string
	kind                        core.CenterKind
	accel, cpu, mem             int64
	models                      string
	replicas                    int
	mixed                       string
}

// ShapeOf returns j's shape.
func ShapeOf(j Job) Shape {
	k := j.Constraints
	r := j.Replicas[0]
	key := Shape{command: j.HasCommand, duration: j.HasDuration, domestic: k.DomesticOnly, center: k.Center,
		region: k.Region, kind: k.Kind, accel: r.AccelCount, cpu: r.CPUMilli, mem: r.MemMiB, replicas: len(j.Replicas)}
	switch len(r.AccelModels) {
	case 0:
	case 1:
		key.models = r.AccelModels[0]
	default:
		key.models = strings.Join(r.AccelModels, "+")
	}
	for _, x := range j.Replicas[1:] {
		if !sameShape(r, x) {
			return Shape{mixed: signature(j)}
		}
	}
	return key
}

// reservation is capacity held for the first blocked job.
type reservation struct {
	jobID, centerName string
	atMs              int64
	need              map[string][3]int64 // node ID -> cpu, mem, accel
}

func atString(atMs, nowMs int64) string {
	return fmt.Sprintf("now+%ds", max(atMs-nowMs, 0)/1000)
}

// unplace undoes a decision's allocations on the working state. Shapes
// found not to fit while the decision held capacity may fit again.
func (st *state) unplace(d *Decision, job Job) {
	for _, cs := range st.cs {
		if cs.ix != nil {
			cs.ix.forget()
		}
	}
	for _, p := range d.Placements {
		r := job.Replicas[p.Index]
		st.adjust(st.byID[p.NodeID], -r.CPUMilli, -r.MemMiB, -r.AccelCount)
	}
	// Freed capacity only raises the bound; raise it per node.
	for _, p := range d.Placements {
		st.raise(st.byID[p.NodeID])
	}
}

// raise lifts a center's bound to cover a node whose free capacity grew.
func (st *state) raise(n *Node) {
	cs := st.cs[n.CenterID]
	if st.scan || cs == nil || !n.Ready {
		return
	}
	b := cs.bound
	if b == nil {
		st.rebound(n.CenterID)
		return
	}
	fa, fc, fm := n.AccelCount-n.UsedAccel, n.CPUMilli-n.UsedCPU, n.MemMiB-n.UsedMem
	v := b.get(n.AccelModel)
	if v[0] >= fa && v[1] >= fc && v[2] >= fm && b.cpu >= fc && b.mem >= fm {
		return // still covered
	}
	nb := b.with(n.AccelModel, [3]int64{max(v[0], fa), max(v[1], fc), max(v[2], fm)})
	nb.cpu, nb.mem = max(b.cpu, fc), max(b.mem, fm)
	cs.bound = nb // replaced, not changed in place: clones share bounds
}

// respects reports whether placing job as d (already applied to the
// state) leaves the reservation intact: the job ends before the reserved
// time, or every reserved node still has what the reservation needs then.
func (st *state) respects(res *reservation, d *Decision, job Job, nowMs int64) bool {
	if job.MaxDurationMs > 0 && nowMs+job.MaxDurationMs <= res.atMs {
		return true
	}
	for _, p := range d.Placements {
		need, ok := res.need[p.NodeID]
		if !ok {
			continue
		}
		n := st.byID[p.NodeID]
		cpu, mem, accel := n.CPUMilli-n.UsedCPU, n.MemMiB-n.UsedMem, n.AccelCount-n.UsedAccel
		for _, r := range st.releases[p.NodeID] {
			if r.AtMs <= res.atMs {
				cpu, mem, accel = cpu+r.CPU, mem+r.Mem, accel+r.Accel
			}
		}
		if cpu < need[0] || mem < need[1] || accel < need[2] {
			return false
		}
	}
	return true
}

// reserve finds the earliest release time at which job's whole gang fits,
// placing it on a scratch copy of the state with the releases up to that
// time applied. Nil when no release makes it fit.
func (st *state) reserve(job Job, s Snapshot, w core.ScoreWeights) *reservation {
	if len(s.Releases) == 0 {
		return nil
	}
	rel := append([]Release(nil), s.Releases...)
	sort.Slice(rel, func(i, j int) bool {
		if rel[i].AtMs != rel[j].AtMs {
			return rel[i].AtMs < rel[j].AtMs
		}
		return rel[i].NodeID < rel[j].NodeID
	})
	scratch := st.clone()
	step := max(1, (len(rel)+ReserveTriesMax-1)/ReserveTriesMax)
	for i := 0; i < len(rel); {
		end := min(len(rel), i+step)
		for end < len(rel) && rel[end].AtMs == rel[end-1].AtMs {
			end++ // apply all releases of one instant together
		}
		touched := map[string]bool{}
		for _, r := range rel[i:end] {
			if n := scratch.byID[r.NodeID]; n != nil {
				scratch.adjust(n, -r.CPU, -r.Mem, -r.Accel)
				touched[n.CenterID] = true
			}
		}
		for cid := range touched {
			scratch.rebound(cid)
		}
		at := rel[end-1].AtMs
		i = end
		d, _ := scratch.place(job, w, false)
		if d == nil {
			continue
		}
		res := &reservation{jobID: job.ID, atMs: at, need: map[string][3]int64{}}
		for _, c := range st.centers {
			if c.ID == d.CenterID {
				res.centerName = c.Name
			}
		}
		for _, p := range d.Placements {
			r := job.Replicas[p.Index]
			n := res.need[p.NodeID]
			res.need[p.NodeID] = [3]int64{n[0] + r.CPUMilli, n[1] + r.MemMiB, n[2] + r.AccelCount}
		}
		return res
	}
	return nil
}

// clone copies the working state's nodes, so a plan can be tried on it.
func (st *state) clone() *state {
	cp := &state{centers: st.centers, nodes: make(map[string][]*Node, len(st.nodes)), byID: make(map[string]*Node, len(st.byID)),
		releases: st.releases, net: st.net, centerRegion: st.centerRegion, scan: st.scan}
	slab := make([]Node, 0, len(st.byID)) // one allocation for all the copies
	for cid, ns := range st.nodes {
		out := make([]*Node, len(ns))
		for i, n := range ns {
			slab = append(slab, *n)
			out[i] = &slab[len(slab)-1]
			cp.byID[n.ID] = out[i]
		}
		cp.nodes[cid] = out
	}
	cp.cs = make(map[string]*centerState, len(st.cs))
	for cid, cs := range st.cs {
		c := &centerState{bound: cs.bound, used: cs.used, total: cs.total} // bounds are replaced, never changed in place
		if cs.ix != nil {
			c.ix = cs.ix.remap(cp.byID) // same order, the copies' pointers: no re-sort
		}
		cp.cs[cid] = c
	}
	cp.link()
	return cp
}

type state struct {
	centers  []Center
	nodes    map[string][]*Node // by center ID, sorted by node ID
	byID     map[string]*Node
	releases map[string][]Release    // by node ID
	cs       map[string]*centerState // by center ID
	csOf     []*centerState          // aligned with centers (nil: a center without nodes)
	scan     bool                    // the baseline: no index, no bounds, every node scanned

	net          network
	centerRegion map[string]string // center ID and name -> region
	cands        []candidate       // place's scratch, reused across jobs
}

// centerState is one center's part of the working state, found with one
// lookup per center and job on the hot path.
type centerState struct {
	bound *bound // nil in the baseline (no pruning)
	ix    *index // nil in the baseline (scan every node)
	// Allocated and total CPU, memory and accelerators of ready nodes
	// (the load factor), kept current by adjust.
	used, total [3]int64
}

// link aligns csOf with centers.
func (st *state) link() {
	st.csOf = make([]*centerState, len(st.centers))
	for i, c := range st.centers {
		st.csOf[i] = st.cs[c.ID]
	}
}

// bound is at least the most any ready node of a center can still offer,
// per accelerator model and over all nodes. A replica over the bound fits
// on no node there, so the node scan is skipped; within the bound the scan
// runs as before, so pruning never changes a decision. Allocations leave
// the bound as it is (still an upper bound); releases raise it; a scan that
// finds nothing under the bound recomputes it, so it tightens where it
// matters.
type bound struct {
	models []modelBound // by model name; a handful per center, so a slice beats a map
	cpu    int64        // max free CPU over all nodes
	mem    int64        // max free memory over all nodes
}

func newBound(ns []*Node) *bound {
	b := &bound{}
	for _, n := range ns {
		if !n.Ready {
			continue
		}
		fa, fc, fm := n.AccelCount-n.UsedAccel, n.CPUMilli-n.UsedCPU, n.MemMiB-n.UsedMem
		v := b.get(n.AccelModel)
		b.set(n.AccelModel, [3]int64{max(v[0], fa), max(v[1], fc), max(v[2], fm)})
		b.cpu, b.mem = max(b.cpu, fc), max(b.mem, fm)
	}
	return b
}

// modelBound is one accelerator model's entry of a bound: the most free
// accelerators, CPU and memory any node of that model offers.
type modelBound struct {
	model string
	v     [3]int64
}

func (b *bound) get(model string) [3]int64 {
	for i := range b.models {
		if b.models[i].model == model {
			return b.models[i].v
		}
	}
	return [3]int64{}
}

// set changes b in place: only for a bound not yet shared.
func (b *bound) set(model string, v [3]int64) {
	for i := range b.models {
		if b.models[i].model == model {
			b.models[i].v = v
			return
		}
	}
	b.models = append(b.models, modelBound{model, v})
	sort.Slice(b.models, func(i, j int) bool { return b.models[i].model < b.models[j].model })
}

// with returns a copy of b with model's entry replaced: bounds are shared
// by clones, so they are replaced, never changed in place.
func (b *bound) with(model string, v [3]int64) *bound {
	nb := &bound{models: append([]modelBound(nil), b.models...), cpu: b.cpu, mem: b.mem}
	nb.set(model, v)
	return nb
}

// mayFit reports whether r could fit on some node of the center of cs;
// false means it certainly cannot.
func (st *state) mayFit(cs *centerState, r core.Replica) bool {
	if st.scan {
		return true
	}
	if cs == nil || cs.bound == nil {
		return false
	}
	b := cs.bound
	if r.AccelCount == 0 {
		return b.cpu >= r.CPUMilli && b.mem >= r.MemMiB
	}
	for _, mb := range b.models {
		model, v := mb.model, mb.v
		if model != "" && v[0] >= r.AccelCount && v[1] >= r.CPUMilli && v[2] >= r.MemMiB && modelOK(model, r.AccelModels) {
			return true
		}
	}
	return false
}

// rebound recomputes a center's bound after its nodes changed.
func (st *state) rebound(centerID string) {
	if cs := st.cs[centerID]; !st.scan && cs != nil {
		cs.bound = newBound(st.nodes[centerID])
	}
}

func newState(s Snapshot) *state {
	st := &state{nodes: make(map[string][]*Node), byID: make(map[string]*Node, len(s.Nodes)),
		releases: make(map[string][]Release), net: newNetwork(s.Links), centerRegion: make(map[string]string, 2*len(s.Centers)),
		cs: make(map[string]*centerState, len(s.Centers))}
	for _, c := range s.Centers {
		st.centerRegion[c.ID], st.centerRegion[c.Name] = c.Region, c.Region
	}
	for _, r := range s.Releases {
		st.releases[r.NodeID] = append(st.releases[r.NodeID], r)
	}
	st.centers = append([]Center(nil), s.Centers...)
	sort.Slice(st.centers, func(i, j int) bool { return st.centers[i].Name < st.centers[j].Name })
	for i := range s.Nodes {
		n := s.Nodes[i] // copy: the plan must not change the caller's snapshot
		n.loadPPM = load(&n)
		st.nodes[n.CenterID] = append(st.nodes[n.CenterID], &n)
		st.byID[n.ID] = &n
		cs := st.cs[n.CenterID]
		if cs == nil {
			cs = &centerState{}
			st.cs[n.CenterID] = cs
		}
		if n.Ready {
			u, t := cs.used, cs.total
			cs.used = [3]int64{u[0] + n.UsedCPU, u[1] + n.UsedMem, u[2] + n.UsedAccel}
			cs.total = [3]int64{t[0] + n.CPUMilli, t[1] + n.MemMiB, t[2] + n.AccelCount}
		}
	}
	for cid, ns := range st.nodes {
		sort.Slice(ns, func(i, j int) bool { return ns[i].ID < ns[j].ID })
		for i, n := range ns {
			n.ord = int32(i)
		}
		st.cs[cid].bound = newBound(ns)
		st.cs[cid].ix = newIndex(ns)
	}
	st.link()
	return st
}

// Eligible reports whether a center satisfies a job's constraints and can
// execute it, and why not. It ignores capacity.
func Eligible(c Center, job Job) (bool, string) {
	k := job.Constraints
	switch {
	case c.Executor == core.ExecutorLocal && !job.HasCommand:
		return false, "real center needs a command"
	case c.Executor == core.ExecutorSimulated && !job.HasDuration:
		return false, "simulated center needs a declared duration"
	case c.Executor == core.ExecutorAgent && !job.HasCommand && !job.HasDuration:
		return false, "agent center needs a command or a declared duration"
	case !c.Available:
		return false, "center unavailable"
	case k.Center != "" && k.Center != c.Name && k.Center != c.ID:
		return false, "center constraint"
	case k.Region != "" && k.Region != c.Region:
		return false, "region constraint"
	case k.Kind != "" && k.Kind != c.Kind:
		return false, "kind constraint"
	}
	return true, ""
}

// nodeFits reports whether replica r fits in the free capacity of n (or its
// total capacity when total is set) and the price of the node's model.
func nodeFits(n *Node, r core.Replica, c Center, domesticOnly, total bool) (int64, bool) {
	if !n.Ready {
		return 0, false
	}
	prices := c.Prices
	usedCPU, usedMem, usedAccel := n.UsedCPU, n.UsedMem, n.UsedAccel
	if total {
		usedCPU, usedMem, usedAccel = 0, 0, 0
	}
	if n.CPUMilli-usedCPU < r.CPUMilli || n.MemMiB-usedMem < r.MemMiB {
		return 0, false
	}
	if r.AccelCount > 0 {
		if n.AccelCount-usedAccel < r.AccelCount || !modelOK(n.AccelModel, r.AccelModels) {
			return 0, false
		}
	}
	if domesticOnly {
		// Domestic-only means the chips the replica uses are domestic: the
		// accelerator for accelerator replicas, the center's (domestic)
		// CPUs otherwise.
		if r.AccelCount > 0 {
			if !domesticModel(n.AccelModel) {
				return 0, false
			}
		} else if !c.Domestic {
			return 0, false
		}
	}
	model := ""
	if r.AccelCount > 0 {
		model = n.AccelModel
	}
	return prices.RateScaled(r, model)
}

func modelOK(model string, acceptable []string) bool {
	if model == "" {
		return false
	}
	if len(acceptable) == 0 {
		return true
	}
	for _, m := range acceptable {
		if m == model {
			return true
		}
	}
	return false
}

// load is a node's dominant allocated share in parts per million.
func load(n *Node) int64 {
	share := func(used, total int64) int64 {
		if total <= 0 {
			return 0
		}
		return used * 1_000_000 / total
	}
	l := share(n.UsedCPU, n.CPUMilli)
	if m := share(n.UsedMem, n.MemMiB); m > l {
		l = m
	}
	if a := share(n.UsedAccel, n.AccelCount); a > l {
		l = a
	}
	return l
}

// estimate is what a center offers a job on free capacity: the gang's
// cheapest rate there, the compute it would get, and how much of it runs
// on domestic chips.
type estimate struct {
	rate        int64 // Σ over replicas of the cheapest rate, core.RateScale fixed point
	tflops      int64 // Σ dense FP16 TFLOPS of the accelerators those nodes give
	domesticPPM int64 // share of replicas on domestic chips (CPU replicas: the center's flag)
	accel       bool  // the job asks for accelerators
}

type candidate struct {
	center *Center
	cs     *centerState
	est    estimate
	cost   [6]int64
	scored Scored
}

// DetailedReasonsMax bounds how many pending jobs per pass get node-level
// reasons (each costs a scan of the centers' nodes).
const DetailedReasonsMax = 256

// place decides one job on the working state: eligible centers where the
// gang may fit are scored with weights w, and the gang goes to the best
// one it fits on. detail asks for node-level reasons when it fits nowhere.
func (st *state) place(job Job, w core.ScoreWeights, detail bool) (*Decision, string) {
	cands := st.cands[:0]
	var reasons tally
	var noRoom []Center
	for i := range st.centers {
		c, cs := &st.centers[i], st.csOf[i]
		if ok, why := eligibleFor(*c, job); !ok {
			reasons.add(why)
			continue
		}
		est, ok := st.estimate(*c, cs, job)
		if !ok {
			reasons.add("insufficient free resources")
			if detail {
				noRoom = append(noRoom, *c)
			}
			continue
		}
		cands = append(cands, candidate{center: c, cs: cs, est: est})
	}
	st.cands = cands // reused by the next job
	if len(cands) == 0 {
		return nil, st.withDetail(summarize(reasons), noRoom, job, detail)
	}
	for i := range cands {
		c := *cands[i].center
		cands[i].cost = st.costs(c, cands[i].cs, cands[i].est, job)
		cands[i].scored = Scored{CenterID: c.ID, CenterName: c.Name, RateScaled: cands[i].est.rate}
	}
	rank(cands, w)
	for i, cand := range cands {
		d := st.tryGang(*cand.center, job)
		if d == nil {
			continue
		}
		why := &Explanation{Weights: w, Chosen: cand.scored}
		why.Others = why.others[:0]
		for k, o := range cands {
			if k != i && len(why.Others) < CandidatesShownMax {
				why.Others = append(why.Others, o.scored)
			}
		}
		why.rejected = reasons // rendered by String, only when asked
		d.Why = why
		return d, ""
	}
	for _, cand := range cands {
		if detail {
			noRoom = append(noRoom, *cand.center)
		}
	}
	return nil, st.withDetail("insufficient free resources for the whole gang", noRoom, job, detail)
}

// RejectedCentersShownMax bounds the centers a detailed reason lists.
const RejectedCentersShownMax = 3

// withDetail appends, when asked, what the nodes of the first few centers
// without room lack.
func (st *state) withDetail(reason string, noRoom []Center, job Job, detail bool) string {
	if !detail || len(noRoom) == 0 {
		return reason
	}
	parts := []string{reason}
	for i, c := range noRoom {
		if i == RejectedCentersShownMax {
			parts = append(parts, fmt.Sprintf("and %d more centers", len(noRoom)-i))
			break
		}
		parts = append(parts, st.nodeRejections(c, job))
	}
	return strings.Join(parts, "; ")
}

// eligibleFor is Eligible plus the center-level domestic check for jobs
// without accelerators (an accelerator job's domesticity is per node).
func eligibleFor(c Center, job Job) (bool, string) {
	if ok, why := Eligible(c, job); !ok {
		return false, why
	}
	if job.Constraints.DomesticOnly && !c.Domestic && !anyDomesticAccel(job) {
		return false, "domestic constraint"
	}
	return true, ""
}

// anyDomesticAccel reports whether the job asks for accelerators, in which
// case domesticity is checked per node model instead of per center.
func anyDomesticAccel(job Job) bool {
	for _, r := range job.Replicas {
		if r.AccelCount > 0 {
			return true
		}
	}
	return false
}

// estimate sums, over replicas, what the best node of c for each replica
// offers on free capacity. It orders centers; tryGang does the exact
// placement.
func (st *state) estimate(c Center, cs *centerState, job Job) (estimate, bool) {
	var e estimate
	var prev *core.Replica
	var prevNode *Node
	var prevRate int64
	domestic := 0
	for i, r := range job.Replicas {
		n, rate := prevNode, prevRate
		if prev == nil || !sameShape(*prev, r) { // nothing is allocated here, so an identical replica has the same answer
			if !st.mayFit(cs, r) {
				return estimate{}, false
			}
			if n, rate = st.bestNode(c, cs, r, job.Constraints.DomesticOnly, true); n == nil {
				return estimate{}, false
			}
			prev, prevNode, prevRate = &job.Replicas[i], n, rate
		}
		e.rate += rate
		if r.AccelCount > 0 {
			e.accel = true
			e.tflops += r.AccelCount * tflopsOf(n.AccelModel)
			if domesticModel(n.AccelModel) {
				domestic++
			}
		} else if c.Domestic {
			domestic++
		}
	}
	e.domesticPPM = int64(domestic) * ppm / int64(len(job.Replicas))
	return e, true
}

// tryGang places all replicas on c or none: allocations are applied to the
// working state and rolled back if any replica fails.
func (st *state) tryGang(c Center, job Job) *Decision {
	d := &Decision{JobID: job.ID, CenterID: c.ID, Placements: make([]core.Placement, len(job.Replicas))}
	order := placementOrder(job.Replicas)
	cs := st.cs[c.ID]
	for k, i := range order {
		r := job.Replicas[i]
		best, bestRate := st.bestNode(c, cs, r, job.Constraints.DomesticOnly, false)
		if best == nil {
			for _, done := range order[:k] { // roll back
				n, r := st.byID[d.Placements[done].NodeID], job.Replicas[done]
				st.adjust(n, -r.CPUMilli, -r.MemMiB, -r.AccelCount)
				st.raise(n) // a bound tightened mid-gang must cover what is freed again
			}
			return nil
		}
		st.adjust(best, r.CPUMilli, r.MemMiB, r.AccelCount)
		p := core.Placement{Index: i, NodeID: best.ID, NodeName: best.Name, RateScaled: bestRate}
		if r.AccelCount > 0 {
			p.AccelModel = best.AccelModel
		}
		d.Placements[i] = p
		d.RateScaled += bestRate
	}
	return d
}

func sameShape(a, b core.Replica) bool {
	if a.AccelCount != b.AccelCount || a.CPUMilli != b.CPUMilli || a.MemMiB != b.MemMiB || len(a.AccelModels) != len(b.AccelModels) {
		return false
	}
	for i := range a.AccelModels {
		if a.AccelModels[i] != b.AccelModels[i] {
			return false
		}
	}
	return true
}

// placementOrder returns replica indices largest first (accelerators, then
// CPU, then memory; index breaks ties), so a small replica cannot take the
// only node a large one fits on.
func placementOrder(rs []core.Replica) []int {
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	if len(rs) == 1 {
		return order
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := &rs[a], &rs[b]
		if x.AccelCount != y.AccelCount {
			return cmp.Compare(y.AccelCount, x.AccelCount)
		}
		if x.CPUMilli != y.CPUMilli {
			return cmp.Compare(y.CPUMilli, x.CPUMilli)
		}
		return cmp.Compare(y.MemMiB, x.MemMiB)
	})
	return order
}

// tally counts centers by why they were rejected: a handful of distinct
// reasons, so a slice, not a map, per decision.
type tally []reasonCount

type reasonCount struct {
	why string
	n   int
}

func (t *tally) add(why string) {
	for i := range *t {
		if (*t)[i].why == why {
			(*t)[i].n++
			return
		}
	}
	*t = append(*t, reasonCount{why, 1})
}

func summarize(reasons tally) string {
	if len(reasons) == 0 {
		return "no centers"
	}
	sorted := append(tally(nil), reasons...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].why < sorted[j].why })
	parts := make([]string, len(sorted))
	for i, r := range sorted {
		parts[i] = fmt.Sprintf("%d centers: %s", r.n, r.why)
	}
	return strings.Join(parts, "; ")
}

// Quote checks at submission that some eligible center could run job on
// empty capacity, and returns the highest total rate among those centers,
// which bounds what the job can cost per hour wherever it lands. ok is false
// with a reason when no center could ever run it.
func Quote(s Snapshot, job Job) (maxRate int64, ok bool, reason string) {
	st := newState(s)
	var reasons tally
	for _, c := range st.centers {
		c.Available = true // an unavailable center may come back; it still bounds the price
		if ok, why := eligibleFor(c, job); !ok {
			reasons.add(why)
			continue
		}
		// The gang needs every replica on some node at once; check that on
		// total capacity by placing on a scratch copy with nothing used.
		if !st.fitsEmpty(c, job) {
			reasons.add("too large for the center")
			continue
		}
		rate, _ := st.maxRate(c, job)
		if !ok || rate > maxRate {
			maxRate = rate
		}
		ok = true
	}
	if !ok {
		return 0, false, summarize(reasons)
	}
	return maxRate, true, ""
}

func (st *state) fitsEmpty(c Center, job Job) bool {
	scratch := make([]*Node, 0, len(st.nodes[c.ID]))
	byID := make(map[string]*Node, len(st.nodes[c.ID]))
	for _, n := range st.nodes[c.ID] {
		cp := *n
		cp.UsedCPU, cp.UsedMem, cp.UsedAccel = 0, 0, 0
		scratch = append(scratch, &cp)
		byID[cp.ID] = &cp
	}
	tmp := &state{centers: []Center{c}, nodes: map[string][]*Node{c.ID: scratch}, byID: byID}
	c.Available = true
	return tmp.tryGang(c, job) != nil
}

// maxRate is Σ over replicas of the most expensive node model that could
// host the replica at c.
func (st *state) maxRate(c Center, job Job) (int64, bool) {
	var sum int64
	for _, r := range job.Replicas {
		worst, found := int64(0), false
		for _, n := range st.nodes[c.ID] {
			if rate, ok := nodeFits(n, r, c, job.Constraints.DomesticOnly, true); ok && rate > worst {
				worst, found = rate, true
			}
		}
		if !found {
			return 0, false
		}
		sum += worst
	}
	return sum, true
}
