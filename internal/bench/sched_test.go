package bench

import "testing"

// TestSchedIndexedMatchesBaseline: on a mixed synthetic network the indexed
// scheduler makes exactly the decisions of the full scan.
func TestSchedIndexedMatchesBaseline(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		res, err := Sched(SchedConfig{Nodes: 400, Pending: 2000, Centers: 7, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Same || res.Indexed.Placed == 0 || res.Indexed.Placed == res.Indexed.Decisions {
			t.Errorf("seed %d: same=%v placed %d of %d; want identical plans with some jobs placed and some not", seed,
				res.Same, res.Indexed.Placed, res.Indexed.Decisions)
		}
	}
	if _, err := Sched(SchedConfig{Nodes: 0, Pending: 1, Centers: 1}); err == nil {
		t.Error("zero nodes accepted")
	}
}

// BenchmarkSchedPass is one indexed pass over the `suanli bench sched`
// default network (10,000 nodes, 100,000 pending); profile it with
// -cpuprofile.
func BenchmarkSchedPass(b *testing.B) {
	c := SchedConfig{Nodes: 10_000, Pending: 100_000, Centers: 20, Seed: 1, SkipBaseline: true}
	for b.Loop() {
		if _, err := Sched(c); err != nil {
			b.Fatal(err)
		}
	}
}
