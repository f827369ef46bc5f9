package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/meter"
	"github.com/suanli/suanli/internal/store"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

func scheme(t *testing.T, op *client.Client, name string, capYear, budget core.Micros, kinds ...core.CenterKind) store.VoucherScheme {
	t.Helper()
	v, err := op.CreateScheme(context.Background(), client.SchemeRequest{Name: name, Issuer: "宜昌市数据局",
		ShareBPS: 2000, DomesticShareBPS: 3000, CapPerTenantYear: capYear, Budget: budget,
		ValidFrom: time.Now().Add(-time.Hour), ValidUntil: time.Now().Add(24 * time.Hour), EligibleKinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVouchers: the eligible share of a charge is paid from the grant (30 %
// on domestic chips, 20 % otherwise), the rest from the wallet, up to the
// grant; related parties get nothing; ineligible kinds get nothing; the
// funding body owes what was redeemed.
func TestVouchers(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	op := client.New(s.URL, s.Credentials.Operator.Token)
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	tid := s.Credentials.Tenant.OrgID
	const grant = 20_000 // 0.02 CNY, so a few short jobs use it up
	v := scheme(t, op, "yc-2026", grant, 100*core.MicrosPerYuan, core.KindAI)
	if _, err := op.Grant(ctx, v.Name, tid, grant, "approval-1"); err != nil {
		t.Fatal(err)
	}
	// Over the cap in one year: refused; a replay of the same grant: no-op.
	if _, err := op.Grant(ctx, v.Name, tid, 1, "approval-2"); core.ErrorCode(asCoreErr(err)) != core.EInvalid {
		t.Errorf("grant over the cap = %v, want invalid", err)
	}
	if _, err := op.Grant(ctx, v.Name, tid, grant, "approval-1"); err != nil {
		t.Errorf("replayed grant = %v, want ok", err)
	}

	run := func(center string, secs int64) api.JobView {
		j := submit(t, tenant, api.JobRequest{DurationS: secs, MaxDurationS: 600, Constraints: core.Constraints{Center: center},
			Replicas: []api.ReplicaRequest{{AccelCount: 8, CPUMilli: 1000, MemMiB: 1024}}})
		return waitJob(t, tenant, j.ID)
	}
	// Domestic Ascend 910B at 6.50/card-hour x 8 cards x 2 s = 28,889 micros; 30 % = 8,667.
	dom := run("bj-mentougou", 2)
	got, _ := s.Store.Job(ctx, dom.ID)
	if got.CostMicros != 28_889 || got.Charges.VoucherMicros != 8_667 || got.Charges.VoucherSchemeID != v.ID {
		t.Errorf("domestic job cost %d voucher %d (%s), want 28889 and 8667", got.CostMicros, got.Charges.VoucherMicros,
			got.Charges.VoucherSchemeID)
	}
	// A800 (not domestic) at 9/card-hour x 8 x 2 s = 40,000; 20 % = 8,000.
	foreign := run("yc-baidu", 2)
	got2, _ := s.Store.Job(ctx, foreign.ID)
	if got2.Charges.VoucherMicros != 8_000 {
		t.Errorf("foreign-chip job voucher %d, want 8000", got2.Charges.VoucherMicros)
	}
	// 3,333 of the grant is left; the next job's 30 % (8,667) takes only that.
	long := run("bj-mentougou", 2)
	got3, _ := s.Store.Job(ctx, long.ID)
	if got3.Charges.VoucherMicros != grant-8_667-8_000 {
		t.Errorf("third job voucher %d, want the grant's remaining %d", got3.Charges.VoucherMicros, grant-8_667-8_000)
	}
	next := run("bj-mentougou", 1)
	if got4, _ := s.Store.Job(ctx, next.ID); got4.Charges.VoucherMicros != 0 {
		t.Errorf("after the grant ran out, voucher paid %d", got4.Charges.VoucherMicros)
	}
	// The funding body owes exactly what was redeemed.
	recv, _ := s.Store.Account(ctx, sqlstore.FunderReceivableID(v.ID))
	if recv.DebitsPosted != grant {
		t.Errorf("funder receivable %d, want %d", recv.DebitsPosted, grant)
	}
	// Wallet paid the rest of every job.
	w, _ := tenant.Wallet(ctx, "")
	var costs core.Micros
	for _, id := range []string{dom.ID, foreign.ID, long.ID, next.ID} {
		j, _ := s.Store.Job(ctx, id)
		costs += j.CostMicros
	}
	if w.SpentMicros != costs-grant {
		t.Errorf("wallet spent %d, want %d (costs less vouchers)", w.SpentMicros, costs-grant)
	}

	// Related parties: a second tenant related to bj-mentougou's provider gets nothing.
	other, _ := s.Store.CreateOrg(ctx, "Sister Co", creditCodeForTest(t, "91420500MA4440001"), core.RoleTenant)
	otok, _ := s.Store.CreateToken(ctx, other.ID, "t")
	_, _ = s.Store.TopUp(ctx, other.ID, 100*core.MicrosPerYuan, "x")
	if _, err := op.Grant(ctx, v.Name, other.ID, grant, "approval-3"); err != nil {
		t.Fatal(err)
	}
	ctr, _ := s.Store.Center(ctx, "bj-mentougou")
	if err := op.AddRelated(ctx, other.ID, ctr.ProviderOrgID, "same parent company"); err != nil {
		t.Fatal(err)
	}
	oc := client.New(s.URL, otok)
	j := submit(t, oc, api.JobRequest{DurationS: 2, MaxDurationS: 600, Constraints: core.Constraints{Center: "bj-mentougou"},
		Replicas: []api.ReplicaRequest{{AccelCount: 1, CPUMilli: 1000, MemMiB: 1024}}})
	waitJob(t, oc, j.ID)
	if rel, _ := s.Store.Job(ctx, j.ID); rel.Charges.VoucherMicros != 0 || rel.CostMicros == 0 {
		t.Errorf("related-party job: voucher %d of cost %d, want none", rel.Charges.VoucherMicros, rel.CostMicros)
	}
	// An ineligible kind (HPC) gets nothing either.
	hj := submit(t, oc, api.JobRequest{DurationS: 2, MaxDurationS: 600, Constraints: core.Constraints{Center: "yc-hpc"},
		Replicas: []api.ReplicaRequest{{CPUMilli: 64000, MemMiB: 1024}}})
	waitJob(t, oc, hj.ID)
	if hpc, _ := s.Store.Job(ctx, hj.ID); hpc.Charges.VoucherMicros != 0 {
		t.Errorf("HPC job got voucher %d from an AI-only scheme", hpc.Charges.VoucherMicros)
	}
	if problems, err := op.Verify(ctx); err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
	// The split of every job still adds up with VAT.
	for _, id := range []string{dom.ID, foreign.ID} {
		jj, _ := s.Store.Job(ctx, id)
		v, c, p := meter.Split(jj.CostMicros, 600, DefaultCommissionBPS)
		if jj.Charges.VATMicros != v || jj.Charges.CommissionMicros != c || jj.Charges.ProviderMicros != p {
			t.Errorf("job %s split %+v, want %d/%d/%d", id, jj.Charges, v, c, p)
		}
	}
}

func asCoreErr(err error) error {
	if ce, ok := err.(*client.Error); ok {
		return &core.Error{Code: ce.Code, Message: ce.Message}
	}
	return err
}

// TestConcurrentWalletAndBudget: many clients at once on one wallet and one
// voucher budget: the wallet never goes below zero, the budget is never
// exceeded, and every acknowledged request is in the ledger exactly once.
func TestConcurrentWalletAndBudget(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	op := client.New(s.URL, s.Credentials.Operator.Token)
	org, _ := s.Store.CreateOrg(ctx, "Busy Co", creditCodeForTest(t, "91420500MA4440002"), core.RoleTenant)
	tok, _ := s.Store.CreateToken(ctx, org.ID, "t")
	if _, err := s.Store.TopUp(ctx, org.ID, 2*core.MicrosPerYuan, "start"); err != nil {
		t.Fatal(err)
	}
	c := client.New(s.URL, tok)
	// Each job holds 8 cards x 4.00 CNY/h x 60 s = 0.533 CNY: only 3 fit in 2 CNY.
	req := api.JobRequest{DurationS: 1, MaxDurationS: 60, Constraints: core.Constraints{Center: "zs-xiqu"},
		Replicas: []api.ReplicaRequest{{AccelCount: 8, CPUMilli: 1000, MemMiB: 1024}}}
	v := scheme(t, op, "tight", 10*core.MicrosPerYuan, 3*core.MicrosPerYuan)
	var tenants []string
	for i := 0; i < 8; i++ {
		o, _ := s.Store.CreateOrg(ctx, fmt.Sprintf("T%d", i), creditCodeForTest(t, fmt.Sprintf("91420500MA44401%02d", i)), core.RoleTenant)
		tenants = append(tenants, o.ID)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, granted := 0, 0
	for i := 0; i < 16; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.Submit(ctx, req); err == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
		go func(i int) {
			defer wg.Done()
			if _, err := op.Grant(ctx, v.ID, tenants[i%8], 1*core.MicrosPerYuan, fmt.Sprintf("g%d", i)); err == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if accepted != 3 {
		t.Errorf("%d submissions accepted, want exactly the 3 the wallet covers", accepted)
	}
	if granted != 3 {
		t.Errorf("%d grants made, want exactly the 3 the budget covers", granted)
	}
	jobs, total, _ := c.Jobs(ctx, client.JobsFilter{})
	for _, j := range jobs {
		waitJob(t, c, j.ID)
	}
	if total != accepted {
		t.Errorf("%d jobs exist, %d were acknowledged", total, accepted)
	}
	w, _ := c.Wallet(ctx, "")
	if w.AvailableMicros < 0 {
		t.Errorf("wallet went negative: %+v", w)
	}
	if problems, err := op.Verify(ctx); err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
}
