// Package console serves suanli's web console: server-rendered pages
// (html/template + htmx + ECharts, all embedded with go:embed) for the
// operator, providers and tenants. It reads everything through Source, a
// small consumer-side interface that the server wires to the store.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// Source is everything the console reads or does.
type Source interface {
	Authenticate(ctx context.Context, token string) (core.Principal, error) // EUnauthorized on a bad token
	Org(ctx context.Context, id string) (core.Org, error)
	Centers(ctx context.Context) ([]core.Center, error)
	CenterStats(ctx context.Context) (map[string]*core.CenterStats, error) // by center ID
	Jobs(ctx context.Context, f store.JobFilter) ([]core.Job, int, error)  // newest first, total
	Job(ctx context.Context, id string) (core.Job, error)                  // ENotFound
	Events(ctx context.Context, jobID string) ([]core.Event, error)
	JobLogs(ctx context.Context, jobID string) (string, error) // combined stdout/stderr, may be ""
	CancelJob(ctx context.Context, jobID string) (ended bool, err error)
	JobCounts(ctx context.Context, tenantOrgID string) (map[core.JobState]int, error) // "" = all tenants
	RevenueSince(ctx context.Context, since time.Time) (store.Revenue, error)
	Hourly(ctx context.Context, now time.Time, hours int) ([]store.HourlyPoint, error)
	Account(ctx context.Context, id string) (ledger.Account, error)
	Transfers(ctx context.Context, f store.TransferFilter) ([]ledger.Transfer, int, error)
}

// Limits and names. Every list the console shows is bounded.
const (
	cookieToken = "suanli_token" // HttpOnly, SameSite=Strict; holds the bearer token
	cookieLang  = "lang"         // "zh" or "en"

	jobsPageSize      = 50        // jobs per page on /jobs
	transfersPageSize = 50        // transfers per page on /wallet
	offsetMax         = 1_000_000 // larger offsets are clamped; no page is that deep
	tokenLenMax       = 512       // longer login tokens are rejected without a lookup
	formBytesMax      = 4 << 10   // request body limit of the login and cancel forms
	logBytesMax       = 256 << 10 // job logs beyond this show only their tail
	spendScanPagesMax = 10        // tenant "spend today" reads at most this many job pages
	hourlyChartHours  = 24        // hours in the overview's hourly chart
	tokenCookieMaxAge = 12 * 3600 // seconds; the login cookie lasts one working day
	langCookieMaxAge  = 365 * 24 * 3600
	staticMaxAge      = 24 * 3600 // seconds; asset URLs carry a content version
	authTimeout       = 10 * time.Second
)

// displayZone is where the console shows times and where "today" starts.
// China has one time zone and no daylight saving, so a fixed zone needs no
// tzdata on the host.
var displayZone = time.FixedZone("CST", 8*3600)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*.js static/*.css
var staticFS embed.FS

// Console is the console's HTTP handler. It is safe for concurrent use;
// its fields are read-only after New.
type Console struct {
	src     Source
	now     func() time.Time
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	version string           // content hash of the static files, for cache busting
	settle  SettlementSource // nil when the source has no settlement reports
	money   MoneySource      // nil when the source has no vouchers and ledger pages
}

// New returns the console reading from src, with now as its clock. It
// panics only if the embedded templates do not parse, which is a bug that
// the package tests catch.
func New(src Source, now func() time.Time) *Console {
	if now == nil {
		now = time.Now
	}
	c := &Console{src: src, now: now, log: slog.Default(), pages: parsePages()}
	c.settle, _ = src.(SettlementSource)
	c.money, _ = src.(MoneySource)
	c.version = staticVersion()
	c.routes()
	return c
}

// WithLogger makes the console log to l instead of slog.Default() and
// returns c. Call it before the console serves requests.
func (c *Console) WithLogger(l *slog.Logger) *Console {
	if l != nil {
		c.log = l
	}
	return c
}

// ServeHTTP serves the console. It recovers from a panic in a handler,
// logs the stack and answers with the generic error page.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.log.Error("console: panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) routes() {
	m := http.NewServeMux()
	csrf := http.NewCrossOriginProtection()
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	m.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+itoa(staticMaxAge))
		files.ServeHTTP(w, r)
	})))
	m.HandleFunc("GET /login", c.loginForm)
	m.Handle("POST /login", csrf.Handler(http.HandlerFunc(c.login)))
	m.HandleFunc("GET /logout", c.logout)
	m.Handle("POST /logout", csrf.Handler(http.HandlerFunc(c.logout)))
	m.Handle("GET /{$}", c.page(c.overview))
	m.Handle("GET /centers", c.page(c.centers))
	m.Handle("GET /jobs", c.page(c.jobs))
	m.Handle("GET /jobs/{id}", c.page(c.job))
	m.Handle("GET /jobs/{id}/live", c.page(c.jobLive))
	m.Handle("POST /jobs/{id}/cancel", csrf.Handler(c.page(c.cancel)))
	m.Handle("GET /wallet", c.page(c.wallet))
	c.settlementRoutes(m, csrf)
	c.moneyRoutes(m, csrf)
	m.Handle("/", c.page(func(w http.ResponseWriter, rq *request) error {
		return core.Errorf(core.ENotFound, "no such page")
	}))
	c.mux = m
}

// request is one authenticated page request.
type request struct {
	*http.Request
	L   *catalog
	P   core.Principal
	Org core.Org
}

// handler renders a page or returns an error; page maps the error to a
// status and an error page.
type handler func(w http.ResponseWriter, rq *request) error

// page authenticates the request and runs h. Unauthenticated page requests
// go to /login (htmx requests get an HX-Redirect).
func (c *Console) page(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		L := c.language(w, r)
		p, err := c.principal(r)
		if err != nil {
			if core.ErrorCode(err) != core.EUnauthorized {
				c.fail(w, r, L, nil, err)
				return
			}
			c.toLogin(w, r)
			return
		}
		rq := &request{Request: r, L: L, P: p}
		if rq.Org, err = c.src.Org(r.Context(), p.OrgID); err != nil {
			rq.Org = core.Org{ID: p.OrgID, Name: p.OrgID, Role: p.Role} // the name is cosmetic
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Add("Vary", "Cookie, Authorization, Accept-Language, HX-Request")
		if err := h(w, rq); err != nil {
			c.fail(w, r, L, rq, err)
		}
	})
}

// principal authenticates the Authorization header or the token cookie.
func (c *Console) principal(r *http.Request) (core.Principal, error) {
	token := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, t, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return core.Principal{}, core.Errorf(core.EUnauthorized, "authorization must be a bearer token")
		}
		token = strings.TrimSpace(t)
	} else if ck, err := r.Cookie(cookieToken); err == nil {
		token = ck.Value
	}
	if token == "" || len(token) > tokenLenMax {
		return core.Principal{}, core.Errorf(core.EUnauthorized, "no valid token")
	}
	ctx, cancel := context.WithTimeout(r.Context(), authTimeout)
	defer cancel()
	p, err := c.src.Authenticate(ctx, token)
	if err == nil && !p.Role.Valid() {
		err = core.Errorf(core.EUnauthorized, "token has no known role")
	}
	return p, err
}

func (c *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(cookieToken); err == nil {
		clearTokenCookie(w, r)
	}
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", "/login")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Authorization") != "" || r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	target := "/login"
	if next := r.URL.RequestURI(); next != "/" && safeLocal(next) {
		target += "?next=" + urlQueryEscape(next)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// statusOf maps an error code to the page's HTTP status.
func statusOf(code string) int {
	switch code {
	case core.EInvalid:
		return http.StatusBadRequest
	case core.ENotFound:
		return http.StatusNotFound
	case core.EConflict:
		return http.StatusConflict
	case core.EForbidden:
		return http.StatusForbidden
	case core.EUnauthorized:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// fail shows err. Coded user errors show their message; anything else is
// logged with detail and shown as "internal error".
func (c *Console) fail(w http.ResponseWriter, r *http.Request, L *catalog, rq *request, err error) {
	code := core.ErrorCode(err)
	status := statusOf(code)
	msg := ""
	var ce *core.Error
	if status == http.StatusInternalServerError || !errors.As(err, &ce) {
		c.log.Error("console: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		status = http.StatusInternalServerError
	} else {
		msg = ce.Message
	}
	d := errorData{Status: status, Code: code, Message: msg}
	if r.Header.Get("HX-Request") == "true" {
		// htmx does not swap 4xx/5xx responses by default; the fragment is
		// for clients that do, and the status tells the rest.
		c.renderFragment(w, status, "error", "error-box", c.base(r, L, rq, "", ""), d)
		return
	}
	c.render(w, status, "error", c.base(r, L, rq, "", L.T("error.title")), d)
}

// pageData is what every page template gets: the catalog, the nav state
// and the page's own data in D.
type pageData struct {
	L      *catalog
	Nav    string // active nav item
	Title  string
	User   *userInfo // nil when not signed in
	LangZh string    // URL of this page in Chinese
	LangEn string
	Charts bool   // load ECharts
	Settle bool   // show the settlement nav link
	Vouch  bool   // show the vouchers nav link
	Ledger bool   // show the ledger nav link
	V      string // static version
	D      any
}

type userInfo struct {
	Name string
	Role core.Role
}

func (c *Console) base(r *http.Request, L *catalog, rq *request, nav, title string) pageData {
	pd := pageData{L: L, Nav: nav, Title: title, V: c.version, Settle: c.settle != nil}
	pd.LangZh, pd.LangEn = langURL(r, "zh"), langURL(r, "en")
	if rq != nil {
		pd.User = &userInfo{Name: rq.Org.Name, Role: rq.P.Role}
		pd.Vouch = c.money != nil && rq.P.Role != core.RoleProvider
		pd.Ledger = c.money != nil && rq.P.Role == core.RoleOperator
	}
	return pd
}

func (rq *request) base(c *Console, nav, title string) pageData {
	return c.base(rq.Request, rq.L, rq, nav, title)
}

// render executes the page template into a buffer first, so a template
// error never sends half a page.
func (c *Console) render(w http.ResponseWriter, status int, page string, pd pageData, d any) {
	c.execute(w, status, page, "layout", pd, d)
}

// renderFragment executes one named template of a page, for htmx swaps.
func (c *Console) renderFragment(w http.ResponseWriter, status int, page, name string, pd pageData, d any) {
	c.execute(w, status, page, name, pd, d)
}

func (c *Console) execute(w http.ResponseWriter, status int, page, name string, pd pageData, d any) {
	t := c.pages[page]
	if t == nil {
		c.log.Error("console: unknown template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pd.D = d
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, pd); err != nil {
		c.log.Error("console: template failed", "page", page, "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pageNames are the page templates; each is parsed with layout.html.
var pageNames = []string{"login", "error", "overview", "centers", "jobs", "job", "wallet"}

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	out := make(map[string]*template.Template, len(pageNames))
	for _, n := range pageNames {
		t := template.Must(base.Clone())
		out[n] = template.Must(t.ParseFS(templateFS, "templates/"+n+".html"))
	}
	return out
}

func staticVersion() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// safeLocal reports whether u is a path on this site, so that a redirect
// to it cannot leave the site.
func safeLocal(u string) bool {
	return strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.HasPrefix(u, "/\\") &&
		!strings.ContainsAny(u, "\r\n")
}

// errorData is the error page's data.
type errorData struct {
	Status  int
	Code    string
	Message string
}
