package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

type fixture struct {
	s      *Store
	tenant core.Org
	center core.Center
	node   core.Node
}

func code(t *testing.T, first17 string) string {
	t.Helper()
	ch, ok := core.CreditCodeCheckChar(first17)
	if !ok {
		t.Fatalf("bad prefix %q", first17)
	}
	return first17 + string(ch)
}

func setup(t *testing.T) fixture { return setupSync(t, "FULL") }

// setupSync opens the fixture store with the given synchronous pragma; the
// property tests use OFF, which changes durability, not behaviour.
func setupSync(t *testing.T, synchronous string) fixture {
	t.Helper()
	ctx := context.Background()
	s := testStore(t, synchronous)
	s.Billing.Window = 24 * time.Hour // single holds unless a test rolls
	if err := s.EnsureSystemAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	tenant, err := s.CreateOrg(ctx, "T", code(t, "91110000MA0000001"), core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := s.CreateOrg(ctx, "P", code(t, "91110000MA0000002"), core.RoleProvider)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateCenter(ctx, core.Center{Name: "c", Kind: core.KindAI, Region: "r", ProviderOrgID: prov.ID,
		Executor: core.ExecutorSimulated, Prices: core.PriceBook{CardHour: map[string]core.Micros{"A100": 3_600_000}}},
		[]core.Node{{Name: "n1", CPUMilli: 8000, MemMiB: 8192, AccelModel: "A100", AccelCount: 8}})
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Nodes(ctx, c.ID)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes %v %v", nodes, err)
	}
	if _, err := s.TopUp(ctx, tenant.ID, 10*core.MicrosPerYuan, "open"); err != nil {
		t.Fatal(err)
	}
	return fixture{s: s, tenant: tenant, center: c, node: nodes[0]}
}

// perHour is a rate of yuan CNY an hour in core.RateScale fixed point; with
// spec()'s one-hour max duration it is also the hold in CNY.
func perHour(yuan float64) int64 { return int64(yuan*1e6) * core.RateScale }

func spec() core.JobSpec {
	return core.JobSpec{Duration: time.Second, MaxDuration: time.Hour,
		Replicas: []core.Replica{{AccelCount: 1, CPUMilli: 1000, MemMiB: 1024}}}
}

// place schedules a submitted job on the fixture's node at the center's
// A100 price (3.6 CNY per card-hour = 1000 micros per second).
func (f fixture) place(t *testing.T, jobID string) {
	t.Helper()
	rate, _ := f.center.Prices.RateScaled(spec().Replicas[0], "A100")
	n, err := f.s.ApplyPlan(context.Background(), []store.Assignment{{JobID: jobID, CenterID: f.center.ID,
		Placements: []core.Placement{{Index: 0, NodeID: f.node.ID, AccelModel: "A100", RateScaled: rate}}}}, nil)
	if err != nil || n != 1 {
		t.Fatalf("ApplyPlan = %d, %v", n, err)
	}
}

func (f fixture) wallet(t *testing.T) ledger.Account {
	t.Helper()
	a, err := f.s.Account(context.Background(), ledger.WalletID(f.tenant.ID))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSubmitRefusedWithoutFunds(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, err := f.s.SubmitJob(ctx, f.tenant.ID, spec(), perHour(11))
	if core.ErrorCode(err) != core.EInsufficientFunds {
		t.Fatalf("SubmitJob over the balance = %v, want insufficient_funds", err)
	}
	if _, total, _ := f.s.Jobs(ctx, store.JobFilter{}); total != 0 {
		t.Errorf("a refused submission left %d jobs", total)
	}
	if w := f.wallet(t); w.DebitsPending != 0 || w.Available() != 10*core.MicrosPerYuan {
		t.Errorf("wallet after a refused submission = %+v", w)
	}
}

func TestFinishSettlesExactlyOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	j, err := f.s.SubmitJob(ctx, f.tenant.ID, spec(), perHour(3.6))
	if err != nil {
		t.Fatal(err)
	}
	if w := f.wallet(t); w.DebitsPending != 3_600_000 {
		t.Fatalf("hold = %d, want 3600000", w.DebitsPending)
	}
	f.place(t, j.ID)
	if err := f.s.MarkRunning(ctx, j.ID, "go"); err != nil {
		t.Fatal(err)
	}
	res := store.Result{State: core.JobSucceeded, Replicas: []store.ReplicaResult{{Index: 0, UsageMs: 2500}}}
	done, err := f.s.FinishJob(ctx, j.ID, res, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// 2.5 s billed as 3 s at 1000 micros a second.
	if done.CostMicros != 3000 || done.UsageMs != 3000 || done.State != core.JobSucceeded {
		t.Fatalf("finished job = %+v", done)
	}
	if _, err := f.s.FinishJob(ctx, j.ID, res, 1000); core.ErrorCode(err) != core.EConflict {
		t.Errorf("second FinishJob = %v, want a conflict", err)
	}
	w := f.wallet(t)
	if w.DebitsPending != 0 || w.DebitsPosted != 3000 || w.Available() != 10*core.MicrosPerYuan-3000 {
		t.Errorf("wallet = %+v, want 3000 spent once and no hold", w)
	}
	payable, _ := f.s.Account(ctx, ledger.PayableID(f.center.ProviderOrgID))
	comm, _ := f.s.Account(ctx, ledger.CommissionID)
	// 3000 gross: VAT 3000×6/106 = 170, net 2830, 10 % commission 283, provider 2547.
	vat, _ := f.s.Account(ctx, VATPayableID)
	if payable.CreditsPosted != 2547 || comm.CreditsPosted != 283 || vat.CreditsPosted != 170 {
		t.Errorf("provider %d commission %d VAT %d, want 2547, 283, 170", payable.CreditsPosted, comm.CreditsPosted, vat.CreditsPosted)
	}
	if err := f.s.CheckLedger(ctx); err != nil {
		t.Error(err)
	}
}

func TestCancelQueuedReleasesHold(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	j, err := f.s.SubmitJob(ctx, f.tenant.ID, spec(), perHour(1))
	if err != nil {
		t.Fatal(err)
	}
	ended, err := f.s.CancelJob(ctx, j.ID)
	if err != nil || !ended {
		t.Fatalf("CancelJob = %v, %v", ended, err)
	}
	if w := f.wallet(t); w.DebitsPending != 0 || w.DebitsPosted != 0 {
		t.Errorf("wallet after cancel = %+v, want the hold released", w)
	}
	// A plan computed before the cancel must not resurrect the job.
	rate, _ := f.center.Prices.RateScaled(spec().Replicas[0], "A100")
	n, err := f.s.ApplyPlan(ctx, []store.Assignment{{JobID: j.ID, CenterID: f.center.ID,
		Placements: []core.Placement{{Index: 0, NodeID: f.node.ID, RateScaled: rate}}}}, nil)
	if err != nil || n != 0 {
		t.Errorf("ApplyPlan on a cancelled job = %d, %v; want 0 applied", n, err)
	}
	if _, err := f.s.CancelJob(ctx, j.ID); core.ErrorCode(err) != core.EConflict {
		t.Errorf("second cancel = %v, want conflict", err)
	}
}

func TestRecoverLostRequeuesThenFails(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// Make the center a real one so recovery applies.
	if _, err := f.s.w.ExecContext(ctx, `UPDATE centers SET executor = 'local'`); err != nil {
		t.Fatal(err)
	}
	j, err := f.s.SubmitJob(ctx, f.tenant.ID, spec(), perHour(1))
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < core.DefaultAttempts; attempt++ {
		f.place(t, j.ID)
		if err := f.s.MarkRunning(ctx, j.ID, "go"); err != nil {
			t.Fatal(err)
		}
		requeued, failed, err := f.s.RecoverLost(ctx, core.ExecutorLocal, 1000)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := f.s.Job(ctx, j.ID)
		last := attempt == core.DefaultAttempts-1
		switch {
		case !last && (requeued != 1 || got.State != core.JobQueued || got.Attempt != attempt+1 || len(got.Placements) != 0):
			t.Fatalf("attempt %d: requeued %d, job %s attempt %d placements %d", attempt, requeued, got.State, got.Attempt, len(got.Placements))
		case last && (failed != 1 || got.State != core.JobFailed):
			t.Fatalf("last attempt: failed %d, job %s", failed, got.State)
		}
	}
	if w := f.wallet(t); w.DebitsPending != 0 || w.DebitsPosted != 0 {
		t.Errorf("wallet = %+v: lost runs must not be charged and the hold must be released", w)
	}
}

func TestLedgerTamperingDetected(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.s.w.ExecContext(ctx, `UPDATE transfers SET amount = 1`); err == nil {
		t.Error("UPDATE on transfers succeeded; transfers must be immutable")
	}
	if _, err := f.s.w.ExecContext(ctx, `DELETE FROM transfers`); err == nil {
		t.Error("DELETE on transfers succeeded; transfers must be immutable")
	}
	if err := f.s.CheckLedger(ctx); err != nil {
		t.Fatalf("clean ledger: %v", err)
	}
	if _, err := f.s.w.ExecContext(ctx, `UPDATE accounts SET credits_posted = credits_posted + 1 WHERE code = 'tenant_wallet'`); err != nil {
		t.Fatal(err)
	}
	if err := f.s.CheckLedger(ctx); err == nil {
		t.Error("CheckLedger passed after a wallet balance was edited by hand")
	}
}

func TestTopUpIdempotent(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := f.s.TopUp(ctx, f.tenant.ID, 5*core.MicrosPerYuan, "BANK-7"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.s.TopUp(ctx, f.tenant.ID, 6*core.MicrosPerYuan, "BANK-7"); core.ErrorCode(err) != core.EConflict {
		t.Errorf("same reference, different amount = %v, want conflict", err)
	}
	if w := f.wallet(t); w.CreditsPosted != 15*core.MicrosPerYuan {
		t.Errorf("credited %d, want 15 CNY (10 opening + 5 once)", w.CreditsPosted)
	}
}
