package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/meter"
	"github.com/suanli/suanli/internal/settlement"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

// readCSV parses a report CSV (after its byte order mark) into rows.
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	b, ok := bytes.CutPrefix(b, []byte("\ufeff"))
	if !ok {
		t.Fatalf("CSV lacks its byte order mark: %q", b[:min(len(b), 20)])
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func col(t *testing.T, rows [][]string, suffix string) int {
	t.Helper()
	for i, h := range rows[0] {
		if strings.HasSuffix(h, "/"+suffix) {
			return i
		}
	}
	t.Fatalf("no column %q in %v", suffix, rows[0])
	return -1
}

func micros(t *testing.T, s string) core.Micros {
	t.Helper()
	m, err := core.ParseYuan(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSettlementReports runs jobs with a voucher and a refund, then checks
// the tenant's invoice, the provider statements, a payout and the
// funding body's redemption CSV against the ledger to the 1e-6 CNY.
func TestSettlementReports(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	month := settlement.MonthOf(time.Now())
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	op := client.New(s.URL, s.Credentials.Operator.Token)
	prov := client.New(s.URL, s.Credentials.Provider.Token)
	tid := s.Credentials.Tenant.OrgID

	v, err := s.Store.CreateVoucherScheme(ctx, sqlstore.VoucherScheme{Name: "bj-2026", Issuer: "北京市经济和信息化局",
		ShareBPS: 2000, DomesticShareBPS: 3000, CapPerTenantYear: 1000 * core.MicrosPerYuan, Budget: 10_000 * core.MicrosPerYuan,
		ValidFrom: time.Now().Add(-time.Hour), ValidUntil: time.Now().Add(365 * 24 * time.Hour)}, s.Credentials.Operator.OrgID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.GrantVoucher(ctx, v.ID, tid, 1000*core.MicrosPerYuan, "approval-1", s.Credentials.Operator.OrgID); err != nil {
		t.Fatal(err)
	}
	walletBefore, err := s.Store.Account(ctx, ledger.WalletID(tid))
	if err != nil {
		t.Fatal(err)
	}

	var jobs []api.JobView
	for _, req := range []api.JobRequest{
		{Name: "train", DurationS: 3, MaxDurationS: 600, Constraints: core.Constraints{Center: "bj-mentougou"},
			Replicas: []api.ReplicaRequest{{Count: 2, AccelModels: []string{"Ascend910B"}, AccelCount: 8, CPUMilli: 64000, MemMiB: 262144}}},
		{Name: "infer", DurationS: 2, MaxDurationS: 600, Constraints: core.Constraints{Center: "bj-mentougou"},
			Replicas: []api.ReplicaRequest{{AccelCount: 1, CPUMilli: 8000, MemMiB: 32768}}},
		{Name: "hello", Command: "sleep 0.2", MaxDurationS: 60, Constraints: core.Constraints{Center: "local"},
			Replicas: []api.ReplicaRequest{{CPUMilli: 2000, MemMiB: 512}}},
	} {
		jobs = append(jobs, submit(t, tenant, req))
	}
	var cost, voucher, vat, comm core.Micros
	provShare := map[string]core.Micros{}
	for i := range jobs {
		jobs[i] = waitJob(t, tenant, jobs[i].ID)
		if jobs[i].State != core.JobSucceeded {
			t.Fatalf("job %s = %s (%s)", jobs[i].Name, jobs[i].State, jobs[i].Reason)
		}
		j, err := s.Store.Job(ctx, jobs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := s.Store.Center(ctx, j.CenterID)
		cost, voucher, vat, comm = cost+j.CostMicros, voucher+j.Charges.VoucherMicros, vat+j.Charges.VATMicros, comm+j.Charges.CommissionMicros
		provShare[c.ProviderOrgID] += j.Charges.ProviderMicros
	}
	if voucher == 0 {
		t.Fatal("the voucher paid nothing; the test needs it to")
	}
	// Refund part of the Ascend job: the split reverses cumulatively.
	const refund = 10_001
	if err := s.Store.Refund(ctx, jobs[0].ID, refund, "sla-1", "slow start", s.Credentials.Operator.OrgID, DefaultCommissionBPS); err != nil {
		t.Fatal(err)
	}
	rv, rc, rp := meter.Split(refund, 600, DefaultCommissionBPS)
	bj, _ := s.Store.Center(ctx, "bj-mentougou")
	provShare[bj.ProviderOrgID] -= rp
	if settlement.MonthOf(time.Now()) != month {
		t.Skip("the month changed during the test")
	}

	// The tenant's invoice: lines plus tax are the charges less the refund,
	// the voucher and wallet parts are what the ledger moved.
	inv, err := tenant.Invoice(ctx, month.Month, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := inv.Check(); err != nil {
		t.Error(err)
	}
	walletAfter, _ := s.Store.Account(ctx, ledger.WalletID(tid))
	switch {
	case inv.Number != "SL-"+month.Month[:4]+month.Month[5:]+"-00001" || !inv.Draft:
		t.Errorf("invoice %q draft %v, want the month's first invoice, a draft", inv.Number, inv.Draft)
	case inv.Charges != cost || inv.Refunds != refund || inv.Total != cost-refund:
		t.Errorf("invoice charges %d refunds %d total %d, want %d, %d, %d", inv.Charges, inv.Refunds, inv.Total, cost, refund, cost-refund)
	case inv.Voucher != voucher || len(inv.Vouchers) != 1 || inv.Vouchers[0].Amount != voucher || inv.Arrears != 0:
		t.Errorf("invoice voucher %d (%+v) arrears %d, want %d", inv.Voucher, inv.Vouchers, inv.Arrears, voucher)
	case inv.Wallet != walletAfter.DebitsPosted-walletBefore.DebitsPosted || inv.Wallet != cost-voucher:
		t.Errorf("invoice wallet %d, ledger wallet debits %d, cost − voucher %d", inv.Wallet,
			walletAfter.DebitsPosted-walletBefore.DebitsPosted, cost-voucher)
	case inv.LedgerVAT != vat-rv || len(inv.Lines) != 2 || inv.JobsTotal != 3:
		t.Errorf("ledger VAT %d want %d; %d lines, %d jobs", inv.LedgerVAT, vat-rv, len(inv.Lines), inv.JobsTotal)
	}
	if len(inv.Lines) == 2 {
		if l := inv.Lines[0]; l.Model != "Ascend910B" || l.Unit != "卡时" || l.Jobs != 2 || !strings.Contains(l.Service, bj.DisplayName) {
			t.Errorf("line 1 = %+v", l)
		}
		// 2 × 8 cards × 3 s + 1 card × 2 s = 50 card-seconds = 0.014 card-hours.
		if l := inv.Lines[0]; l.QuantityMilli != 14 {
			t.Errorf("Ascend quantity %s, want 0.014", l.Quantity)
		}
		if l := inv.Lines[1]; l.Model != "CPU" || l.Unit != "核时" {
			t.Errorf("line 2 = %+v", l)
		}
	}
	raw, err := tenant.InvoiceCSV(ctx, month.Month, "")
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, raw)
	ca, ct, cg := col(t, rows, "amount_exact"), col(t, rows, "tax_exact"), col(t, rows, "gross_exact")
	var sum core.Micros
	for _, r := range rows[1 : len(rows)-1] {
		sum += micros(t, r[ca]) + micros(t, r[ct])
	}
	if last := rows[len(rows)-1]; sum != cost-refund || micros(t, last[cg]) != cost-refund || last[col(t, rows, "line")] != settlement.TotalLabel {
		t.Errorf("CSV lines add up to %d, total row %v; want %d", sum, last, cost-refund)
	}
	if html, err := tenant.InvoiceHTML(ctx, month.Month, ""); err != nil || !bytes.Contains(html, []byte(inv.Number)) {
		t.Errorf("printable invoice: %v", err)
	}

	// Isolation and bad input: 4xx with a code naming the field.
	for _, c := range []struct {
		name   string
		call   func() error
		status int
		field  string
	}{
		{"other tenant", func() error { _, err := tenant.Invoice(ctx, month.Month, s.Credentials.Operator.OrgID); return err }, 404, ""},
		{"operator without org", func() error { _, err := op.Invoice(ctx, month.Month, ""); return err }, 422, "query.org_id"},
		{"bad month", func() error { _, err := tenant.Invoice(ctx, "2026-13", ""); return err }, 422, "path.month"},
		{"bad month shape", func() error { _, err := op.OperatorReport(ctx, "nov"); return err }, 422, "query.month"},
		{"provider invoices", func() error { _, err := prov.Invoices(ctx, month.Month); return err }, 403, ""},
		{"tenant report", func() error { _, err := tenant.OperatorReport(ctx, month.Month); return err }, 403, ""},
		{"provider other center", func() error { _, err := prov.Statements(ctx, month.Month, "", "bj-mentougou"); return err }, 404, ""},
		{"unknown scheme", func() error { _, err := op.Redemptions(ctx, "nope", month.Month); return err }, 404, ""},
		{"pay open month", func() error { _, err := op.PayStatement(ctx, month.Month, "", "bj-mentougou", "bank-1"); return err }, 409, ""},
		{"pay both", func() error {
			_, err := op.PayStatement(ctx, month.Month, bj.ProviderOrgID, "bj-mentougou", "bank-1")
			return err
		}, 422, "body.provider_org_id"},
		{"tenant pays", func() error { _, err := tenant.PayStatement(ctx, month.Month, "", "local", "bank-1"); return err }, 403, ""},
	} {
		err := c.call()
		ce, ok := err.(*client.Error)
		if !ok || ce.Status != c.status || ce.Code == "" || (c.field != "" && ce.Field != c.field) {
			t.Errorf("%s: %v (%+v), want %d naming %q", c.name, err, ce, c.status, c.field)
		}
	}

	// Provider statements: the net payable is the provider's share less
	// the refund's, equal to its payable account; the local provider sees
	// its own.
	sts, err := op.Statements(ctx, month.Month, "", "bj-mentougou")
	if err != nil {
		t.Fatal(err)
	}
	payable, _ := s.Store.Account(ctx, ledger.PayableID(bj.ProviderOrgID))
	st := sts[0]
	if len(sts) != 1 || st.ProviderPayable != provShare[bj.ProviderOrgID] || st.Total.Payable != st.ProviderPayable ||
		st.ProviderPayable != payable.CreditsPosted-payable.DebitsPosted || st.Status != settlement.StatusDraft {
		t.Errorf("statement payable %d (total %d, %s), want %d = ledger %d", st.ProviderPayable, st.Total.Payable, st.Status,
			provShare[bj.ProviderOrgID], payable.CreditsPosted-payable.DebitsPosted)
	}
	if len(st.Centers) != 1 || len(st.Centers[0].Lines) != 1 || st.Total.Net() != st.Total.VAT+st.Total.Commission+st.Total.Payable {
		t.Errorf("statement centers %+v", st.Centers)
	}
	mine, err := prov.Statements(ctx, month.Month, "", "")
	if err != nil || len(mine) != 1 || mine[0].Provider.OrgID != s.Credentials.Provider.OrgID ||
		mine[0].ProviderPayable != provShare[s.Credentials.Provider.OrgID] {
		t.Errorf("provider's own statements = %+v, %v", mine, err)
	}
	if raw, err := prov.StatementCSV(ctx, month.Month, "", ""); err != nil || len(readCSV(t, raw)) < 3 {
		t.Errorf("statement CSV: %v", err)
	}

	// The operator's report adds up to the ledger's accounts.
	rep, err := op.OperatorReport(ctx, month.Month)
	if err != nil {
		t.Fatal(err)
	}
	commAcct, _ := s.Store.Account(ctx, ledger.CommissionID)
	funder, _ := s.Store.Account(ctx, sqlstore.FunderReceivableID(v.ID))
	if rep.Totals.Charges != cost || rep.Totals.Commission != comm-rc || rep.Totals.VAT != vat-rv ||
		rep.Totals.Commission != commAcct.CreditsPosted-commAcct.DebitsPosted || rep.Totals.Voucher != voucher {
		t.Errorf("operator totals %+v; want charges %d commission %d (ledger %d) vat %d", rep.Totals, cost, comm-rc,
			commAcct.CreditsPosted-commAcct.DebitsPosted, vat-rv)
	}
	found := false
	for _, f := range rep.Funders {
		if f.AccountID == funder.ID {
			found = f.Accrued == voucher && f.Closing == funder.DebitsPosted-funder.CreditsPosted && f.Name == v.Name
		}
	}
	if !found || len(rep.Tenants) != 1 || rep.Tenants[0].Invoice != inv.Number {
		t.Errorf("receivables %+v tenants %+v", rep.Funders, rep.Tenants)
	}

	// The funding body's redemption CSV: the voucher column adds up to the
	// scheme's receivable and to the jobs' voucher payments.
	red, err := op.Redemptions(ctx, v.Name, month.Month)
	if err != nil || !red.Reconciled || red.Voucher != voucher || red.Jobs != 3 {
		t.Errorf("redemption = %+v, %v", red, err)
	}
	raw, err = op.RedemptionsCSV(ctx, v.Name, month.Month)
	if err != nil {
		t.Fatal(err)
	}
	rows = readCSV(t, raw)
	cv, ci := col(t, rows, "voucher"), col(t, rows, "invoice")
	sum = 0
	for _, r := range rows[1 : len(rows)-1] {
		sum += micros(t, r[cv])
		if r[ci] != inv.Number {
			t.Errorf("redemption row %v names invoice %q, want %q", r, r[ci], inv.Number)
		}
	}
	if len(rows) != 5 || sum != funder.DebitsPosted || sum != voucher || micros(t, rows[len(rows)-1][cv]) != voucher {
		t.Errorf("redemption CSV voucher sum %d, funder receivable %d, jobs %d (%d rows)", sum, funder.DebitsPosted, voucher, len(rows))
	}

	// Marking the statement paid once the month is over: the API's clock
	// is moved into the next month (the store's stays real).
	next := month.End.Add(time.Hour)
	apiSrv := &api.Server{Store: s.Store, Money: s.Store, Settlement: s.Store, Log: quietLog(), Now: func() time.Time { return next }}
	mux := http.NewServeMux()
	apiSrv.Register(mux)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	later := client.New(hs.URL, s.Credentials.Operator.Token)
	po, err := later.PayStatement(ctx, month.Month, "", "bj-mentougou", "BANK-0001")
	if err != nil {
		t.Fatal(err)
	}
	payable, _ = s.Store.Account(ctx, ledger.PayableID(bj.ProviderOrgID))
	if po.Amount != st.ProviderPayable || po.ProviderOrgID != bj.ProviderOrgID || payable.CreditsPosted != payable.DebitsPosted {
		t.Errorf("payout %+v; payable left %d", po, payable.CreditsPosted-payable.DebitsPosted)
	}
	if _, err := later.PayStatement(ctx, month.Month, bj.ProviderOrgID, "", "BANK-0002"); err == nil || err.(*client.Error).Status != 409 {
		t.Errorf("second payout = %v, want 409", err)
	}
	after, err := later.Statements(ctx, month.Month, bj.ProviderOrgID, "")
	if err != nil || after[0].Status != settlement.StatusPaid || after[0].Payout == nil || after[0].Payout.Reference != "BANK-0001" {
		t.Errorf("statement after payout = %+v, %v", after, err)
	}
	if fin, err := later.Invoice(ctx, month.Month, tid); err != nil || fin.Draft || fin.Total != inv.Total {
		t.Errorf("final invoice draft %v total %d, %v", fin.Draft, fin.Total, err)
	}
	ps, err := op.SettlementPayouts(ctx, "")
	if err != nil || len(ps) != 1 || ps[0].ID != po.ID {
		t.Errorf("payouts = %+v, %v", ps, err)
	}
	if err := s.Store.CheckLedger(ctx); err != nil {
		t.Error(err)
	}
}
