package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

// SchedConfig shapes a scheduler benchmark.
type SchedConfig struct {
	Nodes, Pending, Centers int
	Seed                    uint64
	SkipBaseline            bool
}

// SchedRun is one policy's pass.
type SchedRun struct {
	Policy        string        `json:"policy"`
	Pass          time.Duration `json:"pass"`
	Decisions     int           `json:"decisions"`
	Placed        int           `json:"placed"`
	PlacementsSec float64       `json:"placements_per_s"`
	DecisionsSec  float64       `json:"decisions_per_s"`
	P50, P99, Max time.Duration `json:"-"`
	P99Micros     float64       `json:"p99_decision_us"`
	PeakHeapMiB   float64       `json:"peak_heap_mib"`
}

// SchedResult is a benchmark's output.
type SchedResult struct {
	Config   SchedConfig `json:"config"`
	Indexed  SchedRun    `json:"indexed"`
	Baseline *SchedRun   `json:"baseline,omitempty"`
	Speedup  float64     `json:"speedup,omitempty"`
	Same     bool        `json:"same_decisions"`
}

// Limits keep a benchmark bounded.
const (
	SchedNodesMax   = 200_000
	SchedPendingMax = 1_000_000
)

var benchModels = []struct {
	name  string
	cards int64
	price core.Micros
}{{"A100", 8, 8_000_000}, {"H100", 8, 20_000_000}, {"Ascend910B", 8, 6_500_000}, {"A800", 2, 9_000_000}, {"H20", 2, 4_500_000}}

// SchedSnapshot builds a synthetic network: Nodes nodes (8-card and 2-card
// accelerator nodes and some CPU nodes) over Centers centers, and Pending
// queued jobs of mixed shapes: single replicas, gangs of 2-8, CPU jobs,
// fractional card counts, model sets, center and region constraints,
// priorities.
func SchedSnapshot(c SchedConfig) (sched.Snapshot, error) {
	if c.Nodes <= 0 || c.Nodes > SchedNodesMax || c.Pending <= 0 || c.Pending > SchedPendingMax || c.Centers <= 0 || c.Centers > c.Nodes {
		return sched.Snapshot{}, fmt.Errorf("nodes 1..%d, pending 1..%d, centers 1..nodes", SchedNodesMax, SchedPendingMax)
	}
	r := rand.New(rand.NewPCG(c.Seed, 7))
	var s sched.Snapshot
	for i := 0; i < c.Centers; i++ {
		ctr := sched.Center{ID: fmt.Sprintf("c%02d", i), Name: fmt.Sprintf("center-%02d", i), Kind: core.KindAI,
			Region: fmt.Sprintf("r%d", i%5), Available: true, Executor: core.ExecutorSimulated, Domestic: i%3 == 0,
			Prices: core.PriceBook{CardHour: map[string]core.Micros{}, CoreHour: 40_000, MemGiBHour: 5_000}}
		for _, m := range benchModels {
			ctr.Prices.CardHour[m.name] = m.price + core.Micros(r.IntN(1_000_000))
		}
		s.Centers = append(s.Centers, ctr)
	}
	for i := 0; i < c.Nodes; i++ {
		m := benchModels[r.IntN(len(benchModels))]
		n := sched.Node{ID: fmt.Sprintf("n%06d", i), Name: fmt.Sprintf("node-%06d", i), CenterID: s.Centers[i%c.Centers].ID,
			Ready: r.IntN(50) != 0, CPUMilli: 128_000, MemMiB: 1 << 20, AccelModel: m.name, AccelCount: m.cards}
		if r.IntN(10) == 0 { // CPU nodes
			n.AccelModel, n.AccelCount = "", 0
		}
		s.Nodes = append(s.Nodes, n)
	}
	for i := 0; i < c.Pending; i++ {
		j := sched.Job{ID: fmt.Sprintf("j%07d", i), Seq: int64(i), Priority: r.IntN(3) * 100, HasDuration: true,
			MaxDurationMs: int64(1+r.IntN(48)) * 3_600_000}
		rep := core.Replica{CPUMilli: int64(1+r.IntN(16)) * 1000, MemMiB: int64(1+r.IntN(64)) * 1024}
		switch k := r.IntN(10); {
		case k < 5:
			rep.AccelCount = []int64{1, 1, 2, 4, 8}[r.IntN(5)]
		case k < 7:
			rep.AccelCount = 8
			rep.AccelModels = []string{benchModels[r.IntN(3)].name}
		case k < 8:
			rep.AccelCount = 1
			rep.AccelModels = []string{"A800", "H20"}
		}
		n := 1
		if r.IntN(5) == 0 {
			n = 2 + r.IntN(7)
		}
		for k := 0; k < n; k++ {
			j.Replicas = append(j.Replicas, rep)
		}
		switch r.IntN(10) {
		case 0:
			j.Constraints.Center = s.Centers[r.IntN(c.Centers)].Name
		case 1:
			j.Constraints.Region = fmt.Sprintf("r%d", r.IntN(5))
		case 2:
			j.Constraints.DomesticOnly = true
		}
		s.Queue = append(s.Queue, j)
	}
	return s, nil
}

// Sched runs one pass of the indexed policy (and of the baseline unless
// skipped) over the same snapshot and compares them.
func Sched(c SchedConfig) (SchedResult, error) {
	s, err := SchedSnapshot(c)
	if err != nil {
		return SchedResult{}, err
	}
	res := SchedResult{Config: c}
	var plan sched.Plan
	res.Indexed, plan = runPolicy("indexed", false, s, c.Pending)
	res.Same = true
	if !c.SkipBaseline {
		b, basePlan := runPolicy("baseline (scan every node)", true, s, c.Pending)
		res.Baseline = &b
		res.Speedup = b.Pass.Seconds() / res.Indexed.Pass.Seconds()
		res.Same = samePlan(plan, basePlan)
	}
	return res, nil
}

func runPolicy(name string, baseline bool, s sched.Snapshot, queueMax int) (SchedRun, sched.Plan) {
	runtime.GC()
	lat := make([]time.Duration, 0, len(s.Queue))
	var peak uint64
	var ms runtime.MemStats
	last := time.Now()
	p := sched.CheapestFirst{Baseline: baseline, QueueMax: queueMax, Observe: func(string, bool) {
		now := time.Now()
		lat = append(lat, now.Sub(last))
		last = now
		if len(lat)%10_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}}
	t0 := time.Now()
	last = t0
	plan := p.Schedule(s)
	pass := time.Since(t0)
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapAlloc)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(f*float64(len(lat))))]
	}
	run := SchedRun{Policy: name, Pass: pass, Decisions: len(lat), Placed: len(plan.Decisions),
		PlacementsSec: float64(len(plan.Decisions)) / pass.Seconds(), DecisionsSec: float64(len(lat)) / pass.Seconds(),
		P50: q(0.5), P99: q(0.99), PeakHeapMiB: float64(peak) / (1 << 20)}
	if len(lat) > 0 {
		run.Max = lat[len(lat)-1]
	}
	run.P99Micros = float64(run.P99.Microseconds())
	return run, plan
}

func samePlan(a, b sched.Plan) bool {
	if len(a.Decisions) != len(b.Decisions) || len(a.Pending) != len(b.Pending) {
		return false
	}
	for i := range a.Decisions {
		x, y := a.Decisions[i], b.Decisions[i]
		if x.JobID != y.JobID || x.CenterID != y.CenterID || len(x.Placements) != len(y.Placements) {
			return false
		}
		for k := range x.Placements {
			if x.Placements[k] != y.Placements[k] {
				return false
			}
		}
	}
	return true
}
