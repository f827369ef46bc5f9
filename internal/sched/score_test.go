package sched_test

import (
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

func weights(s string) *core.ScoreWeights {
	w, err := core.ParseScoreWeights(s)
	if err != nil {
		panic(err)
	}
	return &w
}

// TestCenterScoring: each factor, weighted alone, picks the center that is
// best on it; the default weights pick by price; a job's weights override
// its tenant's, which override the platform's.
func TestCenterScoring(t *testing.T) {
	// cheap: cheapest A100, east, not green, busy; green: dearer, west,
	// 90 % green; domestic: Ascend, dearer still.
	cheap := makeCenter("cheap").Card("A100", 8).Region("east").Obj()
	green := makeCenter("green").Card("A100", 10).Region("west").Obj()
	green.GreenPercent = 90
	dom := makeCenter("dom").Card("Ascend910B", 12).Region("south").Domestic().Obj()
	nodes := []sched.Node{
		makeNode("n-cheap").In("cheap").GPUs("A100", 8).CPU(64000).Mem(1<<20).Used(0, 0, 6).Obj(),
		makeNode("n-green").In("green").GPUs("A100", 8).CPU(64000).Mem(1 << 20).Obj(),
		makeNode("n-dom").In("dom").GPUs("Ascend910B", 8).CPU(64000).Mem(1<<20).Used(0, 0, 2).Obj(),
	}
	links := []core.Link{
		{From: "north", To: "east", LatencyMs: 30, BandwidthMbps: 10_000},
		{From: "north", To: "west", LatencyMs: 10, BandwidthMbps: 100_000},
		{From: "north", To: "south", LatencyMs: 40, BandwidthMbps: 1_000},
	}
	job := func(mod func(*sched.Job)) sched.Job {
		j := makeJob("j").GPUs(1).Obj()
		j.Tenant = "t"
		j.Data = core.DataSpec{Region: "north", SizeGiB: 100}
		if mod != nil {
			mod(&j)
		}
		return j
	}
	tests := []struct {
		name     string
		job      sched.Job
		tenant   *core.ScoreWeights
		platform *core.ScoreWeights
		want     string
	}{
		{"default weights: price", job(nil), nil, nil, "cheap"},
		{"network alone: fastest transfer of the data", job(func(j *sched.Job) { j.Weights = weights("network=1") }), nil, nil, "green"},
		{"locality alone: the center holding a copy", job(func(j *sched.Job) {
			j.Weights, j.Data.Centers = weights("locality=1"), []string{"dom"}
		}), nil, nil, "dom"},
		{"a copy makes the transfer free", job(func(j *sched.Job) {
			j.Weights, j.Data.Centers = weights("network=1"), []string{"id-dom"}
		}), nil, nil, "dom"},
		{"domestic alone", job(func(j *sched.Job) { j.Weights = weights("domestic=1") }), nil, nil, "dom"},
		{"green alone", job(func(j *sched.Job) { j.Weights = weights("green=1") }), nil, nil, "green"},
		{"load alone: least loaded", job(func(j *sched.Job) { j.Weights = weights("load=1") }), nil, nil, "green"},
		{"tenant weights apply", job(nil), weights("domestic=1"), nil, "dom"},
		{"job weights beat the tenant's", job(func(j *sched.Job) { j.Weights = weights("green=1") }), weights("domestic=1"), nil, "green"},
		{"platform weights apply without tenant or job weights", job(nil), nil, weights("green=1"), "green"},
		{"tenant weights beat the platform's", job(nil), weights("price=1"), weights("green=1"), "cheap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sched.Snapshot{Centers: []sched.Center{cheap, green, dom}, Nodes: nodes, Queue: []sched.Job{tt.job},
				Links: links, Weights: tt.platform}
			if tt.tenant != nil {
				s.Tenants = map[string]sched.Tenant{"t": {Weights: tt.tenant}}
			}
			p := schedule(t, s)
			if len(p.Decisions) != 1 {
				t.Fatalf("plan %+v, want one decision", p)
			}
			d := p.Decisions[0]
			if d.CenterID != centerID(tt.want) {
				t.Fatalf("placed on %s, want %s; why: %s", d.CenterID, tt.want, d.Why)
			}
			if d.Why == nil || d.Why.Chosen.CenterName != tt.want || len(d.Why.Others) != 2 {
				t.Fatalf("explanation %+v, want %s chosen over 2 others", d.Why, tt.want)
			}
			for _, o := range d.Why.Others {
				if o.Score > d.Why.Chosen.Score {
					t.Errorf("runner-up %s scored %d above the chosen %d", o.CenterName, o.Score, d.Why.Chosen.Score)
				}
			}
		})
	}
}

// TestExplanation: "why here" names the chosen center, its factor scores,
// the runners-up, the weights and the centers that were not candidates.
func TestExplanation(t *testing.T) {
	s := sched.Snapshot{
		Centers: []sched.Center{makeCenter("a").Card("A100", 8).Obj(), makeCenter("b").Card("A100", 9).Obj(),
			makeCenter("c").Card("A100", 9).Region("far").Obj()},
		Nodes: []sched.Node{makeNode("na").In("a").GPUs("A100", 8).Obj(), makeNode("nb").In("b").GPUs("A100", 8).Obj(),
			makeNode("nc").In("c").GPUs("A100", 8).Obj()},
		Queue: []sched.Job{makeJob("j").GPUs(1).Region("north").Obj()},
	}
	p := schedule(t, s)
	got := p.Decisions[0].Why.String()
	for _, want := range []string{"a scored 1.000 (price 1.000, network 1.000", "next: b 0.", "weights price=60,network=15",
		"not candidates: 1 centers: region constraint"} {
		if !strings.Contains(got, want) {
			t.Errorf("explanation %q lacks %q", got, want)
		}
	}
}

// TestPendingNodeReasons: "why pending" counts, per center without room,
// the filter each node fails.
func TestPendingNodeReasons(t *testing.T) {
	s := sched.Snapshot{
		Centers: []sched.Center{makeCenter("a").Card("A100", 8).Card("V100", 4).Obj()},
		Nodes: []sched.Node{
			makeNode("n1").In("a").GPUs("A100", 8).Used(0, 0, 7).Obj(),
			makeNode("n2").In("a").GPUs("A100", 8).Used(0, 0, 8).Obj(),
			makeNode("n3").In("a").GPUs("V100", 8).Obj(),
			makeNode("n4").In("a").GPUs("A100", 8).Down().Obj(),
			makeNode("n5").In("a").Obj(),
			makeNode("n6").In("a").GPUs("A100", 1).Obj(),
		},
		Queue: []sched.Job{makeJob("j").GPUs(2, "A100").Obj()},
	}
	p := schedule(t, s)
	if len(p.Pending) != 1 {
		t.Fatalf("plan %+v, want j pending", p)
	}
	want := "a: 1 not ready, 1 of another model, 2 short of free accelerators, 1 too small, 1 without accelerators"
	if !strings.Contains(p.Pending[0].Reason, want) {
		t.Errorf("reason %q lacks %q", p.Pending[0].Reason, want)
	}
}
