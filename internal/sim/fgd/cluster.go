package fgd

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// maxPodsPerNode is the pods allocatable of every node in the authors'
// cluster config; the kube NodeResourcesFit filter enforces it.
const maxPodsPerNode = 1001

// Fragment buckets of one node (fgd-method.md §7.2), in the original's order.
const (
	bucketLackBoth    = iota // Q1
	bucketLackGPU            // Q2
	bucketSatisfied          // Q3
	bucketLackCPU            // Q4
	bucketCPUOnlyFit         // XL
	bucketCPUOnlyLack        // XR
	bucketNoAccess           // NoAccess
	bucketCount
)

// anyModel is the model set of a pod without a GPU-model constraint.
const anyModel = ^uint64(0)

// demand is a pod as the scheduler sees it.
type demand struct {
	cpu, mem int64
	milli    int64 // per GPU
	gpus     int
	models   uint64
	class    int // index of (cpu, milli, gpus), for the FGD score cache
}

func (d *demand) totalMilli() int64 { return d.milli * int64(d.gpus) }

// share reports whether the pod takes part of one GPU.
func (d *demand) share() bool { return d.gpus == 1 && d.milli < MilliPerGPU }

// node is the state of one node during a replay.
type node struct {
	model            int
	cpuLeft, memLeft int64
	cpuCap           int64
	pods             int
	gpus             int
	left             [MaxGPUsPerNode]int64
	// affinity counts the GPU pods per tag: index 0 is share-gpu, k is k-gpu.
	affinity [MaxGPUsPerNode + 1]int32
	buckets  [bucketCount]float64
	frag     float64 // fragment amount: every bucket but Q3
	version  uint32  // bumped on every placement, to invalidate score caches
}

func (n *node) gpuLeft() int64 {
	var l int64
	for _, v := range n.left[:n.gpus] {
		l += v
	}
	return l
}

// fits counts the GPUs with at least milli left and reports whether gpus of
// them exist.
func fitsGPUs(left []int64, milli int64, gpus int) bool {
	c := 0
	for _, v := range left {
		if v >= milli {
			c++
		}
	}
	return c >= gpus
}

// feasible is the conjunction of the kube NodeResourcesFit filter and the
// Open-Gpu-Share filter (fgd-method.md §5.2).
func (n *node) feasible(d *demand) bool {
	if n.pods+1 > maxPodsPerNode || n.cpuLeft < d.cpu || n.memLeft < d.mem {
		return false
	}
	if d.milli <= 0 {
		return true
	}
	if n.gpus == 0 || d.models&(1<<uint(n.model)) == 0 {
		return false
	}
	return fitsGPUs(n.left[:n.gpus], d.milli, d.gpus)
}

// place binds d to n on the given GPUs and refreshes the node's fragment.
func (n *node) place(d *demand, gpus []int, typical []typicalPod) {
	n.cpuLeft -= d.cpu
	n.memLeft -= d.mem
	n.pods++
	for _, g := range gpus {
		n.left[g] -= d.milli
		invariant(n.left[g] >= 0, "GPU over-allocated")
	}
	invariant(len(gpus) == d.gpus, "GPU count mismatch")
	if d.gpus > 0 {
		n.affinity[tag(d)]++
	}
	n.refresh(typical)
	n.version++
}

func (n *node) refresh(typical []typicalPod) {
	n.buckets = fragBuckets(n.cpuLeft, n.left[:n.gpus], n.model, typical)
	n.frag = fragAmount(&n.buckets)
}

// tag is a GPU pod's affinity tag index: 0 for share-gpu, k for k-gpu.
func tag(d *demand) int {
	if d.share() {
		return 0
	}
	return d.gpus
}

// fragBuckets is NodeGpuShareFragAmount: for each typical pod, the node's idle
// GPU milli that pod could not use, weighted by its frequency and filed by why
// (fgd-method.md §7.2). The float sums follow the original's order.
func fragBuckets(cpuLeft int64, left []int64, model int, typical []typicalPod) (b [bucketCount]float64) {
	var total int64
	for _, v := range left {
		total += v
	}
	idle := float64(total)
	for i := range typical {
		p := &typical[i]
		cpuFits := cpuLeft >= p.cpu
		switch {
		case p.milli == 0:
			if cpuFits {
				b[bucketCPUOnlyFit] += p.weight * idle
			} else {
				b[bucketCPUOnlyLack] += p.weight * idle
			}
		case p.models&(1<<uint(model)) == 0:
			b[bucketNoAccess] += p.weight * idle
		case fitsGPUs(left, p.milli, p.gpus):
			if !cpuFits {
				b[bucketLackCPU] += p.weight * idle
				continue
			}
			var small int64
			for _, v := range left {
				if v < p.milli {
					small += v
				}
			}
			b[bucketLackGPU] += p.weight * float64(small)
			b[bucketSatisfied] += p.weight * float64(total-small)
		case cpuFits:
			b[bucketLackGPU] += p.weight * idle
		default:
			b[bucketLackBoth] += p.weight * idle
		}
	}
	return b
}

// fragAmount sums every bucket but Q3, in index order.
func fragAmount(b *[bucketCount]float64) float64 {
	var s float64
	for i, v := range b {
		if i != bucketSatisfied {
			s += v
		}
	}
	return s
}

// cluster is the replay's node state.
type cluster struct {
	nodes   []node // in node-name order (the creation order)
	byRank  []int  // node indices by ascending name prefix: the tie-break order
	models  []string
	typical []typicalPod
	gpus    int64 // total GPUs
}

func newCluster(nodes []Node, prefix []int, typical []typicalPod) (*cluster, error) {
	byName := slices.Clone(nodes)
	slices.SortStableFunc(byName, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	c := &cluster{nodes: make([]node, len(byName)), byRank: make([]int, len(byName))}
	for _, n := range byName {
		if !slices.Contains(c.models, n.Model) {
			c.models = append(c.models, n.Model)
		}
	}
	slices.Sort(c.models)
	if len(c.models) > maxModels {
		return nil, fmt.Errorf("fgd: %d GPU models, at most %d supported", len(c.models), maxModels)
	}
	c.typical = slices.Clone(typical)
	for i := range c.typical {
		c.typical[i].models = c.modelSet(c.typical[i].spec)
	}
	for i, n := range byName {
		s := &c.nodes[i]
		s.model, _ = slices.BinarySearch(c.models, n.Model)
		s.cpuLeft, s.cpuCap, s.memLeft, s.gpus = n.CPUMilli, n.CPUMilli, n.MemoryMiB, n.GPUs
		for g := range n.GPUs {
			s.left[g] = MilliPerGPU
		}
		s.refresh(c.typical)
		c.gpus += int64(n.GPUs)
		c.byRank[prefix[i]] = i
	}
	return c, nil
}

// modelSet turns a '|'-separated GPU-model requirement into a bit set over
// the cluster's models (IsNodeAccessibleToPodByType).
func (c *cluster) modelSet(spec string) uint64 {
	if spec == "" {
		return anyModel
	}
	var set uint64
	for part := range strings.SplitSeq(spec, "|") {
		if i, ok := slices.BinarySearch(c.models, part); ok && part != "" {
			set |= 1 << uint(i)
		}
	}
	return set
}

// report sums the fragment buckets and the allocation over all nodes, as
// ClusterGpuFragReport and the [Alloc] line did after every pod.
func (c *cluster) report() (frag, idle float64, used int64) {
	var sum [bucketCount]float64
	for i := range c.nodes {
		n := &c.nodes[i]
		for k, v := range n.buckets {
			sum[k] += v
		}
		used += int64(n.gpus)*MilliPerGPU - n.gpuLeft()
	}
	frag = fragAmount(&sum)
	for _, v := range sum {
		idle += v
	}
	return frag, idle, used
}

func sigmoid(x float64) float64 { return 1.0 / (1.0 + math.Exp(-x)) }

// invariant panics when a condition that only a bug can break fails.
func invariant(ok bool, msg string) {
	if !ok {
		panic("fgd: invariant violated: " + msg)
	}
}
