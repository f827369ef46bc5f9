package sched

import (
	"fmt"
	"sort"
	"strings"

	"github.com/suanli/suanli/internal/core"
)

// Scoring ranks the centers where a job's whole gang fits now. Each factor
// is a cost (lower is better) turned into a score of 0..ppm among the
// candidates: the best candidate gets ppm, the worst 0, the rest in
// proportion; a factor all candidates share scores ppm for each, so it never
// decides. A center's score is the weighted mean of its factor scores.

const ppm = 1_000_000

// NoLinkLatencyMs and NoLinkMbps stand for a region pair without a known
// link: the public internet rather than the 东数西算 backbone.
const (
	NoLinkLatencyMs = 100
	NoLinkMbps      = 1_000
)

// CandidatesShownMax bounds the runner-up centers a decision records.
const CandidatesShownMax = 3

// Scored is one candidate center with its factor scores (ppm each, in
// core.ScoreFactors order) and weighted total.
type Scored struct {
	CenterID   string
	CenterName string
	RateScaled int64 // Σ of the gang's cheapest rates there
	Factors    [6]int64
	Score      int64 // ppm
}

// Explanation says why a job went where it did: the weights used, the
// chosen center's scores, the runners-up, and the centers that were not
// candidates with why.
type Explanation struct {
	Weights  core.ScoreWeights
	Chosen   Scored
	Others   []Scored                   // the next best candidates, at most CandidatesShownMax
	rejected tally                      // centers that could not take the job now, and why
	others   [CandidatesShownMax]Scored // Others' storage: one allocation per explanation
}

// Rejected summarizes the centers that could not take the job now.
func (e *Explanation) Rejected() string {
	if len(e.rejected) == 0 {
		return ""
	}
	return summarize(e.rejected)
}

// String renders the explanation for `suanli job get` and job events.
func (e *Explanation) String() string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s scored %s", e.Chosen.CenterName, e.Chosen.show())
	if len(e.Others) > 0 {
		b.WriteString("; next:")
		for _, o := range e.Others {
			fmt.Fprintf(&b, " %s %s", o.CenterName, fixed3(o.Score))
		}
	}
	fmt.Fprintf(&b, "; weights %s", e.Weights)
	if r := e.Rejected(); r != "" {
		fmt.Fprintf(&b, "; not candidates: %s", r)
	}
	return b.String()
}

func (s Scored) show() string {
	parts := make([]string, 0, 6)
	for i, f := range s.Factors {
		parts = append(parts, core.ScoreFactors[i]+" "+fixed3(f))
	}
	return fmt.Sprintf("%s (%s)", fixed3(s.Score), strings.Join(parts, ", "))
}

func fixed3(v int64) string { return fmt.Sprintf("%d.%03d", v/ppm, v%ppm/1000) }

// weightsFor resolves a job's weights: the job's own, its tenant's, the
// snapshot's default, core's default.
func weightsFor(s *Snapshot, job Job) core.ScoreWeights {
	switch {
	case job.Weights != nil:
		return *job.Weights
	case s.Tenants[job.Tenant].Weights != nil:
		return *s.Tenants[job.Tenant].Weights
	case s.Weights != nil:
		return *s.Weights
	}
	return core.DefaultScoreWeights
}

// network is the region graph as the scorer reads it.
type network struct {
	links map[[2]string]core.Link
}

func newNetwork(ls []core.Link) network {
	n := network{links: make(map[[2]string]core.Link, len(ls))}
	for _, l := range ls {
		n.links[[2]string{l.From, l.To}] = l
		n.links[[2]string{l.To, l.From}] = l
	}
	return n
}

// transferMs estimates moving the job's data to center c from its nearest
// copy: 0 when c holds a copy, is in the data's region, or the job names no
// data.
func (n network) transferMs(d core.DataSpec, c Center, centerRegion map[string]string) int64 {
	if d.Region == "" && len(d.Centers) == 0 {
		return 0
	}
	if holds(d, c) {
		return 0
	}
	sources := make([]string, 0, 1+len(d.Centers))
	if d.Region != "" {
		sources = append(sources, d.Region)
	}
	for _, id := range d.Centers {
		if r, ok := centerRegion[id]; ok {
			sources = append(sources, r)
		}
	}
	best := int64(-1)
	for _, from := range sources {
		var ms int64
		if from != c.Region {
			l, ok := n.links[[2]string{from, c.Region}]
			if !ok {
				l = core.Link{LatencyMs: NoLinkLatencyMs, BandwidthMbps: NoLinkMbps}
			}
			ms = l.TransferMs(d.SizeGiB)
		}
		if best < 0 || ms < best {
			best = ms
		}
	}
	return max(best, 0)
}

// holds reports whether center c has a copy of the job's data.
func holds(d core.DataSpec, c Center) bool {
	for _, x := range d.Centers {
		if x == c.ID || x == c.Name {
			return true
		}
	}
	return false
}

// costs are a candidate's raw factor values, lower is better, in
// core.ScoreFactors order.
func (st *state) costs(c Center, cs *centerState, est estimate, job Job) [6]int64 {
	var v [6]int64
	v[0] = est.rate
	if est.tflops > 0 {
		v[0] = est.rate / est.tflops // price per TFLOPS: accelerators compare by compute
	}
	v[1] = st.net.transferMs(job.Data, c, st.centerRegion)
	if !holds(job.Data, c) {
		v[2] = 1
	}
	v[3] = ppm - est.domesticPPM
	v[4] = int64(100 - min(max(c.GreenPercent, 0), 100))
	v[5] = centerLoad(cs, est.accel)
	return v
}

// rank scores candidates in place and sorts them best first (score, then
// rate, then name, so equal scores are decided the same way every time).
func rank(cands []candidate, w core.ScoreWeights) {
	wa := w.Array()
	var sumW int64
	for _, x := range wa {
		sumW += int64(x)
	}
	if sumW == 0 {
		sumW = 1
	}
	for k := 0; k < 6; k++ {
		lo, hi := cands[0].cost[k], cands[0].cost[k]
		for _, c := range cands[1:] {
			lo, hi = min(lo, c.cost[k]), max(hi, c.cost[k])
		}
		for i := range cands {
			s := int64(ppm)
			if hi > lo {
				s = (hi - cands[i].cost[k]) * ppm / (hi - lo)
			}
			cands[i].scored.Factors[k] = s
		}
	}
	for i := range cands {
		var total int64
		for k := 0; k < 6; k++ {
			total += int64(wa[k]) * cands[i].scored.Factors[k]
		}
		cands[i].scored.Score = total / sumW
	}
	if len(cands) < 2 {
		return
	}
	// Insertion sort, stable: a handful of candidates, and moving whole
	// candidates through a generic sort costs more than these compares.
	better := func(a, b *Scored) bool {
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.RateScaled != b.RateScaled {
			return a.RateScaled < b.RateScaled
		}
		return a.CenterName < b.CenterName
	}
	for i := 1; i < len(cands); i++ {
		if !better(&cands[i].scored, &cands[i-1].scored) {
			continue
		}
		c := cands[i]
		j := i
		for j > 0 && better(&c.scored, &cands[j-1].scored) {
			cands[j] = cands[j-1]
			j--
		}
		cands[j] = c
	}
}

// centerLoad is the center's allocated share in ppm: of accelerators for
// accelerator jobs, of CPU otherwise.
func centerLoad(cs *centerState, accel bool) int64 {
	if cs == nil {
		return ppm
	}
	u, t := cs.used, cs.total
	k := 0
	if accel {
		k = 2
	}
	if t[k] <= 0 {
		return ppm
	}
	return u[k] * ppm / t[k]
}

// tflopsOf is a model's dense FP16 TFLOPS from the catalog, at least 1 so
// unknown models compare as the slowest.
func tflopsOf(model string) int64 {
	if m, ok := models[model]; ok {
		return m.tflops
	}
	return 1
}

// modelInfo is what the scheduler reads of a catalog entry, looked up on
// every replica and center: a map of small values instead of the
// catalog's scan and copy of whole entries.
type modelInfo struct {
	tflops   int64
	domestic bool
}

var models = func() map[string]modelInfo {
	out := map[string]modelInfo{}
	for _, a := range core.Catalog() {
		out[a.Name] = modelInfo{tflops: max(int64(a.FP16TFLOPS), 1), domestic: a.Domestic}
	}
	return out
}()

// nodeRejections counts, for one center, why its nodes cannot take the
// job's largest replica now: the filter each node fails first.
// ReasonNodesMax bounds the nodes per center a why-pending reason counts.
const ReasonNodesMax = 1_000

func (st *state) nodeRejections(c Center, job Job) string {
	r := job.Replicas[placementOrder(job.Replicas)[0]]
	counts := map[string]int{}
	ns := st.nodes[c.ID]
	for _, n := range ns[:min(len(ns), ReasonNodesMax)] {
		counts[nodeFilter(n, r, job.Constraints.DomesticOnly)]++
	}
	delete(counts, "")
	name := c.Name
	if len(ns) > ReasonNodesMax {
		name = fmt.Sprintf("%s (first %d of %d nodes)", c.Name, ReasonNodesMax, len(ns))
	}
	if len(counts) == 0 {
		return name + ": room for single replicas but not the whole gang"
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return name + ": " + strings.Join(parts, ", ")
}

// nodeFilter names the first filter node n fails for r, "" if r fits.
func nodeFilter(n *Node, r core.Replica, domesticOnly bool) string {
	switch {
	case !n.Ready:
		return "not ready"
	case r.AccelCount > 0 && n.AccelCount == 0:
		return "without accelerators"
	case r.AccelCount > 0 && !modelOK(n.AccelModel, r.AccelModels):
		return "of another model"
	case r.AccelCount > 0 && domesticOnly && !domesticModel(n.AccelModel):
		return "not domestic"
	case r.AccelCount > n.AccelCount || r.CPUMilli > n.CPUMilli || r.MemMiB > n.MemMiB:
		return "too small"
	case n.AccelCount-n.UsedAccel < r.AccelCount:
		return "short of free accelerators"
	case n.CPUMilli-n.UsedCPU < r.CPUMilli:
		return "short of free CPU"
	case n.MemMiB-n.UsedMem < r.MemMiB:
		return "short of free memory"
	}
	return ""
}

func domesticModel(model string) bool {
	a, ok := models[model]
	return ok && a.domestic
}
