package sched_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

// running builds running work of accel cards on one node, and marks the
// node's capacity used.
func running(id, tenant string, prio int, tier, node string, accel int64, startedMs int64) sched.Running {
	return sched.Running{ID: id, Tenant: tenant, Priority: prio, Tier: tier, CenterID: centerID("c1"), StartedAtMs: startedMs,
		RateScaled: accel * 8 * int64(core.MicrosPerYuan) * core.RateScale / 1000,
		Allocs:     []sched.Alloc{{NodeID: node, CPU: 1000, Mem: 1024, Accel: accel}}}
}

// withRunning returns the snapshot with rs running: their capacity is
// added to the nodes' Used fields, as the control loop does.
func withRunning(s sched.Snapshot, rs ...sched.Running) sched.Snapshot {
	s.Running = rs
	s.Nodes = append([]sched.Node(nil), s.Nodes...)
	for _, r := range rs {
		for _, a := range r.Allocs {
			for i := range s.Nodes {
				if s.Nodes[i].ID == a.NodeID {
					s.Nodes[i].UsedCPU += a.CPU
					s.Nodes[i].UsedMem += a.Mem
					s.Nodes[i].UsedAccel += a.Accel
				}
			}
		}
	}
	return s
}

func victimsOf(p sched.Plan) string {
	var ids []string
	for _, pr := range p.Preemptions {
		ids = append(ids, pr.JobID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func TestPreemption(t *testing.T) {
	c1 := makeCenter("c1").Card("A100", 8).Obj()
	node := func(id string) sched.Node { return makeNode(id).GPUs("A100", 8).CPU(64000).Mem(1 << 20).Obj() }
	one := []sched.Node{node("n1")}
	two := []sched.Node{node("n1"), node("n2")}
	job := func(prio int, tier string, cards int64) sched.Job {
		j := makeJob("new").Priority(prio).GPUs(cards).Obj()
		j.Tier = tier
		return j
	}
	tests := []struct {
		name    string
		nodes   []sched.Node
		running []sched.Running
		queue   []sched.Job
		victims string // sorted, comma-separated
		reason  string // substring of new's pending reason
	}{
		{"lower priority is preempted", one, []sched.Running{running("low", "t", 0, "", "n1", 8, 0)},
			[]sched.Job{job(10, "", 8)}, "low", "waiting for 1 preempted job(s) to stop on c1: low"},
		{"equal priority is not", one, []sched.Running{running("same", "t", 10, "", "n1", 8, 0)},
			[]sched.Job{job(10, "", 8)}, "", "insufficient free resources"},
		{"spot of equal priority is", one, []sched.Running{running("spot", "t", 10, "spot", "n1", 8, 0)},
			[]sched.Job{job(10, "", 8)}, "spot", "waiting"},
		{"spot does not preempt spot of equal priority", one, []sched.Running{running("spot", "t", 10, "spot", "n1", 8, 0)},
			[]sched.Job{job(10, "spot", 8)}, "", "insufficient"},
		{"guaranteed is never preempted", one, []sched.Running{running("g", "t", -100, "guaranteed", "n1", 8, 0)},
			[]sched.Job{job(10, "", 8)}, "", "insufficient"},
		{"fewest victims: one big job rather than two small", two, []sched.Running{
			running("big", "t", 0, "", "n1", 8, 0), running("s1", "t", 0, "", "n2", 4, 0), running("s2", "t", 0, "", "n2", 4, 0)},
			[]sched.Job{job(10, "", 8)}, "big", "waiting"},
		{"least important: lower priority first", two, []sched.Running{
			running("p5", "t", 5, "", "n1", 8, 0), running("p1", "t", 1, "", "n2", 8, 0)},
			[]sched.Job{job(10, "", 8)}, "p1", "waiting"},
		{"least important: spot before normal", two, []sched.Running{
			running("normal", "t", 1, "", "n1", 8, 0), running("spot", "t", 1, "spot", "n2", 8, 0)},
			[]sched.Job{job(10, "", 8)}, "spot", "waiting"},
		{"least important: least work lost", two, []sched.Running{
			running("old", "t", 1, "", "n1", 8, 0), running("young", "t", 1, "", "n2", 8, 3_000_000)},
			[]sched.Job{job(10, "", 8)}, "young", "waiting"},
		{"only as many as needed", one, []sched.Running{
			running("a", "t", 0, "", "n1", 2, 0), running("b", "t", 0, "", "n1", 2, 0), running("c", "t", 0, "", "n1", 4, 0)},
			[]sched.Job{job(10, "", 4)}, "c", "waiting"},
		{"freed capacity is held for the preemptor", one, []sched.Running{running("low", "t", 0, "", "n1", 8, 0)},
			[]sched.Job{job(10, "", 8), makeJob("mid").Seq(2).Priority(5).GPUs(1).Obj()}, "low", "waiting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := withRunning(sched.Snapshot{Centers: []sched.Center{c1}, Nodes: tt.nodes, Queue: tt.queue, NowMs: 4_000_000}, tt.running...)
			p := schedule(t, s)
			if got := victimsOf(p); got != tt.victims {
				t.Fatalf("victims %q, want %q (plan %+v)", got, tt.victims, p)
			}
			if len(p.Decisions) != 0 {
				t.Errorf("decisions %+v, want none: the freed capacity waits for the preemptor", p.Decisions)
			}
			for _, pe := range p.Pending {
				if pe.JobID == "new" && !strings.Contains(pe.Reason, tt.reason) {
					t.Errorf("reason %q, want it to contain %q", pe.Reason, tt.reason)
				}
			}
			for _, pr := range p.Preemptions {
				if pr.ForJobID != "new" || !strings.Contains(pr.Reason, "preempted") {
					t.Errorf("preemption %+v, want one for job new with a reason", pr)
				}
			}
		})
	}
}

// TestCohort: a tenant borrows idle quota of its cohort, within its
// borrowing limit; a lender that needs its quota back preempts the
// borrower, whatever the priorities.
func TestCohort(t *testing.T) {
	c1 := makeCenter("c1").Card("A100", 8).Obj()
	nodes := []sched.Node{makeNode("n1").GPUs("A100", 8).CPU(64000).Mem(1 << 20).Obj()}
	tj := func(id, tenant string, cards int64) sched.Job {
		j := makeJob(id).GPUs(cards).Obj()
		j.Tenant = tenant
		return j
	}
	q4 := [3]int64{0, 0, 4}
	tests := []struct {
		name    string
		tenants map[string]sched.Tenant
		running []sched.Running
		usage   map[string][3]int64
		queue   []sched.Job
		placed  string
		victims string
		reason  string
	}{
		{"no cohort: quota holds", map[string]sched.Tenant{"a": {Quota: q4}}, nil, nil,
			[]sched.Job{tj("j", "a", 6)}, "", "", "quota: accelerator would reach 6 of 4"},
		{"cohort lends idle quota", map[string]sched.Tenant{"a": {Quota: q4, Cohort: "x"}, "b": {Quota: q4, Cohort: "x"}}, nil, nil,
			[]sched.Job{tj("j", "a", 6)}, "j", "", ""},
		{"borrowing limit", map[string]sched.Tenant{"a": {Quota: q4, Cohort: "x", Borrow: [3]int64{0, 0, 1}}, "b": {Quota: q4, Cohort: "x"}}, nil, nil,
			[]sched.Job{tj("j", "a", 6)}, "", "", "borrowing limit of 1"},
		{"cohort has nothing idle", map[string]sched.Tenant{"a": {Quota: q4, Cohort: "x"}, "b": {Quota: q4, Cohort: "x"}}, nil,
			map[string][3]int64{"b": {0, 0, 3}}, []sched.Job{tj("j", "a", 6)}, "", "", "cohort x has 1 idle"},
		{"lender reclaims from a borrower of higher priority", map[string]sched.Tenant{"a": {Quota: q4, Cohort: "x"}, "b": {Quota: q4, Cohort: "x"}},
			[]sched.Running{running("b1", "b", 50, "", "n1", 4, 0), running("b2", "b", 50, "", "n1", 4, 1_000_000)},
			map[string][3]int64{"b": {2000, 2048, 8}}, []sched.Job{tj("j", "a", 4)}, "", "b2", "waiting for 1 preempted"},
		{"no reclaim from a tenant within its quota", map[string]sched.Tenant{"a": {Quota: q4, Cohort: "x"}, "b": {Quota: [3]int64{0, 0, 8}, Cohort: "x"}},
			[]sched.Running{running("b1", "b", 50, "", "n1", 4, 0), running("b2", "b", 50, "", "n1", 4, 0)},
			map[string][3]int64{"b": {2000, 2048, 8}}, []sched.Job{tj("j", "a", 4)}, "", "", "insufficient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := withRunning(sched.Snapshot{Centers: []sched.Center{c1}, Nodes: nodes, Queue: tt.queue, Tenants: tt.tenants,
				TenantUsage: tt.usage, NowMs: 4_000_000}, tt.running...)
			p := schedule(t, s)
			var placed []string
			for _, d := range p.Decisions {
				placed = append(placed, d.JobID)
			}
			if got := strings.Join(placed, ","); got != tt.placed {
				t.Errorf("placed %q, want %q (plan %+v)", got, tt.placed, p)
			}
			if got := victimsOf(p); got != tt.victims {
				t.Errorf("victims %q, want %q", got, tt.victims)
			}
			if tt.reason != "" && (len(p.Pending) == 0 || !strings.Contains(p.Pending[0].Reason, tt.reason)) {
				t.Errorf("pending %+v, want a reason containing %q", p.Pending, tt.reason)
			}
		})
	}
}

// TestPropPreemption: on random clusters with running work, the plan
// (victims stopped, then decisions applied) never over-commits a node,
// victims are never guaranteed and never of higher priority than their
// preemptor (unless reclaimed within a cohort), each victim is stopped
// once, and the same snapshot gives the same plan.
func TestPropPreemption(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		c1 := makeCenter("c1").Card("A100", 8).Card("H100", 20).Obj()
		nNodes := rapid.IntRange(1, 5).Draw(rt, "nodes")
		var nodes []sched.Node
		free := map[string]int64{}
		for i := range nNodes {
			id := fmt.Sprintf("n%d", i)
			nodes = append(nodes, makeNode(id).GPUs(rapid.SampledFrom([]string{"A100", "H100"}).Draw(rt, "model"), 8).CPU(64000).Mem(1<<20).Obj())
			free[id] = 8
		}
		tiers := []string{"", "spot", "guaranteed"}
		var rs []sched.Running
		for i := range rapid.IntRange(0, 10).Draw(rt, "running") {
			n := fmt.Sprintf("n%d", rapid.IntRange(0, nNodes-1).Draw(rt, "node"))
			cards := rapid.Int64Range(1, 8).Draw(rt, "cards")
			if free[n] < cards {
				continue
			}
			free[n] -= cards
			rs = append(rs, running(fmt.Sprintf("r%d", i), rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "tenant"),
				rapid.IntRange(-2, 2).Draw(rt, "prio"), rapid.SampledFrom(tiers).Draw(rt, "tier"), n, cards, int64(i)*1000))
		}
		var queue []sched.Job
		for i := range rapid.IntRange(1, 8).Draw(rt, "queued") {
			j := makeJob(fmt.Sprintf("q%d", i)).Seq(int64(i)).Priority(rapid.IntRange(-2, 3).Draw(rt, "qprio")).
				GPUs(rapid.Int64Range(1, 8).Draw(rt, "qcards")).Gang(rapid.IntRange(1, 2).Draw(rt, "gang")).Obj()
			j.Tier = rapid.SampledFrom(tiers).Draw(rt, "qtier")
			j.Tenant = rapid.SampledFrom([]string{"a", "b"}).Draw(rt, "qtenant")
			queue = append(queue, j)
		}
		s := withRunning(sched.Snapshot{Centers: []sched.Center{c1}, Nodes: nodes, Queue: queue, NowMs: 100_000}, rs...)
		p := schedule(rt, s)
		byID := map[string]sched.Running{}
		for _, r := range rs {
			byID[r.ID] = r
		}
		jobs := map[string]sched.Job{}
		for _, j := range queue {
			jobs[j.ID] = j
		}
		used := map[string]int64{}
		for _, n := range s.Nodes {
			used[n.ID] = n.UsedAccel
		}
		stopped := map[string]bool{}
		for _, pr := range p.Preemptions {
			v, ok := byID[pr.JobID]
			if !ok || stopped[pr.JobID] {
				rt.Fatalf("preemption of %s: unknown or repeated", pr.JobID)
			}
			stopped[pr.JobID] = true
			j := jobs[pr.ForJobID]
			if v.Tier == "guaranteed" || v.Priority > j.Priority || (v.Priority == j.Priority && (v.Tier != "spot" || j.Tier == "spot")) {
				rt.Fatalf("job %s (prio %d %q) preempted %s (prio %d %q)", j.ID, j.Priority, j.Tier, v.ID, v.Priority, v.Tier)
			}
			for _, a := range v.Allocs {
				used[a.NodeID] -= a.Accel
			}
		}
		for _, d := range p.Decisions {
			for _, pl := range d.Placements {
				used[pl.NodeID] += jobs[d.JobID].Replicas[pl.Index].AccelCount
			}
		}
		for _, n := range s.Nodes {
			if used[n.ID] > n.AccelCount || used[n.ID] < 0 {
				rt.Fatalf("node %s ends with %d of %d cards used", n.ID, used[n.ID], n.AccelCount)
			}
		}
		if again := (sched.CheapestFirst{}).Schedule(s); fmt.Sprint(again) != fmt.Sprint(p) {
			rt.Fatalf("second run differs")
		}
	})
}

// TestPreemptorHoldsItsCapacity: the capacity a preempting job needs —
// its victims' and the free part — is not given to a job behind it in the
// same pass; in the next pass its victims wait while it is queued, and
// stop waiting once it started (or their wait ran out).
func TestPreemptorHoldsItsCapacity(t *testing.T) {
	c1 := makeCenter("c1").Card("A100", 8).Obj()
	nodes := []sched.Node{makeNode("n1").GPUs("A100", 8).CPU(64000).Mem(1 << 20).Obj()}
	high := makeJob("high").Seq(2).Priority(10).GPUs(8).Obj()
	mid := makeJob("mid").Seq(3).Priority(5).GPUs(4).Obj()
	s := withRunning(sched.Snapshot{Centers: []sched.Center{c1}, Nodes: nodes, Queue: []sched.Job{high, mid}, NowMs: 1000},
		running("low", "t", 0, "", "n1", 4, 0))
	p := schedule(t, s)
	if victimsOf(p) != "low" || len(p.Decisions) != 0 {
		t.Fatalf("plan %+v: want low preempted and mid kept off the 4 free cards high needs", p)
	}

	// Next pass: low is back in the queue, ahead of high by Seq, and waits.
	low := makeJob("low").Seq(1).Priority(10).GPUs(4).Obj()
	low.Tier = core.TierSpot
	low.WaitsFor, low.WaitsUntilMs = "high", 61_000
	next := sched.Snapshot{Centers: []sched.Center{c1}, Nodes: nodes, Queue: []sched.Job{low, high}, NowMs: 2000}
	p = schedule(t, next)
	if len(p.Decisions) != 1 || p.Decisions[0].JobID != "high" {
		t.Fatalf("next pass %+v: want high placed, low waiting", p)
	}
	if !strings.Contains(p.Pending[0].Reason, "waits until that job starts") {
		t.Errorf("low's reason %q", p.Pending[0].Reason)
	}
	for _, tc := range []struct {
		name  string
		queue []sched.Job
		nowMs int64
	}{
		{"preemptor no longer queued", []sched.Job{low}, 2000},
		{"wait ran out", []sched.Job{low, high}, 61_000},
	} {
		p := schedule(t, sched.Snapshot{Centers: []sched.Center{c1}, Nodes: nodes, Queue: tc.queue, NowMs: tc.nowMs})
		if len(p.Decisions) == 0 || p.Decisions[0].JobID != "low" {
			t.Errorf("%s: plan %+v, want low placed first", tc.name, p)
		}
	}
}
