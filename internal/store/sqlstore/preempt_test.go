package sqlstore

import (
	"context"
	"math/big"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// TestPreemptJob: a preempted run's metered usage stays charged, the job is
// queued again as a new attempt that max_attempts does not count, a retried
// preemption is a conflict, and the job can then be cancelled while queued
// or run to the end — with the ledger balanced either way.
func TestPreemptJob(t *testing.T) {
	for _, end := range []string{"cancel while queued", "run again"} {
		t.Run(end, func(t *testing.T) {
			f := setup(t)
			ctx := context.Background()
			sp := spec()
			sp.MaxAttempts = 1 // a loss would fail it; preemptions must not
			j, err := f.s.SubmitJob(ctx, f.tenant.ID, sp, perHour(1))
			if err != nil {
				t.Fatal(err)
			}
			f.place(t, j.ID)
			if err := f.s.MarkRunning(ctx, j.ID, "go"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.Meter(ctx, j.ID, map[int]int64{0: 60_000}, 1000); err != nil {
				t.Fatal(err)
			}
			if err := f.s.PreemptJob(ctx, j.ID, 0, "", "preempted for job job-high", 1000); err != nil {
				t.Fatal(err)
			}
			if err := f.s.PreemptJob(ctx, j.ID, 0, "", "again", 1000); core.ErrorCode(err) != core.EConflict {
				t.Errorf("second preemption of attempt 0 = %v, want conflict", err)
			}
			got, _ := f.s.Job(ctx, j.ID)
			if got.State != core.JobQueued || got.Attempt != 1 || got.Preemptions != 1 || len(got.Placements) != 0 ||
				!strings.Contains(got.Reason, "preempted for job job-high") {
				t.Fatalf("after preemption: %s attempt %d preemptions %d placements %d reason %q", got.State, got.Attempt,
					got.Preemptions, len(got.Placements), got.Reason)
			}
			switch end {
			case "cancel while queued":
				if ended, err := f.s.CancelJob(ctx, j.ID); err != nil || !ended {
					t.Fatalf("cancel = %v, %v", ended, err)
				}
			case "run again":
				f.place(t, j.ID)
				if err := f.s.MarkRunning(ctx, j.ID, "go"); err != nil {
					t.Fatal(err)
				}
				if _, err := f.s.FinishJob(ctx, j.ID, store.Result{State: core.JobSucceeded,
					Replicas: []store.ReplicaResult{{Index: 0, UsageMs: 30_000}}}, 1000); err != nil {
					t.Fatal(err)
				}
			}
			got, _ = f.s.Job(ctx, j.ID)
			rate, _ := f.center.Prices.RateScaled(sp.Replicas[0], "A100")
			usedMs := int64(60_000) // the preempted minute stays charged
			if end == "run again" {
				usedMs += 30_000
			}
			want := core.Cost(new(big.Int).Mul(big.NewInt(rate), big.NewInt(usedMs)))
			if !got.State.Terminal() || got.CostMicros != want {
				t.Errorf("ended %s costing %d, want %d", got.State, got.CostMicros, want)
			}
			if w := f.wallet(t); w.DebitsPending != 0 {
				t.Errorf("wallet %+v: the hold must be released", w)
			}
			if err := f.s.CheckLedger(ctx); err != nil {
				t.Error(err)
			}
			if problems, err := f.s.Verify(ctx); err != nil || len(problems) > 0 {
				t.Errorf("verify: %v %v", problems, err)
			}
		})
	}
}
