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

// TestPropMoneyOps drives random sequences of top-ups, jobs (hold, capture
// with a 算力券 share), voucher grants, refunds, raw holds that are posted,
// voided or left to expire on a controlled clock, and checks after every
// step that the ledger checks out and voucher money adds up, and at the end
// of each sequence that the store's full verification (Store.Verify: every
// job charged exactly once, live holds, caps) finds nothing: the funding body owes exactly what jobs
// were paid by vouchers, grants never exceed the yearly cap or the budget.
func TestPropMoneyOps(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := setupSync(t, "OFF")
		ctx := context.Background()
		clock := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		f.s.Now = func() time.Time { return clock }
		capYear := core.Micros(rapid.Int64Range(1, 3_000_000).Draw(rt, "cap"))
		budget := core.Micros(rapid.Int64Range(1, 5_000_000).Draw(rt, "budget"))
		v, err := f.s.CreateVoucherScheme(ctx, store.VoucherScheme{Name: "s", Issuer: "bureau", ShareBPS: 2000,
			DomesticShareBPS: 3000, CapPerTenantYear: capYear, Budget: budget, ValidFrom: clock.Add(-time.Hour),
			ValidUntil: clock.Add(365 * 24 * time.Hour)}, "op")
		if err != nil {
			rt.Fatal(err)
		}
		rate, _ := f.center.Prices.RateScaled(spec().Replicas[0], "A100")
		var ended []core.Job
		granted := core.Micros(0)
		grants := map[string]core.Micros{}
		holds := []string{}
		n := 0
		next := func() string { n++; return fmt.Sprint(n) }

		rt.Repeat(map[string]func(*rapid.T){
			"topup": func(rt *rapid.T) {
				if _, err := f.s.TopUp(ctx, f.tenant.ID, core.Micros(rapid.Int64Range(1, 2_000_000).Draw(rt, "amount")), next()); err != nil {
					rt.Fatal(err)
				}
			},
			"grant": func(rt *rapid.T) {
				ref := fmt.Sprint(rapid.IntRange(0, 4).Draw(rt, "ref"))
				amount := core.Micros(rapid.Int64Range(1, 2_000_000).Draw(rt, "amount"))
				_, err := f.s.GrantVoucher(ctx, v.ID, f.tenant.ID, amount, ref, "op")
				prev, seen := grants[ref]
				switch {
				case seen && prev == amount:
					if err != nil {
						rt.Fatalf("replayed grant: %v", err)
					}
				case seen:
					if core.ErrorCode(err) != core.EConflict {
						rt.Fatalf("reused grant ref: %v, want conflict", err)
					}
				case granted+amount > capYear:
					if core.ErrorCode(err) != core.EInvalid {
						rt.Fatalf("grant over the cap: %v, want invalid", err)
					}
				case granted+amount > budget:
					if core.ErrorCode(err) != core.EInsufficientFunds {
						rt.Fatalf("grant over the budget: %v, want insufficient_funds", err)
					}
				default:
					if err != nil {
						rt.Fatalf("grant: %v", err)
					}
					grants[ref], granted = amount, granted+amount
				}
			},
			"job": func(rt *rapid.T) {
				sp := spec()
				sp.MaxDuration = time.Duration(rapid.Int64Range(1, 7200).Draw(rt, "max_s")) * time.Second
				j, err := f.s.SubmitJob(ctx, f.tenant.ID, sp, rate)
				if core.ErrorCode(err) == core.EInsufficientFunds {
					return
				}
				if err != nil {
					rt.Fatal(err)
				}
				f.place(t, j.ID)
				if err := f.s.MarkRunning(ctx, j.ID, "run"); err != nil {
					rt.Fatal(err)
				}
				usage := rapid.Int64Range(0, 8_000_000).Draw(rt, "usage_ms")
				done, err := f.s.FinishJob(ctx, j.ID, store.Result{State: core.JobSucceeded,
					Replicas: []store.ReplicaResult{{Index: 0, UsageMs: usage}}}, 1000)
				if err != nil {
					rt.Fatal(err)
				}
				if done.Charges.VoucherMicros > done.CostMicros*3/10+1 {
					rt.Fatalf("voucher paid %d of %d, more than its share", done.Charges.VoucherMicros, done.CostMicros)
				}
				ended = append(ended, done)
			},
			"refund": func(rt *rapid.T) {
				if len(ended) == 0 {
					rt.Skip("no ended job")
				}
				j := rapid.SampledFrom(ended).Draw(rt, "job")
				amount := core.Micros(rapid.Int64Range(1, 1_000_000).Draw(rt, "amount"))
				err := f.s.Refund(ctx, j.ID, amount, next(), "test", "op", 1000)
				if err != nil && core.ErrorCode(err) != core.EInvalid && core.ErrorCode(err) != core.EInsufficientFunds {
					rt.Fatalf("refund: %v", err)
				}
			},
			"hold": func(rt *rapid.T) {
				id := "raw-" + next()
				err := f.s.ApplyTransfers(ctx, []ledger.Transfer{{ID: id, DebitAccountID: ledger.WalletID(f.tenant.ID),
					CreditAccountID: ledger.EscrowID, Amount: core.Micros(rapid.Int64Range(1, 1_000_000).Draw(rt, "amount")),
					Flags: ledger.Pending, Code: "hold", ExpiresAt: clock.Add(time.Duration(rapid.IntRange(1, 120).Draw(rt, "ttl_s")) * time.Second)}})
				if err == nil {
					holds = append(holds, id)
				} else if core.ErrorCode(err) != core.EInsufficientFunds {
					rt.Fatal(err)
				}
			},
			"resolve": func(rt *rapid.T) {
				if len(holds) == 0 {
					rt.Skip("no raw hold")
				}
				id := rapid.SampledFrom(holds).Draw(rt, "hold")
				tr := ledger.Transfer{ID: "res-" + next(), PendingID: id, Flags: ledger.VoidPending, Code: "release"}
				if rapid.Bool().Draw(rt, "post") {
					tr.Flags, tr.Amount, tr.Code = ledger.PostPending, 1, "capture"
				}
				err := f.s.ApplyTransfers(ctx, []ledger.Transfer{tr})
				if err != nil && core.ErrorCode(err) != core.EConflict { // resolved or expired already
					rt.Fatal(err)
				}
				if tr.Flags == ledger.PostPending && err == nil {
					// A posted raw hold leaves money in escrow; move it on as an
					// operator adjustment so escrow stays empty of posted money.
					if err := f.s.ApplyTransfers(ctx, []ledger.Transfer{{ID: "fwd-" + tr.ID, DebitAccountID: ledger.EscrowID,
						CreditAccountID: AdjustmentsID, Amount: 1, Code: "adjustment", Reason: "test", Actor: "op"}}); err != nil {
						rt.Fatal(err)
					}
				}
			},
			"tick": func(rt *rapid.T) {
				clock = clock.Add(time.Duration(rapid.IntRange(1, 90).Draw(rt, "s")) * time.Second)
				if _, err := f.s.ExpireHolds(ctx); err != nil {
					rt.Fatal(err)
				}
			},
			"": func(rt *rapid.T) {
				if err := f.s.CheckLedger(ctx); err != nil {
					rt.Fatal(err)
				}
				recv, _ := f.s.Account(ctx, FunderReceivableID(v.ID))
				var vouchers core.Micros
				for _, j := range ended {
					got, _ := f.s.Job(ctx, j.ID)
					vouchers += got.Charges.VoucherMicros
				}
				if recv.DebitsPosted != vouchers {
					rt.Fatalf("funder owes %d, jobs were paid %d by vouchers", recv.DebitsPosted, vouchers)
				}
				budgetAcct, _ := f.s.Account(ctx, voucherBudgetID(v.ID))
				if budgetAcct.Available() < 0 || budgetAcct.DebitsPosted != granted || vouchers > granted {
					rt.Fatalf("budget %+v: granted %d, used %d", budgetAcct, granted, vouchers)
				}
			},
		})
		// The full verification (jobs, holds, caps) once per sequence.
		problems, err := f.s.Verify(ctx)
		if err != nil || len(problems) != 0 {
			rt.Fatalf("verify: %v %v", problems, err)
		}
	})
}
