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
	cmd.AddCommand(ledgerBench, benchSchedCmd(g), benchAPICmd(g))
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

func benchAPICmd(g *globals) *cobra.Command {
	c := bench.DefaultAPIConfig()
	var postgres string
	var noSQLite bool
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Job submissions/s and latency over HTTP against a server on SQLite and on PostgreSQL",
		Long: "Starts a server in this process on a fresh store (SQLite in a temp dir; with --postgres, a fresh database\n" +
			"on that server, dropped after) and drives POST /api/v1/jobs from --clients concurrent HTTP clients on\n" +
			"loopback for --duration after --warmup, while the control loop places and runs the jobs. Prints\n" +
			"submissions/s and p50/p99 latency per store, and checks the ledger at the end.",
		Example: "  suanli bench api\n  suanli bench api --postgres postgres://suanli@127.0.0.1:55432/postgres --clients 128 --duration 20s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "table" && g.output != "json" {
				return fmt.Errorf("--output must be table or json, not %q", g.output)
			}
			c.Stores = nil
			if !noSQLite {
				c.Stores = append(c.Stores, "sqlite")
			}
			if postgres != "" {
				c.Stores = append(c.Stores, postgres)
			}
			res, err := bench.RunAPI(cmd.Context(), c)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(res)
			}
			rows := make([][]string, 0, len(res))
			ok := true
			for _, r := range res {
				ok = ok && r.LedgerOK
				rows = append(rows, []string{r.Store, fmt.Sprint(r.Clients), fmt.Sprint(r.Submissions), fmt.Sprint(r.Errors),
					fmt.Sprintf("%.0f", r.PerSecond), r.P50.Round(10 * time.Microsecond).String(),
					r.P99.Round(10 * time.Microsecond).String(), r.Max.Round(10 * time.Microsecond).String(), fmt.Sprint(r.LedgerOK)})
			}
			if err := g.table([]string{"STORE", "CLIENTS", "SUBMISSIONS", "ERRORS", "PER-S", "P50", "P99", "MAX", "LEDGER-OK"}, rows); err != nil {
				return err
			}
			if !ok {
				return exitCode(2)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&postgres, "postgres", "", "also measure PostgreSQL: a DSN of a server where the bench may create a database")
	f.BoolVar(&noSQLite, "no-sqlite", false, "skip SQLite")
	f.IntVar(&c.Clients, "clients", c.Clients, "concurrent HTTP clients")
	f.DurationVar(&c.Duration, "duration", c.Duration, "measured time per store")
	f.DurationVar(&c.Warmup, "warmup", c.Warmup, "unmeasured time before")
	return cmd
}
