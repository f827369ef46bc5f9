package timed

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// ReportOptions configure the comparison `suanli sim queueing-report` runs.
type ReportOptions struct {
	TraceDir   string // holds philly-pollux/ and alibaba-gpu-v2023-openb/
	IntervalMs int64
	QueueMax   int
	Progress   io.Writer // nil: quiet
	// Quick skips the full Philly replay and shortens the Gavel runs
	// (tests).
	Quick bool
}

// Report settings: the clusters and loads each comparison uses.
const (
	PolluxCluster    = "16x4" // Pollux's testbed: 16 nodes × 4 GPUs
	PhillyCluster    = "80x8" // 640 GPUs: the trace's mean demand is ~374 GPUs
	GavelCluster     = "27x4" // 108 GPUs, homogeneous (Gavel: 36 V100 + 36 P100 + 36 K80)
	OpenbCluster     = "8x8"  // the pods' mean demand is ~14 GPUs
	GavelJobs        = 6000   // past the measured window 4000–5000
	PolluxWorkloads  = 8
	ReportSVGFile    = "queueing.svg"
	reportGavelQuick = 600
)

// GavelRates are the input rates (jobs/h) the report runs, single-GPU and
// multi-GPU, taken from Gavel's published sweeps.
var (
	GavelRatesSingle = []float64{0.4, 2.0, 3.6, 4.4, 5.2, 6.0}
	GavelRatesMulti  = []float64{0.2, 1.0, 1.8, 2.4, 2.6, 3.0}
)

// Cell is one replay of the report.
type Cell struct {
	Workload string
	Policy   string
	Cluster  string
	Metrics  Metrics
	Window   *Metrics // Gavel's measured window, when it applies
	Passes   int64
	Elapsed  time.Duration // wall time of the replay (the report's clock, not the simulation's)
	Err      string        `json:",omitempty"`
	result   *Result
}

// Report is the whole comparison.
type Report struct {
	Options  ReportOptions
	Pollux   [][]Cell // [workload][policy]
	Philly   []Cell
	GavelOne [][]Cell // single-GPU [rate][policy]
	GavelMul [][]Cell // multi-GPU [rate][policy]
	Openb    []Cell
	Detail   map[string]*Result // workload-6 replays by policy, for the plot
	Elapsed  time.Duration
}

// RunReport replays every comparison.
func RunReport(o ReportOptions) (*Report, error) {
	began := time.Now()
	r := &Report{Options: o, Detail: map[string]*Result{}}
	philly, err := ReadPhillyFile(filepath.Join(o.TraceDir, "philly-pollux", "philly.csv"))
	if err != nil {
		return nil, fmt.Errorf("queueing report: %w", err)
	}
	if err := r.runPollux(philly); err != nil {
		return nil, err
	}
	if !o.Quick {
		jobs, _ := PhillyJobs(philly, false)
		r.Philly = r.runAll("philly.csv", jobs, PhillyCluster, nil)
	}
	if err := r.runGavel(); err != nil {
		return nil, err
	}
	openb, _, err := ReadOpenbPodsFile(filepath.Join(o.TraceDir, "alibaba-gpu-v2023-openb", "openb_pod_list_default.csv"), true)
	if err != nil {
		return nil, fmt.Errorf("queueing report: %w", err)
	}
	if o.Quick {
		openb = openb[:min(len(openb), 500)]
	}
	r.Openb = r.runAll("openb default", openb, OpenbCluster, nil)
	r.Elapsed = time.Since(began)
	return r, nil
}

func (r *Report) runPollux(philly []PhillyRecord) error {
	for w := 1; w <= PolluxWorkloads; w++ {
		path := filepath.Join(r.Options.TraceDir, "philly-pollux", "workloads", fmt.Sprintf("workload-%d.csv", w))
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("queueing report: %w", err)
		}
		rows, err := ReadPolluxWorkload(f)
		f.Close() // read-only: a close error loses nothing
		if err != nil {
			return fmt.Errorf("queueing report: %s: %w", path, err)
		}
		jobs, err := PolluxJobs(rows, philly, uint64(w))
		if err != nil {
			return fmt.Errorf("queueing report: %s: %w", path, err)
		}
		keep := func(string, *Result) {}
		if w == 6 {
			keep = func(p string, res *Result) { r.Detail[p] = res }
		}
		r.Pollux = append(r.Pollux, r.runAll(fmt.Sprintf("workload-%d", w), jobs, PolluxCluster, keep))
	}
	return nil
}

func (r *Report) runGavel() error {
	n := GavelJobs
	if r.Options.Quick {
		n = reportGavelQuick
	}
	for _, multi := range []bool{false, true} {
		rates := GavelRatesSingle
		if multi {
			rates = GavelRatesMulti
		}
		for _, rate := range rates {
			jobs, err := GenerateGavel(GavelOptions{Jobs: n, RatePerHour: rate, MultiGPU: multi, Seed: 0})
			if err != nil {
				return fmt.Errorf("queueing report: %w", err)
			}
			cells := r.runAll(fmt.Sprintf("gavel rate %.1f multi=%v", rate, multi), jobs, GavelCluster, nil)
			for k := range cells {
				if cells[k].Err == "" {
					w := cells[k].result.Window(GavelWindowFrom, GavelWindowTo)
					cells[k].Window = &w
				}
				cells[k].result = nil
			}
			if multi {
				r.GavelMul = append(r.GavelMul, cells)
			} else {
				r.GavelOne = append(r.GavelOne, cells)
			}
		}
	}
	return nil
}

// runAll replays jobs under every policy. A replay that fails is recorded
// in its cell (the report says so) rather than stopping the report.
func (r *Report) runAll(workload string, jobs []Job, cluster string, keep func(string, *Result)) []Cell {
	cl, err := ParseCluster(cluster)
	invariant(err == nil, "report clusters parse")
	cells := make([]Cell, 0, len(Policies))
	for _, name := range Policies {
		c := Cell{Workload: workload, Policy: name, Cluster: cluster}
		p, err := NewPolicy(name, r.Options.QueueMax)
		invariant(err == nil, "report policies exist")
		began := time.Now()
		res, err := Run(jobs, Options{Cluster: cl, Policy: p, IntervalMs: r.Options.IntervalMs, QueueMax: r.Options.QueueMax})
		c.Elapsed = time.Since(began)
		if err != nil {
			c.Err = err.Error()
		} else {
			c.Metrics, c.Passes, c.result = res.Metrics, res.Passes, res
			if keep != nil {
				keep(name, res)
			}
		}
		if r.Options.Progress != nil {
			fmt.Fprintf(r.Options.Progress, "%s %s on %s: %s (%s)\n", workload, name, cluster, summary(c), c.Elapsed.Round(time.Millisecond))
		}
		cells = append(cells, c)
	}
	return cells
}

func summary(c Cell) string {
	if c.Err != "" {
		return "error: " + c.Err
	}
	m := c.Metrics
	return fmt.Sprintf("JCT mean %.0f s p95 %.0f s, delay mean %.0f s, util %.1f %%, Jain %.3f, preemptions %d",
		m.JCTMeanS, m.JCTP95S, m.DelayMeanS, m.UtilMeanPct, m.Jain, m.Preemptions)
}
