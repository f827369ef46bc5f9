package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/meter"
	"github.com/suanli/suanli/internal/settlement"
	"github.com/suanli/suanli/internal/store"
)

// settleFake adds settlement reports, built by the real builders from
// canned job rows, to the fake source.
type settleFake struct {
	*fakeSource
	rows    []settlement.JobRow
	payouts []store.Payout
}

func newSettleFake() *settleFake {
	f := &settleFake{fakeSource: newFake()}
	money := func(gross, voucher core.Micros) settlement.Money {
		m := settlement.Money{Capture: gross - voucher, Voucher: voucher}
		m.VAT, m.Commission, m.Provider = meter.Split(gross, 600, 1000)
		return m
	}
	f.rows = []settlement.JobRow{
		{JobID: "j-a1", Name: "alpha-done", TenantOrgID: "org-a", CenterID: "c-hpc", CostMicros: 3_250_000, VoucherSchemeID: "vs-1",
			Usage: []settlement.Usage{{Units: 4000, BilledMs: 3_600_000, RateScaled: 1}}, Money: money(3_250_000, 975_000)},
		{JobID: "j-b1", Name: "beta-train", TenantOrgID: "org-b", CenterID: "c-ai", CostMicros: 24_000_000,
			Usage: []settlement.Usage{{Model: "A100", Units: 2, BilledMs: 3_600_000, RateScaled: 1}}, Money: money(24_000_000, 0)},
	}
	return f
}

func (f *settleFake) book() settlement.Book {
	b := settlement.Book{Centers: map[string]core.Center{}, Orgs: f.orgs}
	for _, c := range f.centers {
		b.Centers[c.ID] = c
	}
	return b
}

func (f *settleFake) pick(keep func(settlement.JobRow) bool) []settlement.JobRow {
	var out []settlement.JobRow
	for _, j := range f.rows {
		if keep(j) {
			out = append(out, j)
		}
	}
	return out
}

var fakeNumbers = map[string]string{"org-a": "SL-202611-00001", "org-b": "SL-202611-00002"}

func (f *settleFake) TenantInvoice(_ context.Context, org string, p settlement.Period, now time.Time) (settlement.Invoice, error) {
	return settlement.BuildInvoice(settlement.InvoiceInput{Period: p, Number: fakeNumbers[org], Seller: settlement.PartyOf(f.orgs["org-op"]),
		Buyer: settlement.PartyOf(f.orgs[org]), TaxBPS: 600, Jobs: f.pick(func(j settlement.JobRow) bool { return j.TenantOrgID == org }),
		Book: f.book(), Now: now}), nil
}

func (f *settleFake) ProviderStatement(_ context.Context, provider, center string, p settlement.Period, now time.Time) (settlement.Statement, error) {
	b := f.book()
	in := settlement.StatementInput{Period: p, Provider: settlement.PartyOf(f.orgs[provider]), Only: center, Now: now,
		Jobs: f.pick(func(j settlement.JobRow) bool { return b.Centers[j.CenterID].ProviderOrgID == provider })}
	for _, c := range f.centers {
		if c.ProviderOrgID == provider {
			in.Centers = append(in.Centers, c)
		}
	}
	for _, po := range f.payouts {
		if po.ProviderOrgID == provider && po.PeriodStart.Equal(p.Start) {
			in.Payout = &settlement.PayoutInfo{ID: po.ID, Amount: po.Amount, Reference: po.Reference}
		}
	}
	return settlement.BuildStatement(in), nil
}

func (f *settleFake) ProviderStatements(ctx context.Context, p settlement.Period, now time.Time) ([]settlement.Statement, error) {
	var out []settlement.Statement
	for _, id := range []string{"org-p1", "org-p2"} {
		st, _ := f.ProviderStatement(ctx, id, "", p, now)
		out = append(out, st)
	}
	return out, nil
}

func (f *settleFake) OperatorReport(_ context.Context, p settlement.Period, now time.Time) (settlement.OperatorReport, error) {
	return settlement.BuildOperatorReport(settlement.OperatorInput{Period: p, Jobs: f.rows, Book: f.book(), Invoices: fakeNumbers,
		Receivables: []settlement.ReceivableMoves{{AccountID: "funder:vs-1:receivable", Code: settlement.CodeFunderReceivable, Accrued: 975_000}},
		Schemes:     map[string]settlement.Scheme{"vs-1": {ID: "vs-1", Name: "宜昌算力券", Issuer: "宜昌市数据局"}}, Now: now}), nil
}

func (f *settleFake) RedemptionReport(_ context.Context, scheme string, p settlement.Period, now time.Time) (settlement.Redemption, error) {
	if scheme != "宜昌算力券" {
		return settlement.Redemption{}, core.Errorf(core.ENotFound, "voucher scheme %q not found", scheme)
	}
	return settlement.BuildRedemption(settlement.RedemptionInput{Period: p, Scheme: settlement.Scheme{ID: "vs-1", Name: scheme, Issuer: "宜昌市数据局"},
		Jobs: f.rows, Book: f.book(), Invoices: fakeNumbers, LedgerVoucher: 975_000, LedgerUsed: 975_000, Now: now}), nil
}

func (f *settleFake) VoucherSchemes(context.Context) ([]store.VoucherScheme, error) {
	return []store.VoucherScheme{{ID: "vs-1", Name: "宜昌算力券", Issuer: "宜昌市数据局"}}, nil
}

func (f *settleFake) RecordPayout(_ context.Context, p store.Payout, actor string) (store.Payout, error) {
	p.ID, p.CreatedBy = "payout:"+p.ProviderOrgID, actor
	f.payouts = append(f.payouts, p)
	return p, nil
}

func TestSettlementPagesByRole(t *testing.T) {
	h := New(newSettleFake(), fixedNow)

	// The nav link appears only with a settlement source.
	_, body := get(t, New(newFake(), fixedNow), "/", withToken(tokTenantA))
	wantNotContains(t, body, `href="/settlement"`)
	res, body := get(t, h, "/settlement", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `href="/settlement"`, "SL-202611-00001", "算力服务 · 宜昌超算中心 · CPU", "核时", "4.000",
		"2.28", `id="printable"`, "j-a1")
	wantNotContains(t, body, "SL-202611-00002", "beta-train")

	// The printable invoice stands alone, with print CSS.
	res, body = get(t, h, "/settlement/invoice?month=2026-11", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "@media print", "SL-202611-00001", "¥3.25", "Alpha 科技")
	wantNotContains(t, body, `class="mainnav"`)
	res, body = get(t, h, "/settlement/invoice.csv?month=2026-11", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") || !strings.Contains(body, "3.250000") {
		t.Errorf("CSV %s: %.300s", ct, body)
	}
	// Another tenant's invoice is not found; providers have none.
	res, body = get(t, h, "/settlement/invoice?org=org-b", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusNotFound)
	res, body = get(t, h, "/settlement/invoice", withToken(tokProvider))
	wantStatus(t, res, body, http.StatusForbidden)
	res, body = get(t, h, "/settlement?month=2026-13", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusBadRequest)

	// A provider sees its own statement, not another's center.
	res, body = get(t, h, "/settlement/statement", withToken(tokProvider))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "宜昌算力", "宜昌百度智算中心", "A100", "2.000")
	wantNotContains(t, body, `id="pay-form"`)
	res, body = get(t, h, "/settlement/statement?center=local", withToken(tokProvider))
	wantStatus(t, res, body, http.StatusNotFound)
	res, body = get(t, h, "/settlement/statement", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusForbidden)

	// The operator sees the report, the statements and the redemptions.
	res, body = get(t, h, "/settlement", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="report-centers"`, `id="report-tenants"`, "SL-202611-00002", "宜昌算力券", `id="statements"`)
	res, body = get(t, h, "/settlement/redemptions?month=2026-11", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "0.975000", `id="reconciled"`, "SL-202611-00001")
	res, body = get(t, h, "/settlement/redemptions?scheme=nope", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusNotFound)
	res, body = get(t, h, "/settlement/redemptions", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusForbidden)
	res, _ = get(t, h, "/settlement/report.csv?month=2026-11", withToken(tokOperator))
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("report CSV: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestSettlementPay(t *testing.T) {
	f := newSettleFake()
	// November is open on the fake clock; October is over but empty; pay
	// November with the clock in December.
	h := New(f, fixedNow)
	res, body := get(t, h, "/settlement/statement?month=2026-11&provider=org-p1", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="pay-blocked"`)
	res, body = do(t, h, http.MethodPost, "/settlement/statement/pay", form("month", "2026-11", "provider", "org-p1", "reference", "B-1"),
		withToken(tokOperator))
	wantStatus(t, res, body, http.StatusConflict)

	dec := func() time.Time { return time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC) }
	h = New(f, dec)
	res, body = get(t, h, "/settlement/statement?month=2026-11&provider=org-p1", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="pay-form"`)
	res, body = do(t, h, http.MethodPost, "/settlement/statement/pay", form("month", "2026-11", "provider", "org-p1"), withToken(tokOperator))
	wantStatus(t, res, body, http.StatusBadRequest) // no reference
	res, body = do(t, h, http.MethodPost, "/settlement/statement/pay", form("month", "2026-11", "provider", "org-p1", "reference", "B-1"),
		withToken(tokProvider))
	wantStatus(t, res, body, http.StatusForbidden)
	res, body = do(t, h, http.MethodPost, "/settlement/statement/pay", form("month", "2026-11", "provider", "org-p1", "reference", "B-1"),
		withToken(tokOperator))
	wantStatus(t, res, body, http.StatusSeeOther)
	if len(f.payouts) != 1 || f.payouts[0].Amount <= 0 || f.payouts[0].Reference != "B-1" || f.payouts[0].CreatedBy != "org-op" {
		t.Fatalf("payouts = %+v", f.payouts)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	res, body = get(t, h, loc.String(), withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="paid-notice"`, "B-1", "status-paid")
	res, body = do(t, h, http.MethodPost, "/settlement/statement/pay", form("month", "2026-11", "provider", "org-p1", "reference", "B-2"),
		withToken(tokOperator))
	wantStatus(t, res, body, http.StatusConflict)
}

func TestSettlementNoServerErrors(t *testing.T) {
	h := New(newSettleFake(), fixedNow)
	paths := []string{"/settlement?month=x", "/settlement?month=1999-01", "/settlement/invoice?org=" + strings.Repeat("o", 300),
		"/settlement/invoice.csv", "/settlement/statement?center=nope", "/settlement/statement?provider=org-a",
		"/settlement/statement.csv?month=2026-11", "/settlement/redemptions.csv?scheme=" + strings.Repeat("s", 300),
		"/settlement/report.csv?month=bad", "/settlement/statement/pay"}
	for _, tok := range []string{tokOperator, tokTenantA, tokProvider} {
		for _, p := range paths {
			r := httptest.NewRequest(http.MethodGet, p, nil)
			withToken(tok)(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Errorf("token %q GET %s: status %d: %.300s", tok, p, w.Code, w.Body.String())
			}
		}
	}
}
