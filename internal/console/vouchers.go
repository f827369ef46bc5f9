package console

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// MoneySource is what the voucher (算力券) and ledger pages read and do. It
// is kept apart from Source so that sources without it (the tests' plain
// fake) still work: New finds it on the source by type assertion, and
// without it the pages and their nav links are left out.
type MoneySource interface {
	VoucherSchemes(ctx context.Context) ([]store.VoucherScheme, error)
	CreateVoucherScheme(ctx context.Context, v store.VoucherScheme, actor string) (store.VoucherScheme, error)
	GrantVoucher(ctx context.Context, schemeID, tenantOrgID string, amount core.Micros, ref, actor string) (store.VoucherGrant, error)
	VoucherGrants(ctx context.Context, tenantOrgID string) ([]store.VoucherGrant, error) // "" = every tenant; oldest first
	AddRelatedParty(ctx context.Context, a, b, note, actor string) error
	Accounts(ctx context.Context) ([]ledger.Account, error)
	Verify(ctx context.Context) ([]string, error)                 // the problems found; empty when sound
	Orgs(ctx context.Context, role core.Role) ([]core.Org, error) // "" = every role
}

// Limits of the voucher pages.
const (
	recentGrantsMax = 20  // grants listed on the operator's voucher page
	voucherJobsMax  = 50  // jobs listed with what vouchers paid on them
	noteLenMax      = 200 // related-party note
	formListMax     = 64  // values of one multi-valued form field
)

// Voucher ledger accounts, as the store names them (pinned by the server
// test, which reads them through the console from the real store).
func voucherGrantAccount(schemeID, tenant string, year int) string {
	return "voucher:" + schemeID + ":grant:" + tenant + ":" + strconv.Itoa(year)
}
func voucherBudgetAccount(schemeID string) string { return "voucher:" + schemeID + ":budget" }
func voucherUsedAccount(schemeID string) string   { return "voucher:" + schemeID + ":used" }

var moneyPages = []string{"vouchers", "ledger"}

func init() {
	// has reports whether a form value list holds val (checkboxes, selects).
	funcs["has"] = func(v url.Values, key, val string) bool {
		for _, x := range v[key] {
			if x == val {
				return true
			}
		}
		return false
	}
	funcs["amt"] = func(ledgerName string, m core.Micros) string {
		if ledgerName == ledger.LedgerUnits {
			return strconv.FormatInt(int64(m), 10)
		}
		return m.Exact()
	}
	funcs["lastday"] = func(until time.Time) time.Time { return until.Add(-time.Nanosecond) }
	funcs["subm"] = func(a, b core.Micros) core.Micros { return a - b }
	funcs["formerr"] = func(pd pageData, want string) formErr {
		d, _ := pd.D.(vouchersData)
		return formErr{L: pd.L, Form: d.Form, Want: want, Error: d.Error}
	}
	funcs["day"] = func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(displayZone).Format("2006-01-02")
	}
}

func (c *Console) moneyRoutes(m *http.ServeMux, csrf *http.CrossOriginProtection) {
	if c.money == nil {
		return
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	for _, n := range moneyPages {
		c.pages[n] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html"))
	}
	m.Handle("GET /vouchers", c.page(c.vouchersPage))
	m.Handle("POST /vouchers/schemes", csrf.Handler(c.page(c.createScheme)))
	m.Handle("POST /vouchers/grants", csrf.Handler(c.page(c.grantVoucher)))
	m.Handle("POST /vouchers/related", csrf.Handler(c.page(c.addRelated)))
	m.Handle("GET /ledger", c.page(c.ledgerPage))
}

// formErr is what the form-error template gets.
type formErr struct {
	L                 *catalog
	Form, Want, Error string
}

// schemeRow is one scheme on the operator's page with its ledger totals.
type schemeRow struct {
	S        store.VoucherScheme
	Granted  core.Micros // taken from the budget by grants
	Left     core.Micros // budget not yet granted
	Redeemed core.Micros // paid on jobs
	LastDay  time.Time   // the last day it is valid (ValidUntil is exclusive)
	Active   bool
}

// grantRow is a tenant's grants of one scheme in one year and what is
// left of them on the grant account.
type grantRow struct {
	Scheme  store.VoucherScheme
	Year    int
	Account string
	Grants  int
	Granted core.Micros // sum of the grants
	Used    core.Micros // paid on jobs (posted)
	Held    core.Micros // reserved for running jobs
	Left    core.Micros // Available()
}

// recentGrant is one grant on the operator's page.
type recentGrant struct {
	G              store.VoucherGrant
	Scheme, Tenant string
}

// voucherJob is a job a voucher paid part of.
type voucherJob struct {
	J      core.Job
	Scheme string
}

type vouchersData struct {
	Operator bool
	// operator
	Schemes     []schemeRow
	Recent      []recentGrant
	GrantsTotal int
	Tenants     []core.Org
	Orgs        []core.Org
	Centers     []core.Center
	Kinds       []core.CenterKind
	Form        string     // the form that failed: "scheme", "grant" or "related"
	Error       string     // why, readable
	V           url.Values // values to fill the forms with (the failed form's input, or defaults)
	Done        string     // the form that just succeeded
	// tenant
	Grants   []grantRow
	Jobs     []voucherJob
	JobsMore bool // more jobs than listed (or than scanned)
}

func (c *Console) vouchersPage(w http.ResponseWriter, rq *request) error {
	return c.renderVouchers(w, rq, http.StatusOK, "", "", nil)
}

// renderVouchers renders the voucher page for the request's role; form,
// msg and input describe a form that failed.
func (c *Console) renderVouchers(w http.ResponseWriter, rq *request, status int, form, msg string, input url.Values) error {
	var d vouchersData
	var err error
	switch rq.P.Role {
	case core.RoleOperator:
		d, err = c.operatorVouchers(rq.Context())
	case core.RoleTenant:
		d, err = c.tenantVouchers(rq.Context(), rq.P.OrgID)
	default:
		return core.Errorf(core.EForbidden, "providers have no vouchers")
	}
	if err != nil {
		return err
	}
	d.Form, d.Error = form, msg
	if form == "" {
		switch done := rq.URL.Query().Get("done"); done {
		case "scheme", "grant", "related":
			d.Done = done
		}
	}
	if d.Operator {
		d.V = c.formDefaults()
		for k, v := range input {
			d.V[k] = v
		}
	}
	c.render(w, status, "vouchers", rq.base(c, "vouchers", rq.L.T("voucher.title")), d)
	return nil
}

// formDefaults are the initial values of the operator's forms.
func (c *Console) formDefaults() url.Values {
	now := c.now().In(displayZone)
	return url.Values{
		"share": {"20"}, "domestic_share": {"30"},
		"from":  {now.Format("2006-01-02")},
		"until": {time.Date(now.Year(), 12, 31, 0, 0, 0, 0, displayZone).Format("2006-01-02")},
	}
}

func (c *Console) operatorVouchers(ctx context.Context) (vouchersData, error) {
	d := vouchersData{Operator: true, Kinds: kinds}
	schemes, err := c.money.VoucherSchemes(ctx)
	if err != nil {
		return d, err
	}
	names := map[string]string{}
	now := c.now()
	for _, s := range schemes {
		names[s.ID] = s.Name
		budget, err := c.account(ctx, voucherBudgetAccount(s.ID))
		if err != nil {
			return d, err
		}
		used, err := c.account(ctx, voucherUsedAccount(s.ID))
		if err != nil {
			return d, err
		}
		d.Schemes = append(d.Schemes, schemeRow{S: s, Granted: budget.DebitsPosted, Left: budget.Available(),
			Redeemed: used.CreditsPosted - used.DebitsPosted, LastDay: s.ValidUntil.Add(-time.Nanosecond),
			Active: !now.Before(s.ValidFrom) && now.Before(s.ValidUntil)})
	}
	if d.Orgs, err = c.money.Orgs(ctx, ""); err != nil {
		return d, err
	}
	orgNames := map[string]string{}
	for _, o := range d.Orgs {
		orgNames[o.ID] = o.Name
		if o.Role == core.RoleTenant {
			d.Tenants = append(d.Tenants, o)
		}
	}
	grants, err := c.money.VoucherGrants(ctx, "")
	if err != nil {
		return d, err
	}
	d.GrantsTotal = len(grants)
	for i := len(grants) - 1; i >= 0 && len(d.Recent) < recentGrantsMax; i-- {
		g := grants[i]
		d.Recent = append(d.Recent, recentGrant{G: g, Scheme: orDefault(names[g.SchemeID], g.SchemeID),
			Tenant: orDefault(orgNames[g.TenantOrgID], g.TenantOrgID)})
	}
	if d.Centers, err = c.src.Centers(ctx); err != nil {
		return d, err
	}
	return d, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (c *Console) tenantVouchers(ctx context.Context, org string) (vouchersData, error) {
	var d vouchersData
	grants, err := c.money.VoucherGrants(ctx, org)
	if err != nil {
		return d, err
	}
	schemes, err := c.money.VoucherSchemes(ctx)
	if err != nil {
		return d, err
	}
	byID := map[string]store.VoucherScheme{}
	for _, s := range schemes {
		byID[s.ID] = s
	}
	type key struct {
		scheme string
		year   int
	}
	rows := map[key]*grantRow{}
	var order []key
	for _, g := range grants {
		if g.TenantOrgID != org { // the source filters; this is a second lock
			continue
		}
		k := key{g.SchemeID, g.Year}
		r := rows[k]
		if r == nil {
			s := byID[g.SchemeID]
			if s.ID == "" {
				s = store.VoucherScheme{ID: g.SchemeID, Name: g.SchemeID}
			}
			r = &grantRow{Scheme: s, Year: g.Year, Account: voucherGrantAccount(g.SchemeID, org, g.Year)}
			rows[k] = r
			order = append(order, k)
		}
		r.Grants++
		r.Granted += g.Amount
	}
	for _, k := range order {
		r := rows[k]
		a, err := c.account(ctx, r.Account)
		if err != nil {
			return d, err
		}
		r.Used, r.Held, r.Left = a.DebitsPosted, a.DebitsPending, a.Available()
		d.Grants = append(d.Grants, *r)
	}
	sort.SliceStable(d.Grants, func(i, j int) bool { return d.Grants[i].Year > d.Grants[j].Year })
	// What vouchers paid on the tenant's jobs, newest first, from a bounded
	// scan of its jobs.
	for page := 0; page < spendScanPagesMax; page++ {
		jobs, total, err := c.src.Jobs(ctx, store.JobFilter{TenantOrgID: org, Limit: store.JobsPageMax, Offset: page * store.JobsPageMax})
		if err != nil {
			return d, err
		}
		for _, j := range jobs {
			if j.TenantOrgID != org || j.Charges.VoucherMicros == 0 {
				continue
			}
			if len(d.Jobs) == voucherJobsMax {
				d.JobsMore = true
				break
			}
			name := j.Charges.VoucherSchemeID
			if s, ok := byID[name]; ok {
				name = s.Name
			}
			d.Jobs = append(d.Jobs, voucherJob{J: j, Scheme: name})
		}
		more := len(jobs) > 0 && (page+1)*store.JobsPageMax < total
		if d.JobsMore || !more {
			break
		}
		if page == spendScanPagesMax-1 {
			d.JobsMore = true
		}
	}
	return d, nil
}

// createScheme registers a voucher scheme (operator).
func (c *Console) createScheme(w http.ResponseWriter, rq *request) error {
	if rq.P.Role != core.RoleOperator {
		return core.Errorf(core.EForbidden, "only the operator creates voucher schemes")
	}
	err := parseSmallForm(w, rq.Request)
	if err == nil {
		var v store.VoucherScheme
		if v, err = schemeFromForm(rq.PostForm); err == nil {
			_, err = c.money.CreateVoucherScheme(rq.Context(), v, rq.P.OrgID)
		}
	}
	return c.afterForm(w, rq, "scheme", err)
}

// grantVoucher grants an amount of a scheme to a tenant (operator).
func (c *Console) grantVoucher(w http.ResponseWriter, rq *request) error {
	if rq.P.Role != core.RoleOperator {
		return core.Errorf(core.EForbidden, "only the operator grants vouchers")
	}
	err := parseSmallForm(w, rq.Request)
	if err == nil {
		f := rq.PostForm
		scheme, tenant, ref := strings.TrimSpace(f.Get("scheme")), strings.TrimSpace(f.Get("tenant")), strings.TrimSpace(f.Get("reference"))
		var amount core.Micros
		switch {
		case scheme == "" || len(scheme) > schemeLenMax:
			err = core.FieldErrorf("scheme", "choose a scheme")
		case tenant == "" || len(tenant) > idLenMax:
			err = core.FieldErrorf("tenant", "choose a tenant")
		default:
			if amount, err = yuanField(f, "amount"); err == nil {
				_, err = c.money.GrantVoucher(rq.Context(), scheme, tenant, amount, ref, rq.P.OrgID)
			}
		}
	}
	return c.afterForm(w, rq, "grant", err)
}

// addRelated records two organizations as related parties (operator).
func (c *Console) addRelated(w http.ResponseWriter, rq *request) error {
	if rq.P.Role != core.RoleOperator {
		return core.Errorf(core.EForbidden, "only the operator records related parties")
	}
	err := parseSmallForm(w, rq.Request)
	if err == nil {
		f := rq.PostForm
		a, b, note := strings.TrimSpace(f.Get("org_a")), strings.TrimSpace(f.Get("org_b")), strings.TrimSpace(f.Get("note"))
		switch {
		case a == "" || len(a) > idLenMax:
			err = core.FieldErrorf("org_a", "choose an organization")
		case b == "" || len(b) > idLenMax:
			err = core.FieldErrorf("org_b", "choose an organization")
		case a == b:
			err = core.FieldErrorf("org_b", "must differ from the first organization")
		case len(note) > noteLenMax:
			err = core.FieldErrorf("note", "longer than %d bytes", noteLenMax)
		default:
			err = c.money.AddRelatedParty(rq.Context(), a, b, note, rq.P.OrgID)
		}
	}
	return c.afterForm(w, rq, "related", err)
}

// afterForm redirects after a form that worked (POST, redirect, GET), or
// shows the voucher page again with the error next to the failed form and
// the input kept. Errors that are not the user's go to the error page.
func (c *Console) afterForm(w http.ResponseWriter, rq *request, form string, err error) error {
	if err == nil {
		http.Redirect(w, rq.Request, "/vouchers?done="+form, http.StatusSeeOther)
		return nil
	}
	var ce *core.Error
	if !errors.As(err, &ce) {
		return err
	}
	status := http.StatusBadRequest
	switch ce.Code {
	case core.EInvalid, core.ENotFound, core.ETooLarge:
	case core.EConflict, core.EInsufficientFunds:
		status = http.StatusConflict
	default: // forbidden, unauthorized, internal: not a form error
		return err
	}
	msg := ce.Message
	if ce.Field != "" {
		label := ce.Field
		if key, ok := fieldLabels[ce.Field]; ok {
			label = rq.L.T(key)
		}
		msg = label + ": " + msg
	}
	input := url.Values{}
	for k, v := range rq.PostForm {
		if len(v) > formListMax {
			v = v[:formListMax]
		}
		input[k] = v
	}
	return c.renderVouchers(w, rq, status, form, msg, input)
}

// fieldLabels name the fields of form errors (the console's and the
// store's field names).
var fieldLabels = map[string]string{
	"name": "voucher.name", "issuer": "voucher.issuer", "share": "voucher.share", "share_bps": "voucher.share",
	"domestic_share": "voucher.domestic_share", "domestic_share_bps": "voucher.domestic_share",
	"cap": "voucher.cap", "cap_per_tenant_year": "voucher.cap", "budget": "voucher.budget",
	"from": "voucher.valid_from", "valid_from": "voucher.valid_from", "until": "voucher.valid_until", "valid_until": "voucher.valid_until",
	"kind": "voucher.kinds", "eligible_kinds": "voucher.kinds", "center": "voucher.centers", "eligible_centers": "voucher.centers",
	"scheme": "voucher.scheme", "tenant": "voucher.tenant", "tenant_org_id": "voucher.tenant", "amount": "voucher.amount",
	"reference": "voucher.reference", "org_a": "voucher.org_a", "org_b": "voucher.org_b", "note": "voucher.note",
}

// schemeFromForm reads the scheme form. Amounts are CNY, shares percent,
// dates days in China time; the last day is included.
func schemeFromForm(f url.Values) (store.VoucherScheme, error) {
	v := store.VoucherScheme{Name: strings.TrimSpace(f.Get("name")), Issuer: strings.TrimSpace(f.Get("issuer"))}
	var err error
	if v.ShareBPS, err = percentField(f, "share"); err != nil {
		return v, err
	}
	if v.DomesticShareBPS, err = percentField(f, "domestic_share"); err != nil {
		return v, err
	}
	if v.CapPerTenantYear, err = yuanField(f, "cap"); err != nil {
		return v, err
	}
	if v.Budget, err = yuanField(f, "budget"); err != nil {
		return v, err
	}
	if v.ValidFrom, err = dayField(f, "from"); err != nil {
		return v, err
	}
	last, err := dayField(f, "until")
	if err != nil {
		return v, err
	}
	v.ValidUntil = last.AddDate(0, 0, 1)
	if !v.ValidUntil.After(v.ValidFrom) {
		return v, core.FieldErrorf("until", "must not be before the first day")
	}
	if len(f["kind"]) > formListMax || len(f["center"]) > formListMax {
		return v, core.FieldErrorf("center", "too many values")
	}
	for _, k := range f["kind"] {
		kind := core.CenterKind(k)
		if !kind.Valid() {
			return v, core.FieldErrorf("kind", "unknown kind %q", k)
		}
		v.EligibleKinds = append(v.EligibleKinds, kind)
	}
	for _, ce := range f["center"] {
		if ce = strings.TrimSpace(ce); ce == "" || len(ce) > idLenMax || strings.Contains(ce, ",") {
			return v, core.FieldErrorf("center", "bad center name %q", ce)
		}
		v.EligibleCenters = append(v.EligibleCenters, ce)
	}
	return v, v.Validate()
}

// yuanField reads a positive CNY amount.
func yuanField(f url.Values, name string) (core.Micros, error) {
	m, err := core.ParseYuan(f.Get(name))
	if err != nil {
		return 0, core.FieldErrorf(name, "%v", err)
	}
	if m <= 0 {
		return 0, core.FieldErrorf(name, "must be positive")
	}
	return m, nil
}

// percentField reads a percentage 0..100 with at most two decimals as
// basis points.
func percentField(f url.Values, name string) (int64, error) {
	s := strings.TrimSuffix(strings.TrimSpace(f.Get(name)), "%")
	m, err := core.ParseYuan(s) // a decimal with up to six places, in millionths
	if err != nil {
		return 0, core.FieldErrorf(name, "%q is not a percentage", s)
	}
	if m < 0 || m > 100*core.MicrosPerYuan {
		return 0, core.FieldErrorf(name, "must be 0..100 %%")
	}
	if m%10_000 != 0 {
		return 0, core.FieldErrorf(name, "at most two decimals")
	}
	return int64(m / 10_000), nil
}

// dayField reads a date (YYYY-MM-DD) as the start of that day in China.
func dayField(f url.Values, name string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(f.Get(name)), displayZone)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		return time.Time{}, core.FieldErrorf(name, "not a date (YYYY-MM-DD)")
	}
	return t, nil
}
