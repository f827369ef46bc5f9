package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/seed"
	"github.com/suanli/suanli/internal/server"
)

func serveCmd(g *globals) *cobra.Command {
	var addr, db string
	var commissionPct float64
	var leaseTTL time.Duration
	cmd := &cobra.Command{
		Use:   "serve --db postgres://…|sqlite://DIR",
		Short: "Run one server replica on a shared database (run `suanli migrate` first); replicas elect one leader",
		Long: "Every replica serves the API and the console. Exactly one at a time, elected through the database " +
			"(a lease whose token fences every leader write), runs the scheduler and the control loops; when it dies " +
			"another takes over within about --lease-ttl.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db == "" {
				return fmt.Errorf("--db is required (postgres://… or sqlite://DIR); `suanli up` runs the embedded demo")
			}
			if commissionPct < 0 || commissionPct > 100 {
				return fmt.Errorf("--commission-pct must be between 0 and 100")
			}
			if leaseTTL < 500*time.Millisecond || leaseTTL > 5*time.Minute {
				return fmt.Errorf("--lease-ttl must be between 500ms and 5m")
			}
			t0 := time.Now()
			log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg := server.Config{DataDir: g.data, Addr: addr, Log: log, DB: db, SkipSeed: true, LeaseTTL: leaseTTL}
			if cmd.Flags().Changed("commission-pct") {
				bps := int64(commissionPct*100 + 0.5)
				cfg.CommissionBPS = &bps
			}
			s, err := server.Open(ctx, cfg)
			if err != nil {
				return err
			}
			role := "follower"
			if s.Leading() {
				role = "leader"
			}
			fmt.Fprintf(g.stdout, "suanli is serving in %s as %s (%s)\n", time.Since(t0).Round(time.Millisecond), s.LeaderID(), role)
			fmt.Fprintf(g.stdout, "  API:     %s/api/v1\n", s.URL)
			fmt.Fprintf(g.stdout, "  console: %s/\n", s.URL)
			<-ctx.Done()
			fmt.Fprintln(g.stdout, "shutting down")
			return s.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", server.DefaultAddr, "listen address host:port")
	f.StringVar(&db, "db", "", "database: postgres://USER@HOST:PORT/DB or sqlite://DIR")
	f.Float64Var(&commissionPct, "commission-pct", 0, "operator commission in percent of each charge (default: the stored value)")
	f.DurationVar(&leaseTTL, "lease-ttl", server.DefaultLeaseTTL, "how long the leader lease lasts unrenewed: a dead leader is replaced within about this long")
	return cmd
}

func migrateCmd(g *globals) *cobra.Command {
	var db, serverURL string
	var demo bool
	cmd := &cobra.Command{
		Use:   "migrate --db postgres://…|sqlite://DIR",
		Short: "Create or upgrade the database schema; --demo also seeds the demo network",
		Long: "Brings the schema to this binary's version. On a new database it creates the platform operator and " +
			"prints its token once; with --demo it seeds the demo network instead and writes DATA/demo-credentials.json.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db == "" {
				return fmt.Errorf("--db is required (postgres://… or sqlite://DIR)")
			}
			ctx := cmd.Context()
			t0 := time.Now()
			st, err := server.OpenStore(ctx, db, g.data)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.EnsureSystemAccounts(ctx); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "schema up to date in %s\n", time.Since(t0).Round(time.Millisecond))
			if demo {
				log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
				if _, err := server.Seed(ctx, st, g.data, serverURL, log); err != nil {
					return err
				}
				abs, _ := filepath.Abs(filepath.Join(g.data, server.CredentialsFile)) // for display only
				fmt.Fprintf(g.stdout, "demo network seeded; credentials: %s\n", abs)
				return nil
			}
			ops, err := st.Orgs(ctx, core.RoleOperator)
			if err != nil {
				return err
			}
			if len(ops) > 0 {
				return nil
			}
			op, err := st.CreateOrg(ctx, "平台运营方 (operator)", seed.OperatorCreditCode, core.RoleOperator)
			if err != nil {
				return err
			}
			tok, err := st.CreateToken(ctx, op.ID, "bootstrap")
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "operator %s created; its token (shown once): %s\n", op.ID, tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&db, "db", "", "database: postgres://USER@HOST:PORT/DB or sqlite://DIR")
	f.BoolVar(&demo, "demo", false, "seed the demo network and write DATA/demo-credentials.json")
	f.StringVar(&serverURL, "server", "", "with --demo: the server URL to write into the credentials")
	return cmd
}
