package server

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/console"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// The real console source has the voucher and ledger pages.
var _ console.MoneySource = consoleSource{}

// consoleUser is a browser-like client signed in to the console with a
// token, through the login form and its cookie.
type consoleUser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func signIn(t *testing.T, base, token string) *consoleUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &consoleUser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	res, _ := u.post("/login", url.Values{"token": {token}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", res.StatusCode)
	}
	return u
}

func (u *consoleUser) do(req *http.Request) (*http.Response, string) {
	u.t.Helper()
	res, err := u.c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (u *consoleUser) get(path string) (*http.Response, string) {
	u.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.base+path, nil)
	return u.do(req)
}

func (u *consoleUser) post(path string, form url.Values) (*http.Response, string) {
	u.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

func mustHave(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s lacks %q:\n%.4000s", what, s, body)
		}
	}
}

// TestConsoleVouchersAndLedger drives the voucher and ledger pages against
// the real store: the operator creates a scheme, grants it, records related
// parties and sees bad input refused without a change; the tenant sees its
// grant's remaining balance after a job the voucher paid part of; the
// provider sees neither page; the ledger verifies clean.
func TestConsoleVouchersAndLedger(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	cr := s.Credentials
	op := signIn(t, s.URL, cr.Operator.Token)
	ten := signIn(t, s.URL, cr.Tenant.Token)
	prov := signIn(t, s.URL, cr.Provider.Token)

	res, body := op.get("/vouchers?lang=en")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("operator /vouchers: %d\n%.2000s", res.StatusCode, body)
	}
	mustHave(t, "operator voucher page", body, `href="/vouchers"`, `href="/ledger"`, "No voucher schemes yet.", `id="scheme-form"`,
		`id="related-form"`)

	today := time.Now().In(time.FixedZone("CST", 8*3600))
	scheme := url.Values{"name": {"宜昌算力券"}, "issuer": {"宜昌市数据局"}, "share": {"20"}, "domestic_share": {"30"},
		"cap": {"50"}, "budget": {"100000"}, "from": {today.Format("2006-01-02")}, "until": {today.AddDate(1, 0, 0).Format("2006-01-02")},
		"kind": {"ai"}}

	// Bad input: a readable error on the page, and no scheme.
	bad := url.Values{}
	for k, v := range scheme {
		bad[k] = v
	}
	bad.Set("share", "two")
	res, body = op.post("/vouchers/schemes?lang=en", bad)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad scheme: status %d", res.StatusCode)
	}
	mustHave(t, "bad scheme", body, `id="form-error"`, "Nothing was changed:", "Share: ", "not a percentage", `value="two"`)
	if vs, _ := s.Store.VoucherSchemes(ctx); len(vs) != 0 {
		t.Fatalf("a bad form created %v", vs)
	}

	res, _ = op.post("/vouchers/schemes", scheme)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create scheme: %d", res.StatusCode)
	}
	vs, err := s.Store.VoucherSchemes(ctx)
	if err != nil || len(vs) != 1 || vs[0].ShareBPS != 2000 || vs[0].DomesticShareBPS != 3000 || vs[0].CapPerTenantYear != 50*core.MicrosPerYuan ||
		vs[0].Budget != 100_000*core.MicrosPerYuan || vs[0].CreatedBy != cr.Operator.OrgID {
		t.Fatalf("schemes = %+v, %v", vs, err)
	}
	v := vs[0]
	// The same name again is a conflict, shown on the page.
	res, body = op.post("/vouchers/schemes?lang=en", scheme)
	if res.StatusCode != http.StatusConflict {
		t.Errorf("duplicate scheme: status %d", res.StatusCode)
	}
	mustHave(t, "duplicate scheme", body, `id="form-error"`, "exists")

	// Grants: the tenant picker lists the demo tenant, not the provider.
	_, body = op.get("/vouchers?lang=en")
	picker := body[strings.Index(body, `id="grant-tenant"`):]
	picker = picker[:strings.Index(picker, "</select>")]
	if !strings.Contains(picker, `value="`+cr.Tenant.OrgID+`"`) || strings.Contains(picker, cr.Provider.OrgID) {
		t.Errorf("tenant picker: %s", picker)
	}
	grant := func(tenant, amount, ref string) (*http.Response, string) {
		return op.post("/vouchers/grants?lang=en", url.Values{"scheme": {v.ID}, "tenant": {tenant}, "amount": {amount}, "reference": {ref}})
	}
	for _, tc := range []struct{ tenant, amount, want string }{
		{cr.Tenant.OrgID, "50.01", "over the cap"},
		{cr.Tenant.OrgID, "0", "must be positive"},
		{cr.Tenant.OrgID, "1.0000001", "more than 6 decimals"},
		{cr.Provider.OrgID, "1", "is not a tenant"},
		{"org-nope", "1", "not found"},
	} {
		res, body = grant(tc.tenant, tc.amount, "bad")
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("grant %s to %s: status %d", tc.amount, tc.tenant, res.StatusCode)
		}
		mustHave(t, "bad grant", body, `id="form-error"`, tc.want)
	}
	if gs, _ := s.Store.VoucherGrants(ctx, ""); len(gs) != 0 {
		t.Fatalf("bad grants made %v", gs)
	}
	res, _ = grant(cr.Tenant.OrgID, "0.02", "approval-1")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/vouchers?done=grant" {
		t.Fatalf("grant: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	gs, err := s.Store.VoucherGrants(ctx, cr.Tenant.OrgID)
	if err != nil || len(gs) != 1 || gs[0].Amount != 20_000 || gs[0].CreatedBy != cr.Operator.OrgID {
		t.Fatalf("grants = %+v, %v", gs, err)
	}
	_, body = op.get("/vouchers?lang=en&done=grant")
	mustHave(t, "operator after grant", body, "The voucher was granted.", "approval-1", "99999.98") // budget left

	// Related parties: recorded; the same org twice refused.
	res, body = op.post("/vouchers/related?lang=en", url.Values{"org_a": {cr.Tenant.OrgID}, "org_b": {cr.Tenant.OrgID}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "must differ") {
		t.Errorf("related to itself: %d", res.StatusCode)
	}
	other, err := s.Store.CreateOrg(ctx, "Sister Co", creditCodeForTest(t, "91420500MA4440002"), core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	res, _ = op.post("/vouchers/related", url.Values{"org_a": {other.ID}, "org_b": {cr.Provider.OrgID}, "note": {"same parent"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("related: %d", res.StatusCode)
	}

	// A job on domestic chips: the voucher pays 30 % of it from the grant.
	tenant := client.New(s.URL, cr.Tenant.Token)
	j := submit(t, tenant, api.JobRequest{DurationS: 1, MaxDurationS: 600, Constraints: core.Constraints{Center: "bj-mentougou"},
		Replicas: []api.ReplicaRequest{{AccelCount: 8, CPUMilli: 1000, MemMiB: 1024}}})
	waitJob(t, tenant, j.ID)
	job, err := s.Store.Job(ctx, j.ID)
	if err != nil || job.Charges.VoucherMicros == 0 {
		t.Fatalf("job voucher = %d, %v", job.Charges.VoucherMicros, err)
	}
	acct, err := s.Store.Account(ctx, "voucher:"+v.ID+":grant:"+cr.Tenant.OrgID+":"+strconv.Itoa(gs[0].Year))
	if err != nil || acct.Available() != 20_000-job.Charges.VoucherMicros {
		t.Fatalf("grant account %+v, %v", acct, err)
	}

	// The tenant: its grant, what is left of it, and the job.
	res, body = ten.get("/vouchers?lang=en")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("tenant /vouchers: %d", res.StatusCode)
	}
	mustHave(t, "tenant voucher page", body, "宜昌算力券", "0.02", `remaining"><b>`+acct.Available().Yuan()+`</b>`,
		`href="/jobs/`+j.ID+`"`, job.Charges.VoucherMicros.Yuan(), `data-account="`+acct.ID+`"`)
	if strings.Contains(body, `id="grant-form"`) || strings.Contains(body, `href="/ledger"`) {
		t.Error("the tenant sees operator parts")
	}
	res, _ = ten.post("/vouchers/grants", url.Values{"scheme": {v.ID}, "tenant": {cr.Tenant.OrgID}, "amount": {"1"}, "reference": {"self"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("tenant grant: %d", res.StatusCode)
	}
	res, _ = ten.get("/ledger")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("tenant /ledger: %d", res.StatusCode)
	}
	// The provider: neither page, no links.
	for _, p := range []string{"/vouchers", "/ledger"} {
		if res, _ := prov.get(p); res.StatusCode != http.StatusForbidden {
			t.Errorf("provider %s: %d", p, res.StatusCode)
		}
	}
	if _, body := prov.get("/"); strings.Contains(body, `href="/vouchers"`) || strings.Contains(body, `href="/ledger"`) {
		t.Error("the provider sees voucher or ledger links")
	}

	// A correction, then the ledger: verified, grouped, with the journal.
	if err := s.Store.Adjust(ctx, cr.Tenant.OrgID, 1_500_000, "adj-1", "goodwill credit", cr.Operator.OrgID); err != nil {
		t.Fatal(err)
	}
	res, body = op.get("/ledger?lang=en")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/ledger: %d\n%.2000s", res.StatusCode, body)
	}
	mustHave(t, "ledger page", body, `id="verified"`, `id="ledger-CNY"`, `id="ledger-VOUCHER"`, `data-code="voucher_grant"`,
		`data-code="tenant_wallet"`, acct.ID, "goodwill credit", "Voucher grant", "grant approval-1", cr.Operator.OrgID)
	if strings.Contains(body, `id="problems"`) {
		t.Error("the ledger shows problems")
	}
	// The journal of one account, paged.
	res, body = op.get("/ledger?account=" + url.QueryEscape(acct.ID))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/ledger?account: %d", res.StatusCode)
	}
	mustHave(t, "account journal", body, `id="account-filter"`, "approval-1", j.ID)
	if _, total, _ := s.Store.Transfers(ctx, store.TransferFilter{}); total > 50 {
		if _, body := op.get("/ledger"); !strings.Contains(body, `id="next"`) {
			t.Error("no next page on a long journal")
		}
	}
	if problems, err := s.Store.Verify(ctx); err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
}
