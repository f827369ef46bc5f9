package fgd

import (
	"fmt"
	"math/rand"
)

// Config selects one replay.
type Config struct {
	Policy Policy
	// Seed seeds the run's own math/rand v1 source; the paper used 42..51.
	Seed int64
	// Tune is the target total GPU request as a multiple of the cluster's
	// GPU capacity; the paper used 1.3.
	Tune float64
	// suanli overrides the suanli policy's options (nil: defaultSuanli);
	// only the package's tests and ablations set it.
	suanli *suanliOptions
}

// Event is the cluster state after one pod, as the authors' simulator logged
// it in its [Report] and [Alloc] lines.
type Event struct {
	// ArrivedMilli is the GPU milli requested by every pod so far, failed
	// ones included.
	ArrivedMilli int64
	// UsedMilli is the GPU milli allocated.
	UsedMilli int64
	// FragMilli is the cluster's GPU fragment amount (every bucket but Q3)
	// and IdleMilli the sum of all buckets, both in milli-GPU.
	FragMilli, IdleMilli float64
	// Placed is false for a pod that fit no node.
	Placed bool
}

// Run is the outcome of one replay.
type Run struct {
	Policy    Policy
	Seed      int64
	Pods      int // pods replayed, tuned copies included
	Tuned     int
	Failed    int
	TotalGPUs int64
	Events    []Event // one per pod, in order
}

// replayer holds the state of one run. It is used by one goroutine only.
type replayer struct {
	policy  Policy
	cluster *cluster
	rng     *rand.Rand
	classes map[shape]int // (cpu, milli, gpus) → FGD cache class
	// fgdCache[node*len(classes)+class] memoises FGD's score of a node for a
	// pod class while the node is unchanged; version is node.version+1.
	fgdCache []fgdEntry
	// Scratch buffers, sized once.
	feasible []int
	scores   []int64
	gpus     []int
	// The suanli policy's state (suanli.go).
	suanliOpt     suanliOptions
	suanliTarget  suanliWorkload
	suanliClasses int
	suanliGroups  []modelGroup
	suanliWhole   []wholeGroup
	suanliCache   []suanliEntry
}

type fgdEntry struct {
	version uint32
	score   int16
	gpu     int8
}

// Replay runs one experiment: it prepares the workload from the seed, places
// every pod in order and records the cluster after each one.
func Replay(nodes []Node, pods []Pod, cfg Config) (Run, error) {
	if _, err := ParsePolicy(string(cfg.Policy)); err != nil {
		return Run{}, err
	}
	if len(nodes) == 0 {
		return Run{}, fmt.Errorf("fgd: no nodes")
	}
	if !(cfg.Tune > 0) {
		return Run{}, fmt.Errorf("fgd: tune ratio must be positive, not %v", cfg.Tune)
	}
	// The typical pods come from the original pods, before any draw.
	typical := typicalPods(pods)
	rng := newSource(cfg.Seed)
	w, err := prepare(pods, nodes, cfg.Tune, rng)
	if err != nil {
		return Run{}, err
	}
	c, err := newCluster(nodes, w.Prefix, typical)
	if err != nil {
		return Run{}, err
	}
	r := &replayer{policy: cfg.Policy, cluster: c, rng: rng, classes: map[shape]int{},
		feasible: make([]int, 0, len(nodes)), scores: make([]int64, 0, len(nodes)), gpus: make([]int, 0, MaxGPUsPerNode)}
	demands := make([]demand, len(w.Pods))
	for i, p := range w.Pods {
		key := shape{cpu: p.CPUMilli, milli: p.GPUMilli, gpus: p.GPUs}
		class, ok := r.classes[key]
		if !ok {
			class = len(r.classes)
			r.classes[key] = class
		}
		demands[i] = demand{cpu: p.CPUMilli, mem: p.MemoryMiB, milli: p.GPUMilli, gpus: p.GPUs,
			models: c.modelSet(p.Spec), class: class}
	}
	if cfg.Policy == PolicyFGD {
		r.fgdCache = make([]fgdEntry, len(nodes)*len(r.classes))
	}
	if cfg.Policy == PolicySuanli {
		r.initSuanli(pods, demands, cfg.suanli)
	}
	run := Run{Policy: cfg.Policy, Seed: cfg.Seed, Pods: len(w.Pods), Tuned: w.Tuned, TotalGPUs: c.gpus,
		Events: make([]Event, 0, len(w.Pods))}
	var arrived int64
	for i := range demands {
		d := &demands[i]
		arrived += d.totalMilli()
		placed := r.schedule(d)
		if !placed {
			run.Failed++
		}
		frag, idle, used := c.report()
		run.Events = append(run.Events, Event{ArrivedMilli: arrived, UsedMilli: used, FragMilli: frag, IdleMilli: idle, Placed: placed})
	}
	return run, nil
}

// newSource is the run's own random source: math/rand v1 seeded as the
// authors' rand.Seed did, so Shuffle, Intn and Perm give their sequences.
func newSource(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

// schedule is one scheduling cycle (fgd-method.md §5): filter, score, pick
// the highest score with the smallest name prefix, choose GPUs, bind.
func (r *replayer) schedule(d *demand) bool {
	c := r.cluster
	if r.policy == PolicyRandom {
		_ = r.rng.Intn(100) // scheduleOne's per-cycle draw
	}
	r.feasible = r.feasible[:0]
	if r.policy == PolicyRandom {
		// The original's feasible list came from a parallel filter in no
		// fixed order; creation (name) order keeps the draw sequence.
		for i := range c.nodes {
			if c.nodes[i].feasible(d) {
				r.feasible = append(r.feasible, i)
			}
		}
	} else {
		for _, i := range c.byRank {
			if c.nodes[i].feasible(d) {
				r.feasible = append(r.feasible, i)
			}
		}
	}
	switch len(r.feasible) {
	case 0:
		if r.policy == PolicyRandom {
			_ = r.rng.Int31n(int32(len(c.nodes))) // DefaultPreemption's candidate offset
		}
		return false
	case 1:
		r.bind(r.feasible[0], d)
		return true
	}
	r.bind(r.pick(d), d)
	return true
}

// pick scores the feasible nodes (two or more) and returns the winner: the
// highest score, and among equals the first in prefix order.
func (r *replayer) pick(d *demand) int {
	c := r.cluster
	if r.policy == PolicyRandom {
		return r.feasible[r.rng.Intn(len(r.feasible))]
	}
	if r.policy == PolicySuanli {
		return r.pickSuanli(d)
	}
	r.scores = r.scores[:0]
	for _, i := range r.feasible {
		n := &c.nodes[i]
		var s int64
		switch r.policy {
		case PolicyFGD:
			s, _ = r.fgd(i, d)
		case PolicyBestFit:
			s = bestFitRaw(n, d)
		case PolicyPacking:
			s = packingScore(n, d)
		case PolicyClustering:
			s = clusteringScore(n, d)
		case PolicyDotProd:
			s = dotProdScore(n, d)
		}
		r.scores = append(r.scores, s)
	}
	if r.policy == PolicyBestFit {
		normalize(r.scores)
	}
	best := 0
	for k, s := range r.scores {
		if s > r.scores[best] {
			best = k
		}
	}
	return r.feasible[best]
}

// fgd returns FGD's score and share GPU for node i, memoised per pod class
// until the node changes.
func (r *replayer) fgd(i int, d *demand) (int64, int) {
	n := &r.cluster.nodes[i]
	e := &r.fgdCache[i*len(r.classes)+d.class]
	if e.version != n.version+1 {
		s, g := fgdScore(n, d, r.cluster.typical)
		*e = fgdEntry{version: n.version + 1, score: int16(s), gpu: int8(g)}
	}
	return int64(e.score), int(e.gpu)
}

// bind chooses the GPUs inside node i with the policy's gpuSelMethod (Reserve)
// and places the pod.
func (r *replayer) bind(i int, d *demand) {
	n := &r.cluster.nodes[i]
	r.gpus = r.gpus[:0]
	switch {
	case d.gpus == 0:
	case !d.share():
		r.gpus = exclusiveGPUs(n, d, r.gpus)
	case r.policy == PolicyFGD:
		_, g := r.fgd(i, d)
		r.gpus = append(r.gpus, g)
	case r.policy == PolicyRandom:
		r.gpus = append(r.gpus, randomShareGPU(n, d, r.rng))
	case r.policy == PolicySuanli:
		_, g := r.suanli(i, d)
		r.gpus = append(r.gpus, g)
	default:
		r.gpus = append(r.gpus, bestShareGPU(n, d))
	}
	n.place(d, r.gpus, r.cluster.typical)
}
