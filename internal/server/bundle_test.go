package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// TestBundles: a tenant buys a 资源包 of Ascend 910B card-hours; a normal
// job's card-time is paid from it (its value recognized from deferred
// revenue), not from the wallet; a spot job pays cash; the rest of a job
// beyond the bundle goes to the wallet.
func TestBundles(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	var b store.Bundle
	if err := tenant.Do(ctx, http.MethodPost, "/api/v1/bundles", map[string]any{"accel_model": "Ascend910B", "card_hours": 1,
		"reference": "order-1"}, &b); err != nil {
		t.Fatal(err)
	}
	// Lowest Ascend 910B list price is 6.20 (yc-zksz), less 15 % = 5.27 CNY per card-hour.
	if b.Price != 5_270_000 || b.CardHours != 1 {
		t.Fatalf("bundle = %+v, want 1 card-hour at 5.27 CNY", b)
	}
	w0, _ := tenant.Wallet(ctx, "")
	run := func(tier string, secs int64) store.Bundle {
		j := submit(t, tenant, api.JobRequest{DurationS: secs, MaxDurationS: 600, Tier: tier,
			Constraints: core.Constraints{Center: "bj-mentougou"},
			Replicas:    []api.ReplicaRequest{{AccelModels: []string{"Ascend910B"}, AccelCount: 8, CPUMilli: 1000, MemMiB: 1024}}})
		waitJob(t, tenant, j.ID)
		got, _ := s.Store.Job(ctx, j.ID)
		var bs []store.Bundle
		var out struct{ Bundles []store.Bundle }
		if err := tenant.Do(ctx, http.MethodGet, "/api/v1/bundles", nil, &out); err != nil {
			t.Fatal(err)
		}
		bs = out.Bundles
		t.Logf("%s job: cost %d", tier, got.CostMicros)
		return bs[0]
	}
	// 8 cards x 2 s = 16,000 card-ms from the bundle, worth 5.27 CNY x 16/3600 = 23,422 micros.
	after := run("normal", 2)
	if after.UsedCardMs != 16_000 {
		t.Errorf("bundle used %d card-ms, want 16000", after.UsedCardMs)
	}
	w1, _ := tenant.Wallet(ctx, "")
	if w1.SpentMicros != w0.SpentMicros {
		t.Errorf("wallet spent %d more on a bundle-covered job", w1.SpentMicros-w0.SpentMicros)
	}
	// A spot job pays cash and leaves the bundle alone.
	if spot := run("spot", 1); spot.UsedCardMs != 16_000 {
		t.Errorf("spot job used the bundle: %d card-ms", spot.UsedCardMs)
	}
	w2, _ := tenant.Wallet(ctx, "")
	if w2.SpentMicros <= w1.SpentMicros {
		t.Errorf("spot job charged the wallet nothing")
	}
	op := client.New(s.URL, s.Credentials.Operator.Token)
	if problems, err := op.Verify(ctx); err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
	// Buying again with the same reference is a no-op; an unknown model is refused.
	var again store.Bundle
	if err := tenant.Do(ctx, http.MethodPost, "/api/v1/bundles", map[string]any{"accel_model": "Ascend910B", "card_hours": 1,
		"reference": "order-1"}, &again); err != nil || again.ID != b.ID {
		t.Errorf("replayed purchase = %+v, %v", again, err)
	}
	if err := tenant.Do(ctx, http.MethodPost, "/api/v1/bundles", map[string]any{"accel_model": "TPU", "card_hours": 1,
		"reference": "order-2"}, nil); err == nil {
		t.Error("bundle of an unknown model accepted")
	}
	if w3, _ := tenant.Wallet(ctx, ""); w3.SpentMicros != w2.SpentMicros {
		t.Errorf("replayed or refused purchases charged %d", w3.SpentMicros-w2.SpentMicros)
	}
}
