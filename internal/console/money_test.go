package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// moneyFake adds vouchers, related parties and verification to the fake
// source, keeping the voucher ledger accounts as the store does.
type moneyFake struct {
	*fakeSource
	schemes  []store.VoucherScheme
	grants   []store.VoucherGrant
	related  [][3]string
	problems []string
	writes   int // successful writes
}

var (
	_ MoneySource = (*moneyFake)(nil)
	_ Source      = (*moneyFake)(nil)
)

func newMoneyFake() *moneyFake {
	f := &moneyFake{fakeSource: newFake()}
	for id, a := range f.accounts {
		a.Ledger = ledger.LedgerCNY
		f.accounts[id] = a
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, displayZone)
	f.schemes = []store.VoucherScheme{{ID: "vs-1", Name: "宜昌算力券", Issuer: "宜昌市数据局", ShareBPS: 2000, DomesticShareBPS: 3000,
		CapPerTenantYear: 10_000 * core.MicrosPerYuan, Budget: 1_000_000 * core.MicrosPerYuan, ValidFrom: from, ValidUntil: from.AddDate(1, 0, 0),
		EligibleKinds: []core.CenterKind{core.KindHPC}, CreatedBy: "org-op", CreatedAt: fakeNow.Add(-72 * time.Hour)}}
	f.openScheme(f.schemes[0])
	for _, g := range []struct {
		tenant string
		amount core.Micros
	}{{"org-a", 5_000 * core.MicrosPerYuan}, {"org-b", 3_000 * core.MicrosPerYuan}} {
		if _, err := f.GrantVoucher(context.Background(), "vs-1", g.tenant, g.amount, "approval-"+g.tenant, "org-op"); err != nil {
			panic(err)
		}
	}
	// j-a1 was paid 0.975 by the voucher.
	f.jobs[3].Charges.VoucherMicros, f.jobs[3].Charges.VoucherSchemeID = 975_000, "vs-1"
	f.move(voucherGrantAccount("vs-1", "org-a", 2026), voucherUsedAccount("vs-1"), 975_000)
	f.transfers = append([]ledger.Transfer{{ID: "adj-1", DebitAccountID: ledger.BankClearingID, CreditAccountID: ledger.WalletID("org-a"),
		Amount: 2_000_000, Code: "adjustment", Reason: "double charge on <b>j-a0</b>", Actor: "org-op", CreatedAt: fakeNow.Add(-time.Minute)}}, f.transfers...)
	f.accounts["units:org-a:bundle-1"] = ledger.Account{ID: "units:org-a:bundle-1", Ledger: ledger.LedgerUnits, Code: "bundle",
		OrgID: "org-a", CreditsPosted: 3_600_000}
	f.writes = 0
	return f
}

func (f *moneyFake) openScheme(v store.VoucherScheme) {
	f.accounts[voucherBudgetAccount(v.ID)] = ledger.Account{ID: voucherBudgetAccount(v.ID), Ledger: ledger.LedgerVoucher,
		Code: "voucher_budget", CreditsPosted: v.Budget}
	f.accounts[voucherUsedAccount(v.ID)] = ledger.Account{ID: voucherUsedAccount(v.ID), Ledger: ledger.LedgerVoucher, Code: "voucher_used"}
}

func (f *moneyFake) move(from, to string, amount core.Micros) {
	a, b := f.accounts[from], f.accounts[to]
	a.DebitsPosted += amount
	b.CreditsPosted += amount
	f.accounts[from], f.accounts[to] = a, b
}

func (f *moneyFake) scheme(idOrName string) (store.VoucherScheme, bool) {
	for _, s := range f.schemes {
		if s.ID == idOrName || s.Name == idOrName {
			return s, true
		}
	}
	return store.VoucherScheme{}, false
}

func (f *moneyFake) VoucherSchemes(context.Context) ([]store.VoucherScheme, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	return append([]store.VoucherScheme(nil), f.schemes...), nil
}

func (f *moneyFake) CreateVoucherScheme(_ context.Context, v store.VoucherScheme, actor string) (store.VoucherScheme, error) {
	if err := v.Validate(); err != nil {
		return v, err
	}
	for _, c := range v.EligibleCenters {
		found := false
		for _, ce := range f.centers {
			found = found || ce.Name == c
		}
		if !found {
			return v, core.FieldErrorf("eligible_centers", "unknown center %q", c)
		}
	}
	if _, ok := f.scheme(v.Name); ok {
		return v, core.Errorf(core.EConflict, "a voucher scheme named %q exists", v.Name)
	}
	v.ID, v.CreatedBy, v.CreatedAt = fmt.Sprintf("vs-%d", len(f.schemes)+1), actor, fakeNow
	f.schemes = append(f.schemes, v)
	f.openScheme(v)
	f.writes++
	return v, nil
}

func (f *moneyFake) GrantVoucher(_ context.Context, schemeID, tenant string, amount core.Micros, ref, actor string) (store.VoucherGrant, error) {
	if amount <= 0 {
		return store.VoucherGrant{}, core.FieldErrorf("amount", "must be positive")
	}
	if ref == "" || len(ref) > 128 {
		return store.VoucherGrant{}, core.FieldErrorf("reference", "must be 1..128 bytes")
	}
	v, ok := f.scheme(schemeID)
	if !ok {
		return store.VoucherGrant{}, core.Errorf(core.ENotFound, "voucher scheme %s not found", schemeID)
	}
	o, ok := f.orgs[tenant]
	if !ok {
		return store.VoucherGrant{}, core.Errorf(core.ENotFound, "org %s not found", tenant)
	}
	if o.Role != core.RoleTenant {
		return store.VoucherGrant{}, core.FieldErrorf("tenant_org_id", "%s is not a tenant", tenant)
	}
	year := fakeNow.In(displayZone).Year()
	var granted core.Micros
	for _, g := range f.grants {
		if g.ID == "vg:"+v.ID+":"+ref {
			return g, nil
		}
		if g.SchemeID == v.ID && g.TenantOrgID == tenant && g.Year == year {
			granted += g.Amount
		}
	}
	if granted+amount > v.CapPerTenantYear {
		return store.VoucherGrant{}, core.FieldErrorf("amount", "over the cap of %s CNY", v.CapPerTenantYear.Yuan())
	}
	if f.accounts[voucherBudgetAccount(v.ID)].Available() < amount {
		return store.VoucherGrant{}, core.Errorf(core.EInsufficientFunds, "voucher scheme %s has not enough budget left", v.Name)
	}
	acct := voucherGrantAccount(v.ID, tenant, year)
	if _, ok := f.accounts[acct]; !ok {
		f.accounts[acct] = ledger.Account{ID: acct, Ledger: ledger.LedgerVoucher, Code: "voucher_grant", OrgID: tenant}
	}
	f.move(voucherBudgetAccount(v.ID), acct, amount)
	g := store.VoucherGrant{ID: "vg:" + v.ID + ":" + ref, SchemeID: v.ID, TenantOrgID: tenant, Year: year, Amount: amount,
		CreatedBy: actor, CreatedAt: fakeNow}
	f.grants = append(f.grants, g)
	f.writes++
	return g, nil
}

func (f *moneyFake) VoucherGrants(_ context.Context, tenant string) ([]store.VoucherGrant, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.VoucherGrant
	for _, g := range f.grants {
		if tenant == "" || g.TenantOrgID == tenant {
			out = append(out, g)
		}
	}
	return out, nil
}

func (f *moneyFake) AddRelatedParty(_ context.Context, a, b, note, actor string) error {
	if a == b {
		return core.FieldErrorf("org_b", "must differ from org_a")
	}
	for _, id := range []string{a, b} {
		if _, ok := f.orgs[id]; !ok {
			return core.Errorf(core.ENotFound, "org %s not found", id)
		}
	}
	f.related = append(f.related, [3]string{a, b, note})
	f.writes++
	return nil
}

func (f *moneyFake) Accounts(context.Context) ([]ledger.Account, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []ledger.Account
	for _, a := range f.accounts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *moneyFake) Verify(context.Context) ([]string, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	return f.problems, nil
}

func (f *moneyFake) Orgs(_ context.Context, role core.Role) ([]core.Org, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []core.Org
	for _, o := range f.orgs {
		if role == "" || o.Role == role {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// section returns the part of body from the element with the given id to
// the end of its enclosing tag name's first close, roughly: enough to check
// what one table or select holds.
func section(t *testing.T, body, id, end string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no element %s in body:\n%.3000s", id, body)
	}
	j := strings.Index(body[i:], end)
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}

func TestMoneyPagesNeedTheSource(t *testing.T) {
	h := New(newFake(), fixedNow)
	_, body := get(t, h, "/", withToken(tokOperator))
	wantNotContains(t, body, `href="/vouchers"`, `href="/ledger"`)
	for _, p := range []string{"/vouchers", "/ledger"} {
		res, body := get(t, h, p, withToken(tokOperator))
		wantStatus(t, res, body, http.StatusNotFound)
	}
}

func TestVouchersByRole(t *testing.T) {
	f := newMoneyFake()
	h := New(f, fixedNow)

	// Operator: the schemes with their ledger totals, and the forms.
	res, body := get(t, h, "/vouchers?lang=en", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	schemes := section(t, body, "schemes", "</table>")
	// share 20 %, domestic 30 %, cap 10,000, budget 1,000,000, granted
	// 8,000, left 992,000, redeemed 0.975 (shown in fen).
	wantContains(t, schemes, "宜昌算力券", "宜昌市数据局", "20%", "30%", "10000.00", "1000000.00", "8000.00", "992000.00", "0.98",
		"2026-01-01 – 2026-12-31", "HPC", "active")
	wantContains(t, body, `href="/vouchers"`, `href="/ledger"`, `id="scheme-form"`, `id="grant-form"`, `id="related-form"`,
		"approval-org-a")
	tenants := section(t, body, "grant-tenant", "</select>")
	wantContains(t, tenants, `value="org-a"`, `value="org-b"`)
	wantNotContains(t, tenants, "org-p1", "org-op")
	wantContains(t, section(t, body, "related-a", "</select>"), `value="org-p1"`, `value="org-a"`)

	// Tenant A: its own grant and remaining balance, and its job the
	// voucher paid on; nothing of tenant B.
	res, body = get(t, h, "/vouchers?lang=en", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	grants := section(t, body, "grants", "</table>")
	// 5,000 granted, 0.975 used: 4,999.025 left.
	wantContains(t, grants, "宜昌算力券", "2026", "5000.00", "0.98", "4999.03", voucherGrantAccount("vs-1", "org-a", 2026))
	wantNotContains(t, body, "3000.00", "org-b", `id="grant-form"`, `id="scheme-form"`, `href="/ledger"`, "approval-")
	jobs := section(t, body, "voucher-jobs", "</table>")
	wantContains(t, jobs, `href="/jobs/j-a1"`, "3.25", "0.98", "2.28")
	wantNotContains(t, jobs, "j-a2", "j-b1")

	// Tenant B: its own grant only, and no jobs paid by vouchers.
	res, body = get(t, h, "/vouchers?lang=zh", withToken(tokTenantB))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "我的算力券", "3000.00", voucherGrantAccount("vs-1", "org-b", 2026), "暂无使用算力券支付的作业")
	wantNotContains(t, body, "5000.00", "j-a1")

	// Providers: no link, no page; tenants: no ledger.
	_, body = get(t, h, "/", withToken(tokProvider))
	wantNotContains(t, body, `href="/vouchers"`, `href="/ledger"`)
	res, body = get(t, h, "/vouchers", withToken(tokProvider))
	wantStatus(t, res, body, http.StatusForbidden)
	for _, tok := range []string{tokProvider, tokTenantA} {
		res, body = get(t, h, "/ledger", withToken(tok))
		wantStatus(t, res, body, http.StatusForbidden)
	}
	// Not signed in: to the login page.
	res, _ = get(t, h, "/vouchers")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fvouchers" {
		t.Errorf("anonymous /vouchers: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestVoucherFormsWork(t *testing.T) {
	f := newMoneyFake()
	h := New(f, fixedNow)

	res, body := do(t, h, http.MethodPost, "/vouchers/schemes", strings.NewReader(url.Values{
		"name": {"武汉算力券"}, "issuer": {"武汉市经信局"}, "share": {"12.5"}, "domestic_share": {"40%"}, "cap": {"500000"},
		"budget": {"20000000.50"}, "from": {"2026-11-01"}, "until": {"2027-10-31"}, "kind": {"ai", "hpc"}, "center": {"yc-baidu"},
	}.Encode()), withToken(tokOperator))
	wantStatus(t, res, body, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/vouchers?done=scheme" {
		t.Errorf("Location = %q", loc)
	}
	v, ok := f.scheme("武汉算力券")
	if !ok {
		t.Fatal("scheme not created")
	}
	if v.ShareBPS != 1250 || v.DomesticShareBPS != 4000 || v.CapPerTenantYear != 500_000*core.MicrosPerYuan ||
		v.Budget != 20_000_000_500_000 || v.CreatedBy != "org-op" ||
		!v.ValidFrom.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, displayZone)) ||
		!v.ValidUntil.Equal(time.Date(2027, 11, 1, 0, 0, 0, 0, displayZone)) ||
		fmt.Sprint(v.EligibleKinds) != "[ai hpc]" || fmt.Sprint(v.EligibleCenters) != "[yc-baidu]" {
		t.Errorf("scheme = %+v", v)
	}
	res, body = get(t, h, "/vouchers?done=scheme&lang=en", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="done-notice"`, "The voucher scheme was created.", "武汉算力券", "12.5%", "2027-10-31")

	res, body = do(t, h, http.MethodPost, "/vouchers/grants", form("scheme", v.ID, "tenant", "org-b", "amount", "1234.56", "reference", "WH-1"),
		withToken(tokOperator))
	wantStatus(t, res, body, http.StatusSeeOther)
	if g := f.grants[len(f.grants)-1]; g.SchemeID != v.ID || g.TenantOrgID != "org-b" || g.Amount != 1_234_560_000 || g.CreatedBy != "org-op" {
		t.Errorf("grant = %+v", g)
	}
	_, body = get(t, h, "/vouchers", withToken(tokTenantB))
	wantContains(t, section(t, body, "grants", "</table>"), "武汉算力券", "1234.56")

	res, body = do(t, h, http.MethodPost, "/vouchers/related", form("org_a", "org-b", "org_b", "org-p1", "note", "同一母公司"),
		withToken(tokOperator))
	wantStatus(t, res, body, http.StatusSeeOther)
	if len(f.related) != 1 || f.related[0] != [3]string{"org-b", "org-p1", "同一母公司"} {
		t.Errorf("related = %v", f.related)
	}
	if f.writes != 3 {
		t.Errorf("writes = %d, want 3", f.writes)
	}
}

// TestVoucherFormsBadInput: every bad input shows a readable error on the
// page, keeps what was typed, answers 4xx and changes nothing.
func TestVoucherFormsBadInput(t *testing.T) {
	good := url.Values{"name": {"新券"}, "issuer": {"某局"}, "share": {"20"}, "domestic_share": {"30"}, "cap": {"100"},
		"budget": {"1000"}, "from": {"2026-01-01"}, "until": {"2026-12-31"}}
	scheme := func(kv ...string) string {
		v := url.Values{}
		for k, x := range good {
			v[k] = x
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	grant := func(amount, tenant, ref string) string {
		return url.Values{"scheme": {"vs-1"}, "tenant": {tenant}, "amount": {amount}, "reference": {ref}}.Encode()
	}
	for _, tc := range []struct {
		path, body string
		status     int
		want       []string
	}{
		{"/vouchers/schemes", scheme("share", "abc"), 400, []string{"Share: ", "not a percentage"}},
		{"/vouchers/schemes", scheme("share", "120"), 400, []string{"must be 0..100 %"}},
		{"/vouchers/schemes", scheme("domestic_share", "12.345"), 400, []string{"Share on domestic chips: at most two decimals"}},
		{"/vouchers/schemes", scheme("cap", "-5"), 400, []string{"Cap per tenant per year (CNY): must be positive"}},
		{"/vouchers/schemes", scheme("budget", "1.0000001"), 400, []string{"more than 6 decimals"}},
		{"/vouchers/schemes", scheme("budget", "一千"), 400, []string{"Budget (CNY): "}},
		{"/vouchers/schemes", scheme("from", "2026-13-01"), 400, []string{"First day: not a date"}},
		{"/vouchers/schemes", scheme("until", "2025-12-30"), 400, []string{"Last day: must not be before"}},
		{"/vouchers/schemes", scheme("name", ""), 400, []string{"Name: must be 1..200 bytes"}},
		{"/vouchers/schemes", scheme("name", "宜昌算力券"), 409, []string{"exists"}},
		{"/vouchers/schemes", scheme("kind", "quantum"), 400, []string{"unknown kind"}},
		{"/vouchers/schemes", scheme("center", "nowhere"), 400, []string{"unknown center"}},
		{"/vouchers/schemes", strings.Repeat("x", formBytesMax+10), 400, []string{"bad form"}},
		{"/vouchers/grants", grant("0", "org-a", "r"), 400, []string{"Amount (CNY): must be positive"}},
		{"/vouchers/grants", grant("", "org-a", "r"), 400, []string{"empty amount"}},
		{"/vouchers/grants", grant("5000.01", "org-a", "r"), 400, []string{"over the cap"}},
		{"/vouchers/grants", grant("10", "org-p1", "r"), 400, []string{"is not a tenant"}},
		{"/vouchers/grants", grant("10", "org-zz", "r"), 400, []string{"not found"}},
		{"/vouchers/grants", grant("10", "", "r"), 400, []string{"Tenant: choose a tenant"}},
		{"/vouchers/grants", grant("10", "org-a", ""), 400, []string{"Reference: must be 1..128"}},
		{"/vouchers/grants", url.Values{"scheme": {"vs-9"}, "tenant": {"org-a"}, "amount": {"1"}, "reference": {"r"}}.Encode(), 400,
			[]string{"not found"}},
		{"/vouchers/related", form2("org_a", "org-a", "org_b", "org-a"), 400, []string{"must differ"}},
		{"/vouchers/related", form2("org_a", "org-a", "org_b", ""), 400, []string{"Related to: choose"}},
		{"/vouchers/related", form2("org_a", "org-a", "org_b", "org-zz"), 400, []string{"not found"}},
		{"/vouchers/related", form2("org_a", "org-a", "org_b", "org-b", "note", strings.Repeat("n", 201)), 400, []string{"Note: longer than"}},
	} {
		f := newMoneyFake()
		h := New(f, fixedNow)
		before := fmt.Sprint(f.schemes, f.grants, f.accounts)
		res, body := do(t, h, http.MethodPost, tc.path+"?lang=en", strings.NewReader(tc.body), withToken(tokOperator))
		if res.StatusCode != tc.status {
			t.Errorf("POST %s %.80s: status %d, want %d", tc.path, tc.body, res.StatusCode, tc.status)
		}
		wantContains(t, body, `id="form-error"`, "Nothing was changed:", `id="schemes"`)
		wantContains(t, section(t, body, "form-error", "</p>"), tc.want...)
		if f.writes != 0 || len(f.related) != 0 || fmt.Sprint(f.schemes, f.grants, f.accounts) != before {
			t.Errorf("POST %s %.80s changed something", tc.path, tc.body)
		}
	}
	// Over the budget: a scheme with little budget left.
	f := newMoneyFake()
	f.schemes[0].CapPerTenantYear = 2_000_000 * core.MicrosPerYuan
	h := New(f, fixedNow)
	res, body := do(t, h, http.MethodPost, "/vouchers/grants", strings.NewReader(grant("992000.01", "org-a", "big")), withToken(tokOperator))
	wantStatus(t, res, body, http.StatusConflict)
	wantContains(t, body, "not enough budget", `id="form-error"`)
	// What was typed is kept.
	res, body = do(t, h, http.MethodPost, "/vouchers/schemes?lang=en", strings.NewReader(scheme("name", "保留", "share", "x", "kind", "ai")),
		withToken(tokOperator))
	wantStatus(t, res, body, http.StatusBadRequest)
	wantContains(t, body, `value="保留"`, `value="x"`, `value="ai" checked`, `value="2026-12-31"`)
	if f.writes != 0 {
		t.Errorf("writes = %d", f.writes)
	}
}

func form2(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestVoucherFormsRolesAndCSRF(t *testing.T) {
	f := newMoneyFake()
	h := New(f, fixedNow)
	bodies := map[string]string{
		"/vouchers/schemes": form2("name", "x", "issuer", "y", "share", "1", "domestic_share", "1", "cap", "1", "budget", "1",
			"from", "2026-01-01", "until", "2026-12-31"),
		"/vouchers/grants":  form2("scheme", "vs-1", "tenant", "org-a", "amount", "1", "reference", "r"),
		"/vouchers/related": form2("org_a", "org-a", "org_b", "org-p1"),
	}
	for path, b := range bodies {
		for _, tok := range []string{tokTenantA, tokProvider} {
			res, body := do(t, h, http.MethodPost, path, strings.NewReader(b), withToken(tok))
			wantStatus(t, res, body, http.StatusForbidden)
		}
		// A cross-site form post is refused before it reaches the handler.
		res, body := do(t, h, http.MethodPost, path, strings.NewReader(b), withToken(tokOperator),
			withHeader("Sec-Fetch-Site", "cross-site"), withHeader("Origin", "https://evil.example"))
		wantStatus(t, res, body, http.StatusForbidden)
		// Not signed in.
		res, body = do(t, h, http.MethodPost, path, strings.NewReader(b))
		wantStatus(t, res, body, http.StatusUnauthorized)
		// GET is not a way to write.
		res, body = get(t, h, path, withToken(tokOperator))
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
	if f.writes != 0 {
		t.Errorf("writes = %d, want 0", f.writes)
	}
}

func TestLedgerPage(t *testing.T) {
	f := newMoneyFake()
	h := New(f, fixedNow)
	res, body := get(t, h, "/ledger?lang=en", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="verified"`, "Verified: no problems found", `id="ledger-CNY"`, `id="ledger-VOUCHER"`,
		`data-code="voucher_budget"`, `data-code="tenant_wallet"`, voucherGrantAccount("vs-1", "org-a", 2026),
		// budget: 1,000,000 credited, 8,000 granted: net 992,000 exactly.
		"992000.000000", "card-milliseconds", "CNY of subsidy", `id="ledger-UNITS"`, ">3600000<")
	wantNotContains(t, body, `id="problems"`)
	// CNY comes before VOUCHER.
	if strings.Index(body, `id="ledger-CNY"`) > strings.Index(body, `id="ledger-VOUCHER"`) {
		t.Error("ledgers out of order")
	}
	// The correction shows its reason (escaped) and actor.
	tr := section(t, body, "transfers", "</table>")
	wantContains(t, tr, "Adjustment", "double charge on &lt;b&gt;j-a0&lt;/b&gt;", "org-op", "manual", "2.000000", "Top-up")
	if last := f.transferFilters[len(f.transferFilters)-1]; last.AccountID != "" || last.Limit != ledgerPageSize || last.Offset != 0 {
		t.Errorf("transfer filter = %+v", last)
	}

	// One account's transfers, with signs, and paging keeps the filter.
	res, body = get(t, h, "/ledger?account="+url.QueryEscape(ledger.WalletID("org-a"))+"&offset=1", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="account-filter"`, `id="prev"`, `class="num neg"`)
	if last := f.transferFilters[len(f.transferFilters)-1]; last.AccountID != ledger.WalletID("org-a") || last.Offset != 1 {
		t.Errorf("transfer filter = %+v", last)
	}
	res, body = get(t, h, "/ledger?account="+strings.Repeat("a", 300), withToken(tokOperator))
	wantStatus(t, res, body, http.StatusBadRequest)

	// Problems are listed, escaped.
	f.problems = []string{"job j-1: cost 5, paid 4, split 5: each must equal the cost", "<script>x</script>"}
	res, body = get(t, h, "/ledger?lang=zh", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="problems"`, "发现 2 个问题", "job j-1: cost 5", "&lt;script&gt;")
	wantNotContains(t, body, `id="verified"`, "<script>x")
}

func TestMoneyPagesInternalErrors(t *testing.T) {
	f := newMoneyFake()
	f.fail = errors.New("disk I/O error: secret")
	h := New(f, fixedNow)
	for _, p := range []string{"/vouchers", "/ledger"} {
		res, body := get(t, h, p+"?lang=en", withToken(tokOperator))
		wantStatus(t, res, body, http.StatusInternalServerError)
		wantNotContains(t, body, "secret")
	}
}

func TestMoneyPagesNoServerErrors(t *testing.T) {
	h := New(newMoneyFake(), fixedNow)
	paths := []string{"/vouchers?done=x", "/vouchers?done=%zz", "/ledger?offset=-1", "/ledger?offset=zz", "/ledger?account=%00",
		"/ledger?account=nope", "/vouchers/schemes", "/ledger?offset=99999999"}
	for _, tok := range []string{tokOperator, tokTenantA, tokProvider} {
		for _, p := range paths {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.URL, _ = url.Parse(p)
			r.RequestURI = p
			withToken(tok)(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Errorf("token %q GET %s: status %d", tok, p, w.Code)
			}
		}
	}
}

// TestMoneyCatalogKeys checks the keys the templates build at run time.
func TestMoneyCatalogKeys(t *testing.T) {
	var keys []string
	for _, d := range []string{"scheme", "grant", "related"} {
		keys = append(keys, "voucher.done_"+d)
	}
	for _, k := range ledgerUnits {
		keys = append(keys, k)
	}
	for _, k := range fieldLabels {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if _, ok := enMessages[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
		if _, ok := zhMessages[k]; !ok {
			t.Errorf("zh lacks %q", k)
		}
	}
	for k := range moneyEn {
		if _, ok := moneyZh[k]; !ok {
			t.Errorf("zh lacks %q", k)
		}
	}
	for k := range moneyZh {
		if _, ok := moneyEn[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
}
