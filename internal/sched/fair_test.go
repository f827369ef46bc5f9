package sched_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/sched"
)

func tenantJobs(tenant string, n int, seq0 int64) []sched.Job {
	var out []sched.Job
	for i := 0; i < n; i++ {
		j := makeJob(fmt.Sprintf("%s%02d", tenant, i)).Seq(seq0 + int64(i)).GPUs(1).Obj()
		j.Tenant = tenant
		out = append(out, j)
	}
	return out
}

func placedBy(p sched.Plan) map[string]int {
	out := map[string]int{}
	for _, d := range p.Decisions {
		out[d.JobID[:1]]++
	}
	return out
}

// TestFairShare: with room for 10 one-card jobs, tenant A's 10 early jobs
// do not starve tenant B's later ones: DRF alternates, weights tilt it, and
// a quota caps a tenant.
func TestFairShare(t *testing.T) {
	base := sched.Snapshot{
		Centers: []sched.Center{makeCenter("c1").Card("A100", 1).Obj()},
		Nodes:   []sched.Node{makeNode("n1").GPUs("A100", 8).CPU(64000).Mem(1 << 20).Obj(), makeNode("n2").GPUs("A100", 2).CPU(64000).Mem(1 << 20).Obj()},
		Queue:   append(tenantJobs("A", 10, 0), tenantJobs("B", 10, 100)...),
	}
	if got := placedBy(schedule(t, base)); got["A"] != 5 || got["B"] != 5 {
		t.Errorf("equal weights: placed %v, want 5 and 5", got)
	}
	weighted := base
	weighted.Tenants = map[string]sched.Tenant{"A": {Weight: 3}}
	if got := placedBy(schedule(t, weighted)); got["A"] < 7 || got["B"] < 2 {
		t.Errorf("A weighted 3: placed %v, want A about three times B", got)
	}
	// B already holds 6 cards elsewhere: A catches up first.
	busy := base
	busy.TenantUsage = map[string][3]int64{"B": {0, 0, 6}}
	if got := placedBy(schedule(t, busy)); got["A"] <= got["B"] {
		t.Errorf("B holding 6 cards: placed %v, want A ahead", got)
	}
	quota := base
	quota.Tenants = map[string]sched.Tenant{"A": {Quota: [3]int64{0, 0, 3}}}
	p := schedule(t, quota)
	if got := placedBy(p); got["A"] != 3 || got["B"] != 7 {
		t.Errorf("A with a 3-card quota: placed %v, want 3 and 7", got)
	}
	found := false
	for _, pe := range p.Pending {
		found = found || (strings.HasPrefix(pe.JobID, "A") && strings.Contains(pe.Reason, "quota"))
	}
	if !found {
		t.Errorf("no quota reason among %+v", p.Pending)
	}
}

// TestFairShareByCompute: tenant A holds 4 A100s (1,248 TFLOPS), B 2
// H100s (1,978). By card count B holds less and goes first; with holdings
// in TFLOPS, A does.
func TestFairShareByCompute(t *testing.T) {
	s := sched.Snapshot{
		Centers: []sched.Center{makeCenter("c1").Card("A100", 1).Card("H100", 3).Obj()},
		Nodes: []sched.Node{makeNode("n1").GPUs("A100", 8).CPU(64000).Mem(1<<20).Used(0, 0, 4).Obj(),
			makeNode("n2").GPUs("H100", 8).CPU(64000).Mem(1<<20).Used(0, 0, 2).Obj(),
			makeNode("n3").GPUs("A100", 1).CPU(64000).Mem(1 << 20).Obj()},
		Queue:       append(tenantJobs("A", 1, 0), tenantJobs("B", 1, 100)...),
		TenantUsage: map[string][3]int64{"A": {0, 0, 4}, "B": {0, 0, 2}},
	}
	s.Queue[0].Replicas[0].AccelModels = []string{"A100"}
	s.Queue[1].Replicas[0].AccelModels = []string{"A100"}
	first := func(p sched.Plan) string { return p.Decisions[0].JobID[:1] }
	if got := first(schedule(t, s)); got != "B" {
		t.Errorf("by count: %s first, want B (2 cards against 4)", got)
	}
	s.TenantAccelTFLOPS = map[string]int64{"A": 4 * 312, "B": 2 * 989}
	if got := first(schedule(t, s)); got != "A" {
		t.Errorf("by compute: %s first, want A (1,248 TFLOPS against 1,978)", got)
	}
}

// TestFairShareTiesByArrival: tenants with equal shares are served in the
// order their next jobs arrived, not by name.
func TestFairShareTiesByArrival(t *testing.T) {
	s := sched.Snapshot{
		Centers: []sched.Center{makeCenter("c1").Card("A100", 1).Obj()},
		Nodes:   []sched.Node{makeNode("n1").GPUs("A100", 1).CPU(64000).Mem(1 << 20).Obj()},
		Queue:   append(tenantJobs("A", 1, 40), tenantJobs("B", 1, 20)...),
	}
	if p := schedule(t, s); len(p.Decisions) != 1 || p.Decisions[0].JobID != "B00" {
		t.Errorf("plan %+v: want B's earlier job placed", p)
	}
}
