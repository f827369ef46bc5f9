package fgd

// ReferencePct is the arrived-request column the paper's headline numbers
// are read at: 100 % of the cluster's GPU capacity.
const ReferencePct = 100

// Summary is the result of one policy over several seeds: medians over the
// seeds, as the paper plots them.
type Summary struct {
	Policy Policy  `json:"policy"`
	Tune   float64 `json:"tune"`
	Seeds  []int64 `json:"seeds"`
	// MedianUnallocatedGPUPct is 100 − the median allocation at 100 % arrived.
	MedianUnallocatedGPUPct float64      `json:"median_unallocated_gpu_pct"`
	Runs                    []RunSummary `json:"runs"`
	Curve                   []CurvePoint `json:"curve"`
}

// RunSummary is one seed's outcome; the percentages are its column at 100 %
// arrived.
type RunSummary struct {
	Seed              int64   `json:"seed"`
	Pods              int     `json:"pods"`
	Tuned             int     `json:"tuned"`
	Failed            int     `json:"failed"`
	AllocPct          float64 `json:"alloc_pct"`
	UnallocatedGPUPct float64 `json:"unallocated_gpu_pct"`
	FragPct           float64 `json:"frag_pct"`
	FragRatioPct      float64 `json:"frag_ratio_pct"`
}

// CurvePoint is the median over the seeds of one arrived-% column.
type CurvePoint struct {
	ArrivedPct        int     `json:"arrived_pct"`
	AllocPct          float64 `json:"alloc_pct"`
	UnallocatedGPUPct float64 `json:"unallocated_gpu_pct"`
	FragPct           float64 `json:"frag_pct"`
	FragRatioPct      float64 `json:"frag_ratio_pct"`
}

// ReplaySeeds replays one policy for each seed, on up to workers goroutines
// (at least one), and summarises. The result does not depend on workers.
func ReplaySeeds(nodes []Node, pods []Pod, policy Policy, tune float64, seeds []int64, workers int) (Summary, error) {
	return replaySeeds(nodes, pods, Config{Policy: policy, Tune: tune}, seeds, workers)
}

func summarize(policy Policy, tune float64, seeds []int64, runs []Run, points [][]Point) Summary {
	s := Summary{Policy: policy, Tune: tune, Seeds: seeds, Runs: make([]RunSummary, len(runs))}
	for i, run := range runs {
		rs := RunSummary{Seed: run.Seed, Pods: run.Pods, Tuned: run.Tuned, Failed: run.Failed}
		if p, ok := column(points[i], ReferencePct); ok {
			rs.AllocPct, rs.FragPct, rs.FragRatioPct = p.AllocPct, p.FragPct, round2(p.FragRatioPct)
			rs.UnallocatedGPUPct = round2(100 - p.AllocPct)
		}
		s.Runs[i] = rs
	}
	for a := 0; a <= MaxArrivedPct; a++ {
		var alloc, frag, ratio []float64
		for _, ps := range points {
			if p, ok := column(ps, a); ok {
				alloc, frag, ratio = append(alloc, p.AllocPct), append(frag, p.FragPct), append(ratio, p.FragRatioPct)
			}
		}
		if len(alloc) == 0 {
			continue
		}
		m := median(alloc)
		cp := CurvePoint{ArrivedPct: a, AllocPct: round2(m), UnallocatedGPUPct: round2(100 - m),
			FragPct: round2(median(frag)), FragRatioPct: round2(median(ratio))}
		if a == ReferencePct {
			s.MedianUnallocatedGPUPct = cp.UnallocatedGPUPct
		}
		s.Curve = append(s.Curve, cp)
	}
	return s
}

func column(ps []Point, pct int) (Point, bool) {
	for _, p := range ps {
		if p.ArrivedPct == pct {
			return p, true
		}
	}
	return Point{}, false
}
