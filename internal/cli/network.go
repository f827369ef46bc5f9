package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/core"
)

// networkCmd shows and edits the links between regions (运力) that the
// scheduler uses to estimate moving a job's data to a center.
func networkCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "The network between regions (运力): latency and bandwidth"}
	list := &cobra.Command{
		Use: "links", Short: "List the links between regions, each once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ls, err := c.Links(cmd.Context())
			if err != nil {
				return err
			}
			return g.printLinks(ls)
		},
	}
	link := &cobra.Command{Use: "link", Short: "Set or remove one link (operator)"}
	var l core.Link
	set := &cobra.Command{
		Use: "set", Short: "Set the link between two regions, either way round (operator)", Args: cobra.NoArgs,
		Example: "  suanli --as operator network link set --from beijing --to shanghai --latency-ms 12 --bandwidth-mbps 100000",
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Checked here too, so a bad flag reads as a flag, not as a field.
			if err := l.Validate(); err != nil {
				return flagError(err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.SetLink(cmd.Context(), l); err != nil {
				return err
			}
			return g.printLinks([]core.Link{l})
		},
	}
	f := set.Flags()
	f.StringVar(&l.From, "from", "", "one region, as centers name theirs")
	f.StringVar(&l.To, "to", "", "the other region")
	f.Int64Var(&l.LatencyMs, "latency-ms", 0, fmt.Sprintf("one-way latency in milliseconds, 0..%d", core.LinkLatencyMsMax))
	f.Int64Var(&l.BandwidthMbps, "bandwidth-mbps", 0, fmt.Sprintf("bandwidth in Mbit/s, 1..%d", core.LinkMbpsMax))
	rm := &cobra.Command{
		Use: "rm FROM TO", Short: "Remove the link between two regions, either way round (operator)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.DeleteLink(cmd.Context(), args[0], args[1])
		},
	}
	link.AddCommand(set, rm)
	cmd.AddCommand(list, link)
	return cmd
}

// flagError renames a field error's field as the CLI flag that set it:
// "latency_ms" → "--latency-ms".
func flagError(err error) error {
	var ce *core.Error
	if errors.As(err, &ce) && ce.Field != "" {
		return fmt.Errorf("--%s: %s", strings.ReplaceAll(ce.Field, "_", "-"), ce.Message)
	}
	return err
}

func (g *globals) printLinks(ls []core.Link) error {
	if g.output == "json" {
		return g.json(ls)
	}
	rows := make([][]string, 0, len(ls))
	for _, l := range ls {
		rows = append(rows, []string{l.From, l.To, strconv.FormatInt(l.LatencyMs, 10), strconv.FormatInt(l.BandwidthMbps, 10),
			// What moving 100 GiB over the link takes, to read the figures by.
			fmt.Sprintf("%.1f", float64(l.TransferMs(100))/1000)})
	}
	return g.table([]string{"FROM", "TO", "LATENCY (ms)", "BANDWIDTH (Mbit/s)", "100 GiB (s)"}, rows)
}

// schedulerCmd shows and sets the platform's default weights for ranking
// the centers able to run a job.
func schedulerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "scheduler", Short: "The scheduler's platform-wide settings"}
	weights := &cobra.Command{
		Use:   "weights",
		Short: "Show the platform's default weights for ranking centers",
		Long: "The weights rank the centers able to run a job now, each 0.." + strconv.Itoa(core.ScoreWeightMax) +
			"; a tenant's (org policy --weights) or a job's (job submit --weights) override them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			w, err := c.SchedWeights(cmd.Context())
			if err != nil {
				return err
			}
			return g.printWeights(w)
		},
	}
	set := &cobra.Command{
		Use:     "set FACTOR=N,...",
		Short:   "Set the platform's default weights (operator); factors left out are 0",
		Example: "  suanli --as operator scheduler weights set price=60,network=15,locality=10,domestic=5,green=5,load=5",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := core.ParseScoreWeights(args[0])
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.SetSchedWeights(cmd.Context(), w); err != nil {
				return err
			}
			return g.printWeights(w)
		},
	}
	weights.AddCommand(set)
	cmd.AddCommand(weights)
	return cmd
}

func (g *globals) printWeights(w core.ScoreWeights) error {
	if g.output == "json" {
		return g.json(w)
	}
	rows := make([][]string, 0, len(core.ScoreFactors))
	for i, v := range w.Array() {
		rows = append(rows, []string{core.ScoreFactors[i], strconv.Itoa(v)})
	}
	return g.table([]string{"FACTOR", "WEIGHT"}, rows)
}
