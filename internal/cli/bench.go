package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/bench"
)

func benchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Local benchmarks (no server needed)"}
	c := bench.DefaultConfig()
	ledgerBench := &cobra.Command{
		Use:   "ledger",
		Short: "Durable transfers/s of the SQLite ledger (fsync on), batched, one at a time and concurrent",
		Long: "Open a fresh SQLite store (WAL, synchronous=FULL) in a temp dir, open tenant wallets that must not go\n" +
			"negative, and apply a mix of top-ups, holds, posts and voids: batched (--batch transfers per database\n" +
			"transaction), single (one transfer per transaction, one after another) and concurrent (--workers\n" +
			"goroutines each applying one transfer at a time, group-committed). The ledger is verified at the end.",
		Example: "  suanli bench ledger\n  suanli bench ledger --transfers 50000 --batch 500 --single 1000 --concurrent 0 --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "table" && g.output != "json" {
				return fmt.Errorf("--output must be table or json, not %q", g.output)
			}
			res, err := bench.Run(cmd.Context(), c)
			if err != nil {
				return err
			}
			if g.output == "json" {
				err = g.json(res)
			} else {
				err = printBench(g, c, res)
			}
			if err != nil {
				return err
			}
			if !res.LedgerOK {
				return exitCode(2)
			}
			return nil
		},
	}
	f := ledgerBench.Flags()
	f.IntVar(&c.Transfers, "transfers", c.Transfers, "transfers in batched mode (0 skips it)")
	f.IntVar(&c.Batch, "batch", c.Batch, "transfers per database transaction in batched mode")
	f.IntVar(&c.Accounts, "accounts", c.Accounts, "tenant wallets")
	f.IntVar(&c.Single, "single", c.Single, "transfers in single mode, one per transaction (0 skips it)")
	f.IntVar(&c.Concurrent, "concurrent", c.Concurrent, "transfers in concurrent mode (0 skips it)")
	f.IntVar(&c.Workers, "workers", c.Workers, "goroutines in concurrent mode")
	f.StringVar(&c.Dir, "dir", "", "directory for the database, to measure a particular disk (default: a temp dir, removed after)")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the transfer mix")
	cmd.AddCommand(ledgerBench, benchSchedCmd(g))
	return cmd
}

func printBench(g *globals, c bench.Config, res bench.Result) error {
	rows := make([][]string, 0, len(res.Modes))
	for _, m := range res.Modes {
		per := "1"
		switch m.Name {
		case "batched":
			per = fmt.Sprint(c.Batch)
		case "concurrent":
			per = fmt.Sprintf("%.1f avg, %d workers", float64(m.Transfers)/float64(max(m.Transactions, 1)), c.Workers)
		}
		rows = append(rows, []string{m.Name, fmt.Sprint(m.Transfers), fmt.Sprint(m.Transactions), per,
			fmt.Sprintf("%.0f", m.PerSecond), dur(m.P50), dur(m.P99), dur(m.Max)})
	}
	if err := g.table([]string{"MODE", "TRANSFERS", "TXNS", "PER TXN", "TRANSFERS/S", "P50", "P99", "MAX"}, rows); err != nil {
		return err
	}
	check := "ok"
	if !res.LedgerOK {
		check = "FAILED: " + res.LedgerErr
	}
	fmt.Fprintf(g.stdout, "\nlatency: per transaction (batched, single); per request incl. queueing (concurrent)\n")
	fmt.Fprintf(g.stdout, "mix: %d top-ups, %d holds, %d posts, %d voids over %d wallets; journal %d transfers\n",
		res.Mix["topup"], res.Mix["hold"], res.Mix["post"], res.Mix["void"], res.Accounts, res.Journal)
	fmt.Fprintf(g.stdout, "machine: GOMAXPROCS=%d, %d CPUs, %s %s/%s\n", res.GOMAXPROCS, res.NumCPU, res.GoVersion, res.GOOS, res.GOARCH)
	fmt.Fprintf(g.stdout, "fsync: %s\n", res.Fsync)
	fmt.Fprintf(g.stdout, "ledger check: %s\n", check)
	return nil
}

func dur(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
