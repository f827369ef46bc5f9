package fgd

import (
	"math"
	"slices"
	"strconv"
)

// MaxArrivedPct is the last column of the paper's tables: arrived GPU request
// as a percentage of the cluster's GPU capacity.
const MaxArrivedPct = 130

// Point is one column of the authors' result tables for one run: the events
// whose arrived request rounds to ArrivedPct percent, averaged as
// experiments/analysis/merge_*_discrete.py did.
type Point struct {
	ArrivedPct int `json:"arrived_pct"`
	// AllocPct is the allocated GPU milli as % of capacity.
	AllocPct float64 `json:"alloc_pct"`
	// FragPct is the fragment amount as % of capacity.
	FragPct float64 `json:"frag_pct"`
	// FragRatioPct is the fragment as % of the idle GPU milli.
	FragRatioPct float64 `json:"frag_ratio_pct"`
}

// Discretize turns a run's events into the columns 0..MaxArrivedPct. A column
// with no event of its own takes the events within one percent; a column
// with none of those is left out.
func Discretize(run Run) []Point {
	gpus := float64(run.TotalGPUs)
	arrive := make([]float64, len(run.Events))
	alloc := make([]float64, len(run.Events))
	frag := make([]float64, len(run.Events))
	ratio := make([]float64, len(run.Events))
	for i, e := range run.Events {
		// Each value is rounded as the log printed it (%.2f) or as the
		// analysis script rounded it, before averaging.
		arrive[i] = math.RoundToEven(float64(e.ArrivedMilli) / gpus / 10)
		alloc[i] = round2(float64(e.UsedMilli) / gpus / 10)
		frag[i] = round2(e.FragMilli)
		if e.IdleMilli > 0 {
			ratio[i] = round2(100 * e.FragMilli / e.IdleMilli)
		}
	}
	points := make([]Point, 0, MaxArrivedPct+1)
	var sel []int
	for a := 0; a <= MaxArrivedPct; a++ {
		sel = sel[:0]
		for i, v := range arrive {
			if v == float64(a) {
				sel = append(sel, i)
			}
		}
		if len(sel) == 0 {
			for i, v := range arrive {
				if v >= float64(a-1) && v <= float64(a+1) {
					sel = append(sel, i)
				}
			}
		}
		if len(sel) == 0 {
			continue
		}
		points = append(points, Point{
			ArrivedPct:   a,
			AllocPct:     round2(mean(alloc, sel)),
			FragPct:      round2(100 * mean(frag, sel) / 1000 / gpus),
			FragRatioPct: mean(ratio, sel),
		})
	}
	return points
}

// round2 is Python's round(x, 2): the decimal nearest to the exact binary
// value, half to even.
func round2(x float64) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 2, 64), 64)
	invariant(err == nil, "formatted float does not parse")
	return v
}

// mean averages v over the selected indices as pandas' Series.mean did in
// the authors' environment: numpy's add.reduce, which starts from the first
// element and adds the pairwise sum of the rest. The summation order only
// shows on an exact half-cent tie, e.g. default / dotprod / seed 51 / column
// 109 averages 80 values to exactly 90.605, printed 90.60.
func mean(v []float64, sel []int) float64 {
	vals := make([]float64, len(sel))
	for k, i := range sel {
		vals[k] = v[i]
	}
	return (vals[0] + pairwiseSum(vals[1:])) / float64(len(vals))
}

// pairwiseSum is numpy's pairwise_sum: eight accumulators over blocks of at
// most 128 values, split in halves above that.
func pairwiseSum(a []float64) float64 {
	const block = 128
	n := len(a)
	switch {
	case n < 8:
		var s float64
		for _, v := range a {
			s += v
		}
		return s
	case n <= block:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += a[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	}
	half := n / 2
	half -= half % 8
	return pairwiseSum(a[:half]) + pairwiseSum(a[half:])
}

// median of a non-empty slice; the mean of the middle two for an even count.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
