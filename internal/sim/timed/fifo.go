package timed

import (
	"fmt"
	"sort"
	"strings"

	"github.com/suanli/suanli/internal/sched"
)

// Policy names the CLI and the report accept.
const (
	PolicySuanli       = "suanli"
	PolicyFIFO         = "fifo"
	PolicyFIFOBackfill = "fifo-backfill"
)

// Policies are the compared policies, in report order.
var Policies = []string{PolicyFIFO, PolicyFIFOBackfill, PolicySuanli}

// NewPolicy returns the named policy. queueMax caps the jobs one pass of
// the production scheduler considers (0: its default).
func NewPolicy(name string, queueMax int) (sched.Policy, error) {
	switch name {
	case PolicySuanli:
		return sched.CheapestFirst{QueueMax: queueMax}, nil
	case PolicyFIFO:
		return FIFO{}, nil
	case PolicyFIFOBackfill:
		return OneTenant{Policy: sched.CheapestFirst{QueueMax: queueMax}}, nil
	}
	return nil, fmt.Errorf("unknown policy %q: want %s", name, strings.Join(Policies, ", "))
}

// FIFO is a plain first-in-first-out queue: jobs start in strict arrival
// order, and the first job that does not fit blocks every job behind it
// (no backfill, no priorities, no fair share, no preemption). Each job is
// placed by the production scheduler alone on the capacity left, so FIFO
// and suanli differ only in queueing discipline, never in node choice.
type FIFO struct{}

// Schedule implements sched.Policy.
func (FIFO) Schedule(s sched.Snapshot) sched.Plan {
	queue := s.Queue
	arrival := func(a, b int) bool {
		if queue[a].Seq != queue[b].Seq {
			return queue[a].Seq < queue[b].Seq
		}
		return queue[a].ID < queue[b].ID
	}
	if !sort.SliceIsSorted(queue, arrival) { // the simulator's queue already is
		queue = append([]sched.Job(nil), queue...)
		sort.SliceStable(queue, arrival)
	}
	nodes := append([]sched.Node(nil), s.Nodes...)
	at := make(map[string]int, len(nodes))
	for k, n := range nodes {
		at[n.ID] = k
	}
	var plan sched.Plan
	for k, job := range queue {
		// Alone in the queue, with no releases (no reservation to plan) and
		// no running work (nothing to preempt).
		one := sched.CheapestFirst{}.Schedule(sched.Snapshot{Centers: s.Centers, Nodes: nodes, Queue: []sched.Job{job},
			NowMs: s.NowMs, Links: s.Links, Weights: s.Weights})
		if len(one.Decisions) == 0 {
			for _, rest := range queue[k:] {
				plan.Pending = append(plan.Pending, sched.Pending{JobID: rest.ID, Reason: "behind the head of the FIFO queue"})
			}
			plan.Pending[0].Reason = "head of the FIFO queue: does not fit now"
			break
		}
		d := one.Decisions[0]
		for _, p := range d.Placements {
			r := job.Replicas[p.Index]
			n := &nodes[at[p.NodeID]]
			n.UsedCPU, n.UsedMem, n.UsedAccel = n.UsedCPU+r.CPUMilli, n.UsedMem+r.MemMiB, n.UsedAccel+r.AccelCount
		}
		plan.Decisions = append(plan.Decisions, d)
	}
	return plan
}

// OneTenant runs Policy as if every job belonged to one tenant, so the
// production scheduler's fair share has nothing to order: what is left is
// priority, FIFO and EASY backfill ("fifo-backfill").
type OneTenant struct {
	Policy sched.Policy
}

// oneTenant is the tenant every job is folded into.
const oneTenant = "all"

// Schedule implements sched.Policy.
func (p OneTenant) Schedule(s sched.Snapshot) sched.Plan {
	queue := make([]sched.Job, len(s.Queue))
	for k, j := range s.Queue {
		j.Tenant = oneTenant
		queue[k] = j
	}
	running := make([]sched.Running, len(s.Running))
	var usage [3]int64
	for k, r := range s.Running {
		r.Tenant = oneTenant
		running[k] = r
	}
	for _, u := range s.TenantUsage {
		usage = [3]int64{usage[0] + u[0], usage[1] + u[1], usage[2] + u[2]}
	}
	s.Queue, s.Running = queue, running
	s.Tenants = map[string]sched.Tenant{oneTenant: {Weight: 1}}
	s.TenantUsage = map[string][3]int64{oneTenant: usage}
	return p.Policy.Schedule(s)
}
