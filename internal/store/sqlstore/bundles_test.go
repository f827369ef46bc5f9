package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// TestBundleCoverageAndExpiry: a job longer than the bundle uses the bundle
// up (its price recognized exactly) and pays the rest from the wallet;
// the next bundle expires unused and its price becomes breakage.
func TestBundleCoverageAndExpiry(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.s.Now = func() time.Time { return clock }
	b, err := f.s.BuyBundle(ctx, f.tenant.ID, "A100", 1, "po-1")
	if err != nil {
		t.Fatal(err)
	}
	// 3.60 list less 15 % = 3.06 CNY for one card-hour.
	if b.Price != 3_060_000 {
		t.Fatalf("bundle price %d, want 3060000", b.Price)
	}
	// The hold is at list price for the max duration, bundles or not.
	if _, err := f.s.TopUp(ctx, f.tenant.ID, 10*core.MicrosPerYuan, "more"); err != nil {
		t.Fatal(err)
	}
	sp := spec()
	sp.MaxDuration = 2 * time.Hour
	j, err := f.s.SubmitJob(ctx, f.tenant.ID, sp, perHour(3.6))
	if err != nil {
		t.Fatal(err)
	}
	f.place(t, j.ID)
	if err := f.s.MarkRunning(ctx, j.ID, "go"); err != nil {
		t.Fatal(err)
	}
	w0 := f.wallet(t)
	// 90 minutes on one A100: 60 from the bundle (3.06 CNY), 30 at list (1.80 CNY).
	done, err := f.s.FinishJob(ctx, j.ID, store.Result{State: core.JobSucceeded,
		Replicas: []store.ReplicaResult{{Index: 0, UsageMs: 90 * 60_000}}}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if done.CostMicros != 3_060_000+1_800_000 {
		t.Errorf("cost %d, want 4860000 (bundle 3.06 + cash 1.80)", done.CostMicros)
	}
	if w := f.wallet(t); w.DebitsPosted-w0.DebitsPosted != 1_800_000 {
		t.Errorf("wallet paid %d, want only the 1800000 beyond the bundle", w.DebitsPosted-w0.DebitsPosted)
	}
	deferred, _ := f.s.Account(ctx, bundleDeferredID(b.ID))
	if deferred.Available() != 0 {
		t.Errorf("a fully used bundle left %d deferred", deferred.Available())
	}
	// A second bundle expires unused.
	b2, err := f.s.BuyBundle(ctx, f.tenant.ID, "A100", 2, "po-2")
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(BundleValidity + time.Second)
	if n, err := f.s.ExpireBundles(ctx); err != nil || n != 2 {
		t.Fatalf("ExpireBundles = %d, %v; want both retired", n, err)
	}
	breakage, _ := f.s.Account(ctx, BreakageID)
	if breakage.CreditsPosted != b2.Price {
		t.Errorf("breakage %d, want the unused bundle's price %d", breakage.CreditsPosted, b2.Price)
	}
	if n, _ := f.s.ExpireBundles(ctx); n != 0 {
		t.Errorf("second sweep retired %d again", n)
	}
	if problems, err := f.s.Verify(ctx); err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
}
