package timed

import (
	"container/heap"
	"fmt"
	"maps"

	"github.com/suanli/suanli/internal/sched"
)

// passes1 runs scheduling passes at the current instant: one, and another
// after each plan that preempted (its victims' capacity is free only now),
// up to PassesPerInstantMax; past that the state stays dirty and the next
// round passes again.
func (s *sim) passes1() error {
	for k := 0; k < PassesPerInstantMax; k++ {
		if len(s.queue) == 0 {
			return nil
		}
		preempted, err := s.pass()
		if err != nil {
			return err
		}
		if preempted == 0 {
			return nil
		}
	}
	s.dirty = true
	return nil
}

// pass builds a snapshot, asks the policy for a plan and applies it:
// decisions first (they may only use capacity free in the snapshot), then
// preemptions. It returns how many jobs were preempted.
func (s *sim) pass() (int, error) {
	invariant(len(s.queue) == len(s.specs), "the queue and its specs stay in step")
	s.passes++
	plan := s.opt.Policy.Schedule(s.snapshot())
	queued := make(map[string]bool, len(plan.Decisions))
	for _, d := range plan.Decisions {
		if err := s.start(d, queued); err != nil {
			return 0, fmt.Errorf("timed: pass %d at %d ms: %w", s.passes, s.nowMs, err)
		}
	}
	if len(plan.Decisions) > 0 {
		s.dropStarted()
	}
	for _, p := range plan.Preemptions {
		if err := s.preemptJob(p); err != nil {
			return 0, fmt.Errorf("timed: pass %d at %d ms: %w", s.passes, s.nowMs, err)
		}
	}
	return len(plan.Preemptions), nil
}

// snapshot is the scheduler's view of the simulated platform now. Its
// slices are the sim's own state and buffers, reused by the next pass: a
// policy is a function of the snapshot that neither keeps nor changes it
// (sched.CheapestFirst copies what it sorts).
func (s *sim) snapshot() sched.Snapshot {
	limit := sched.QueueScanMax
	if s.opt.QueueMax > 0 {
		limit = min(limit, s.opt.QueueMax)
	}
	b := &s.buf
	b.releases, b.running = b.releases[:0], b.running[:0]
	for _, i := range s.running {
		j := &s.jobs[i]
		endMs := j.startMs + j.DurationMs
		for _, a := range j.allocs {
			b.releases = append(b.releases, sched.Release{NodeID: a.NodeID, AtMs: endMs, CPU: a.CPU, Mem: a.Mem, Accel: a.Accel})
		}
		b.running = append(b.running, sched.Running{ID: j.ID, Tenant: j.Tenant, Priority: j.Priority, Tier: j.Tier,
			CenterID: j.centerID, StartedAtMs: j.startMs, Allocs: j.allocs})
	}
	b.nodes = append(b.nodes[:0], s.nodes...)
	clear(b.usage)
	maps.Copy(b.usage, s.usage)
	return sched.Snapshot{
		Centers:     s.centers,
		Nodes:       b.nodes,
		Queue:       s.specs[:min(limit, len(s.specs))],
		NowMs:       s.nowMs,
		Releases:    b.releases,
		Tenants:     s.tenants,
		TenantUsage: b.usage,
		Running:     b.running,
	}
}

// start applies one decision: the job must be queued, every replica placed
// once, and every node must keep within its capacity.
func (s *sim) start(d sched.Decision, started map[string]bool) error {
	i, ok := s.byID[d.JobID]
	if !ok || s.jobs[i].state != stateQueued || started[d.JobID] {
		return fmt.Errorf("decision for job %s, which is not waiting", d.JobID)
	}
	j := &s.jobs[i]
	if len(d.Placements) != len(j.spec.Replicas) {
		return fmt.Errorf("job %s: %d placements for %d replicas", j.ID, len(d.Placements), len(j.spec.Replicas))
	}
	allocs, err := s.allocate(j, d)
	if err != nil {
		return err
	}
	started[d.JobID] = true
	j.state, j.startMs, j.allocs, j.centerID = stateRunning, s.nowMs, allocs, d.CenterID
	j.epoch++
	u := s.usage[j.Tenant]
	s.usage[j.Tenant] = [3]int64{u[0] + j.CPUMilli, u[1] + j.MemMiB, u[2] + j.AccelMilli}
	s.running = append(s.running, i)
	heap.Push(&s.done, completion{atMs: s.nowMs + j.DurationMs, job: i, epoch: j.epoch})
	return nil
}

// allocate takes the decision's capacity on the nodes, or nothing and an
// error if a node would go over its capacity.
func (s *sim) allocate(j *simJob, d sched.Decision) ([]sched.Alloc, error) {
	seen := make([]bool, len(j.spec.Replicas))
	allocs := make([]sched.Alloc, 0, len(d.Placements))
	for _, p := range d.Placements {
		k, ok := s.nodeIdx[p.NodeID]
		if p.Index < 0 || p.Index >= len(seen) || seen[p.Index] || !ok || s.nodes[k].CenterID != d.CenterID {
			s.release(allocs)
			return nil, fmt.Errorf("job %s: bad placement of replica %d on node %q", j.ID, p.Index, p.NodeID)
		}
		seen[p.Index] = true
		r := j.spec.Replicas[p.Index]
		n := &s.nodes[k]
		if n.UsedCPU+r.CPUMilli > n.CPUMilli || n.UsedMem+r.MemMiB > n.MemMiB || n.UsedAccel+r.AccelCount > n.AccelCount {
			s.release(allocs)
			return nil, fmt.Errorf("job %s: node %s would go over its capacity", j.ID, n.ID)
		}
		n.UsedCPU, n.UsedMem, n.UsedAccel = n.UsedCPU+r.CPUMilli, n.UsedMem+r.MemMiB, n.UsedAccel+r.AccelCount
		allocs = append(allocs, sched.Alloc{NodeID: n.ID, CPU: r.CPUMilli, Mem: r.MemMiB, Accel: r.AccelCount})
	}
	return allocs, nil
}

// release undoes allocations of a decision that failed half-way.
func (s *sim) release(allocs []sched.Alloc) {
	for _, a := range allocs {
		n := &s.nodes[s.nodeIdx[a.NodeID]]
		n.UsedCPU, n.UsedMem, n.UsedAccel = n.UsedCPU-a.CPU, n.UsedMem-a.Mem, n.UsedAccel-a.Accel
	}
}

// dropStarted removes started jobs from the queue, keeping its order.
func (s *sim) dropStarted() {
	out, specs := s.queue[:0], s.specs[:0]
	for k, i := range s.queue {
		if s.jobs[i].state == stateQueued {
			out, specs = append(out, i), append(specs, s.specs[k])
		}
	}
	clear(s.specs[len(specs):]) // drop references the slice no longer uses
	s.queue, s.specs = out, specs
}

// preemptJob stops a running job and puts it back in the queue at its
// original place, to restart from scratch later (Slurm requeue): the work
// it did is lost.
func (s *sim) preemptJob(p sched.Preemption) error {
	i, ok := s.byID[p.JobID]
	if !ok || s.jobs[i].state != stateRunning {
		return fmt.Errorf("preemption of job %s, which is not running", p.JobID)
	}
	j := &s.jobs[i]
	if j.preemptions >= PreemptionsPerJobMax {
		return fmt.Errorf("job %s preempted more than %d times", j.ID, PreemptionsPerJobMax)
	}
	s.stop(i)
	j.preemptions++
	s.preempt++
	j.state = stateQueued
	// It waits for its preemptor to start, as the server's store makes it
	// do, so it cannot take back the capacity it was stopped for.
	j.spec.WaitsFor, j.spec.WaitsUntilMs = p.ForJobID, s.nowMs+PreemptedWaitMs
	s.enqueue(i)
	return nil
}

// checkDone asserts the replay's end state: every job that could fit
// finished exactly once, nothing waits or runs, and the nodes are empty.
func (s *sim) checkDone() error {
	for i := range s.jobs {
		j := &s.jobs[i]
		if j.state != stateFinished && j.state != stateNeverFit {
			return fmt.Errorf("timed: job %s did not finish (state %d)", j.ID, j.state)
		}
		if j.state == stateFinished {
			invariant(j.finishMs == j.startMs+j.DurationMs, "a job finishes its duration after its last start")
			invariant(len(j.runs) == j.preemptions+1, "one run per preemption plus the finishing run")
		}
	}
	for _, n := range s.nodes {
		invariant(n.UsedCPU == 0 && n.UsedMem == 0 && n.UsedAccel == 0, "nodes are empty at the end")
	}
	invariant(len(s.queue) == 0 && len(s.specs) == 0 && len(s.running) == 0, "nothing waits or runs at the end")
	return nil
}
