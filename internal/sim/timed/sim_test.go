package timed

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// mk builds a job: id i, tenant, arrival and duration in seconds, cards.
func mk(i int, tenant string, arrivalS, durationS, cards int64) Job {
	return Job{ID: jobID(i), Tenant: tenant, ArrivalMs: arrivalS * 1000, DurationMs: durationS * 1000, AccelMilli: cards * MilliPerCard}
}

// fataler is what both *testing.T and *rapid.T offer the helpers.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func mustCluster(t fataler, s string) Cluster {
	t.Helper()
	c, err := ParseCluster(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t fataler, jobs []Job, cluster, policy string, intervalMs int64) *Result {
	t.Helper()
	p, err := NewPolicy(policy, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(jobs, Options{Cluster: mustCluster(t, cluster), Policy: p, IntervalMs: intervalMs, BucketMs: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// smallReplay is a hand-made workload on 2 nodes × 4 GPUs: two tenants,
// a whole-cluster gang that blocks FIFO, short jobs that backfill, and a
// job larger than the cluster.
func smallReplay() []Job {
	return []Job{
		mk(0, "alice", 0, 600, 4),
		mk(1, "alice", 10, 300, 2),
		mk(2, "bob", 20, 1200, 8), // needs the whole cluster
		mk(3, "bob", 30, 100, 1),  // ends before job 2 could start: backfills
		mk(4, "alice", 40, 2000, 2),
		mk(5, "bob", 50, 60, 16), // never fits
		mk(6, "bob", 700, 100, 1),
	}
}

func TestGoldenSmallReplay(t *testing.T) {
	var b bytes.Buffer
	for _, policy := range Policies {
		for _, intervalMs := range []int64{0, 60_000} {
			res := run(t, smallReplay(), "2x4", policy, intervalMs)
			fmt.Fprintf(&b, "== policy %s, interval %d ms\n", policy, intervalMs)
			if err := WriteJobs(&b, res); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join("testdata", "small.golden")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("replay differs from %s (run go test -update and review the diff):\n%s", path, b.String())
	}
}

func TestFIFONeverStartsAJobBeforeAnEarlierOne(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		jobs, cluster := genScenario(rt)
		res := run(rt, jobs, cluster, PolicyFIFO, 0)
		var prev *JobResult
		for i := range res.Jobs { // arrival order
			j := &res.Jobs[i]
			if j.NeverFit {
				continue
			}
			if prev != nil && j.StartMs < prev.StartMs {
				rt.Fatalf("FIFO started %s at %d ms, before %s (arrived earlier) at %d ms", j.ID, j.StartMs, prev.ID, prev.StartMs)
			}
			prev = j
		}
	})
}

func TestBackfillBeatsFIFOOnQueueingDelay(t *testing.T) {
	// One 4-GPU node: a long 2-GPU job runs, a 4-GPU job must wait for it,
	// and short 1-GPU jobs behind it fit in the 2 idle GPUs before then.
	jobs := []Job{mk(0, "a", 0, 1000, 2), mk(1, "a", 1, 500, 4)}
	for i := 2; i < 8; i++ {
		jobs = append(jobs, mk(i, "a", int64(i), 100, 1))
	}
	fifo := run(t, jobs, "1x4", PolicyFIFO, 0).Metrics
	suanli := run(t, jobs, "1x4", PolicySuanli, 0).Metrics
	if suanli.DelayMeanS >= fifo.DelayMeanS {
		t.Errorf("mean queueing delay: suanli %.1f s, fifo %.1f s; want suanli lower (backfill)", suanli.DelayMeanS, fifo.DelayMeanS)
	}
	// The reservation holds: the 4-GPU job starts when the long one ends.
	if got := run(t, jobs, "1x4", PolicySuanli, 0).Jobs[1].StartMs; got != 1_000_000 {
		t.Errorf("4-GPU job starts at %d ms under suanli, want 1000000 (its reservation)", got)
	}
}

// preemptOnce stops the first running job it sees, once, and otherwise
// schedules as FIFO: a stand-in for the production scheduler's coming
// preemptions.
type preemptOnce struct{ done *bool }

func (p preemptOnce) Schedule(s sched.Snapshot) sched.Plan {
	if !*p.done && len(s.Running) > 0 && len(s.Queue) > 0 {
		*p.done = true
		return sched.Plan{Preemptions: []sched.Preemption{{JobID: s.Running[0].ID, ForJobID: s.Queue[0].ID, Reason: "test"}}}
	}
	return FIFO{}.Schedule(s)
}

func TestPreemptionRequeuesAndRestartsFromScratch(t *testing.T) {
	jobs := []Job{mk(0, "a", 0, 100, 4), mk(1, "b", 30, 50, 4)}
	done := false
	res, err := Run(jobs, Options{Cluster: mustCluster(t, "1x4"), Policy: preemptOnce{&done}})
	if err != nil {
		t.Fatal(err)
	}
	// At 30 s job 0 is stopped (30 s of work lost) and requeued ahead of
	// job 1 (it arrived first), so the next pass restarts it at 30 s; it
	// ends at 130 s and job 1 runs 130–180 s.
	j0, j1 := res.Jobs[0], res.Jobs[1]
	if j0.Preemptions != 1 || j0.StartMs != 30_000 || j0.FinishMs != 130_000 {
		t.Errorf("preempted job = %+v, want 1 preemption, restart at 30 s, finish at 130 s", j0)
	}
	if j1.StartMs != 130_000 || j1.FinishMs != 180_000 {
		t.Errorf("other job = %+v, want 130–180 s", j1)
	}
	if res.Metrics.Preemptions != 1 {
		t.Errorf("preemptions = %d, want 1", res.Metrics.Preemptions)
	}
	// The lost run held the node too: 30 s + 100 s + 50 s of 4 cards over 180 s.
	if got := res.Metrics.UtilMeanPct; got != 100 {
		t.Errorf("utilization = %.2f %%, want 100", got)
	}
}

// badPolicy places every queued job on the first node, whatever is free.
type badPolicy struct{}

func (badPolicy) Schedule(s sched.Snapshot) sched.Plan {
	var plan sched.Plan
	for _, j := range s.Queue {
		d := sched.Decision{JobID: j.ID, CenterID: s.Nodes[0].CenterID}
		for i := range j.Replicas {
			d.Placements = append(d.Placements, core.Placement{Index: i, NodeID: s.Nodes[0].ID})
		}
		plan.Decisions = append(plan.Decisions, d)
	}
	return plan
}

func TestOverCapacityDecisionIsAnError(t *testing.T) {
	jobs := []Job{mk(0, "a", 0, 100, 3), mk(1, "a", 0, 100, 3)}
	_, err := Run(jobs, Options{Cluster: mustCluster(t, "2x4"), Policy: badPolicy{}})
	checkErr(t, err, "would go over its capacity")
}

// genScenario draws a small random workload and cluster.
func genScenario(t *rapid.T) ([]Job, string) {
	nodes := rapid.IntRange(1, 3).Draw(t, "nodes")
	cards := rapid.SampledFrom([]int{1, 2, 4, 8}).Draw(t, "cards")
	n := rapid.IntRange(1, 25).Draw(t, "jobs")
	jobs := make([]Job, n)
	for i := range jobs {
		tenant := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "tenant")
		jobs[i] = mk(i, tenant, rapid.Int64Range(0, 600).Draw(t, "arrival"), rapid.Int64Range(1, 900).Draw(t, "duration"),
			rapid.Int64Range(1, int64(nodes*cards+2)).Draw(t, "cards"))
		jobs[i].Priority = rapid.IntRange(0, 2).Draw(t, "priority")
		jobs[i].Tier = rapid.SampledFrom([]string{"", core.TierSpot, core.TierGuaranteed}).Draw(t, "tier")
	}
	return jobs, fmt.Sprintf("%dx%d", nodes, cards)
}

// capacityChecker wraps a policy and checks, at every pass, that the
// snapshot's nodes are within capacity and that running work accounts
// for exactly what the nodes hold.
type capacityChecker struct {
	t      *rapid.T
	policy sched.Policy
}

func (c capacityChecker) Schedule(s sched.Snapshot) sched.Plan {
	held := map[string]int64{}
	for _, r := range s.Running {
		for _, a := range r.Allocs {
			held[a.NodeID] += a.Accel
		}
	}
	for _, n := range s.Nodes {
		if n.UsedAccel > n.AccelCount || n.UsedCPU > n.CPUMilli || n.UsedMem > n.MemMiB {
			c.t.Fatalf("node %s over capacity at %d ms: %+v", n.ID, s.NowMs, n)
		}
		if held[n.ID] != n.UsedAccel {
			c.t.Fatalf("node %s: running jobs hold %d, node says %d", n.ID, held[n.ID], n.UsedAccel)
		}
	}
	return c.policy.Schedule(s)
}

func TestPropertyCapacityOnceAndDeterminism(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		jobs, cluster := genScenario(rt)
		name := rapid.SampledFrom(Policies).Draw(rt, "policy")
		interval := rapid.SampledFrom([]int64{0, 60_000}).Draw(rt, "interval")
		p, err := NewPolicy(name, 0)
		if err != nil {
			rt.Fatal(err)
		}
		opt := Options{Cluster: mustCluster(rt, cluster), Policy: capacityChecker{rt, p}, IntervalMs: interval}
		a, err := Run(jobs, opt)
		if err != nil {
			rt.Fatal(err)
		}
		b, err := Run(jobs, opt)
		if err != nil {
			rt.Fatal(err)
		}
		if len(a.Jobs) != len(jobs) {
			rt.Fatalf("%d results for %d jobs", len(a.Jobs), len(jobs))
		}
		if !reflect.DeepEqual(a, b) {
			rt.Fatalf("two replays of one input differ")
		}
		cards := mustCluster(rt, cluster).Cards() * MilliPerCard
		for _, j := range a.Jobs {
			if !j.NeverFit && (j.FinishMs != j.StartMs+j.DurationMs || j.StartMs < j.ArrivalMs) {
				rt.Fatalf("job %s: arrival %d, start %d, finish %d, duration %d", j.ID, j.ArrivalMs, j.StartMs, j.FinishMs, j.DurationMs)
			}
			// Node-sized replicas of a job no larger than the (one-center)
			// cluster always fit it empty.
			if j.NeverFit && j.AccelMilli <= cards {
				rt.Fatalf("job %s of %d milli-cards marked never fitting a cluster of %d", j.ID, j.AccelMilli, cards)
			}
		}
	})
}

// TestPreemptionLivelocks replays two scenarios the property test found
// when it drew priorities and spot jobs, before the scheduler held a
// preemptor's capacity: a blocked job preempted victims; in the same pass,
// jobs behind it took the free capacity it also needed, and in the next
// pass a victim requeued ahead of it (earlier Seq, same priority) took its
// own capacity back, so the preemptor preempted again at every pass. Now
// the preemptor holds what it needs for the rest of its pass and its
// victims wait for it to start.
func TestPreemptionLivelocks(t *testing.T) {
	t.Run("spot victim of equal priority", func(t *testing.T) {
		jobs := []Job{mk(0, "a", 0, 1, 1), mk(1, "a", 0, 516, 2), mk(2, "a", 0, 1, 1), mk(3, "a", 0, 1, 1),
			mk(4, "b", 0, 1, 1), mk(5, "a", 0, 1, 1), mk(6, "a", 0, 1, 1), mk(7, "a", 0, 1, 1), mk(8, "a", 0, 1, 2),
			mk(9, "b", 0, 1, 1), mk(10, "b", 0, 1, 1), mk(11, "a", 0, 12, 1), mk(12, "a", 0, 1, 1), mk(13, "a", 0, 1, 1),
			mk(14, "a", 0, 1, 1), mk(15, "b", 0, 1, 5), mk(16, "a", 0, 1, 1)}
		for i := range jobs {
			if i != 4 && i != 15 {
				jobs[i].Tier = core.TierSpot
			}
		}
		jobs[1].Priority, jobs[11].Priority, jobs[15].Priority = 1, 1, 1
		checkLivelock(t, jobs, "3x2", sched.CheapestFirst{}, 0)
	})
	t.Run("lower priority behind the preemptor", func(t *testing.T) {
		var jobs []Job
		for i := 0; i < 18; i++ {
			jobs = append(jobs, mk(i, "a", 0, 1, 1))
		}
		jobs[11].DurationMs = 61_000
		jobs[13] = mk(13, "a", 121, 1, 4)
		jobs[13].Priority = 1
		checkLivelock(t, jobs, "1x4", OneTenant{Policy: sched.CheapestFirst{}}, 60_000)
	})
}

func checkLivelock(t *testing.T, jobs []Job, cluster string, p sched.Policy, intervalMs int64) {
	t.Helper()
	res, err := Run(jobs, Options{Cluster: mustCluster(t, cluster), Policy: p, IntervalMs: intervalMs})
	if err != nil {
		t.Fatal(err)
	}
	if res.Metrics.Finished != len(jobs) {
		t.Errorf("%d of %d jobs finished", res.Metrics.Finished, len(jobs))
	}
}
