package sched_test

import (
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/sched"
)

// TestBackfill: a 2-node gang is blocked because node n1 is busy until
// t=100 s. Jobs behind it start now only if they end before then or leave
// its reserved capacity alone. (Capacity placed in this pass counts as
// still in use at the reserved time: conservative.)
func TestBackfill(t *testing.T) {
	const now = 1_000_000
	gang := makeJob("big").Seq(1).Gang(2).CPU(12000).Obj()
	gang.MaxDurationMs = 3_600_000
	short := makeJob("short").Seq(2).CPU(8000).Obj()
	short.MaxDurationMs = 50_000 // ends at now+50 s, before the reservation
	long := makeJob("long").Seq(3).CPU(8000).Center("c1").Obj()
	long.MaxDurationMs = 3_600_000 // would hold n2 past now+100 s
	other := makeJob("other").Seq(4).CPU(8000).Center("c2").Obj()
	other.MaxDurationMs = 3_600_000 // another center: no conflict
	snap := sched.Snapshot{
		NowMs:   now,
		Centers: []sched.Center{makeCenter("c1").CPU(10_000, 0).Obj(), makeCenter("c2").CPU(90_000, 0).Obj()},
		Nodes: []sched.Node{
			makeNode("n1").In("c1").CPU(16000).Used(16000, 0, 0).Obj(),
			makeNode("n2").In("c1").CPU(16000).Obj(),
			makeNode("m1").In("c2").CPU(8000).Used(8000, 0, 0).Obj(),
			makeNode("m2").In("c2").CPU(8000).Obj(),
		},
		Releases: []sched.Release{{NodeID: "n1", AtMs: now + 100_000, CPU: 16000}, {NodeID: "m1", AtMs: now + 900_000_000, CPU: 8000}},
		Queue:    []sched.Job{gang, short, long, other},
	}
	p := sched.CheapestFirst{}.Schedule(snap)
	placed := map[string]bool{}
	for _, d := range p.Decisions {
		placed[d.JobID] = true
	}
	reasons := map[string]string{}
	for _, pe := range p.Pending {
		reasons[pe.JobID] = pe.Reason
	}
	if placed["big"] || !strings.Contains(reasons["big"], "reserved on c1 from now+100s") {
		t.Errorf("big: placed %v, reason %q; want pending with a reservation on c1 from now+100s", placed["big"], reasons["big"])
	}
	if !placed["short"] {
		t.Errorf("short job that ends before the reservation was not backfilled: %q", reasons["short"])
	}
	if placed["long"] || !strings.Contains(reasons["long"], "would delay job big") {
		t.Errorf("long: placed %v, reason %q; want held back so big is not delayed", placed["long"], reasons["long"])
	}
	if !placed["other"] {
		t.Errorf("job on another center was held back: %q", reasons["other"])
	}
	// Without releases nothing can be reserved, and v1 behaviour is unchanged: long runs.
	snap.Releases = nil
	p = sched.CheapestFirst{}.Schedule(snap)
	got := false
	for _, d := range p.Decisions {
		got = got || d.JobID == "long" || d.JobID == "short"
	}
	if !got {
		t.Errorf("without releases a small job should run on the free node: %+v", p)
	}
}
