package fgd

import (
	"fmt"
	"math/rand"
	"slices"
)

// Policy names one placement policy of the paper's evaluation.
type Policy string

// The policies of the paper (fgd-method.md §0), named as on the command line.
const (
	PolicyFGD        Policy = "fgd"        // 06-FGD: fragmentation gradient descent
	PolicyBestFit    Policy = "bestfit"    // 05-BestFit
	PolicyPacking    Policy = "packing"    // 04-GpuPacking
	PolicyClustering Policy = "clustering" // 03-GpuClustering
	PolicyDotProd    Policy = "dotprod"    // 02-DotProd (Tetris)
	PolicyRandom     Policy = "random"     // 01-Random
)

// Policies lists every policy, best first as the paper ranks them.
var Policies = []Policy{PolicyFGD, PolicyBestFit, PolicyPacking, PolicyClustering, PolicyDotProd, PolicyRandom}

// AllPolicies is Policies and our own suanli policy, which is not the paper's.
var AllPolicies = append([]Policy{PolicySuanli}, Policies...)

// ParsePolicy checks a policy name.
func ParsePolicy(s string) (Policy, error) {
	if slices.Contains(AllPolicies, Policy(s)) {
		return Policy(s), nil
	}
	return "", fmt.Errorf("fgd: unknown policy %q (want one of %v)", s, AllPolicies)
}

// Normalisation constants of the baselines (MaxSpecCpu, MaxSpecGpu): the
// largest node of the openb cluster.
const (
	maxSpecCPU = 128000.0
	maxSpecGPU = 8000.0
)

// maxScore is the kube framework's MaxNodeScore.
const maxScore = 100

// bestFitRaw is getBestFitScore: 100 × (1 − the weighted leftover share of
// CPU and GPU after placement), truncated.
func bestFitRaw(n *node, d *demand) int64 {
	var s float64
	s += float64(n.cpuLeft-d.cpu) / maxSpecCPU * 0.5
	s += float64(n.gpuLeft()-d.totalMilli()) / maxSpecGPU * 0.5
	return int64((1.0 - s) * maxScore)
}

// normalize is the plugins' NormalizeScore: rescale to 0..100 over the
// feasible nodes in integer arithmetic; all 0 when every score is equal.
func normalize(scores []int64) {
	if len(scores) == 0 {
		return
	}
	lo, hi := slices.Min(scores), slices.Max(scores)
	for i, s := range scores {
		if hi == lo {
			scores[i] = 0
		} else {
			scores[i] = (s - lo) * maxScore / (hi - lo)
		}
	}
}

// dotProdScore is Tetris' alignment score with the GPU dimension merged and
// both vectors normalised by the largest node: 100 × (1 − node·pod / 2).
func dotProdScore(n *node, d *demand) int64 {
	if n.cpuLeft < d.cpu {
		return 0
	}
	nodeVec := [2]float64{float64(n.cpuLeft) / maxSpecCPU, float64(n.gpuLeft()) / maxSpecGPU}
	podVec := [2]float64{float64(d.cpu) / maxSpecCPU, float64(d.totalMilli()) / maxSpecGPU}
	var dot float64
	for i := range nodeVec {
		dot += nodeVec[i] * podVec[i]
	}
	dot /= float64(len(podVec))
	return int64(float64(maxScore) * (1 - dot))
}

// packingScore is getPackingScore: prefer partly used GPUs (50..100), then
// free GPUs on a used node (33..50), then a fully idle node (below 33).
func packingScore(n *node, d *demand) int64 {
	if d.milli <= 0 {
		return 0
	}
	free := 0
	for _, v := range n.left[:n.gpus] {
		if v == MilliPerGPU {
			free++
		}
	}
	if free == n.gpus {
		return max(maxScore/3-int64(free), int64(free))
	}
	used := ascendingFit(n, d)
	if len(used) < d.gpus {
		return 0
	}
	freeUsed := 0
	var freeRatio int64
	for _, g := range used {
		if n.left[g] == MilliPerGPU {
			freeUsed++
		}
		freeRatio += n.left[g] * 100 / MilliPerGPU
	}
	if freeUsed > 0 {
		return max(maxScore/2-int64(freeUsed), maxScore/3)
	}
	return max(maxScore-freeRatio/10, maxScore/2)
}

// ascendingFit returns the first d.gpus GPUs, by ascending milli left (ties
// by index), that have room for d.milli.
func ascendingFit(n *node, d *demand) []int {
	var idx [MaxGPUsPerNode]int
	order := idx[:n.gpus]
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(n.left[a] - n.left[b]) })
	used := make([]int, 0, d.gpus)
	for _, g := range order {
		if len(used) == d.gpus {
			break
		}
		if n.left[g] >= d.milli {
			used = append(used, g)
		}
	}
	return used
}

// clusteringScore is GpuClusteringScore: prefer nodes that already run only
// pods of this pod's GPU tag, then mixed nodes, then empty ones; within a
// class, fuller nodes.
func clusteringScore(n *node, d *demand) int64 {
	if d.milli <= 0 {
		return 0
	}
	b := 25 * (int64(maxSpecGPU) - n.gpuLeft()) / int64(maxSpecGPU) // integer division, as the original
	tags, mine := 0, n.affinity[tag(d)] > 0
	for _, c := range n.affinity {
		if c > 0 {
			tags++
		}
	}
	switch {
	case mine && tags == 1:
		return b + 75
	case mine:
		return b + 50
	case tags == 0:
		return b + 25
	}
	return b
}

// fgdScore is FGD's score: the sigmoid of the drop in the node's expected
// fragment if the pod were placed, and for a share pod the GPU that drops it
// most (first index on a tie). Non-share pods return GPU −1: they take the
// first fully free GPUs.
func fgdScore(n *node, d *demand, typical []typicalPod) (int64, int) {
	if d.cpu == 0 && d.milli == 0 && d.mem == 0 {
		return maxScore, -1
	}
	if d.share() {
		best, gpu := int64(-1), -1
		left := n.left
		for i := range n.gpus {
			if n.left[i] < d.milli || slices.Contains(n.left[:i], n.left[i]) {
				// A GPU with the same left as an earlier one gives the same
				// state, so the same score: it cannot win the tie.
				continue
			}
			left[i] -= d.milli
			b := fragBuckets(n.cpuLeft-d.cpu, left[:n.gpus], n.model, typical)
			left[i] += d.milli
			s := int64(sigmoid((n.frag-fragAmount(&b))/1000) * maxScore)
			if s > best {
				best, gpu = s, i
			}
		}
		return best, gpu
	}
	left := n.left
	for _, g := range ascendingFit(n, d) {
		left[g] -= d.milli
	}
	b := fragBuckets(n.cpuLeft-d.cpu, left[:n.gpus], n.model, typical)
	return int64(sigmoid((n.frag-fragAmount(&b))/1000) * maxScore), -1
}

// bestShareGPU is gpuSelMethod "best" for a share pod: the GPU with the least
// milli left that still fits, first index on a tie.
func bestShareGPU(n *node, d *demand) int {
	gpu := -1
	for i, v := range n.left[:n.gpus] {
		if v >= d.milli && (gpu < 0 || v < n.left[gpu]) {
			gpu = i
		}
	}
	return gpu
}

// randomShareGPU is gpuSelMethod "random" for a share pod: reservoir sampling
// over the fitting GPUs in index order, one draw per fitting GPU.
func randomShareGPU(n *node, d *demand, rng *rand.Rand) int {
	gpu, seen := -1, 0
	for i, v := range n.left[:n.gpus] {
		if v < d.milli {
			continue
		}
		seen++
		if rng.Intn(seen) == 0 {
			gpu = i
		}
	}
	return gpu
}

// exclusiveGPUs is AllocateExclusiveGpuId: the first d.gpus fully free GPUs
// in index order.
func exclusiveGPUs(n *node, d *demand, into []int) []int {
	into = into[:0]
	for i, v := range n.left[:n.gpus] {
		if len(into) == d.gpus {
			break
		}
		if v == MilliPerGPU {
			into = append(into, i)
		}
	}
	return into
}
