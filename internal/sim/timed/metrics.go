package timed

import (
	"math"
	"sort"
)

// BucketsMax bounds the utilization series; a longer run gets wider
// buckets (whole multiples of the asked step).
const BucketsMax = 5_000

// JobResult is what happened to one job.
type JobResult struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Tenant      string `json:"tenant"`
	ArrivalMs   int64  `json:"arrival_ms"`
	StartMs     int64  `json:"start_ms"` // of the run that finished
	FinishMs    int64  `json:"finish_ms"`
	DurationMs  int64  `json:"duration_ms"`
	AccelMilli  int64  `json:"accel_milli"`
	Preemptions int    `json:"preemptions"`
	NeverFit    bool   `json:"never_fit,omitempty"`
}

// JCTMs is the job's completion time: finish minus arrival.
func (r JobResult) JCTMs() int64 { return r.FinishMs - r.ArrivalMs }

// DelayMs is the job's queueing delay: the time it was in the system
// without doing work that counted, finish − arrival − duration (with
// restart-from-scratch preemption, lost runs count as delay). It equals
// last start − arrival.
func (r JobResult) DelayMs() int64 { return r.StartMs - r.ArrivalMs }

// Metrics summarize a replay (or a window of its jobs).
type Metrics struct {
	Jobs        int     `json:"jobs"`      // measured jobs, including those that never fit
	Finished    int     `json:"finished"`  // measured jobs that ran
	NeverFit    int     `json:"never_fit"` // larger than any center even empty
	JCTMeanS    float64 `json:"jct_mean_s"`
	JCTP95S     float64 `json:"jct_p95_s"`
	DelayMeanS  float64 `json:"delay_mean_s"`
	DelayP95S   float64 `json:"delay_p95_s"`
	MakespanS   float64 `json:"makespan_s"` // first arrival to last finish, all jobs
	UtilMeanPct float64 `json:"util_mean_pct"`
	// UtilPct is the share of the cluster's accelerators allocated, per
	// bucket of UtilBucketS from the first arrival (preempted runs count:
	// they held the cards).
	UtilBucketS int64     `json:"util_bucket_s"`
	UtilPct     []float64 `json:"util_pct"`
	// Jain is Jain's fairness index over tenants of x_t = the mean over
	// tenant t's finished jobs of duration / JCT (the share of its time in
	// the system a job spends running; 1 = never waited). 1 is perfectly
	// even, 1/n is all to one tenant; 0 with fewer than two tenants.
	Jain        float64 `json:"jain"`
	Tenants     int     `json:"tenants"`
	Preemptions int     `json:"preemptions"`
}

// Result is a whole replay.
type Result struct {
	Jobs    []JobResult `json:"jobs"` // in arrival order
	Metrics Metrics     `json:"metrics"`
	Passes  int64       `json:"passes"`
	runs    []interval
	cards   int64
}

func (s *sim) result() *Result {
	r := &Result{Jobs: make([]JobResult, len(s.jobs)), Passes: s.passes, cards: s.opt.Cluster.Cards()}
	for i := range s.jobs {
		j := &s.jobs[i]
		r.Jobs[i] = JobResult{ID: j.ID, Name: j.Name, Tenant: j.Tenant, ArrivalMs: j.ArrivalMs, StartMs: j.startMs,
			FinishMs: j.finishMs, DurationMs: j.DurationMs, AccelMilli: j.AccelMilli, Preemptions: j.preemptions,
			NeverFit: j.state == stateNeverFit}
		r.runs = append(r.runs, j.runs...)
	}
	bucketMs := s.opt.BucketMs
	if bucketMs <= 0 {
		bucketMs = 3_600_000
	}
	r.Metrics = r.Window(0, len(r.Jobs))
	r.Metrics.UtilBucketS, r.Metrics.UtilPct, r.Metrics.UtilMeanPct = r.utilization(bucketMs)
	return r
}

// Window computes the job metrics over jobs [from, to) in arrival order,
// as Gavel measures a steady-state window; makespan and preemptions are
// the whole run's, utilization is left out.
func (r *Result) Window(from, to int) Metrics {
	from, to = max(from, 0), min(to, len(r.Jobs))
	var m Metrics
	var jct, delay []float64
	slow := map[string][]float64{}
	first, last := int64(math.MaxInt64), int64(0)
	for i, j := range r.Jobs {
		m.Preemptions += j.Preemptions
		first = min(first, j.ArrivalMs)
		if !j.NeverFit {
			last = max(last, j.FinishMs)
		}
		if i < from || i >= to {
			continue
		}
		m.Jobs++
		if j.NeverFit {
			m.NeverFit++
			continue
		}
		m.Finished++
		jct = append(jct, float64(j.JCTMs())/1000)
		delay = append(delay, float64(j.DelayMs())/1000)
		slow[j.Tenant] = append(slow[j.Tenant], float64(j.DurationMs)/float64(j.JCTMs()))
	}
	if last > first {
		m.MakespanS = float64(last-first) / 1000
	}
	m.JCTMeanS, m.JCTP95S = mean(jct), percentile(jct, 95)
	m.DelayMeanS, m.DelayP95S = mean(delay), percentile(delay, 95)
	m.Tenants = len(slow)
	m.Jain = jain(slow)
	return m
}

// utilization integrates the cards held over time, per bucket and overall,
// from the first arrival to the last finish.
func (r *Result) utilization(bucketMs int64) (int64, []float64, float64) {
	if len(r.runs) == 0 || r.cards == 0 {
		return bucketMs / 1000, nil, 0
	}
	first, last := int64(math.MaxInt64), int64(0)
	for _, j := range r.Jobs {
		first = min(first, j.ArrivalMs)
	}
	for _, x := range r.runs {
		last = max(last, x.endMs)
	}
	span := last - first
	if n := (span + bucketMs - 1) / bucketMs; n > BucketsMax {
		bucketMs *= (n + BucketsMax - 1) / BucketsMax
	}
	buckets := make([]float64, max((span+bucketMs-1)/bucketMs, 1))
	var total float64
	for _, x := range r.runs {
		total += float64(x.accelMilli) * float64(x.endMs-x.startMs)
		for b := (x.startMs - first) / bucketMs; b < int64(len(buckets)); b++ {
			lo, hi := first+b*bucketMs, first+(b+1)*bucketMs
			if lo >= x.endMs {
				break
			}
			buckets[b] += float64(x.accelMilli) * float64(min(hi, x.endMs)-max(lo, x.startMs))
		}
	}
	capacity := float64(r.cards * MilliPerCard)
	for b := range buckets {
		width := float64(min(bucketMs, span-int64(b)*bucketMs))
		if width > 0 {
			buckets[b] = round2(100 * buckets[b] / (capacity * width))
		}
	}
	meanPct := 0.0
	if span > 0 {
		meanPct = 100 * total / (capacity * float64(span))
	}
	return bucketMs / 1000, buckets, meanPct
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// percentile is the nearest-rank p-th percentile.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

// jain is Jain's index (Σx)² / (n·Σx²) over the tenants' mean values, in
// sorted tenant order so the float sums do not depend on map order.
func jain(byTenant map[string][]float64) float64 {
	if len(byTenant) < 2 {
		return 0
	}
	names := make([]string, 0, len(byTenant))
	for t := range byTenant {
		names = append(names, t)
	}
	sort.Strings(names)
	var sum, sq float64
	for _, t := range names {
		x := mean(byTenant[t])
		sum, sq = sum+x, sq+x*x
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(names)) * sq)
}
