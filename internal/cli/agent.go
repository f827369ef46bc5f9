package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/agent"
	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/executor"
	"github.com/suanli/suanli/internal/seed"
)

// centerFlags describe a center the agent registers when it does not exist.
type centerFlags struct {
	kind, region, display, coreHour, memHour string
	cardHour                                 []string
	domestic                                 bool
	green, pue                               int
}

func (f *centerFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "kind", "", "register the center if it does not exist: ai (智算), hpc (超算) or general (通算)")
	fl.StringVar(&f.region, "region", "", "the center's region (with --kind)")
	fl.StringVar(&f.display, "display-name", "", "the center's display name (with --kind)")
	fl.StringVar(&f.coreHour, "core-hour", "0.05", "list price per core-hour in CNY (with --kind)")
	fl.StringVar(&f.memHour, "mem-gib-hour", "0.005", "list price per GiB-hour of memory in CNY (with --kind)")
	fl.StringSliceVar(&f.cardHour, "card-hour", nil, "list price per card-hour, MODEL=CNY, repeatable, e.g. A100=8 (with --kind)")
	fl.BoolVar(&f.domestic, "domestic", false, "the center runs mainly domestic (国产) chips (with --kind)")
	fl.IntVar(&f.green, "green-percent", 0, "share of green power, 0-100 (with --kind)")
	fl.IntVar(&f.pue, "pue-milli", 0, "PUE x 1000 (with --kind)")
}

func (f *centerFlags) request(name string) (api.CenterRequest, error) {
	r := api.CenterRequest{Name: name, DisplayName: f.display, Kind: core.CenterKind(f.kind), Region: f.region,
		Domestic: f.domestic, GreenPercent: f.green, PUEMilli: f.pue, CardHour: map[string]core.Micros{}}
	if !r.Kind.Valid() {
		return r, fmt.Errorf("--kind must be ai, hpc or general, not %q", f.kind)
	}
	if r.Region == "" {
		return r, fmt.Errorf("--region is required to register a center")
	}
	var err error
	if r.CoreHour, err = core.ParseYuan(f.coreHour); err != nil {
		return r, fmt.Errorf("--core-hour: %w", err)
	}
	if r.MemGiBHour, err = core.ParseYuan(f.memHour); err != nil {
		return r, fmt.Errorf("--mem-gib-hour: %w", err)
	}
	for _, kv := range f.cardHour {
		model, price, ok := strings.Cut(kv, "=")
		if !ok {
			return r, fmt.Errorf("--card-hour %q: want MODEL=CNY", kv)
		}
		if r.CardHour[model], err = core.ParseYuan(price); err != nil {
			return r, fmt.Errorf("--card-hour %q: %w", kv, err)
		}
	}
	return r, nil
}

func centerCreateCmd(g *globals) *cobra.Command {
	var f centerFlags
	var provider string
	cmd := &cobra.Command{
		Use: "create NAME", Short: "Register a center run by its own system (Slurm, Kubernetes) through `suanli agent`",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			req, err := f.request(args[0])
			if err != nil {
				return err
			}
			req.ProviderOrgID = provider
			v, err := c.CreateCenter(cmd.Context(), req)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(v)
			}
			return g.table([]string{"NAME", "ID", "KIND", "REGION", "EXECUTOR", "PROVIDER"},
				[][]string{{v.Name, v.ID, string(v.Kind), v.Region, v.Executor, v.ProviderOrgID}})
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&provider, "provider", "", "provider org ID (operator only; a provider registers its own)")
	return cmd
}

// backendFlags hold every backend's flags; only the chosen backend's are used.
type backendFlags struct {
	name    string
	workDir string
	local   localFlags
	slurm   slurmFlags
	kube    kubeFlags
}

type localFlags struct {
	accelModel string
	accelCount int64
}

// agentBackends maps --backend to its constructor.
var agentBackends = map[string]func(ctx context.Context, f *backendFlags) (backend.Backend, error){
	"slurm":      newSlurmBackend,
	"kubernetes": newKubeBackend,
	"local": func(_ context.Context, f *backendFlags) (backend.Backend, error) {
		n := seed.LocalNode()
		if f.local.accelCount > 0 {
			if _, ok := core.LookupAccelerator(f.local.accelModel); !ok {
				return nil, fmt.Errorf("--local-accel-model %q is not in the accelerator catalog", f.local.accelModel)
			}
			n.AccelModel, n.AccelCount = f.local.accelModel, f.local.accelCount
		}
		return executor.NewLocalBackend(filepath.Join(f.workDir, "local"), n), nil
	},
}

func agentCmd(g *globals) *cobra.Command {
	var center string
	var interval time.Duration
	var cf centerFlags
	bf := &backendFlags{}
	cmd := &cobra.Command{
		Use:   "agent --center NAME --backend local|slurm|kubernetes",
		Short: "Join a center's own system (Slurm, Kubernetes, this machine) to the network",
		Long: "Run by a provider at its center with a provider token. Registers or updates the center's nodes from the " +
			"backend, heartbeats, runs the placements suanli's scheduler made for the center, and reports states, exit " +
			"codes, usage and logs. Runs carry their suanli key in the backend, so a restarted agent loses and duplicates nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if center == "" {
				return fmt.Errorf("--center is required")
			}
			mk, ok := agentBackends[bf.name]
			if !ok {
				return fmt.Errorf("--backend must be local, slurm or kubernetes, not %q", bf.name)
			}
			if interval < 100*time.Millisecond || interval > 10*time.Minute {
				return fmt.Errorf("--interval must be between 100ms and 10m")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := ensureCenter(ctx, c, center, &cf); err != nil {
				return err
			}
			if bf.workDir == "" {
				bf.workDir = filepath.Join(g.data, "agent", center)
			}
			if err := os.MkdirAll(bf.workDir, 0o755); err != nil {
				return fmt.Errorf("--work-dir: %w", err)
			}
			b, err := mk(ctx, bf)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			a := &agent.Agent{Server: c, Center: center, Backend: b, BackendName: bf.name, Interval: interval, Log: log}
			fmt.Fprintf(g.stdout, "agent for center %s (%s backend) syncing with %s every %s\n", center, bf.name, c.Server, interval)
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&center, "center", "", "the center's name")
	f.StringVar(&bf.name, "backend", "local", "the center's system: local, slurm or kubernetes")
	f.DurationVar(&interval, "interval", agent.DefaultInterval, "sync interval; the server declares the center lost after 3 missed syncs")
	f.StringVar(&bf.workDir, "work-dir", "", "where the agent keeps job scripts and logs (default DATA/agent/CENTER)")
	f.StringVar(&bf.local.accelModel, "local-accel-model", "", "local backend: accelerator model to model on this machine")
	f.Int64Var(&bf.local.accelCount, "local-accel-count", 0, "local backend: number of modelled accelerators")
	addBackendFlags(cmd, bf)
	cf.add(cmd)
	return cmd
}

// ensureCenter checks the center exists, registering it when --kind is
// given.
func ensureCenter(ctx context.Context, c *client.Client, name string, cf *centerFlags) error {
	v, err := c.Center(ctx, name)
	if err == nil {
		if v.Executor != core.ExecutorAgent {
			return fmt.Errorf("center %s is run by the %s executor, not by an agent", name, v.Executor)
		}
		return nil
	}
	if e, ok := err.(*client.Error); !ok || e.Status != 404 || cf.kind == "" {
		if ok && e.Status == 404 {
			return fmt.Errorf("center %s does not exist: register it with `suanli center create` or pass --kind and --region", name)
		}
		return err
	}
	req, err := cf.request(name)
	if err != nil {
		return err
	}
	_, err = c.CreateCenter(ctx, req)
	return err
}
