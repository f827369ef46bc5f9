package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// TestPropSettlement drives the real SQLite store through random job
// lifecycles — submit, place, run, finish with random usage, cancel,
// repeated top-ups and repeated settlements — and checks the money
// invariants after every step:
//   - the ledger verifies (cached balances = fold of transfers; debits = credits);
//   - the wallet never goes below zero and its held amount equals the holds
//     of the jobs that have not ended;
//   - escrow holds exactly those holds, and nothing posted stays in escrow;
//   - a job is charged at most its hold, exactly once, and the provider's
//     share plus commission equals all charges.
func TestPropSettlement(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := setupSync(t, "OFF")
		ctx := context.Background()
		rate, _ := f.center.Prices.RateScaled(spec().Replicas[0], "A100")
		type jobState struct {
			id    string
			rate  int64 // the quoted (highest) rate; placements never exceed it
			hold  core.Micros
			state core.JobState
			cost  core.Micros
		}
		var jobs []*jobState
		credited := 10 * core.MicrosPerYuan
		refs := map[string]core.Micros{"open": credited}
		bps := rapid.Int64Range(0, core.CommissionBPSMax).Draw(rt, "bps")

		active := func() []*jobState {
			var out []*jobState
			for _, j := range jobs {
				if !j.state.Terminal() {
					out = append(out, j)
				}
			}
			return out
		}
		actions := map[string]func(*rapid.T){
			"submit": func(rt *rapid.T) {
				rate := rapid.Int64Range(0, 4_000_000).Draw(rt, "rate_micros_per_hour") * core.RateScale
				sp := spec()
				sp.MaxDuration = time.Duration(rapid.Int64Range(1, 3600).Draw(rt, "max_s")) * time.Second
				hold := f.s.Billing.HoldFor(sp, rate)
				w := f.wallet(t)
				j, err := f.s.SubmitJob(ctx, f.tenant.ID, sp, rate)
				if hold > w.Available() {
					if core.ErrorCode(err) != core.EInsufficientFunds {
						rt.Fatalf("submit of %d over available %d = %v, want insufficient_funds", hold, w.Available(), err)
					}
					return
				}
				if err != nil {
					rt.Fatalf("submit: %v", err)
				}
				jobs = append(jobs, &jobState{id: j.ID, rate: rate, hold: hold, state: core.JobQueued})
			},
			"run": func(rt *rapid.T) {
				var queued []*jobState
				for _, j := range active() {
					if j.state == core.JobQueued {
						queued = append(queued, j)
					}
				}
				if len(queued) == 0 {
					rt.Skip("nothing queued")
				}
				j := rapid.SampledFrom(queued).Draw(rt, "job")
				if _, err := f.s.ApplyPlan(ctx, []store.Assignment{{JobID: j.id, CenterID: f.center.ID,
					Placements: []core.Placement{{Index: 0, NodeID: f.node.ID, AccelModel: "A100", RateScaled: min(rate, j.rate)}}}}, nil); err != nil {
					rt.Fatal(err)
				}
				if err := f.s.MarkRunning(ctx, j.id, "run"); err != nil {
					rt.Fatal(err)
				}
				j.state = core.JobRunning
			},
			"finish": func(rt *rapid.T) {
				var running []*jobState
				for _, j := range active() {
					if j.state == core.JobRunning {
						running = append(running, j)
					}
				}
				if len(running) == 0 {
					rt.Skip("nothing running")
				}
				j := rapid.SampledFrom(running).Draw(rt, "job")
				usage := rapid.Int64Range(0, 5_000_000).Draw(rt, "usage_ms")
				state := rapid.SampledFrom([]core.JobState{core.JobSucceeded, core.JobFailed, core.JobTimedOut, core.JobCancelled}).Draw(rt, "end")
				res := store.Result{State: state, Replicas: []store.ReplicaResult{{Index: 0, UsageMs: usage}}}
				done, err := f.s.FinishJob(ctx, j.id, res, bps)
				if err != nil {
					rt.Fatalf("finish: %v", err)
				}
				if done.CostMicros > j.hold || done.CostMicros < 0 {
					rt.Fatalf("cost %d outside 0..hold %d", done.CostMicros, j.hold)
				}
				j.state, j.cost = state, done.CostMicros
				// A retried settlement is refused and changes nothing.
				if _, err := f.s.FinishJob(ctx, j.id, res, bps); core.ErrorCode(err) != core.EConflict {
					rt.Fatalf("second finish = %v, want conflict", err)
				}
			},
			"cancel": func(rt *rapid.T) {
				var queued []*jobState
				for _, j := range active() {
					if j.state == core.JobQueued {
						queued = append(queued, j)
					}
				}
				if len(queued) == 0 {
					rt.Skip("nothing queued")
				}
				j := rapid.SampledFrom(queued).Draw(rt, "job")
				if ended, err := f.s.CancelJob(ctx, j.id); err != nil || !ended {
					rt.Fatalf("cancel: %v %v", ended, err)
				}
				j.state = core.JobCancelled
			},
			"topup": func(rt *rapid.T) {
				ref := fmt.Sprintf("bank-%d", rapid.IntRange(0, 3).Draw(rt, "ref"))
				amount := core.Micros(rapid.Int64Range(1, 3_000_000).Draw(rt, "amount"))
				_, err := f.s.TopUp(ctx, f.tenant.ID, amount, ref)
				prev, seen := refs[ref]
				switch {
				case !seen && err == nil:
					refs[ref] = amount
					credited += amount
				case seen && prev == amount && err == nil: // idempotent replay
				case seen && prev != amount && core.ErrorCode(err) == core.EConflict:
				default:
					rt.Fatalf("topup %s of %d (seen %v, prev %d) = %v", ref, amount, seen, prev, err)
				}
			},
		}
		rt.Repeat(map[string]func(*rapid.T){
			"submit": actions["submit"], "run": actions["run"], "finish": actions["finish"],
			"cancel": actions["cancel"], "topup": actions["topup"],
			"": func(rt *rapid.T) { // invariants after every step
				if err := f.s.CheckLedger(ctx); err != nil {
					rt.Fatal(err)
				}
				w := f.wallet(t)
				var held, spent core.Micros
				for _, j := range jobs {
					if !j.state.Terminal() {
						held += j.hold
					}
					spent += j.cost
				}
				if w.Available() < 0 || w.DebitsPending != held || w.DebitsPosted != spent || w.CreditsPosted != credited {
					rt.Fatalf("wallet %+v, want held %d spent %d credited %d", w, held, spent, credited)
				}
				escrow, _ := f.s.Account(ctx, ledger.EscrowID)
				if escrow.CreditsPending != held || escrow.CreditsPosted != escrow.DebitsPosted {
					rt.Fatalf("escrow %+v, want pending %d and nothing posted left", escrow, held)
				}
				payable, _ := f.s.Account(ctx, ledger.PayableID(f.center.ProviderOrgID))
				comm, _ := f.s.Account(ctx, ledger.CommissionID)
				vat, _ := f.s.Account(ctx, VATPayableID)
				if payable.CreditsPosted+comm.CreditsPosted+vat.CreditsPosted != spent {
					rt.Fatalf("provider %d + commission %d + VAT %d != charges %d", payable.CreditsPosted, comm.CreditsPosted,
						vat.CreditsPosted, spent)
				}
			},
		})
	})
}
