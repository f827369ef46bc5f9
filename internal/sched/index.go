package sched

import (
	"sort"

	"github.com/suanli/suanli/internal/core"
)

// index keeps each center's nodes in (load, ID) order, per accelerator
// model and over all nodes, so the least-loaded node that fits a replica is
// the first fitting one in order: a placement checks a few nodes instead of
// all of them, and decides exactly what a full scan would.
type index struct {
	models []string  // sorted, for a deterministic order
	groups [][]*Node // groups[i]: nodes of models[i] in (load, ID) order
	all    []*Node   // every node in (load, ID) order
	// Shapes (accelerators, CPU, memory) that fit no node of a group (the
	// last entry: of all nodes) now. A larger request fails too, so it is
	// rejected without a scan. Allocation only shrinks free capacity, so
	// they stay true until a decision is undone (forget).
	fails [][]shape
}

type shape [3]int64

// FailedShapesMax bounds the shapes remembered per group.
const FailedShapesMax = 8

// failed reports whether a remembered failure of group g covers r.
func (ix *index) failed(g int, r core.Replica) bool {
	for _, f := range ix.fails[g] {
		if r.AccelCount >= f[0] && r.CPUMilli >= f[1] && r.MemMiB >= f[2] {
			return true
		}
	}
	return false
}

// remember records that r fits no node of group g.
func (ix *index) remember(g int, r core.Replica) {
	s := shape{r.AccelCount, r.CPUMilli, r.MemMiB}
	kept := ix.fails[g][:0] // drop the shapes the new one covers: it is the more general
	for _, f := range ix.fails[g] {
		if !(f[0] >= s[0] && f[1] >= s[1] && f[2] >= s[2]) {
			kept = append(kept, f)
		}
	}
	ix.fails[g] = kept
	if len(ix.fails[g]) < FailedShapesMax {
		ix.fails[g] = append(ix.fails[g], s)
		return
	}
	copy(ix.fails[g], ix.fails[g][1:]) // drop the oldest
	ix.fails[g][FailedShapesMax-1] = s
}

// remap copies the index onto other nodes of the same IDs, in the same
// order.
func (ix *index) remap(byID map[string]*Node) *index {
	cp := &index{models: ix.models, groups: make([][]*Node, len(ix.groups)), all: make([]*Node, len(ix.all)),
		fails: make([][]shape, len(ix.fails))}
	for g, ns := range ix.groups {
		cp.groups[g] = make([]*Node, len(ns))
		for i, n := range ns {
			cp.groups[g][i] = byID[n.ID]
		}
	}
	for i, n := range ix.all {
		cp.all[i] = byID[n.ID]
	}
	for g, fs := range ix.fails {
		cp.fails[g] = append([]shape(nil), fs...)
	}
	return cp
}

func (ix *index) forget() {
	for g := range ix.fails {
		ix.fails[g] = ix.fails[g][:0]
	}
}

// group returns the ordered nodes of model (a handful of models per
// center: a scan beats a map).
func (ix *index) group(model string) *[]*Node {
	for i, m := range ix.models {
		if m == model {
			return &ix.groups[i]
		}
	}
	return nil
}

func less(a, b *Node) bool {
	if a.loadPPM != b.loadPPM {
		return a.loadPPM < b.loadPPM
	}
	return a.ord < b.ord // ID order, as an integer
}

func newIndex(ns []*Node) *index {
	byModel := map[string][]*Node{}
	ix := &index{}
	for _, n := range ns {
		if !n.Ready {
			continue // never fits: kept out so scans do not pass it
		}
		byModel[n.AccelModel] = append(byModel[n.AccelModel], n)
		ix.all = append(ix.all, n)
	}
	for m := range byModel {
		ix.models = append(ix.models, m)
	}
	sort.Strings(ix.models)
	for _, m := range ix.models {
		g := byModel[m]
		sort.Slice(g, func(i, j int) bool { return less(g[i], g[j]) })
		ix.groups = append(ix.groups, g)
	}
	sort.Slice(ix.all, func(i, j int) bool { return less(ix.all[i], ix.all[j]) })
	ix.fails = make([][]shape, len(ix.groups)+1)
	return ix
}

// remove deletes n from the ordered slice s; n must be at its ordered place.
func remove(s []*Node, n *Node) []*Node {
	i := sort.Search(len(s), func(i int) bool { return !less(s[i], n) })
	if i >= len(s) || s[i] != n {
		panic("sched: index out of order") // every change goes through adjust
	}
	return append(s[:i], s[i+1:]...)
}

func insert(s []*Node, n *Node) []*Node {
	i := sort.Search(len(s), func(i int) bool { return less(n, s[i]) })
	s = append(s, nil)
	copy(s[i+1:], s[i:])
	s[i] = n
	return s
}

// adjust changes a node's allocation and keeps the index in order.
func (st *state) adjust(n *Node, cpu, mem, accel int64) {
	cs := st.cs[n.CenterID]
	var ix *index
	if cs != nil && n.Ready {
		ix = cs.ix // down nodes are not indexed
	}
	var g *[]*Node
	if ix != nil {
		g = ix.group(n.AccelModel)
		*g = remove(*g, n)
		ix.all = remove(ix.all, n)
	}
	n.UsedCPU += cpu
	n.UsedMem += mem
	n.UsedAccel += accel
	n.loadPPM = load(n)
	if n.Ready && cs != nil {
		u := cs.used
		cs.used = [3]int64{u[0] + cpu, u[1] + mem, u[2] + accel}
	}
	if ix != nil {
		*g = insert(*g, n)
		ix.all = insert(ix.all, n)
	}
}

// firstFit returns the first node of s (in (load, ID) order) that fits r,
// with its rate.
func firstFit(s []*Node, r core.Replica, c Center, domesticOnly bool) (*Node, int64) {
	for _, n := range s {
		if rate, ok := nodeFits(n, r, c, domesticOnly, false); ok {
			return n, rate
		}
	}
	return nil, 0
}

// priceKey orders nodes for a replica by price per unit of compute: the
// rate divided by the model's dense FP16 TFLOPS for accelerator replicas,
// so a job accepting several models compares them in normalized PFLOPS;
// the rate itself for CPU replicas.
func priceKey(rate int64, r core.Replica, model string) int64 {
	if r.AccelCount == 0 {
		return rate
	}
	return rate / tflopsOf(model)
}

// bestNode is the node a full scan would choose for r at c: lowest price
// per TFLOPS, then lowest load, then lowest ID, among nodes where r fits
// now.
// record lets it remember shapes that fit nowhere; a gang being placed
// must not (its own partial allocation would be remembered as the
// center's state).
func (st *state) bestNode(c Center, cs *centerState, r core.Replica, domesticOnly, record bool) (*Node, int64) {
	var ix *index
	var b *bound
	if cs != nil {
		ix, b = cs.ix, cs.bound
	}
	if ix == nil {
		var best *Node
		var bestKey, bestRate, bestLoad int64
		for _, n := range st.nodes[c.ID] {
			rate, ok := nodeFits(n, r, c, domesticOnly, false)
			if !ok {
				continue
			}
			k := priceKey(rate, r, n.AccelModel)
			if l := load(n); best == nil || k < bestKey || (k == bestKey && l < bestLoad) ||
				(k == bestKey && l == bestLoad && n.ID < best.ID) {
				best, bestKey, bestRate, bestLoad = n, k, rate, l
			}
		}
		return best, bestRate
	}
	if r.AccelCount == 0 {
		// A CPU-only replica costs the same on every node of a center.
		all := len(ix.groups)
		if ix.failed(all, r) {
			return nil, 0
		}
		n, rate := firstFit(ix.all, r, c, domesticOnly)
		if n == nil {
			st.rebound(c.ID) // the bound let a replica through that fits nowhere: tighten it
			if record && (!domesticOnly || c.Domestic) {
				ix.remember(all, r)
			}
		}
		return n, rate
	}
	var best *Node
	var bestKey, bestRate int64
	for mi, m := range ix.models {
		if m == "" || !modelOK(m, r.AccelModels) {
			continue
		}
		if price, ok := c.Prices.CardHour[m]; !ok || (best != nil && priceKey(int64(price)*r.AccelCount*core.RateScale, r, m) > bestKey) {
			continue
		}
		if b != nil {
			if v := b.get(m); v[0] < r.AccelCount || v[1] < r.CPUMilli || v[2] < r.MemMiB {
				continue // no node of this model can fit it
			}
		}
		if (domesticOnly && !domesticModel(m)) || ix.failed(mi, r) {
			continue
		}
		n, rate := firstFit(ix.groups[mi], r, c, domesticOnly)
		if n == nil {
			st.reboundModel(cs, m) // the bound let it through: tighten this model's bound
			if record {
				ix.remember(mi, r)
			}
			continue
		}
		if k := priceKey(rate, r, m); best == nil || k < bestKey || (k == bestKey && less(n, best)) {
			best, bestKey, bestRate = n, k, rate
		}
	}
	return best, bestRate
}

// reboundModel recomputes one model's entry of a center's bound from its
// nodes (the center-wide CPU and memory bounds stay upper bounds).
func (st *state) reboundModel(cs *centerState, model string) {
	b := cs.bound
	if b == nil {
		return
	}
	var v [3]int64
	g := cs.ix.group(model)
	if g == nil {
		return
	}
	for _, n := range *g {
		if n.Ready {
			v = [3]int64{max(v[0], n.AccelCount-n.UsedAccel), max(v[1], n.CPUMilli-n.UsedCPU), max(v[2], n.MemMiB-n.UsedMem)}
		}
	}
	cs.bound = b.with(model, v) // replaced, not changed in place: clones share bounds
}
