package server

import (
	"context"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

func openRolling(t *testing.T) *Server {
	t.Helper()
	b := sqlstore.Billing{VATBPS: 600, Window: time.Second, Grace: time.Second, Slack: time.Second}
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Log: quietLog(),
		LoopInterval: 20 * time.Millisecond, MeterInterval: 50 * time.Millisecond, Billing: &b})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRollingHolds: a long job holds one window at a time and is charged
// window by window; the total equals one charge for the whole run.
func TestRollingHolds(t *testing.T) {
	ctx := context.Background()
	s := openRolling(t)
	defer s.Close()
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	j := submit(t, tenant, api.JobRequest{DurationS: 4, MaxDurationS: 3600, Constraints: core.Constraints{Center: "yc-hpc"},
		Replicas: []api.ReplicaRequest{{CPUMilli: 64000, MemMiB: 1024}}})
	// 3.205 CNY/h for 1 s window + 1 s grace + 1 s slack = 2,671 micros, not an hour's 3.2 CNY.
	if j.HoldMicros != 2671 {
		t.Errorf("rolling hold = %d, want 2671 (one window plus grace and slack)", j.HoldMicros)
	}
	j = waitJob(t, tenant, j.ID)
	got, err := s.Store.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != core.JobSucceeded || got.Charges.CaptureSeq < 3 {
		t.Fatalf("job %s with %d captures, want succeeded in >= 3 window captures", got.State, got.Charges.CaptureSeq)
	}
	// 4 s at 3.205 CNY/h = 3,561.1 -> 3,561, whatever the windows.
	if got.CostMicros != 3561 || got.HoldMicros != 0 {
		t.Errorf("cost %d hold %d, want 3561 and no open hold", got.CostMicros, got.HoldMicros)
	}
	w, _ := tenant.Wallet(ctx, "")
	if w.HeldMicros != 0 || w.SpentMicros != 3561 {
		t.Errorf("wallet held %d spent %d, want 0 and 3561", w.HeldMicros, w.SpentMicros)
	}
	if err := s.Store.CheckLedger(ctx); err != nil {
		t.Error(err)
	}
}

// TestWalletRunsDry: when the wallet cannot fund the next window the job
// gets a notice, runs through the grace period on its current hold, and is
// stopped; it is charged for what it used, never more than the wallet had,
// and nothing runs unpaid.
func TestWalletRunsDry(t *testing.T) {
	ctx := context.Background()
	s := openRolling(t)
	defer s.Close()
	org, err := s.Store.CreateOrg(ctx, "Small Co", creditCodeForTest(t, "91310000MA5550001"), core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.Store.CreateToken(ctx, org.ID, "t")
	// Enough for the first window's hold (2,671) and a little more, not two windows.
	if _, err := s.Store.TopUp(ctx, org.ID, 3000, "small"); err != nil {
		t.Fatal(err)
	}
	c := client.New(s.URL, tok)
	j := submit(t, c, api.JobRequest{DurationS: 600, MaxDurationS: 3600, Constraints: core.Constraints{Center: "yc-hpc"},
		Replicas: []api.ReplicaRequest{{CPUMilli: 64000, MemMiB: 1024}}})
	j = waitJob(t, c, j.ID)
	if j.State != core.JobCancelled || j.Reason == "" {
		t.Fatalf("job = %s (%q), want stopped for funds", j.State, j.Reason)
	}
	evs, _ := c.Events(ctx, j.ID)
	notice := false
	for _, e := range evs {
		notice = notice || e.Type == "notice"
	}
	if !notice {
		t.Errorf("no notice event in %+v", evs)
	}
	got, _ := s.Store.Job(ctx, j.ID)
	w, _ := c.Wallet(ctx, "")
	if got.Charges.ArrearsMicros != 0 || w.AvailableMicros < 0 || w.HeldMicros != 0 || w.SpentMicros != got.CostMicros {
		t.Errorf("job cost %d arrears %d, wallet %+v: want everything paid from the wallet, nothing held", got.CostMicros,
			got.Charges.ArrearsMicros, w)
	}
	// It ran about window + grace (2 s, billed per second) plus at most a metering lag.
	if got.UsageMs < 2000 || got.UsageMs > 3000 {
		t.Errorf("ran %d ms, want about 2-3 s (window + grace)", got.UsageMs)
	}
	if err := s.Store.CheckLedger(ctx); err != nil {
		t.Error(err)
	}
}
