package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/core"
)

// waitPoll is how often `--wait` polls the job.
const waitPoll = 250 * time.Millisecond

func kindName(k core.CenterKind) string {
	switch k {
	case core.KindAI:
		return "ai/智算"
	case core.KindHPC:
		return "hpc/超算"
	case core.KindGeneral:
		return "general/通算"
	}
	return string(k)
}

func centerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "center", Short: "Compute centers"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List centers with capacity, utilization and prices", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cs, err := c.Centers(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(cs)
			}
			rows := make([][]string, 0, len(cs))
			for _, v := range cs {
				exec := v.Executor
				if v.Status != core.CenterAvailable && v.StatusReason != "" {
					v.Status += " (" + v.StatusReason + ")"
				}
				rows = append(rows, []string{v.Name, kindName(v.Kind), v.Region, exec, v.Status,
					fmt.Sprintf("%d/%d", v.Stats.ReadyNodes, v.Stats.Nodes), accelSummary(v.Stats.Accelerators),
					fmt.Sprintf("%.1f", v.Stats.SchedulablePFLOPS), fmt.Sprintf("%.1f%%", 100*v.Util), priceSummary(v.Prices)})
			}
			return g.table([]string{"NAME", "KIND", "REGION", "EXECUTOR", "STATUS", "NODES", "ACCELERATORS", "SCHED-P", "UTIL", "PRICES (CNY/h)"}, rows)
		},
	})
	cmd.AddCommand(centerCreateCmd(g))
	return cmd
}

func accelSummary(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s x%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func priceSummary(p core.PriceBook) string {
	keys := make([]string, 0, len(p.CardHour))
	for k := range p.CardHour {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s/card", k, p.CardHour[k].Yuan()))
	}
	parts = append(parts, fmt.Sprintf("%s/core", p.CoreHour.Exact()))
	return strings.Join(parts, ", ")
}

func jobCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Batch jobs"}
	cmd.AddCommand(submitCmd(g), jobListCmd(g), jobGetCmd(g), jobLogsCmd(g), jobCancelCmd(g))
	return cmd
}

func submitCmd(g *globals) *cobra.Command {
	var req api.JobRequest
	var r api.ReplicaRequest
	var models string
	var duration, maxDuration time.Duration
	var wait bool
	var weights string
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Submit a batch job (a gang of identical replicas that start together)",
		Long: "Submit a batch job. On the real `local` center --cmd runs as a child process; on simulated centers the\n" +
			"job runs for its declared --duration. With --wait, progress is printed to stderr and the command exits\n" +
			"0 only if the job succeeded.",
		Example: "  suanli job submit --center local --cpu 1000 --mem 256 --cmd 'echo hello' --wait --output json\n" +
			"  suanli job submit --replicas 2 --accel Ascend910B --accel-count 8 --cpu 64000 --mem 262144 --duration 30s --wait\n" +
			"  suanli job submit --accel-count 8 --cpu 64000 --mem 262144 --duration 1m --data-region beijing --data-size-gib 500 \\\n" +
			"      --weights price=40,network=40,locality=20",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if weights != "" {
				w, err := core.ParseScoreWeights(weights)
				if err != nil {
					return fmt.Errorf("--weights: %w", err)
				}
				req.Weights = &api.WeightsRequest{Price: w.Price, Network: w.Network, Locality: w.Locality,
					Domestic: w.Domestic, Green: w.Green, Load: w.Load}
			}
			if err := req.Data.Validate(); err != nil {
				return flagError(dataFlag(err))
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if models != "" {
				r.AccelModels = strings.Split(models, ",")
				if r.AccelCount == 0 {
					r.AccelCount = 1
				}
			}
			if duration%time.Second != 0 || maxDuration%time.Second != 0 {
				return fmt.Errorf("--duration and --max-duration are whole seconds")
			}
			req.DurationS, req.MaxDurationS = int64(duration/time.Second), int64(maxDuration/time.Second)
			req.Replicas = []api.ReplicaRequest{r}
			j, err := c.Submit(cmd.Context(), req)
			if err != nil {
				return err
			}
			if !wait {
				return g.printJob(j)
			}
			fmt.Fprintf(g.stderr, "submitted %s (hold %s CNY)\n", j.ID, j.HoldMicros.Yuan())
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(cmd.Context(), maxDuration+24*time.Hour)
			defer cancel()
			j, err = c.Wait(ctx, j.ID, waitPoll, func(v api.JobView) {
				where := ""
				if v.Center != "" {
					where = " on " + v.Center
					if v.Simulated {
						where += " (simulated)"
					}
				}
				reason := ""
				if v.Reason != "" {
					reason = ": " + v.Reason
				}
				fmt.Fprintf(g.stderr, "[%6.1fs] %s%s%s\n", time.Since(t0).Seconds(), v.State, where, reason)
			})
			if err != nil {
				return err
			}
			if err := g.printJob(j); err != nil {
				return err
			}
			if j.State != core.JobSucceeded {
				return exitCode(1)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "job name")
	f.StringVar(&req.Command, "cmd", "", "shell command (real centers)")
	f.DurationVar(&duration, "duration", 0, "declared run time (simulated centers), e.g. 30s")
	f.DurationVar(&maxDuration, "max-duration", time.Hour, "stop the job after this long; the wallet hold covers it")
	f.IntVar(&req.ExitCode, "exit-code", 0, "exit code a simulated run reports")
	f.IntVar(&req.Priority, "priority", 0, "priority (-1000..1000); higher runs first and may preempt lower")
	f.StringVar(&req.PriorityClass, "priority-class", "", "a priority class (suanli priority-class list); the job gets its value as priority")
	f.StringVar(&req.Tier, "tier", "", "price tier: spot (0.6x, preemptible by equal priority), normal (default) or guaranteed (1.3x, never preempted)")
	f.IntVar(&r.Count, "replicas", 1, "number of replicas in the gang")
	f.StringVar(&models, "accel", "", "acceptable accelerator models, comma-separated (e.g. Ascend910B,A800)")
	f.Int64Var(&r.AccelCount, "accel-count", 0, "accelerators per replica")
	f.Int64Var(&r.CPUMilli, "cpu", 1000, "CPU per replica in milli-cores")
	f.Int64Var(&r.MemMiB, "mem", 1024, "memory per replica in MiB")
	f.StringVar(&req.Constraints.Center, "center", "", "run only on this center")
	f.StringVar(&req.Constraints.Region, "region", "", "run only in this region")
	f.StringVar((*string)(&req.Constraints.Kind), "kind", "", "run only on centers of this kind: ai, hpc, general")
	f.BoolVar(&req.Constraints.DomesticOnly, "domestic", false, "domestic (国产) chips only")
	f.BoolVar(&wait, "wait", false, "wait for the job to end, printing progress")
	f.StringVar(&req.Data.Region, "data-region", "", "region where the job's input data is; centers near it rank higher")
	f.StringSliceVar(&req.Data.Centers, "data-center", nil, "a center already holding a copy of the data (repeatable)")
	f.Int64Var(&req.Data.SizeGiB, "data-size-gib", 0, "size of the job's input data in GiB")
	f.StringVar(&weights, "weights", "", "weights ranking centers for this job, e.g. price=40,network=40,locality=20 (factors left out are 0)")
	return cmd
}

// dataFlag names a data field error by its flag: data.size_gib is set by
// --data-size-gib.
func dataFlag(err error) error {
	var ce *core.Error
	if errors.As(err, &ce) && ce.Field != "" {
		e := *ce
		e.Field = strings.Replace(strings.TrimSuffix(e.Field, "s"), ".", "_", 1)
		return &e
	}
	return err
}

func (g *globals) printJob(j api.JobView) error {
	if g.output == "json" {
		return g.json(j)
	}
	return g.table([]string{"ID", "NAME", "STATE", "CENTER", "REPLICAS", "USAGE", "COST (CNY)", "EXIT", "REASON"},
		[][]string{jobRow(j)})
}

func jobRow(j api.JobView) []string {
	exit := "-"
	if j.ExitCode != nil {
		exit = strconv.Itoa(*j.ExitCode)
	}
	center := j.Center
	if center == "" {
		center = "-"
	} else if j.Simulated {
		center += " (sim)"
	}
	name := j.Name
	if name == "" {
		name = "-"
	}
	reason := j.Reason
	if reason == "" {
		reason = "-"
	}
	return []string{j.ID, name, string(j.State), center, strconv.Itoa(len(j.Replicas)),
		fmt.Sprintf("%.1fs", j.UsageS), j.CostMicros.Yuan(), exit, reason}
}

func jobListCmd(g *globals) *cobra.Command {
	var state, center string
	var limit, offset int
	cmd := &cobra.Command{
		Use: "list", Short: "List jobs (newest first)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			jobs, total, err := c.Jobs(cmd.Context(), clientFilter(state, center, limit, offset))
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(map[string]any{"jobs": jobs, "total": total})
			}
			rows := make([][]string, 0, len(jobs))
			for _, j := range jobs {
				rows = append(rows, jobRow(j))
			}
			if err := g.table([]string{"ID", "NAME", "STATE", "CENTER", "REPLICAS", "USAGE", "COST (CNY)", "EXIT", "REASON"}, rows); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "%d of %d jobs\n", len(jobs), total)
			return nil
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state")
	cmd.Flags().StringVar(&center, "center", "", "only jobs on this center")
	cmd.Flags().IntVar(&limit, "limit", 50, "page size (max 500)")
	cmd.Flags().IntVar(&offset, "offset", 0, "page offset")
	return cmd
}

func jobGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "get ID", Short: "Show a job with its placements and events", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			j, err := c.Job(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			evs, err := c.Events(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(map[string]any{"job": j, "events": evs})
			}
			if err := g.printJob(j); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout)
			rows := [][]string{}
			for _, p := range j.Placements {
				exit := "-"
				if p.ExitCode != nil {
					exit = strconv.Itoa(*p.ExitCode)
				}
				model := p.AccelModel
				if model == "" {
					model = "-"
				}
				rows = append(rows, []string{strconv.Itoa(p.Index), p.NodeName, model, fmt.Sprintf("%.1fs", float64(p.UsageMs)/1000), exit})
			}
			if err := g.table([]string{"REPLICA", "NODE", "ACCELERATOR", "USAGE", "EXIT"}, rows); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout)
			rows = rows[:0]
			for _, e := range evs {
				rows = append(rows, []string{e.At.Local().Format("2006-01-02 15:04:05.000"), e.Type, e.Message})
			}
			return g.table([]string{"TIME", "EVENT", "MESSAGE"}, rows)
		},
	}
}

func jobLogsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "logs ID", Short: "Print a job's logs (stdout and stderr)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			logs, err := c.Logs(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(map[string]string{"job_id": args[0], "logs": logs})
			}
			_, err = fmt.Fprint(g.stdout, logs)
			return err
		},
	}
}

func jobCancelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "cancel ID", Short: "Cancel a job (a running job is stopped and pays for the time it ran)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			j, err := c.Cancel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.printJob(j)
		},
	}
}

func walletCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "wallet", Short: "Tenant wallets"}
	var org string
	show := &cobra.Command{
		Use: "show", Short: "Show a wallet (tenants: their own; the operator: --org)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			w, err := c.Wallet(cmd.Context(), org)
			if err != nil {
				return err
			}
			return g.printWallet(w)
		},
	}
	show.Flags().StringVar(&org, "org", "", "tenant org ID (operator only)")
	var topOrg, amount, ref string
	topup := &cobra.Command{
		Use: "topup", Short: "Credit a tenant's wallet (operator)", Args: cobra.NoArgs,
		Example: "  suanli --as operator wallet topup --org ORG_ID --amount 5000 --ref BANK-2026-0001",
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := core.ParseYuan(amount)
			if err != nil {
				return fmt.Errorf("--amount: %w", err)
			}
			if ref == "" {
				ref = fmt.Sprintf("cli-%d", time.Now().UnixNano())
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			w, err := c.TopUp(cmd.Context(), topOrg, m, ref)
			if err != nil {
				return err
			}
			return g.printWallet(w)
		},
	}
	topup.Flags().StringVar(&topOrg, "org", "", "tenant org ID")
	topup.Flags().StringVar(&amount, "amount", "", "amount in CNY, e.g. 5000 or 12.50")
	topup.Flags().StringVar(&ref, "ref", "", "bank transfer reference; repeating it does not credit twice (default: unique)")
	_ = topup.MarkFlagRequired("org")    // flag exists; error impossible
	_ = topup.MarkFlagRequired("amount") // flag exists; error impossible
	cmd.AddCommand(show, topup)
	return cmd
}

func (g *globals) printWallet(w api.WalletView) error {
	if g.output == "json" {
		return g.json(w)
	}
	return g.table([]string{"ORG", "AVAILABLE (CNY)", "HELD", "SPENT", "CREDITED"},
		[][]string{{w.OrgID, w.Available, w.Held, w.Spent, w.CreditedMicros.Yuan()}})
}

func ledgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "The double-entry ledger: verification and corrections"}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check every money invariant on the server (operator); exits 2 with a report on any violation",
		Long: "Checks: postings balance per ledger; each account's balance equals the sum of its postings; the hash\n" +
			"chain is intact; no limited account (wallets, grants, budgets) is over its limit; every job was charged\n" +
			"what its usage costs, exactly once, paid and split in full; every open hold has a live cause; escrow\n" +
			"holds no posted money; voucher grants are within their yearly caps.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			problems, err := c.Verify(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				if err := g.json(map[string]any{"ok": len(problems) == 0, "problems": problems}); err != nil {
					return err
				}
			} else if len(problems) == 0 {
				fmt.Fprintln(g.stdout, "ledger verified: balanced, hash chain intact, every job charged exactly once, every hold live, caps respected")
			} else {
				fmt.Fprintf(g.stdout, "%d problems:\n", len(problems))
				for _, p := range problems {
					fmt.Fprintln(g.stdout, "  - "+p)
				}
			}
			if len(problems) > 0 {
				return exitCode(2)
			}
			return nil
		},
	})
	ledgerCorrections(g, cmd)
	return cmd
}
