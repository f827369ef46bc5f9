package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/bench"
)

func benchSchedCmd(g *globals) *cobra.Command {
	c := bench.SchedConfig{Nodes: 10_000, Pending: 100_000, Centers: 20, Seed: 1}
	cmd := &cobra.Command{
		Use:   "sched",
		Short: "One scheduling pass over a synthetic network, indexed and against a full-scan baseline",
		Long: "Builds --nodes nodes (8-card and 2-card accelerator nodes of five models, some CPU nodes) over --centers\n" +
			"centers and --pending queued jobs of mixed shapes (gangs, CPU jobs, model sets, center, region and\n" +
			"domestic constraints, priorities), then runs one pass of the scheduler and one of the baseline that\n" +
			"scans every node for every replica, checks they decide the same, and prints placements/s, the pass\n" +
			"time, per-decision latency and peak heap.",
		Example: "  suanli bench sched\n  suanli bench sched --nodes 2000 --pending 20000 --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "table" && g.output != "json" {
				return fmt.Errorf("--output must be table or json, not %q", g.output)
			}
			res, err := bench.Sched(c)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(res)
			}
			runs := []bench.SchedRun{res.Indexed}
			if res.Baseline != nil {
				runs = append(runs, *res.Baseline)
			}
			rows := [][]string{}
			for _, r := range runs {
				rows = append(rows, []string{r.Policy, fmt.Sprintf("%d/%d", r.Placed, r.Decisions), r.Pass.Round(1e6).String(),
					fmt.Sprintf("%.0f", r.PlacementsSec), fmt.Sprintf("%.0f", r.DecisionsSec), r.P50.String(), r.P99.String(),
					r.Max.String(), fmt.Sprintf("%.0f MiB", r.PeakHeapMiB)})
			}
			if err := g.table([]string{"POLICY", "PLACED/DECIDED", "PASS", "PLACEMENTS/S", "DECISIONS/S", "P50", "P99", "MAX", "PEAK HEAP"}, rows); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\n%d nodes, %d centers, %d pending; GOMAXPROCS=%d, %s\n", c.Nodes, c.Centers, c.Pending,
				runtime.GOMAXPROCS(0), runtime.Version())
			if res.Baseline != nil {
				fmt.Fprintf(g.stdout, "speedup over the baseline: %.1fx; same decisions: %v\n", res.Speedup, res.Same)
				if !res.Same {
					return exitCode(2)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Nodes, "nodes", c.Nodes, "nodes")
	f.IntVar(&c.Pending, "pending", c.Pending, "queued jobs")
	f.IntVar(&c.Centers, "centers", c.Centers, "centers")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "random seed of the synthetic network")
	f.BoolVar(&c.SkipBaseline, "skip-baseline", false, "do not run the full-scan baseline")
	return cmd
}
