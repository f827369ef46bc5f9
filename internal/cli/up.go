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

	"github.com/suanli/suanli/internal/server"
)

func upCmd(g *globals) *cobra.Command {
	var addr string
	var commissionPct float64
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the server, console and control loop on an embedded SQLite database with the demo network",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if commissionPct < 0 || commissionPct > 100 {
				return fmt.Errorf("--commission-pct must be between 0 and 100")
			}
			t0 := time.Now()
			log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			abs, err := filepath.Abs(g.data)
			if err != nil {
				return err
			}
			// One embedded server per data dir: a restart after a crash takes
			// its own leader lease back at once.
			cfg := server.Config{DataDir: g.data, Addr: addr, Log: log, LeaderID: "embedded:" + abs}
			if cmd.Flags().Changed("commission-pct") {
				bps := int64(commissionPct*100 + 0.5)
				cfg.CommissionBPS = &bps
			}
			s, err := server.Open(ctx, cfg)
			if err != nil {
				return err
			}
			creds := filepath.Join(abs, server.CredentialsFile)
			fmt.Fprintf(g.stdout, "suanli is up in %s\n", time.Since(t0).Round(time.Millisecond))
			fmt.Fprintf(g.stdout, "  console:     %s/\n", s.URL)
			fmt.Fprintf(g.stdout, "  API:         %s/api/v1  (OpenAPI: %s/openapi.json)\n", s.URL, s.URL)
			fmt.Fprintf(g.stdout, "  credentials: %s\n", creds)
			fmt.Fprintf(g.stdout, "  try:         go run ./cmd/suanli job submit --center local --cpu 1000 --mem 256 --cmd 'echo hello' --wait\n")
			<-ctx.Done()
			fmt.Fprintln(g.stdout, "shutting down")
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&addr, "addr", server.DefaultAddr, "listen address host:port")
	cmd.Flags().Float64Var(&commissionPct, "commission-pct", 0, "operator commission in percent of each charge (default: the stored value, 10 on first start)")
	return cmd
}
