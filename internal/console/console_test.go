package console

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// get sends a request to the console and returns the response and body.
type reqOpt func(*http.Request)

func withToken(tok string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookieToken, Value: tok}) }
}

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, opts ...reqOpt) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func get(t *testing.T, h http.Handler, target string, opts ...reqOpt) (*http.Response, string) {
	t.Helper()
	return do(t, h, http.MethodGet, target, nil, opts...)
}

func wantStatus(t *testing.T, res *http.Response, body string, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body:\n%.2000s", res.Request.Method, res.Request.URL, res.StatusCode, want, body)
	}
}

func wantContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("body does not contain %q; body:\n%.3000s", s, body)
		}
	}
}

func wantNotContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("body contains %q but should not", s)
		}
	}
}

func TestUnauthenticatedRedirectsToLogin(t *testing.T) {
	h := New(newFake(), fixedNow)
	for _, tc := range []struct{ path, location string }{
		{"/", "/login"},
		{"/centers", "/login?next=%2Fcenters"},
		{"/jobs?state=running", "/login?next=%2Fjobs%3Fstate%3Drunning"},
		{"/wallet", "/login?next=%2Fwallet"},
	} {
		res, body := get(t, h, tc.path)
		wantStatus(t, res, body, http.StatusSeeOther)
		if got := res.Header.Get("Location"); got != tc.location {
			t.Errorf("GET %s: Location %q, want %q", tc.path, got, tc.location)
		}
	}
	// A bad cookie is cleared and redirected too.
	res, body := get(t, h, "/", withToken("nope"))
	wantStatus(t, res, body, http.StatusSeeOther)
	if c := findCookie(res, cookieToken); c == nil || c.MaxAge >= 0 {
		t.Errorf("bad token cookie not cleared: %+v", c)
	}
	// htmx requests get HX-Redirect instead of a redirect they would swap in.
	res, body = get(t, h, "/jobs", withHeader("HX-Request", "true"))
	wantStatus(t, res, body, http.StatusUnauthorized)
	if res.Header.Get("HX-Redirect") != "/login" {
		t.Errorf("HX-Redirect = %q", res.Header.Get("HX-Redirect"))
	}
	// The login page itself is public.
	res, body = get(t, h, "/login")
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="token"`, `type="password"`)
}

func findCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func form(kv ...string) io.Reader {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode())
}

func TestLoginLogout(t *testing.T) {
	h := New(newFake(), fixedNow)

	res, body := do(t, h, http.MethodPost, "/login", form("token", "wrong"), withHeader("Accept-Language", "en"))
	wantStatus(t, res, body, http.StatusUnauthorized)
	wantContains(t, body, "The token is not valid.")
	if findCookie(res, cookieToken) != nil {
		t.Error("failed login set a token cookie")
	}

	res, body = do(t, h, http.MethodPost, "/login", form("token", strings.Repeat("x", tokenLenMax+1)))
	wantStatus(t, res, body, http.StatusUnauthorized)

	res, body = do(t, h, http.MethodPost, "/login", form("token", tokOperator))
	wantStatus(t, res, body, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/" {
		t.Errorf("Location = %q, want /", loc)
	}
	ck := findCookie(res, cookieToken)
	if ck == nil || ck.Value != tokOperator || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Fatalf("token cookie = %+v, want HttpOnly SameSite=Strict Path=/", ck)
	}
	res, body = get(t, h, "/", withToken(ck.Value))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "宜昌百度智算中心", "平台运营")

	// next is honoured when local, ignored when it could leave the site.
	for next, want := range map[string]string{"/jobs?state=queued": "/jobs?state=queued", "//evil.example": "/", "https://evil.example/": "/", "/\\evil": "/"} {
		res, body = do(t, h, http.MethodPost, "/login", form("token", tokTenantA, "next", next))
		wantStatus(t, res, body, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != want {
			t.Errorf("next=%q: Location %q, want %q", next, loc, want)
		}
	}

	res, body = do(t, h, http.MethodPost, "/logout", nil, withToken(tokOperator))
	wantStatus(t, res, body, http.StatusSeeOther)
	if c := findCookie(res, cookieToken); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout cookie = %+v, want cleared", c)
	}
	if loc := res.Header.Get("Location"); loc != "/login" {
		t.Errorf("logout Location = %q", loc)
	}

	// A cross-site login or logout post is refused (CSRF).
	res, body = do(t, h, http.MethodPost, "/login", form("token", tokOperator), withHeader("Sec-Fetch-Site", "cross-site"))
	wantStatus(t, res, body, http.StatusForbidden)
}

func TestBearerHeader(t *testing.T) {
	h := New(newFake(), fixedNow)
	res, body := get(t, h, "/centers", withHeader("Authorization", "Bearer "+tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "Alpha 科技")
	res, body = get(t, h, "/centers", withHeader("Authorization", "Bearer nope"))
	wantStatus(t, res, body, http.StatusUnauthorized)
	res, body = get(t, h, "/centers", withHeader("Authorization", "Basic Zm9vOmJhcg=="))
	wantStatus(t, res, body, http.StatusUnauthorized)
}

func TestLanguages(t *testing.T) {
	h := New(newFake(), fixedNow)
	op := withToken(tokOperator)

	res, body := get(t, h, "/", op, withHeader("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `<html lang="zh-CN">`, "智算", "超算", "通算", "总览", "模拟")

	res, body = get(t, h, "/", op, withHeader("Accept-Language", "en-US,en;q=0.9"))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `<html lang="en">`, ">AI<", "HPC", "General", "Overview", "simulated")
	wantNotContains(t, body, ">智算<", "总览")

	// ?lang=en wins over Accept-Language and is remembered in a cookie.
	res, body = get(t, h, "/centers?lang=en", op, withHeader("Accept-Language", "zh-CN"))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, ">AI<", "Compute centers")
	if c := findCookie(res, cookieLang); c == nil || c.Value != "en" {
		t.Errorf("lang cookie = %+v, want en", c)
	}
	res, body = get(t, h, "/centers", op, withHeader("Accept-Language", "zh-CN"), func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: cookieLang, Value: "en"})
	})
	wantContains(t, body, "Compute centers")
	res, body = get(t, h, "/centers?lang=zh", op, withHeader("Accept-Language", "en"))
	wantContains(t, body, "智算", "算力中心")

	// The switch links keep the other query parameters.
	_, body = get(t, h, "/jobs?state=running&lang=en", op)
	wantContains(t, body, `href="/jobs?lang=zh&amp;state=running"`)
	// The login page is translated too.
	_, body = get(t, h, "/login", withHeader("Accept-Language", "zh"))
	wantContains(t, body, "API 令牌")
}

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"":                           "en",
		"zh":                         "zh",
		"zh-CN":                      "zh",
		"ZH-tw":                      "zh",
		"en-US,zh-CN;q=0.9":          "en",
		"en;q=0.5,zh-CN;q=0.9":       "zh",
		"fr":                         "en",
		"zhx":                        "en",
		"zh;q=bad,en":                "en",
		"*":                          "en",
		strings.Repeat("fr,", 10000): "en",
	} {
		if got := acceptLanguage(h); got != want {
			t.Errorf("acceptLanguage(%.30q) = %q, want %q", h, got, want)
		}
	}
}

func TestOverviewByRole(t *testing.T) {
	f := newFake()
	h := New(f, fixedNow)

	res, body := get(t, h, "/?lang=en", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body,
		`id="chart-capacity"`, `id="chart-hourly"`, "/static/echarts.min.js",
		"Revenue today", "3.25", // gross revenue today
		`id="cap-ai"`, "20.0 <", // schedulable AI P
		`id="cap-hpc"`, "10.0 <",
		"宜昌百度智算中心", "宜昌超算中心", "本机 (this machine)", "上海维护中心",
		"hubei-yichang", "30.0<", // region total
		"20.0%", // utilization: (5+1)/(20+10)
	)
	// Queue length: one queued job in all.
	wantContains(t, body, `<div class="big">1</div>`)

	res, body = get(t, h, "/?lang=en", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="chart-capacity"`, `id="chart-jobs"`, "Spend today", "3.25")
	wantNotContains(t, body, "Revenue today", `id="chart-hourly"`)

	res, body = get(t, h, "/?lang=en", withToken(tokTenantB))
	wantContains(t, body, "Spend today", `<span class="unit">¥</span>0.00`)

	f.jobFilters = nil
	res, body = get(t, h, "/?lang=en", withToken(tokProvider))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "Payable balance", `id="chart-jobs"`)
	for _, flt := range f.jobFilters {
		if flt.ProviderOrgID != "org-p1" {
			t.Errorf("provider overview counted jobs with filter %+v", flt)
		}
	}
}

func TestCentersPage(t *testing.T) {
	h := New(newFake(), fixedNow)
	res, body := get(t, h, "/centers?lang=zh", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body,
		"宜昌百度智算中心", "智算", "超算", "通算", "hubei-yichang",
		`class="badge exec-sim"`, "模拟", `class="badge exec-local"`, "本地（真实）",
		"9 / 10", "A100 × 64", "910B × 8",
		"1.25", "40%", "25.0%", // PUE, green, utilization of c-ai
		"A100 ¥12.00", "/卡时", "CPU ¥0.10", "/核时", "MEM ¥0.01",
		"不可用",
	)
	res, body = get(t, h, "/centers?lang=en", withToken(tokTenantA))
	wantContains(t, body, "simulated", "local (real)", "/card-h", "Unavailable", "PFLOPS FP16",
		`class="badge exec-agent"`, "agent (real)", "agent missed its heartbeats")
}

func TestJobsFiltersAndIsolation(t *testing.T) {
	f := newFake()
	h := New(f, fixedNow)

	res, body := get(t, h, "/jobs?lang=en", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "j-a1", "j-a2", "j-a3", "alpha-done", "2 × A100", "3.25")
	wantNotContains(t, body, "j-b1", "beta-train")
	if last := f.jobFilters[len(f.jobFilters)-1]; last.TenantOrgID != "org-a" || last.Limit != jobsPageSize {
		t.Errorf("tenant filter = %+v", last)
	}

	res, body = get(t, h, "/jobs?state=running&center=c-local", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "j-a2")
	wantNotContains(t, body, "j-a1", "j-a3")
	want := store.JobFilter{TenantOrgID: "org-a", State: core.JobRunning, CenterID: "c-local", Limit: jobsPageSize}
	if last := f.jobFilters[len(f.jobFilters)-1]; last != want {
		t.Errorf("filter = %+v, want %+v", last, want)
	}

	_, body = get(t, h, "/jobs", withToken(tokOperator))
	wantContains(t, body, "j-a1", "j-b1")
	if last := f.jobFilters[len(f.jobFilters)-1]; last.TenantOrgID != "" || last.ProviderOrgID != "" {
		t.Errorf("operator filter = %+v", last)
	}

	_, body = get(t, h, "/jobs", withToken(tokProvider))
	wantContains(t, body, "j-b1", "j-a1")
	wantNotContains(t, body, "j-a2") // runs on org-p2's center
	if last := f.jobFilters[len(f.jobFilters)-1]; last.ProviderOrgID != "org-p1" || last.TenantOrgID != "" {
		t.Errorf("provider filter = %+v", last)
	}

	// htmx asks for the table only.
	res, body = get(t, h, "/jobs?state=queued", withToken(tokTenantA), withHeader("HX-Request", "true"), withHeader("HX-Target", "jobs-table"))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="jobs-table"`, "j-a3")
	wantNotContains(t, body, "<html", "j-a2")
	// A history restore wants the whole page.
	_, body = get(t, h, "/jobs", withToken(tokTenantA), withHeader("HX-Request", "true"), withHeader("HX-Target", "jobs-table"), withHeader("HX-History-Restore-Request", "true"))
	wantContains(t, body, "<html")
}

func TestJobsPagination(t *testing.T) {
	f := newFake()
	base := f.jobs[1]
	for i := 0; i < 120; i++ {
		j := base
		j.ID = "j-x" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i)
		f.jobs = append(f.jobs, j)
	}
	h := New(f, fixedNow)
	_, body := get(t, h, "/jobs?lang=en&state=queued", withToken(tokTenantA))
	wantContains(t, body, "1–50 of 121", `href="/jobs?offset=50&amp;state=queued"`)
	wantNotContains(t, body, `id="prev"`)
	_, body = get(t, h, "/jobs?lang=en&state=queued&offset=100", withToken(tokTenantA))
	wantContains(t, body, "101–121 of 121", `href="/jobs?offset=50&amp;state=queued"`)
	wantNotContains(t, body, `id="next"`)
	if last := f.jobFilters[len(f.jobFilters)-1]; last.Offset != 100 {
		t.Errorf("offset = %d", last.Offset)
	}
	for q, want := range map[string]int{"abc": 0, "-5": 0, "99999999999": offsetMax, "9223372036854775808": 0} {
		get(t, h, "/jobs?offset="+q, withToken(tokTenantA))
		if last := f.jobFilters[len(f.jobFilters)-1]; last.Offset != want {
			t.Errorf("offset=%s: got %d, want %d", q, last.Offset, want)
		}
	}
}

func TestJobDetailIsolation(t *testing.T) {
	f := newFake()
	h := New(f, fixedNow)

	res, body := get(t, h, "/jobs/j-a2?lang=en", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "alpha-run", `hx-trigger="every 2s"`, `id="cancel"`, "local-00001", "24.00",
		"submitted &lt;b&gt;bold&lt;/b&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;", "hello from replica 0", "echo hi")
	wantNotContains(t, body, "<script>alert(1)</script>")

	// Another tenant's job is not found, on every path.
	for _, p := range []string{"/jobs/j-b1", "/jobs/j-b1/live"} {
		res, body = get(t, h, p, withToken(tokTenantA))
		wantStatus(t, res, body, http.StatusNotFound)
		wantNotContains(t, body, "beta-train")
	}
	res, body = do(t, h, http.MethodPost, "/jobs/j-b1/cancel", nil, withToken(tokTenantA), withHeader("HX-Request", "true"))
	wantStatus(t, res, body, http.StatusNotFound)
	if len(f.cancelled) != 0 {
		t.Fatalf("cancelled %v for a foreign tenant", f.cancelled)
	}
	res, body = get(t, h, "/jobs/j-b1", withToken(tokTenantB))
	wantStatus(t, res, body, http.StatusOK)

	// Providers see jobs on their own centers only, and may not cancel.
	res, body = get(t, h, "/jobs/j-b1", withToken(tokProvider))
	wantStatus(t, res, body, http.StatusOK)
	wantNotContains(t, body, `id="cancel"`)
	res, body = do(t, h, http.MethodPost, "/jobs/j-b1/cancel", nil, withToken(tokProvider))
	wantStatus(t, res, body, http.StatusForbidden)
	for _, id := range []string{"j-a2", "j-a3"} { // other provider's center; not placed
		res, body = get(t, h, "/jobs/"+id, withToken(tokProvider))
		wantStatus(t, res, body, http.StatusNotFound)
	}

	// A finished job does not refresh and has no cancel button.
	_, body = get(t, h, "/jobs/j-a1", withToken(tokTenantA))
	wantNotContains(t, body, `hx-trigger="every 2s"`, `id="cancel"`)
	wantContains(t, body, "3.25")

	res, body = get(t, h, "/jobs/j-a2/live", withToken(tokTenantA), withHeader("HX-Request", "true"))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="job-live"`)
	wantNotContains(t, body, "<html", `id="job-spec"`)
}

func TestCancel(t *testing.T) {
	f := newFake()
	h := New(f, fixedNow)

	// Queued: ends at once; the fragment shows the new state and stops polling.
	res, body := do(t, h, http.MethodPost, "/jobs/j-a3/cancel?lang=en", nil, withToken(tokTenantA), withHeader("HX-Request", "true"))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, `id="job-live"`, "state-cancelled")
	wantNotContains(t, body, `hx-trigger="every 2s"`)

	// Running: a cancel request; still polling.
	res, body = do(t, h, http.MethodPost, "/jobs/j-a2/cancel?lang=en", nil, withToken(tokTenantA), withHeader("HX-Request", "true"))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "Cancel requested", `hx-trigger="every 2s"`)

	// Without htmx: redirect back to the job page.
	res, body = do(t, h, http.MethodPost, "/jobs/j-b1/cancel", nil, withToken(tokOperator))
	wantStatus(t, res, body, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/jobs/j-b1" {
		t.Errorf("Location = %q", loc)
	}
	// Already finished: nothing to do, no error.
	res, body = do(t, h, http.MethodPost, "/jobs/j-a1/cancel", nil, withToken(tokTenantA), withHeader("HX-Request", "true"))
	wantStatus(t, res, body, http.StatusOK)
	if want := []string{"j-a3", "j-a2", "j-b1"}; strings.Join(f.cancelled, ",") != strings.Join(want, ",") {
		t.Errorf("cancelled %v, want %v", f.cancelled, want)
	}
	// Cross-site posts are refused before anything happens.
	res, body = do(t, h, http.MethodPost, "/jobs/j-b1/cancel", nil, withToken(tokOperator), withHeader("Sec-Fetch-Site", "cross-site"))
	wantStatus(t, res, body, http.StatusForbidden)
	// GET does not cancel.
	res, body = get(t, h, "/jobs/j-b1/cancel", withToken(tokOperator))
	if res.StatusCode < 400 || res.StatusCode >= 500 {
		t.Errorf("GET cancel: status %d", res.StatusCode)
	}
}

func TestWallet(t *testing.T) {
	f := newFake()
	h := New(f, fixedNow)

	res, body := get(t, h, "/wallet?lang=en", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusOK)
	// available = 1000 - 3.25 - 20
	wantContains(t, body, "976.75", "20.00", "3.25", "1000.00", "Top-up", "Charge", `href="/jobs/j-a1"`, `class="num pos"`, `class="num neg"`)
	wantNotContains(t, body, ">Commission<")
	if last := f.transferFilters[len(f.transferFilters)-1]; last.AccountID != ledger.WalletID("org-a") || last.Limit != transfersPageSize {
		t.Errorf("tenant transfer filter = %+v", last)
	}

	res, body = get(t, h, "/wallet?lang=zh", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "佣金", "托管", "0.33", ledger.CommissionID)
	if last := f.transferFilters[len(f.transferFilters)-1]; last.AccountID != "" {
		t.Errorf("operator transfer filter = %+v", last)
	}

	// A provider whose payable account does not exist yet sees zero.
	res, body = get(t, h, "/wallet?lang=en", withToken(tokProvider))
	wantStatus(t, res, body, http.StatusOK)
	wantContains(t, body, "Payable", "0.00", ledger.PayableID("org-p1"))
	if last := f.transferFilters[len(f.transferFilters)-1]; last.AccountID != ledger.PayableID("org-p1") {
		t.Errorf("provider transfer filter = %+v", last)
	}
}

// TestNoServerErrors throws odd input at every page as every role: nothing
// may answer 5xx.
func TestNoServerErrors(t *testing.T) {
	h := New(newFake(), fixedNow)
	paths := []string{
		"/", "/?lang=xx", "/?lang=", "/centers?offset=-1", "/jobs?state=bogus", "/jobs?state=", "/jobs?center=" + strings.Repeat("c", 500),
		"/jobs?offset=%zz", "/jobs?offset=1e9", "/jobs?center=nope", "/jobs/nope", "/jobs/" + strings.Repeat("a", 400),
		"/jobs/%00", "/jobs/j-a2/live?x=%", "/jobs/j-a2/cancel", "/wallet?offset=abc", "/wallet?offset=-3",
		"/nope", "/static/nope.js", "/static/README.md", "/login?next=//evil", "/login?next=%0d%0a", "//evil.example/",
		"/jobs/../centers", "/api", "/logout",
	}
	for _, tok := range []string{"", tokOperator, tokTenantA, tokProvider} {
		for _, p := range paths {
			var opts []reqOpt
			if tok != "" {
				opts = append(opts, withToken(tok))
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.URL, _ = url.Parse(p) // NewRequest rejects some of these targets
			if r.URL == nil {
				t.Fatalf("bad test path %q", p)
			}
			r.RequestURI = p
			for _, o := range opts {
				o(r)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Errorf("token %q GET %s: status %d", tok, p, w.Code)
			}
		}
	}
	res, body := get(t, h, "/jobs?state=bogus", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusBadRequest)
	res, body = get(t, h, "/nope", withToken(tokTenantA))
	wantStatus(t, res, body, http.StatusNotFound)
	wantContains(t, body, `id="error"`, "/wallet") // the nav is still there
}

func TestInternalErrorIsGeneric(t *testing.T) {
	f := newFake()
	f.fail = errors.New("database is locked: secret detail")
	h := New(f, fixedNow)
	for _, p := range []string{"/", "/centers", "/jobs", "/jobs/j-a2", "/wallet"} {
		res, body := get(t, h, p+"?lang=en", withToken(tokOperator))
		wantStatus(t, res, body, http.StatusInternalServerError)
		wantContains(t, body, "Internal error")
		wantNotContains(t, body, "secret detail")
	}
}

func TestStaticAndHeaders(t *testing.T) {
	h := New(newFake(), fixedNow)
	for _, p := range []string{"/static/htmx.min.js", "/static/echarts.min.js", "/static/console.js", "/static/console.css"} {
		res, body := get(t, h, p)
		wantStatus(t, res, body, http.StatusOK)
		if len(body) < 100 {
			t.Errorf("%s: only %d bytes", p, len(body))
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age") {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
	}
	res, body := get(t, h, "/", withToken(tokOperator))
	wantStatus(t, res, body, http.StatusOK)
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	wantContains(t, body, "/static/htmx.min.js?v=")
}

// TestCatalogs checks that both languages have the same keys, and that
// every key the templates and the Go code name exists.
func TestCatalogs(t *testing.T) {
	for k := range enMessages {
		if _, ok := zhMessages[k]; !ok {
			t.Errorf("zh lacks %q", k)
		}
	}
	for k := range zhMessages {
		if _, ok := enMessages[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
	var used []string
	for _, s := range core.JobStates {
		used = append(used, "state."+string(s))
	}
	for _, k := range kinds {
		used = append(used, "kind."+string(k))
	}
	for _, r := range []core.Role{core.RoleOperator, core.RoleProvider, core.RoleTenant} {
		used = append(used, "role."+string(r))
	}
	used = append(used, "center.status."+core.CenterAvailable, "center.status."+core.CenterUnavailable)
	tmplKey := regexp.MustCompile(`\.[TF] "([^"]+)"`)
	files, _ := filepath.Glob("templates/*.html")
	goKey := regexp.MustCompile(`"((?:overview|wallet|job|jobs|login|error|common|centers|exec|transfer|voucher|ledger)\.[a-z_]+)"`)
	gofiles, _ := filepath.Glob("*.go")
	for _, name := range append(files, gofiles...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		re := tmplKey
		if strings.HasSuffix(name, ".go") {
			re = goKey
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
	}
	if len(used) < 100 {
		t.Fatalf("found only %d used keys; is the scan broken?", len(used))
	}
	for _, k := range used {
		if _, ok := enMessages[k]; !ok {
			t.Errorf("key %q is used but not in the catalogs", k)
		}
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[float64]string{0: "0.00", 1.234: "1.23", 12.34: "12.3", 1234.6: "1235"} {
		if got := formatPFLOPS(in); got != want {
			t.Errorf("formatPFLOPS(%v) = %q, want %q", in, got, want)
		}
	}
	if got, cut := tailUTF8("ab智算", 4); got != "算" || !cut {
		t.Errorf("tailUTF8 = %q %v", got, cut)
	}
	if got := barWidth(3); got != "100.0%" {
		t.Errorf("barWidth(3) = %q", got)
	}
	if got := startOfDay(fakeNow); !got.Equal(fakeNow.Add(-14 * 3600 * 1e9)) {
		t.Errorf("startOfDay = %v", got)
	}
}
