package server

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/meter"
	"github.com/suanli/suanli/internal/seed"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTest(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Open(context.Background(), Config{DataDir: dir, Addr: "127.0.0.1:0", Log: quietLog(), LoopInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func waitJob(t *testing.T, c *client.Client, id string) api.JobView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	j, err := c.Wait(ctx, id, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait %s: %v (last state %s)", id, err, j.State)
	}
	return j
}

func submit(t *testing.T, c *client.Client, req api.JobRequest) api.JobView {
	t.Helper()
	j, err := c.Submit(context.Background(), req)
	if err != nil {
		t.Fatalf("submit %+v: %v", req, err)
	}
	return j
}

func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	operator := client.New(s.URL, s.Credentials.Operator.Token)

	before, err := tenant.Wallet(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if before.AvailableMicros != seed.DemoWallet {
		t.Fatalf("opening balance = %d, want %d", before.AvailableMicros, seed.DemoWallet)
	}

	// A real command on the local center.
	local := submit(t, tenant, api.JobRequest{Name: "hello", Command: "echo hello; echo oops >&2; sleep 0.3",
		Replicas: []api.ReplicaRequest{{CPUMilli: 1000, MemMiB: 256}}, MaxDurationS: 60,
		Constraints: core.Constraints{Center: "local"}})
	// A gang of 2 x 8 Ascend 910B on a simulated center for 2 s.
	gang := submit(t, tenant, api.JobRequest{Name: "gang", DurationS: 2,
		Replicas:     []api.ReplicaRequest{{Count: 2, AccelModels: []string{"Ascend910B"}, AccelCount: 8, CPUMilli: 64000, MemMiB: 262144}},
		MaxDurationS: 600, Constraints: core.Constraints{Center: "bj-mentougou"}})
	failing := submit(t, tenant, api.JobRequest{Command: "echo about to fail; exit 3",
		Replicas: []api.ReplicaRequest{{CPUMilli: 500, MemMiB: 64}}, MaxDurationS: 60})

	local = waitJob(t, tenant, local.ID)
	if local.State != core.JobSucceeded || local.ExitCode == nil || *local.ExitCode != 0 || local.Center != "local" {
		t.Fatalf("local job = %s exit %v on %q, want succeeded exit 0 on local (reason %q)", local.State, local.ExitCode, local.Center, local.Reason)
	}
	logs, err := tenant.Logs(ctx, local.ID)
	if err != nil || !strings.Contains(logs, "hello") || !strings.Contains(logs, "oops") {
		t.Fatalf("logs = %q, %v; want stdout and stderr", logs, err)
	}
	// 1 core at 0.04 CNY/core-hour + 0.25 GiB at 0.005 CNY/GiB-hour = 41,250 micros an hour,
	// charged per started second of wall time and rounded half up once.
	usageMs := int64(local.UsageS*1000 + 0.5)
	if usageMs%1000 != 0 || usageMs < 1000 || usageMs > 30_000 {
		t.Errorf("local job usage = %d ms, want whole seconds covering the 300 ms it slept", usageMs)
	}
	if want := core.Micros((41_250*usageMs + 1_800_000) / 3_600_000); local.CostMicros != want {
		t.Errorf("local job cost = %d for %d ms, want %d", local.CostMicros, usageMs, want)
	}

	gang = waitJob(t, tenant, gang.ID)
	if gang.State != core.JobSucceeded || !gang.Simulated || len(gang.Placements) != 2 {
		t.Fatalf("gang = %s simulated=%v placements=%d, want succeeded simulated 2", gang.State, gang.Simulated, len(gang.Placements))
	}
	if gang.UsageS != 4 {
		t.Errorf("gang usage = %v replica-seconds, want 4", gang.UsageS)
	}
	// 16 cards x 6.50 CNY/card-hour x 2 s = 0.0577777... CNY, rounded half up once.
	if want := core.Micros(57_778); gang.CostMicros != want {
		t.Errorf("gang cost = %d, want %d", gang.CostMicros, want)
	}

	failing = waitJob(t, tenant, failing.ID)
	if failing.State != core.JobFailed || failing.ExitCode == nil || *failing.ExitCode != 3 {
		t.Errorf("failing job = %s exit %v, want failed exit 3", failing.State, failing.ExitCode)
	}

	after, err := tenant.Wallet(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	spent := local.CostMicros + gang.CostMicros + failing.CostMicros
	if after.AvailableMicros != before.AvailableMicros-spent || after.HeldMicros != 0 || after.SpentMicros != spent {
		t.Errorf("wallet available %d held %d spent %d, want %d, 0, %d", after.AvailableMicros, after.HeldMicros,
			after.SpentMicros, before.AvailableMicros-spent, spent)
	}

	// The provider of bj-mentougou got the gang's cost less 6 % VAT and 10 % commission on the net.
	ctr, err := s.Store.Center(ctx, "bj-mentougou")
	if err != nil {
		t.Fatal(err)
	}
	payable, err := s.Store.Account(ctx, ledger.PayableID(ctr.ProviderOrgID))
	if err != nil {
		t.Fatal(err)
	}
	vat, commission, provider := meter.Split(gang.CostMicros, 600, DefaultCommissionBPS)
	if payable.CreditsPosted != provider {
		t.Errorf("provider credit = %d, want %d", payable.CreditsPosted, provider)
	}
	comm, err := s.Store.Account(ctx, ledger.CommissionID)
	if err != nil {
		t.Fatal(err)
	}
	v1, c1, _ := meter.Split(local.CostMicros, 600, DefaultCommissionBPS)
	v3, c3, _ := meter.Split(failing.CostMicros, 600, DefaultCommissionBPS)
	if comm.CreditsPosted != commission+c1+c3 {
		t.Errorf("commission = %d, want %d", comm.CreditsPosted, commission+c1+c3)
	}
	vatAcct, err := s.Store.Account(ctx, sqlstore.VATPayableID)
	if err != nil || vatAcct.CreditsPosted != vat+v1+v3 {
		t.Errorf("VAT payable = %d (%v), want %d", vatAcct.CreditsPosted, err, vat+v1+v3)
	}
	escrow, err := s.Store.Account(ctx, ledger.EscrowID)
	if err != nil {
		t.Fatal(err)
	}
	if escrow.CreditsPosted != escrow.DebitsPosted || escrow.CreditsPending != 0 {
		t.Errorf("escrow not empty after all jobs ended: %+v", escrow)
	}
	if ok, msg, err := operator.CheckLedger(ctx); err != nil || !ok {
		t.Errorf("CheckLedger = %v %q %v, want balanced", ok, msg, err)
	}
}

func TestCancelKillsProcess(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	j := submit(t, tenant, api.JobRequest{Command: "echo started; sleep 60; echo never",
		Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 64}}, MaxDurationS: 120})
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := tenant.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == core.JobRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never ran: %s %s", got.State, got.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t0 := time.Now()
	if _, err := tenant.Cancel(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	got := waitJob(t, tenant, j.ID)
	if got.State != core.JobCancelled {
		t.Fatalf("state = %s, want cancelled", got.State)
	}
	if took := time.Since(t0); took > 20*time.Second {
		t.Errorf("cancel took %s; the sleep was not killed", took)
	}
	logs, _ := tenant.Logs(ctx, j.ID)
	if strings.Contains(logs, "never") {
		t.Errorf("logs %q show the command kept running", logs)
	}
	if _, err := tenant.Cancel(ctx, j.ID); err == nil {
		t.Errorf("second cancel succeeded, want a conflict")
	}
}

func TestRestartKeepsDataAndRequeuesLostRun(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	done := submit(t, tenant, api.JobRequest{Command: "echo first", Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 64}}, MaxDurationS: 60})
	done = waitJob(t, tenant, done.ID)
	// A run that is in flight when the server stops.
	marker := dir + "/attempts"
	lost := submit(t, tenant, api.JobRequest{Command: "echo run >> " + marker + "; sleep 2",
		Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 64}}, MaxDurationS: 60})
	for {
		j, _ := tenant.Job(ctx, lost.ID)
		if j.State == core.JobRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A simulated run in flight resumes from its recorded start.
	sim := submit(t, tenant, api.JobRequest{DurationS: 3, MaxDurationS: 60, Constraints: core.Constraints{Center: "yc-hpc"},
		Replicas: []api.ReplicaRequest{{CPUMilli: 64000, MemMiB: 1024}}})
	for {
		j, _ := tenant.Job(ctx, sim.ID)
		if j.State == core.JobRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	walletBefore, _ := tenant.Wallet(ctx, "")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := openTest(t, dir)
	defer s2.Close()
	tenant2 := client.New(s2.URL, s.Credentials.Tenant.Token) // the same token still works
	got, err := tenant2.Job(ctx, done.ID)
	if err != nil || got.State != core.JobSucceeded || got.CostMicros != done.CostMicros {
		t.Fatalf("after restart job = %+v, %v; want the succeeded job intact", got, err)
	}
	w, err := tenant2.Wallet(ctx, "")
	if err != nil || w.AvailableMicros != walletBefore.AvailableMicros || w.HeldMicros != walletBefore.HeldMicros {
		t.Fatalf("wallet after restart = %+v, %v; want %+v", w, err, walletBefore)
	}
	again := waitJob(t, tenant2, lost.ID)
	if again.State != core.JobSucceeded || again.Attempt != 1 {
		t.Fatalf("lost run = %s attempt %d, want succeeded on attempt 1", again.State, again.Attempt)
	}
	simDone := waitJob(t, tenant2, sim.ID)
	// 64 cores at 0.05 CNY/core-hour + 1 GiB at 0.005 for exactly the declared 3 s.
	if simDone.State != core.JobSucceeded || simDone.Attempt != 0 || simDone.UsageS != 3 || simDone.CostMicros != 2671 {
		t.Errorf("resumed simulated job = %s attempt %d usage %v cost %d, want succeeded attempt 0 usage 3 cost 2671",
			simDone.State, simDone.Attempt, simDone.UsageS, simDone.CostMicros)
	}
	evs, _ := tenant2.Events(ctx, lost.ID)
	var requeued bool
	for _, e := range evs {
		requeued = requeued || e.Type == "requeued"
	}
	if !requeued {
		t.Errorf("events %+v lack a requeued event", evs)
	}
	operator := client.New(s2.URL, s.Credentials.Operator.Token)
	if ok, msg, err := operator.CheckLedger(ctx); err != nil || !ok {
		t.Errorf("ledger after restart: %v %q %v", ok, msg, err)
	}
}
