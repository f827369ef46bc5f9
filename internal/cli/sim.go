package cli

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/plot"
	"github.com/suanli/suanli/internal/sim/fgd"
)

// maxSimSeeds bounds --seeds; the paper used ten.
const maxSimSeeds = 1000

func simCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sim", Short: "Trace-replay simulators (local, no server needed)"}
	var nodesPath, podsPath, policy, seeds, plotPath string
	var tune float64
	var workers int
	replay := &cobra.Command{
		Use:   "replay",
		Short: "Replay an Alibaba openb GPU trace as the FGD paper (ATC'23) did and report unallocated GPU",
		Long: "Replay openb_pod_list_*.csv on openb_node_list_gpu_node.csv exactly as the artifact of \"Beware of\n" +
			"Fragmentation\" (ATC'23) ran it: pods sorted by name and shuffled by the seed, tuned up to --tune x the\n" +
			"cluster's GPU capacity by drawing pods with replacement, placed once each in order, nothing departs.\n" +
			"After every pod the allocated and fragmented GPU is recorded; the curve gives, per arrived-% column, the\n" +
			"median over the seeds. median_unallocated_gpu_pct is read at 100% arrived (the paper's Fig. 9a).\n" +
			"Policies: fgd, bestfit, packing, clustering, dotprod, random, and our own suanli. Output: table, json or csv (the curve).",
		Example: "  suanli sim replay --nodes openb_node_list_gpu_node.csv --pods openb_pod_list_default.csv --policy fgd\n" +
			"  suanli sim replay --nodes N.csv --pods P.csv --policy bestfit --seeds 42-51 --tune 1.3 --output json\n" +
			"  suanli sim replay --nodes N.csv --pods P.csv --policy suanli --plot suanli.png",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "table" && g.output != "json" && g.output != "csv" {
				return fmt.Errorf("--output must be table, json or csv, not %q", g.output)
			}
			pol, err := fgd.ParsePolicy(policy)
			if err != nil {
				return err
			}
			seedList, err := parseSeeds(seeds)
			if err != nil {
				return err
			}
			if nodesPath == "" || podsPath == "" {
				return fmt.Errorf("--nodes and --pods are required")
			}
			if plotPath != "" && !strings.EqualFold(filepath.Ext(plotPath), ".png") {
				return fmt.Errorf("--plot must name a .png file, not %q", plotPath)
			}
			nodes, err := fgd.ReadNodesFile(nodesPath)
			if err != nil {
				return err
			}
			pods, err := fgd.ReadPodsFile(podsPath)
			if err != nil {
				return err
			}
			sum, err := fgd.ReplaySeeds(nodes, pods, pol, tune, seedList, workers)
			if err != nil {
				return err
			}
			if plotPath != "" {
				if err := writeReplayPlot(plotPath, sum); err != nil {
					return err
				}
			}
			switch g.output {
			case "json":
				return g.json(sum)
			case "csv":
				return simCSV(g, sum)
			}
			return simTable(g, sum)
		},
	}
	f := replay.Flags()
	f.StringVar(&nodesPath, "nodes", "", "node list CSV (openb_node_list_gpu_node.csv)")
	f.StringVar(&podsPath, "pods", "", "pod list CSV (openb_pod_list_<workload>.csv)")
	f.StringVar(&policy, "policy", "fgd", "placement policy: fgd, bestfit, packing, clustering, dotprod, random or suanli")
	f.StringVar(&seeds, "seeds", "42-51", "seeds: a list of numbers and ranges, e.g. 42-51 or 42,45,50-51")
	f.Float64Var(&tune, "tune", 1.3, "total GPU request to replay, as a multiple of the cluster's GPU capacity")
	f.IntVar(&workers, "workers", runtime.GOMAXPROCS(0), "seeds replayed at once (the output does not depend on it)")
	f.StringVar(&plotPath, "plot", "", "also write the curve (unallocated and fragmented GPU % against arrived %) to this PNG file")
	cmd.AddCommand(replay, simReportCmd(g), simRunCmd(g), simQueueingReportCmd(g))
	return cmd
}

func simReportCmd(g *globals) *cobra.Command {
	var traces, out, seeds, policies string
	var tune float64
	var workers int
	var ablation bool
	c := &cobra.Command{
		Use:   "report",
		Short: "Replay every policy on every openb trace variant and write docs/scheduling.md and an SVG plot",
		Long: "Replay each policy (the paper's six and our suanli) on every openb_pod_list_*.csv of --traces, for each\n" +
			"seed, as `sim replay` does, and write <out>/scheduling.md (methods, the policy x variant table of median\n" +
			"unallocated GPU at 100% arrived, an ablation of suanli on the development variants) and <out>/" + fgd.PlotFile + " (unallocated\n" +
			"GPU against arrived %, every policy on default). --traces is the directory holding\n" +
			fgd.NodeListFile + " and the pod lists, or its parent. Progress goes to stderr.",
		Example: "  suanli sim report --traces ../shared/traces --out docs/",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			seedList, err := parseSeeds(seeds)
			if err != nil {
				return err
			}
			var pols []fgd.Policy
			for p := range strings.SplitSeq(policies, ",") {
				pol, err := fgd.ParsePolicy(strings.TrimSpace(p))
				if err != nil {
					return err
				}
				pols = append(pols, pol)
			}
			if traces == "" || out == "" {
				return fmt.Errorf("--traces and --out are required")
			}
			rep, err := fgd.RunReport(fgd.ReportOptions{TraceDir: traces, Policies: pols, Seeds: seedList, Tune: tune,
				Workers: workers, Ablation: ablation && slices.Contains(pols, fgd.PolicySuanli), Progress: g.stderr})
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			var md, svg bytes.Buffer
			if err := rep.WriteMarkdown(&md, "suanli sim report --traces "+traces+" --out "+out); err != nil {
				return err
			}
			plotVariant := "default"
			if !slices.Contains(rep.Variants, plotVariant) {
				plotVariant = rep.Variants[0]
			}
			if err := rep.WritePlot(&svg, plotVariant); err != nil {
				return err
			}
			mdPath, svgPath := filepath.Join(out, "scheduling.md"), filepath.Join(out, fgd.PlotFile)
			if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(svgPath, svg.Bytes(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s and %s (%d variants, %d policies, %d seeds, %s)\n",
				mdPath, svgPath, len(rep.Variants), len(pols), len(seedList), rep.Elapsed.Round(time.Second))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&traces, "traces", "", "directory with "+fgd.NodeListFile+" and openb_pod_list_*.csv (or its parent)")
	f.StringVar(&out, "out", "docs", "directory to write scheduling.md and "+fgd.PlotFile+" into")
	f.StringVar(&seeds, "seeds", "42-51", "seeds: a list of numbers and ranges, e.g. 42-51")
	f.StringVar(&policies, "policies", strings.Join(policyNames(fgd.AllPolicies), ","), "policies to compare, comma-separated")
	f.Float64Var(&tune, "tune", 1.3, "total GPU request to replay, as a multiple of the cluster's GPU capacity")
	f.IntVar(&workers, "workers", runtime.GOMAXPROCS(0), "seeds replayed at once (the tables do not depend on it)")
	f.BoolVar(&ablation, "ablation", true, "also replay suanli on the development variants with each of its parts changed")
	return c
}

func policyNames(ps []fgd.Policy) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// parseSeeds reads "42-51" or "42,45,50-51".
func parseSeeds(s string) ([]int64, error) {
	var out []int64
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseInt(hi, 10, 64)
		}
		if err != nil || b < a {
			return nil, fmt.Errorf("--seeds: bad seed or range %q", part)
		}
		if b-a >= maxSimSeeds || len(out)+int(b-a+1) > maxSimSeeds {
			return nil, fmt.Errorf("--seeds: at most %d seeds", maxSimSeeds)
		}
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
	}
	return out, nil
}

func pct(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func simCSV(g *globals, s fgd.Summary) error {
	w := csv.NewWriter(g.stdout)
	_ = w.Write([]string{"arrived_pct", "alloc_pct", "unallocated_gpu_pct", "frag_pct", "frag_ratio_pct"}) // errors surface in Flush/Error
	for _, p := range s.Curve {
		_ = w.Write([]string{strconv.Itoa(p.ArrivedPct), pct(p.AllocPct), pct(p.UnallocatedGPUPct), pct(p.FragPct), pct(p.FragRatioPct)})
	}
	w.Flush()
	return w.Error()
}

// simTableColumns are the arrived-% columns the paper's tables print.
var simTableColumns = []int{50, 80, 90, 95, 100, 110, 120, 130}

func simTable(g *globals, s fgd.Summary) error {
	rows := make([][]string, 0, len(s.Runs))
	for _, r := range s.Runs {
		rows = append(rows, []string{strconv.FormatInt(r.Seed, 10), strconv.Itoa(r.Pods), strconv.Itoa(r.Tuned),
			strconv.Itoa(r.Failed), pct(r.AllocPct), pct(r.UnallocatedGPUPct), pct(r.FragPct), pct(r.FragRatioPct)})
	}
	if err := g.table([]string{"SEED", "PODS", "TUNED", "FAILED", "ALLOC@100%", "UNALLOC@100%", "FRAG@100%", "FRAG-RATIO@100%"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\npolicy %s, tune %g, %d seeds: median unallocated GPU at 100%% arrived = %s%%\n\n",
		s.Policy, s.Tune, len(s.Seeds), pct(s.MedianUnallocatedGPUPct))
	rows = rows[:0]
	for _, p := range s.Curve {
		for _, c := range simTableColumns {
			if p.ArrivedPct == c {
				rows = append(rows, []string{strconv.Itoa(c), pct(p.AllocPct), pct(p.UnallocatedGPUPct), pct(p.FragPct), pct(p.FragRatioPct)})
			}
		}
	}
	return g.table([]string{"ARRIVED%", "ALLOC% (median)", "UNALLOC%", "FRAG%", "FRAG-RATIO%"}, rows)
}

// writeReplayPlot draws a replay's median curve: unallocated and
// fragmented GPU against the arrived GPU request.
func writeReplayPlot(path string, sum fgd.Summary) error {
	if len(sum.Curve) == 0 {
		return fmt.Errorf("--plot: the replay has no curve to draw")
	}
	unalloc := plot.Series{Name: "unallocated GPU"}
	frag := plot.Series{Name: "fragmented GPU"}
	for _, p := range sum.Curve {
		x := float64(p.ArrivedPct)
		unalloc.X, unalloc.Y = append(unalloc.X, x), append(unalloc.Y, p.UnallocatedGPUPct)
		frag.X, frag.Y = append(frag.X, x), append(frag.Y, p.FragPct)
	}
	c := plot.Chart{Title: fmt.Sprintf("%s, tune %.1f, median of %d seeds: %.2f %% unallocated at 100 %% arrived",
		sum.Policy, sum.Tune, len(sum.Seeds), sum.MedianUnallocatedGPUPct),
		XLabel: "arrived GPU request (% of capacity)", YLabel: "% of GPU capacity", XMin: 0, XMax: float64(sum.Curve[len(sum.Curve)-1].ArrivedPct),
		Series: []plot.Series{unalloc, frag}}
	var b bytes.Buffer
	if err := c.PNG(&b, 900, 500); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}
