package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/sim/timed"
)

// Trace kinds `sim run --trace` reads.
const (
	traceKindPollux = "philly-pollux" // a Pollux workload-N.csv (durations drawn from philly.csv)
	traceKindPhilly = "philly"        // philly.csv itself
	traceKindGavel  = "gavel"         // Gavel's synthetic generator (no file)
	traceKindMSR    = "gavel-msr"     // Gavel's per-VC Philly traces (needs a throughputs file)
	traceKindOpenb  = "openb"         // an Alibaba openb pod list
)

var traceKinds = []string{traceKindPollux, traceKindPhilly, traceKindGavel, traceKindMSR, traceKindOpenb}

// simRunFlags are `sim run`'s flags.
type simRunFlags struct {
	trace, workload, philly, policy, cluster, throughputs, worker string
	interval, bucket                                              time.Duration
	queueMax, jobs                                                int
	seed                                                          uint64
	rate                                                          float64
	multiGPU, polluxFilter, spotBE, perJob                        bool
}

func simRunCmd(g *globals) *cobra.Command {
	var f simRunFlags
	c := &cobra.Command{
		Use:   "run",
		Short: "Replay a job trace in virtual time under a scheduling policy and report JCT, queueing, utilization and fairness",
		Long: "Jobs arrive at trace times, wait, run for their durations and depart on a simulated cluster; the production\n" +
			"scheduler (--policy suanli) or a baseline (fifo, fifo-backfill) decides who starts when. Trace durations serve as\n" +
			"the jobs' declared maximum durations. Traces: " + strings.Join(traceKinds, ", ") + ". Traces are read from\n" +
			"their files at run time (research-only licences: never copied). See docs/queueing.md.",
		Example: "  suanli sim run --trace philly-pollux --workload ../shared/traces/philly-pollux/workloads/workload-6.csv --policy suanli\n" +
			"  suanli sim run --trace philly --workload ../shared/traces/philly-pollux/philly.csv --cluster 80x8 --policy fifo -o json\n" +
			"  suanli sim run --trace gavel --rate 2.4 --multi-gpu --cluster 27x4 --policy fifo",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSimTimed(g, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.trace, "trace", traceKindPollux, "trace kind: "+strings.Join(traceKinds, ", "))
	fl.StringVar(&f.workload, "workload", "", "trace file: workload-N.csv, philly.csv, an openb pod list, or the directory of *.trace (gavel-msr)")
	fl.StringVar(&f.philly, "philly", "", "philly.csv for --trace philly-pollux (default: ../philly.csv beside the workloads directory)")
	fl.StringVar(&f.policy, "policy", timed.PolicySuanli, "policy: "+strings.Join(timed.Policies, ", "))
	fl.StringVar(&f.cluster, "cluster", "", "simulated cluster NODESxCARDS[:MODEL][+...], e.g. 16x4 (default per trace: 16x4, 80x8, 27x4, 63x8, 100x8)")
	fl.DurationVar(&f.interval, "interval", time.Duration(timed.DefaultIntervalMs)*time.Millisecond, "scheduling round: passes at multiples of it when something changed (0: at every change)")
	fl.DurationVar(&f.bucket, "bucket", time.Hour, "utilization series step")
	fl.IntVar(&f.queueMax, "queue-max", 0, "queued jobs one pass considers (0: the scheduler's cap, 10000)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed: duration draws (philly-pollux; 0 = the workload's number) or the generator (gavel)")
	fl.Float64Var(&f.rate, "rate", 2.0, "gavel: arrivals per hour")
	fl.IntVar(&f.jobs, "jobs", timed.GavelJobs, "gavel: jobs to generate")
	fl.BoolVar(&f.multiGPU, "multi-gpu", false, "gavel: sizes 1/2/4/8 GPUs (else all 1 GPU)")
	fl.BoolVar(&f.polluxFilter, "pollux-filter", false, "philly: keep only jobs Pollux samples from (≥ 60 s, < 1000 GPU-h)")
	fl.BoolVar(&f.spotBE, "openb-spot-be", false, "openb: best-effort pods run in the spot tier (preemptible)")
	fl.StringVar(&f.throughputs, "gavel-throughputs", "", "gavel-msr: Gavel's throughputs JSON (the traces carry steps, not durations)")
	fl.StringVar(&f.worker, "gavel-worker", "v100", "gavel-msr: worker type whose throughputs give durations")
	fl.BoolVar(&f.perJob, "jobs-table", false, "table output: also list every job")
	return c
}

func runSimTimed(g *globals, f simRunFlags) error {
	if g.output != "table" && g.output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", g.output)
	}
	policy, err := timed.NewPolicy(f.policy, f.queueMax)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	if err := checkSimDurations(f); err != nil {
		return err
	}
	jobs, defaultCluster, err := loadSimTrace(f)
	if err != nil {
		return err
	}
	spec := f.cluster
	if spec == "" {
		spec = defaultCluster
	}
	cluster, err := timed.ParseCluster(spec)
	if err != nil {
		return fmt.Errorf("--cluster: %w", err)
	}
	began := time.Now()
	res, err := timed.Run(jobs, timed.Options{Cluster: cluster, Policy: policy, IntervalMs: f.interval.Milliseconds(),
		QueueMax: f.queueMax, BucketMs: f.bucket.Milliseconds()})
	if err != nil {
		return err
	}
	elapsed := time.Since(began)
	if g.output == "json" {
		return g.json(struct {
			Trace, Policy, Cluster string
			ElapsedMs              int64
			*timed.Result
		}{f.trace, f.policy, cluster.String(), elapsed.Milliseconds(), res})
	}
	fmt.Fprintf(g.stdout, "trace %s, policy %s, cluster %s (%d cards), replayed in %s\n", f.trace, f.policy, cluster, cluster.Cards(), elapsed.Round(time.Millisecond))
	if f.perJob {
		return timed.WriteJobs(g.stdout, res)
	}
	return timed.WriteMetrics(g.stdout, res.Metrics, res.Passes)
}

// checkSimDurations validates the duration and count flags.
func checkSimDurations(f simRunFlags) error {
	switch {
	case f.interval < 0 || (f.interval > 0 && f.interval.Milliseconds() < timed.IntervalMinMs):
		return fmt.Errorf("--interval must be 0 or at least %s, not %s", time.Duration(timed.IntervalMinMs)*time.Millisecond, f.interval)
	case f.bucket < time.Second:
		return fmt.Errorf("--bucket must be at least 1s, not %s", f.bucket)
	case f.queueMax < 0:
		return fmt.Errorf("--queue-max must not be negative, not %d", f.queueMax)
	}
	return nil
}

// loadSimTrace reads or generates the jobs, and says which cluster suits
// the trace when --cluster is not given.
func loadSimTrace(f simRunFlags) ([]timed.Job, string, error) {
	if f.trace != traceKindGavel && f.workload == "" {
		return nil, "", fmt.Errorf("--workload is required for --trace %s", f.trace)
	}
	switch f.trace {
	case traceKindPollux:
		jobs, err := loadPollux(f)
		return jobs, timed.PolluxCluster, err
	case traceKindPhilly:
		recs, err := timed.ReadPhillyFile(f.workload)
		if err != nil {
			return nil, "", fmt.Errorf("--workload: %w", err)
		}
		jobs, _ := timed.PhillyJobs(recs, f.polluxFilter)
		return jobs, timed.PhillyCluster, nil
	case traceKindGavel:
		jobs, err := timed.GenerateGavel(timed.GavelOptions{Jobs: f.jobs, RatePerHour: f.rate, MultiGPU: f.multiGPU, Seed: f.seed})
		if err != nil {
			return nil, "", fmt.Errorf("--rate/--jobs: %w", err)
		}
		return jobs, timed.GavelCluster, nil
	case traceKindMSR:
		jobs, err := loadMSR(f)
		return jobs, "63x8", err // cluster_specs.json: 500 V100 (63 × 8 = 504)
	case traceKindOpenb:
		jobs, _, err := timed.ReadOpenbPodsFile(f.workload, f.spotBE)
		if err != nil {
			return nil, "", fmt.Errorf("--workload: %w", err)
		}
		return jobs, timed.OpenbCluster, nil
	}
	return nil, "", fmt.Errorf("--trace must be one of %s, not %q", strings.Join(traceKinds, ", "), f.trace)
}

func loadPollux(f simRunFlags) ([]timed.Job, error) {
	file, err := os.Open(f.workload)
	if err != nil {
		return nil, fmt.Errorf("--workload: %w", err)
	}
	defer file.Close() // read-only: a close error loses nothing
	rows, err := timed.ReadPolluxWorkload(file)
	if err != nil {
		return nil, fmt.Errorf("--workload: %w", err)
	}
	phillyPath := f.philly
	if phillyPath == "" {
		phillyPath = filepath.Join(filepath.Dir(f.workload), "..", "philly.csv")
	}
	recs, err := timed.ReadPhillyFile(phillyPath)
	if err != nil {
		return nil, fmt.Errorf("--philly (durations come from philly.csv): %w", err)
	}
	seed := f.seed
	if seed == 0 {
		// The report seeds workload-N with N; do the same by default.
		fmt.Sscanf(filepath.Base(f.workload), "workload-%d.csv", &seed) // no number: seed stays 0
	}
	return timed.PolluxJobs(rows, recs, seed)
}

func loadMSR(f simRunFlags) ([]timed.Job, error) {
	if f.throughputs == "" {
		return nil, fmt.Errorf("--gavel-throughputs is required for --trace gavel-msr: the traces carry steps, not durations " +
			"(Gavel's simulation_throughputs.json; not among the shared traces)")
	}
	file, err := os.Open(f.throughputs)
	if err != nil {
		return nil, fmt.Errorf("--gavel-throughputs: %w", err)
	}
	defer file.Close() // read-only: a close error loses nothing
	tput, err := timed.ReadGavelThroughputs(file, f.worker)
	if err != nil {
		return nil, fmt.Errorf("--gavel-throughputs: %w", err)
	}
	jobs, err := timed.ReadGavelMSRDir(f.workload, tput)
	if err != nil {
		return nil, fmt.Errorf("--workload: %w", err)
	}
	return jobs, nil
}

func simQueueingReportCmd(g *globals) *cobra.Command {
	var traces, out string
	var interval time.Duration
	var queueMax int
	c := &cobra.Command{
		Use:   "queueing-report",
		Short: "Replay fifo, fifo-backfill and suanli on the Pollux workloads, the whole Philly trace, Gavel's generator and openb; write docs/queueing.md",
		Long: "Runs every comparison of docs/queueing.md in virtual time and writes <out>/queueing.md and <out>/" + timed.ReportSVGFile + ".\n" +
			"--traces is the shared traces directory (holding philly-pollux/ and alibaba-gpu-v2023-openb/). Progress goes to stderr.",
		Example: "  suanli sim queueing-report --traces ../shared/traces --out docs/",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if traces == "" || out == "" {
				return fmt.Errorf("--traces and --out are required")
			}
			if err := checkSimDurations(simRunFlags{interval: interval, bucket: time.Hour, queueMax: queueMax}); err != nil {
				return err
			}
			if st, err := os.Stat(filepath.Join(traces, "philly-pollux")); err != nil || !st.IsDir() {
				return fmt.Errorf("--traces: %s has no philly-pollux/ directory", traces)
			}
			rep, err := timed.RunReport(timed.ReportOptions{TraceDir: traces, IntervalMs: interval.Milliseconds(), QueueMax: queueMax, Progress: g.stderr})
			if err != nil {
				return err
			}
			return writeQueueingReport(g, rep, traces, out)
		},
	}
	fl := c.Flags()
	fl.StringVar(&traces, "traces", "", "shared traces directory (with philly-pollux/ and alibaba-gpu-v2023-openb/)")
	fl.StringVar(&out, "out", "docs", "directory to write queueing.md and "+timed.ReportSVGFile+" into")
	fl.DurationVar(&interval, "interval", time.Duration(timed.DefaultIntervalMs)*time.Millisecond, "scheduling round (0: a pass at every change)")
	fl.IntVar(&queueMax, "queue-max", 0, "queued jobs one pass considers (0: the scheduler's cap, 10000)")
	return c
}

func writeQueueingReport(g *globals, rep *timed.Report, traces, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var md, svg bytes.Buffer
	if err := rep.WriteMarkdown(&md, "suanli sim queueing-report --traces "+traces+" --out "+out); err != nil {
		return err
	}
	if err := rep.WritePlot(&svg); err != nil {
		return err
	}
	mdPath, svgPath := filepath.Join(out, "queueing.md"), filepath.Join(out, timed.ReportSVGFile)
	if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(svgPath, svg.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %s and %s (%s)\n", mdPath, svgPath, rep.Elapsed.Round(time.Second))
	return nil
}
