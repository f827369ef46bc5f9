package fgd

import (
	"cmp"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
)

// typicalShare is the popularity threshold of FGD's target workload: the
// most common pod shapes that together cover this percentage of the pods
// (typicalPodsConfig.podPopularityThreshold in the paper's runs).
const typicalShare = 95

// hiddenDraws is the number of Float64 draws the authors' simulator consumed,
// between tuning and node naming, in its client-go reflectors (fgd-method.md
// §3.9); only this count reproduces the logged node prefixes.
const hiddenDraws = 10

// shape is the part of a pod that placement and scoring depend on.
type shape struct {
	cpu   int64
	milli int64 // per GPU
	gpus  int
	spec  string
}

func shapeOf(p Pod) shape {
	return shape{cpu: p.CPUMilli, milli: p.GPUMilli, gpus: p.GPUs, spec: p.Spec}
}

// typicalPod is one shape of FGD's target workload with its frequency.
type typicalPod struct {
	shape
	weight float64
	models uint64 // models the shape accepts, as a bit set over the cluster's models
}

// typicalPods builds FGD's target workload from the original pods: shapes by
// descending count (ties by descending cpu, milli, gpus, spec), cut at the
// first prefix covering typicalShare % of the pods, renormalised.
func typicalPods(pods []Pod) []typicalPod {
	count := make(map[shape]int, 128)
	for _, p := range pods {
		count[shapeOf(p)]++
	}
	list := make([]typicalPod, 0, len(count))
	for s := range count {
		list = append(list, typicalPod{shape: s})
	}
	slices.SortFunc(list, func(a, b typicalPod) int {
		if c := cmp.Compare(count[b.shape], count[a.shape]); c != 0 {
			return c
		}
		if c := cmp.Compare(b.cpu, a.cpu); c != 0 {
			return c
		}
		if c := cmp.Compare(b.milli, a.milli); c != 0 {
			return c
		}
		if c := cmp.Compare(b.gpus, a.gpus); c != 0 {
			return c
		}
		return cmp.Compare(b.spec, a.spec)
	})
	total := float64(len(pods))
	expected := float64(typicalShare) * total / 100.0
	var cum float64
	i := 0
	for cum < expected && i < len(list) {
		cum += float64(count[list[i].shape])
		list[i].weight = float64(count[list[i].shape]) / total
		i++
	}
	if i >= len(list) {
		return list
	}
	list = list[:i]
	for j := range list {
		list[j].weight /= cum / total
	}
	return list
}

// Workload is the prepared input of one replay: the pods in arrival order
// and each node's name prefix, which is the scheduler's tie-break key.
type Workload struct {
	// Pods are the original pods, sorted by name and shuffled, followed by
	// the tuned copies in the order they were drawn.
	Pods []Pod
	// Tuned is how many of Pods are tuned copies.
	Tuned int
	// Prefix[i] is the %04d prefix the authors' simulator gave the i-th node
	// in name order; the smallest prefix wins a tie.
	Prefix []int
}

// prepare consumes the seeded source exactly as the authors' Simulate did
// (fgd-method.md §3): one discarded Int, the shuffle, the tuning draws, ten
// hidden Float64 draws and the node permutation. rng is left positioned for
// the per-pod draws of the Random policy.
func prepare(pods []Pod, nodes []Node, tune float64, rng *rand.Rand) (Workload, error) {
	if len(pods) == 0 {
		return Workload{}, fmt.Errorf("fgd: no pods")
	}
	byName := slices.Clone(pods)
	slices.SortStableFunc(byName, func(a, b Pod) int { return cmp.Compare(a.Name, b.Name) })
	_ = rng.Int() // the simulator evaluates rand.Int() in a debug log's arguments
	order := slices.Clone(byName)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	var capacity, requested int64
	for _, n := range nodes {
		capacity += int64(n.GPUs) * MilliPerGPU
	}
	for _, p := range pods {
		requested += p.TotalGPUMilli()
	}
	target := tune * float64(capacity)
	tuned := 0
	if float64(requested) < target {
		order, tuned = tuneUp(order, byName, requested, target, rng)
	} else {
		order = tuneDown(order, requested, target, rng)
	}
	for range hiddenDraws {
		_ = rng.Float64()
	}
	return Workload{Pods: order, Tuned: tuned, Prefix: rng.Perm(len(nodes))}, nil
}

// tuneUp appends copies drawn with replacement from the name-sorted pods until
// the next copy's per-GPU milli would pass the target. The stop test uses the
// per-GPU milli, as the original did, so a multi-GPU copy can overshoot.
func tuneUp(order, byName []Pod, requested int64, target float64, rng *rand.Rand) ([]Pod, int) {
	// The loop ends once the request passes the target; CPU-only copies add
	// nothing, so bound it in case a trace has no GPU pods at all.
	limit := 100 * (len(byName) + int(target/MilliPerGPU) + 1)
	tuned := 0
	for range limit {
		c := byName[rng.Intn(len(byName))]
		c.Name += "-tuned-" + strconv.Itoa(tuned)
		if float64(requested+c.GPUMilli) > target {
			break
		}
		requested += c.TotalGPUMilli()
		order = append(order, c)
		tuned++
	}
	return order, tuned
}

// tuneDown removes random pods until the request is within the target.
func tuneDown(order []Pod, requested int64, target float64, rng *rand.Rand) []Pod {
	for len(order) > 0 && float64(requested) > target {
		i := rng.Intn(len(order))
		requested -= order[i].TotalGPUMilli()
		order = slices.Delete(order, i, i+1)
	}
	return order
}
