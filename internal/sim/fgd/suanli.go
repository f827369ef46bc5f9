package fgd

import (
	"cmp"
	"slices"
)

// PolicySuanli is our own policy, not one of the paper's: FGD's
// fragmentation gradient and integer score, with a fragment measure that
// also sees GPUs stranded by CPU and memory (suanliFrag) and a cost for
// using GPU models that constrained pods will need (modelCost). See
// docs/scheduling.md.
const PolicySuanli Policy = "suanli"

// suanliOptions are the knobs of the suanli policy. The defaults are the
// policy; the fields exist so tests and the ablation can switch one part off.
type suanliOptions struct {
	// stranding caps each target pod's usable GPU by how many copies of it
	// the node's CPU and memory can still host (off: FGD's one-pod test).
	stranding bool
	// memory includes memory in the target shapes, the stranding cap and
	// the mix term.
	memory bool
	// gpuWeighted weights each target shape by its GPU demand (count ×
	// total milli) instead of its count; CPU-only shapes then weigh nothing.
	gpuWeighted bool
	// allShapes keeps every shape of the trace instead of FGD's 95 % cut.
	allShapes bool
	// bestFitTie breaks equal fragment deltas by the least GPU (then CPU)
	// left after placement, before the name prefix.
	bestFitTie bool
	// sigmoid compares FGD's own integer score int(100·σ(−Δ/1000)).
	sigmoid bool
	// pressure adds the model-pressure cost (see modelCost).
	pressure bool
	// shapePressure adds the whole-GPU shape-pressure cost (see
	// shapeCost).
	shapePressure bool
	// mix adds the mix term to the fragment (see suanliFrag).
	mix bool
	// mixAll counts the CPU and memory of CPU-only pods in the mix too.
	mixAll bool
}

var defaultSuanli = suanliOptions{stranding: true, memory: true, sigmoid: true, pressure: true, mix: true}

// suanliShape is one target pod shape of the suanli policy.
type suanliShape struct {
	cpu, mem int64
	milli    int64 // per GPU; 0 for CPU-only
	gpus     int
	models   uint64
	weight   float64
}

// suanliWorkload is the target workload: the shapes, and the mean CPU and
// memory the trace's GPU pods ask per milli-GPU.
type suanliWorkload struct {
	shapes                   []suanliShape
	cpuPerMilli, memPerMilli float64
}

type suanliKey struct {
	cpu, mem, milli int64
	gpus            int
	spec            string
}

// suanliTarget builds the target workload of the suanli policy from the
// original pods: the popularity distribution of pod shapes, as FGD's, but
// with memory in the shape when opt.memory is set.
func suanliTarget(pods []Pod, c *cluster, opt suanliOptions) suanliWorkload {
	count := make(map[suanliKey]int, 256)
	for _, p := range pods {
		k := suanliKey{cpu: p.CPUMilli, milli: p.GPUMilli, gpus: p.GPUs, spec: p.Spec}
		if opt.memory {
			k.mem = p.MemoryMiB
		}
		count[k]++
	}
	keys := make([]suanliKey, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	// A total order, so the float sums below do not depend on map order.
	slices.SortFunc(keys, func(a, b suanliKey) int {
		if c := cmp.Compare(count[b], count[a]); c != 0 {
			return c
		}
		if c := cmp.Compare(b.cpu, a.cpu); c != 0 {
			return c
		}
		if c := cmp.Compare(b.mem, a.mem); c != 0 {
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
	if !opt.allShapes {
		cum, limit := 0, float64(typicalShare)*float64(len(pods))/100
		for i, k := range keys {
			if float64(cum) >= limit {
				keys = keys[:i]
				break
			}
			cum += count[k]
		}
	}
	var total float64
	out := make([]suanliShape, 0, len(keys))
	for _, k := range keys {
		w := float64(count[k])
		if opt.gpuWeighted {
			w *= float64(k.milli * int64(k.gpus))
		}
		if w == 0 {
			continue
		}
		total += w
		out = append(out, suanliShape{cpu: k.cpu, mem: k.mem, milli: k.milli, gpus: k.gpus, models: c.modelSet(k.spec), weight: w})
	}
	for i := range out {
		out[i].weight /= total
	}
	var cpu, mem, milli int64
	for _, p := range pods {
		if t := p.TotalGPUMilli(); t > 0 || opt.mixAll {
			cpu, mem, milli = cpu+p.CPUMilli, mem+p.MemoryMiB, milli+t
		}
	}
	w := suanliWorkload{shapes: out}
	if milli > 0 {
		w.cpuPerMilli, w.memPerMilli = float64(cpu)/float64(milli), float64(mem)/float64(milli)
	}
	return w
}

// suanliFrag is the expected fragment of a node, in milli-GPU: for each
// target shape, weighted by its frequency, the node's idle GPU milli that
// copies of that shape could not use.
//
// FGD (fragBuckets) asks whether one more pod of the shape fits; if so, only
// the GPUs too small for it are fragment. That misses stranding: a node with
// eight free GPUs and CPU for two more pods looks unfragmented to FGD, yet
// six GPUs can never be allocated. Here the GPU milli a shape can use is
// capped by the copies of it the node's CPU and memory can still host: with
// k copies fitting in CPU and memory, at most k × the shape's GPU request is
// usable. With unlimited CPU and memory the measure is FGD's Q2 + Q1 + Q4 +
// NoAccess, minus FGD's CPU-only term (which is the same on every node).
//
// With opt.mix, a second-order term is added: the idle GPU the node's CPU
// and memory cannot serve at the trace's average CPU and memory per
// milli-GPU, whatever mix of pods comes. The two terms are summed as they
// are, both in milli-GPU.
func suanliFrag(cpuLeft, memLeft int64, left []int64, model int, work *suanliWorkload, opt suanliOptions) float64 {
	var idle int64
	for _, v := range left {
		idle += v
	}
	if idle == 0 {
		return 0
	}
	var frag float64
	if opt.mix && work.cpuPerMilli > 0 {
		// The GPU the node's CPU and memory cannot serve at the trace's
		// average CPU and memory per milli-GPU: stranded whatever mix of
		// pods comes.
		covered := min(float64(idle), float64(cpuLeft)/work.cpuPerMilli)
		if opt.memory && work.memPerMilli > 0 {
			covered = min(covered, float64(memLeft)/work.memPerMilli)
		}
		frag += float64(idle) - covered
	}
	for i := range work.shapes {
		p := &work.shapes[i]
		if p.milli == 0 {
			continue
		}
		if p.models&(1<<uint(model)) == 0 || cpuLeft < p.cpu || memLeft < p.mem {
			frag += p.weight * float64(idle)
			continue
		}
		// usable is FGD's satisfied GPU milli: every GPU with room for the
		// shape, provided enough of them exist; slots counts its copies.
		var usable, slots int64
		fit := 0
		for _, v := range left {
			if v >= p.milli {
				usable += v
				fit++
				slots += v / p.milli
			}
		}
		if fit < p.gpus {
			frag += p.weight * float64(idle)
			continue
		}
		if opt.stranding {
			if p.gpus > 1 {
				slots = int64(fit / p.gpus)
			}
			copies := slots
			if p.cpu > 0 {
				copies = min(copies, cpuLeft/p.cpu)
			}
			if opt.memory && p.mem > 0 {
				copies = min(copies, memLeft/p.mem)
			}
			usable = min(usable, copies*p.milli*int64(p.gpus))
		}
		frag += p.weight * float64(idle-usable)
	}
	return frag
}

// suanliDelta is the change of the node's expected fragment if d were placed
// on it, and for a share pod the GPU with the smallest change (ties to the
// GPU with the least milli left, then the lowest index). Non-share pods
// return GPU −1: they take the first fully free GPUs, as every policy does.
func suanliDelta(n *node, d *demand, target *suanliWorkload, opt suanliOptions) (float64, int) {
	before := suanliFrag(n.cpuLeft, n.memLeft, n.left[:n.gpus], n.model, target, opt)
	cpu, mem := n.cpuLeft-d.cpu, n.memLeft-d.mem
	left := n.left
	if d.share() {
		best, gpu := 0.0, -1
		for i := range n.gpus {
			if n.left[i] < d.milli || slices.Contains(n.left[:i], n.left[i]) {
				continue // an equal GPU earlier gives the same state
			}
			left[i] -= d.milli
			delta := suanliFrag(cpu, mem, left[:n.gpus], n.model, target, opt) - before
			left[i] += d.milli
			if gpu < 0 || delta < best-suanliEps || (delta <= best+suanliEps && n.left[i] < n.left[gpu]) {
				best, gpu = delta, i
			}
		}
		return best, gpu
	}
	if d.gpus > 0 {
		for _, g := range exclusiveGPUs(n, d, nil) {
			left[g] -= d.milli
		}
	}
	return suanliFrag(cpu, mem, left[:n.gpus], n.model, target, opt) - before, -1
}

// suanliEps is the tolerance below which two fragment deltas are equal: the
// deltas are sums of products of weights and integers, so equal states can
// differ in the last bits.
const suanliEps = 1e-6

// suanliEntry memoises one node's delta for one pod class.
type suanliEntry struct {
	version uint32
	gpu     int8
	delta   float64
}

// suanliBetter reports whether node a (value da) should win over node b: a
// smaller fragment increase (compared as FGD's integer score with
// opt.sigmoid), then, with bestFitTie, less of the pod's dominant resource
// left (CPU for a CPU-only pod, else GPU). Equal nodes keep the earlier one (the smaller
// name prefix) because the caller scans in prefix order.
func suanliBetter(a, b *node, da, db float64, d *demand, opt suanliOptions) bool {
	if opt.sigmoid {
		// FGD's integer score: deltas within one score step (about 40
		// milli-GPU near 0) tie.
		da, db = -float64(int64(sigmoid(-da/1000)*maxScore)), -float64(int64(sigmoid(-db/1000)*maxScore))
	}
	if da < db-suanliEps {
		return true
	}
	if da > db+suanliEps || !opt.bestFitTie {
		return false
	}
	ga, gb := a.gpuLeft(), b.gpuLeft()
	if d.gpus == 0 && a.cpuLeft != b.cpuLeft {
		return a.cpuLeft < b.cpuLeft // a CPU-only pod's dominant resource
	}
	if ga != gb {
		return ga < gb
	}
	return a.cpuLeft < b.cpuLeft
}

// initSuanli prepares a replay of the suanli policy: its target workload
// from the original pods, pod classes that include memory (the delta
// depends on it), and the score cache.
func (r *replayer) initSuanli(pods []Pod, demands []demand, opt *suanliOptions) {
	r.suanliOpt = defaultSuanli
	if opt != nil {
		r.suanliOpt = *opt
	}
	r.suanliTarget = suanliTarget(pods, r.cluster, r.suanliOpt)
	r.suanliGroups = modelGroups(pods, r.cluster)
	r.suanliWhole = wholeGroups(pods)
	type key struct {
		cpu, mem, milli int64
		gpus            int
	}
	classes := map[key]int{}
	for i := range demands {
		d := &demands[i]
		k := key{cpu: d.cpu, mem: d.mem, milli: d.milli, gpus: d.gpus}
		c, ok := classes[k]
		if !ok {
			c = len(classes)
			classes[k] = c
		}
		d.class = c
	}
	r.suanliClasses = len(classes)
	r.suanliCache = make([]suanliEntry, len(r.cluster.nodes)*len(classes))
}

// suanli returns node i's fragment delta and share GPU for d, memoised per
// pod class until the node changes.
func (r *replayer) suanli(i int, d *demand) (float64, int) {
	n := &r.cluster.nodes[i]
	e := &r.suanliCache[i*r.suanliClasses+d.class]
	if e.version != n.version+1 {
		delta, g := suanliDelta(n, d, &r.suanliTarget, r.suanliOpt)
		*e = suanliEntry{version: n.version + 1, gpu: int8(g), delta: delta}
	}
	return e.delta, int(e.gpu)
}

// pickSuanli returns the feasible node (two or more) with the smallest
// fragment delta; see suanliBetter for the ties.
func (r *replayer) pickSuanli(d *demand) int {
	nodes := r.cluster.nodes
	var cost [maxModels]float64
	if r.suanliOpt.pressure && d.gpus > 0 {
		r.modelCost(d, &cost)
	}
	var whole []float64
	if r.suanliOpt.shapePressure {
		whole = r.wholePressure()
	}
	value := func(i int) float64 {
		delta, g := r.suanli(i, d)
		delta += cost[nodes[i].model]
		if whole != nil {
			delta += r.shapeCost(&nodes[i], d, g, whole)
		}
		return delta
	}
	best := r.feasible[0]
	bestDelta := value(best)
	for _, i := range r.feasible[1:] {
		delta := value(i)
		if suanliBetter(&nodes[i], &nodes[best], delta, bestDelta, d, r.suanliOpt) {
			best, bestDelta = i, delta
		}
	}
	return best
}

// modelGroup is the GPU demand of the pods that accept exactly one set of
// GPU models, as a share of the trace's whole GPU demand.
type modelGroup struct {
	models uint64
	share  float64
}

// modelGroups splits the trace's GPU demand (Σ total milli) by the set of
// models the pods accept, in a fixed order.
func modelGroups(pods []Pod, c *cluster) []modelGroup {
	demand := map[uint64]int64{}
	var total int64
	for _, p := range pods {
		if t := p.TotalGPUMilli(); t > 0 {
			demand[c.modelSet(p.Spec)&c.present()] += t
			total += t
		}
	}
	out := make([]modelGroup, 0, len(demand))
	for m, v := range demand {
		out = append(out, modelGroup{models: m, share: float64(v) / float64(total)})
	}
	slices.SortFunc(out, func(a, b modelGroup) int { return cmp.Compare(a.models, b.models) })
	return out
}

// present is the bit set of the cluster's models.
func (c *cluster) present() uint64 { return 1<<uint(len(c.models)) - 1 }

// modelCost sets, for each model, the cost in milli-GPU of placing d on a
// node of that model: the part of d's GPU request that, by the trace's
// demand mix, will be wanted by pods that cannot go elsewhere.
//
// Assume the cluster will fill up: the GPU still to come equals the idle
// GPU R. A group of pods accepting models A then brings share·R of demand
// that only A's idle GPU S_A can serve, loading it by share·R/S_A. The
// pressure on model m is the sum of the loads of the groups that accept m;
// above 1, m's idle GPU is over-demanded, and every milli an other pod
// takes there is, in expectation, a milli that a constrained pod will miss.
// With no constraints (one group accepting every model) the pressure is 1
// on every model and the cost vanishes.
func (r *replayer) modelCost(d *demand, cost *[maxModels]float64) {
	c := r.cluster
	var idle [maxModels]float64
	var total float64
	for i := range c.nodes {
		n := &c.nodes[i]
		l := float64(n.gpuLeft())
		idle[n.model] += l
		total += l
	}
	var pressure [maxModels]float64
	for _, g := range r.suanliGroups {
		var supply float64
		for m := range c.models {
			if g.models&(1<<uint(m)) != 0 {
				supply += idle[m]
			}
		}
		load := g.share * total
		if supply > 0 {
			load /= supply
		}
		for m := range c.models {
			if g.models&(1<<uint(m)) != 0 {
				pressure[m] += load
			}
		}
	}
	for m := range c.models {
		cost[m] = float64(d.totalMilli()) * max(0, pressure[m]-1)
	}
}

// wholeGroup is the trace's whole-GPU pods asking for one GPU count: their
// share of the GPU demand and their mean CPU and memory request.
type wholeGroup struct {
	gpus     int
	share    float64
	cpu, mem int64
}

// wholeGroups summarises the whole-GPU pods by GPU count, ascending.
func wholeGroups(pods []Pod) []wholeGroup {
	var total int64
	type acc struct{ milli, cpu, mem, n int64 }
	by := map[int]*acc{}
	for _, p := range pods {
		total += p.TotalGPUMilli()
		if p.GPUMilli != MilliPerGPU {
			continue
		}
		a := by[p.GPUs]
		if a == nil {
			a = &acc{}
			by[p.GPUs] = a
		}
		a.milli += p.TotalGPUMilli()
		a.cpu += p.CPUMilli
		a.mem += p.MemoryMiB
		a.n++
	}
	out := make([]wholeGroup, 0, len(by))
	for k, a := range by {
		out = append(out, wholeGroup{gpus: k, share: float64(a.milli) / float64(total), cpu: a.cpu / a.n, mem: a.mem / a.n})
	}
	slices.SortFunc(out, func(a, b wholeGroup) int { return cmp.Compare(a.gpus, b.gpus) })
	return out
}

// wholeUsable is the GPU milli a node offers a group's typical pod: copies
// limited by free GPUs, CPU and memory.
func wholeUsable(free int, cpu, mem int64, g *wholeGroup) float64 {
	copies := int64(free / g.gpus)
	if g.cpu > 0 {
		copies = min(copies, max(cpu, 0)/g.cpu)
	}
	if g.mem > 0 {
		copies = min(copies, max(mem, 0)/g.mem)
	}
	return float64(copies * int64(g.gpus) * MilliPerGPU)
}

func freeGPUs(n *node) int {
	free := 0
	for _, v := range n.left[:n.gpus] {
		if v == MilliPerGPU {
			free++
		}
	}
	return free
}

// wholePressure returns, per whole group, how far its expected demand
// exceeds the cluster's capacity to host it: with R the idle GPU (the
// cluster is assumed to fill up), the group brings share·R of demand, and
// the nodes can host C = Σ wholeUsable of it. The factor is
// max(0, share·R/C − 1): zero while the capacity suffices.
func (r *replayer) wholePressure() []float64 {
	c := r.cluster
	capacity := make([]float64, len(r.suanliWhole))
	var idle float64
	for i := range c.nodes {
		n := &c.nodes[i]
		idle += float64(n.gpuLeft())
		free := freeGPUs(n)
		for k := range r.suanliWhole {
			capacity[k] += wholeUsable(free, n.cpuLeft, n.memLeft, &r.suanliWhole[k])
		}
	}
	out := make([]float64, len(r.suanliWhole))
	for k, g := range r.suanliWhole {
		if capacity[k] > 0 {
			out[k] = max(0, g.share*idle/capacity[k]-1)
		}
	}
	return out
}

// shapeCost is the capacity for over-demanded whole-GPU groups that
// placing d on n (share pods on GPU g) destroys, weighted by the groups'
// pressure factors.
func (r *replayer) shapeCost(n *node, d *demand, g int, factor []float64) float64 {
	free := freeGPUs(n)
	after := free
	switch {
	case d.gpus == 0:
	case d.share():
		if g >= 0 && n.left[g] == MilliPerGPU {
			after--
		}
	default:
		after -= d.gpus
	}
	var cost float64
	for k := range r.suanliWhole {
		if factor[k] == 0 {
			continue
		}
		w := &r.suanliWhole[k]
		cost += factor[k] * (wholeUsable(free, n.cpuLeft, n.memLeft, w) - wholeUsable(after, n.cpuLeft-d.cpu, n.memLeft-d.mem, w))
	}
	return cost
}
