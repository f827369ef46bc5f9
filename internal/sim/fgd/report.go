package fgd

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// NodeListFile is the cluster of every openb replay.
const NodeListFile = "openb_node_list_gpu_node.csv"

// Variant is one openb pod list of a trace directory.
type Variant struct {
	Name string // e.g. default, cpu050, gpuspec33
	Path string
}

// FindTraces locates the openb node list and pod lists in dir, or in its
// alibaba-gpu-v2023-openb subdirectory. Variants come default first, then
// by name.
func FindTraces(dir string) (nodes string, variants []Variant, err error) {
	for _, d := range []string{dir, filepath.Join(dir, "alibaba-gpu-v2023-openb")} {
		if _, err := os.Stat(filepath.Join(d, NodeListFile)); err != nil {
			continue
		}
		files, err := filepath.Glob(filepath.Join(d, "openb_pod_list_*.csv"))
		if err != nil {
			return "", nil, err
		}
		for _, f := range files {
			name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "openb_pod_list_"), ".csv")
			variants = append(variants, Variant{Name: name, Path: f})
		}
		slices.SortFunc(variants, func(a, b Variant) int {
			if (a.Name == "default") != (b.Name == "default") {
				if a.Name == "default" {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.Name, b.Name)
		})
		if len(variants) == 0 {
			return "", nil, fmt.Errorf("fgd: no openb_pod_list_*.csv in %s", d)
		}
		return filepath.Join(d, NodeListFile), variants, nil
	}
	return "", nil, fmt.Errorf("fgd: no %s in %s or its alibaba-gpu-v2023-openb/", NodeListFile, dir)
}

// DevelopmentVariants are the pod lists the suanli policy was developed on;
// every other variant was held out until the policy was fixed.
var DevelopmentVariants = []string{"default", "cpu250", "gpuspec20", "gpuspec33"}

// ReportOptions selects the grid of a report.
type ReportOptions struct {
	TraceDir string
	Policies []Policy
	Seeds    []int64
	Tune     float64
	Workers  int
	// Ablation also replays the development variants with each part of
	// suanli switched off or changed.
	Ablation bool
	// Progress, if set, gets one line per finished cell.
	Progress io.Writer
}

// Report is the result grid: one summary per variant and policy.
type Report struct {
	Options  ReportOptions
	Variants []string
	// Cells[v][p] is variant v, policy Options.Policies[p].
	Cells [][]Summary
	// PolicyTime is the wall time spent replaying each policy, over all
	// variants.
	PolicyTime []time.Duration
	// Ablation rows, each with one summary per AblationVariants entry.
	Ablation         []AblationRow
	AblationVariants []string
	Elapsed          time.Duration
}

// AblationRow is suanli with one part changed, on each development variant.
type AblationRow struct {
	Name      string
	Summaries []Summary
}

// ablations are the suanli variants of the report's ablation table.
var ablations = []struct {
	name string
	opt  suanliOptions
}{
	{"suanli (all parts)", defaultSuanli},
	{"without the mix term", suanliWith(func(o *suanliOptions) { o.mix = false })},
	{"without the stranding cap (FGD's one-pod test per shape)", suanliWith(func(o *suanliOptions) { o.stranding = false })},
	{"without memory (stranding cap and mix on CPU only)", suanliWith(func(o *suanliOptions) { o.memory = false })},
	{"without the model-pressure cost (no effect without model constraints)", suanliWith(func(o *suanliOptions) { o.pressure = false })},
	{"exact float deltas instead of FGD's integer score", suanliWith(func(o *suanliOptions) { o.sigmoid = false })},
	{"exact float deltas, best-fit tie-break", suanliWith(func(o *suanliOptions) { o.sigmoid, o.bestFitTie = false, true })},
	{"integer score, best-fit tie-break before the prefix", suanliWith(func(o *suanliOptions) { o.bestFitTie = true })},
	{"shapes weighted by GPU demand instead of popularity", suanliWith(func(o *suanliOptions) { o.gpuWeighted = true })},
	{"every shape instead of FGD's 95 % cut", suanliWith(func(o *suanliOptions) { o.allShapes = true })},
	{"plus the whole-GPU shape-pressure cost", suanliWith(func(o *suanliOptions) { o.shapePressure = true })},
	{"CPU-only pods counted in the mix term", suanliWith(func(o *suanliOptions) { o.mixAll = true })},
	{"FGD's fragment alone, exact float deltas, prefix tie-break", suanliOptions{}},
}

func suanliWith(f func(*suanliOptions)) suanliOptions {
	o := defaultSuanli
	f(&o)
	return o
}

// RunReport replays every policy on every variant for the seeds.
func RunReport(opt ReportOptions) (*Report, error) {
	start := time.Now()
	nodesPath, variants, err := FindTraces(opt.TraceDir)
	if err != nil {
		return nil, err
	}
	nodes, err := ReadNodesFile(nodesPath)
	if err != nil {
		return nil, err
	}
	rep := &Report{Options: opt, PolicyTime: make([]time.Duration, len(opt.Policies))}
	for _, v := range variants {
		pods, err := ReadPodsFile(v.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.Path, err)
		}
		row := make([]Summary, len(opt.Policies))
		for i, p := range opt.Policies {
			t0 := time.Now()
			row[i], err = replaySeeds(nodes, pods, Config{Policy: p, Tune: opt.Tune}, opt.Seeds, opt.Workers)
			if err != nil {
				return nil, err
			}
			rep.PolicyTime[i] += time.Since(t0)
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "%-10s %-10s %6.2f %%  (%s)\n", v.Name, p, row[i].MedianUnallocatedGPUPct, time.Since(start).Round(time.Second))
			}
		}
		rep.Variants = append(rep.Variants, v.Name)
		rep.Cells = append(rep.Cells, row)
		if opt.Ablation && slices.Contains(DevelopmentVariants, v.Name) {
			if rep.Ablation == nil {
				rep.Ablation = make([]AblationRow, len(ablations))
			}
			rep.AblationVariants = append(rep.AblationVariants, v.Name)
			for k, a := range ablations {
				o := a.opt
				s, err := replaySeeds(nodes, pods, Config{Policy: PolicySuanli, Tune: opt.Tune, suanli: &o}, opt.Seeds, opt.Workers)
				if err != nil {
					return nil, err
				}
				rep.Ablation[k].Name = a.name
				rep.Ablation[k].Summaries = append(rep.Ablation[k].Summaries, s)
				if opt.Progress != nil {
					fmt.Fprintf(opt.Progress, "%-10s ablation: %s: %.2f %%\n", v.Name, a.name, s.MedianUnallocatedGPUPct)
				}
			}
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// replaySeeds replays cfg once per seed (the seed is replaced), on up to
// workers goroutines, and summarises; the result does not depend on workers.
func replaySeeds(nodes []Node, pods []Pod, cfg Config, seeds []int64, workers int) (Summary, error) {
	if len(seeds) == 0 {
		return Summary{}, fmt.Errorf("fgd: no seeds")
	}
	points := make([][]Point, len(seeds))
	runs := make([]Run, len(seeds))
	errs := make([]error, len(seeds))
	next := make(chan int, len(seeds))
	for i := range seeds {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(max(workers, 1), len(seeds)) {
		wg.Go(func() {
			for i := range next {
				c := cfg
				c.Seed = seeds[i]
				run, err := Replay(nodes, pods, c)
				points[i] = Discretize(run)
				run.Events = nil // the summary needs only the columns
				runs[i], errs[i] = run, err
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Summary{}, err
		}
	}
	return summarize(cfg.Policy, cfg.Tune, seeds, runs, points), nil
}

// cell returns the summary of a variant and policy.
func (r *Report) cell(variant string, p Policy) (Summary, bool) {
	vi, pi := slices.Index(r.Variants, variant), slices.Index(r.Options.Policies, p)
	if vi < 0 || pi < 0 {
		return Summary{}, false
	}
	return r.Cells[vi][pi], true
}
