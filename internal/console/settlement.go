package console

import (
	"bytes"
	"context"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/settlement"
	"github.com/suanli/suanli/internal/store"
)

// SettlementSource is what the settlement pages read and do. It is kept
// apart from Source so that sources without settlement (the tests' fake)
// still work: New finds it on the source by type assertion, and without
// it the pages and their nav link are left out.
type SettlementSource interface {
	TenantInvoice(ctx context.Context, tenantOrgID string, p settlement.Period, now time.Time) (settlement.Invoice, error)
	ProviderStatement(ctx context.Context, providerOrgID, centerID string, p settlement.Period, now time.Time) (settlement.Statement, error)
	ProviderStatements(ctx context.Context, p settlement.Period, now time.Time) ([]settlement.Statement, error)
	OperatorReport(ctx context.Context, p settlement.Period, now time.Time) (settlement.OperatorReport, error)
	RedemptionReport(ctx context.Context, scheme string, p settlement.Period, now time.Time) (settlement.Redemption, error)
	VoucherSchemes(ctx context.Context) ([]store.VoucherScheme, error)
	RecordPayout(ctx context.Context, p store.Payout, actor string) (store.Payout, error)
}

// schemeLenMax bounds a scheme name taken from a query parameter.
const schemeLenMax = 200

// settlementPages are parsed with layout.html and settlement_parts.html.
var settlementPages = []string{"settlement", "statement", "invoice", "redemptions"}

// navLink is the month navigation of a page.
type navLink struct {
	L     *catalog
	Nav   monthNav
	Path  string
	Query string            // kept parameters, each followed by &
	Keep  map[string]string // the same, as hidden form fields
}

func init() {
	funcs["exact"] = func(m core.Micros) string { return m.Exact() }
	funcs["bps"] = settlement.FormatBPS
	funcs["milli"] = settlement.FormatMilli
	funcs["inc"] = func(i int) int { return i + 1 }
	funcs["addm"] = func(a, b core.Micros) core.Micros { return a + b }
	// monthnav L nav path [key value]...: month navigation keeping the
	// non-empty parameters given.
	funcs["monthnav"] = func(L *catalog, nav monthNav, path string, kv ...string) navLink {
		n := navLink{L: L, Nav: nav, Path: path, Keep: map[string]string{}}
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
				n.Keep[kv[i]] = kv[i+1]
			}
		}
		if len(q) > 0 {
			n.Query = q.Encode() + "&"
		}
		return n
	}
	funcs["statusOf"] = func(L *catalog, status string) struct{ Status, Label string } {
		return struct{ Status, Label string }{status, L.T("settle.status." + status)}
	}
	funcs["invlines"] = func(L *catalog, inv settlement.Invoice) struct {
		L   *catalog
		Inv settlement.Invoice
	} {
		return struct {
			L   *catalog
			Inv settlement.Invoice
		}{L, inv}
	}
}

func (c *Console) settlementRoutes(m *http.ServeMux, csrf *http.CrossOriginProtection) {
	if c.settle == nil {
		return
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html",
		"templates/settlement_parts.html"))
	for _, n := range settlementPages {
		c.pages[n] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html"))
	}
	m.Handle("GET /settlement", c.page(c.settlementPage))
	m.Handle("GET /settlement/invoice", c.page(c.invoicePage))
	m.Handle("GET /settlement/invoice.csv", c.page(c.invoiceCSV))
	m.Handle("GET /settlement/statement", c.page(c.statementPage))
	m.Handle("GET /settlement/statement.csv", c.page(c.statementCSV))
	m.Handle("POST /settlement/statement/pay", csrf.Handler(c.page(c.payStatement)))
	m.Handle("GET /settlement/report.csv", c.page(c.reportCSV))
	m.Handle("GET /settlement/redemptions", c.page(c.redemptionsPage))
	m.Handle("GET /settlement/redemptions.csv", c.page(c.redemptionsCSV))
}

// monthNav is the month a page shows and its neighbours.
type monthNav struct {
	P          settlement.Period
	Prev, Next string
}

// period reads ?month= (default the current month).
func (c *Console) period(rq *request) (monthNav, error) {
	var p settlement.Period
	if m := rq.URL.Query().Get("month"); m != "" {
		var err error
		if p, err = settlement.ParseMonth(m); err != nil {
			return monthNav{}, err
		}
	} else {
		p = settlement.MonthOf(c.now())
	}
	return monthNav{P: p, Prev: settlement.MonthOf(p.Start.Add(-time.Hour)).Month, Next: settlement.MonthOf(p.End).Month}, nil
}

// param reads a bounded query parameter.
func param(rq *request, name string, lenMax int) (string, error) {
	v := rq.URL.Query().Get(name)
	if len(v) > lenMax {
		return "", core.FieldErrorf(name, "longer than %d bytes", lenMax)
	}
	return v, nil
}

// settlementData is the /settlement page: a tenant's statement, a
// provider's statements, or the operator's report with every provider's
// statement.
type settlementData struct {
	Nav        monthNav
	Invoice    *settlement.Invoice
	Statements []settlement.Statement
	Report     *settlement.OperatorReport
	Schemes    []store.VoucherScheme
}

func (c *Console) settlementPage(w http.ResponseWriter, rq *request) error {
	nav, err := c.period(rq)
	if err != nil {
		return err
	}
	ctx, now := rq.Context(), c.now()
	d := settlementData{Nav: nav}
	switch rq.P.Role {
	case core.RoleTenant:
		inv, err := c.settle.TenantInvoice(ctx, rq.P.OrgID, nav.P, now)
		if err != nil {
			return err
		}
		d.Invoice = &inv
	case core.RoleProvider:
		st, err := c.settle.ProviderStatement(ctx, rq.P.OrgID, "", nav.P, now)
		if err != nil {
			return err
		}
		d.Statements = []settlement.Statement{st}
	case core.RoleOperator:
		r, err := c.settle.OperatorReport(ctx, nav.P, now)
		if err != nil {
			return err
		}
		d.Report = &r
		if d.Statements, err = c.settle.ProviderStatements(ctx, nav.P, now); err != nil {
			return err
		}
		if d.Schemes, err = c.settle.VoucherSchemes(ctx); err != nil {
			return err
		}
	}
	c.render(w, http.StatusOK, "settlement", rq.base(c, "settlement", rq.L.T("settle.title")), d)
	return nil
}

// invoiceFor reads the invoice a request names: a tenant's own; the
// operator's choice of tenant (?org=).
func (c *Console) invoiceFor(rq *request) (settlement.Invoice, error) {
	nav, err := c.period(rq)
	if err != nil {
		return settlement.Invoice{}, err
	}
	org, err := param(rq, "org", idLenMax)
	if err != nil {
		return settlement.Invoice{}, err
	}
	switch rq.P.Role {
	case core.RoleTenant:
		if org != "" && org != rq.P.OrgID {
			return settlement.Invoice{}, core.Errorf(core.ENotFound, "no invoice of %s", org)
		}
		org = rq.P.OrgID
	case core.RoleOperator:
		if org == "" {
			return settlement.Invoice{}, core.FieldErrorf("org", "name the tenant")
		}
	default:
		return settlement.Invoice{}, core.Errorf(core.EForbidden, "providers have no invoices")
	}
	return c.settle.TenantInvoice(rq.Context(), org, nav.P, c.now())
}

// invoicePage is the printable invoice: its own page with print CSS.
func (c *Console) invoicePage(w http.ResponseWriter, rq *request) error {
	inv, err := c.invoiceFor(rq)
	if err != nil {
		return err
	}
	back := "/settlement?month=" + url.QueryEscape(inv.Period.Month)
	c.renderFragment(w, http.StatusOK, "invoice", "print", rq.base(c, "settlement", rq.L.T("settle.invoice")),
		struct {
			Inv  settlement.Invoice
			Back string
		}{inv, back})
	return nil
}

// download sends a CSV file rendered in memory.
func download(w http.ResponseWriter, name string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(buf.Bytes()) // the client may have gone
	return nil
}

func (c *Console) invoiceCSV(w http.ResponseWriter, rq *request) error {
	inv, err := c.invoiceFor(rq)
	if err != nil {
		return err
	}
	name := "invoice-" + inv.Period.Month + ".csv"
	if inv.Number != "" {
		name = "invoice-" + inv.Number + ".csv"
	}
	return download(w, name, func(w io.Writer) error { return settlement.WriteInvoiceCSV(w, inv) })
}

// statementFor reads the statement a request names: a provider's own
// (optionally one center); the operator's choice of provider or center.
func (c *Console) statementFor(rq *request) (settlement.Statement, error) {
	nav, err := c.period(rq)
	if err != nil {
		return settlement.Statement{}, err
	}
	provider, err := param(rq, "provider", idLenMax)
	if err != nil {
		return settlement.Statement{}, err
	}
	center, err := param(rq, "center", idLenMax)
	if err != nil {
		return settlement.Statement{}, err
	}
	switch rq.P.Role {
	case core.RoleTenant:
		return settlement.Statement{}, core.Errorf(core.EForbidden, "tenants have no settlement statements")
	case core.RoleProvider:
		if provider != "" && provider != rq.P.OrgID {
			return settlement.Statement{}, core.Errorf(core.ENotFound, "no statement of %s", provider)
		}
		provider = rq.P.OrgID
	}
	centerID := ""
	if center != "" {
		cs, err := c.src.Centers(rq.Context())
		if err != nil {
			return settlement.Statement{}, err
		}
		for _, ce := range cs {
			if (ce.Name == center || ce.ID == center) && (rq.P.Role == core.RoleOperator || ce.ProviderOrgID == rq.P.OrgID) {
				centerID, provider = ce.ID, ce.ProviderOrgID
			}
		}
		if centerID == "" {
			return settlement.Statement{}, core.Errorf(core.ENotFound, "no center %q", center)
		}
	}
	if provider == "" {
		return settlement.Statement{}, core.FieldErrorf("provider", "name the provider or a center")
	}
	return c.settle.ProviderStatement(rq.Context(), provider, centerID, nav.P, c.now())
}

// statementData is the provider statement page.
type statementData struct {
	Nav      monthNav
	St       settlement.Statement
	Center   string // the ?center= filter, kept in links
	CanPay   bool   // the operator may mark it paid now
	Amount   core.Micros
	PayError string // why it cannot be paid, for the operator
	Paid     bool   // just paid
	Operator bool
}

func (c *Console) statementPage(w http.ResponseWriter, rq *request) error {
	st, err := c.statementFor(rq)
	if err != nil {
		return err
	}
	nav, _ := c.period(rq) // parsed by statementFor
	d := statementData{Nav: nav, St: st, Center: rq.URL.Query().Get("center"), Paid: rq.URL.Query().Get("paid") == "1",
		Operator: rq.P.Role == core.RoleOperator}
	if d.Operator {
		d.Amount, err = st.PayoutAmount(c.now())
		var ce *core.Error
		if asCoreError(err, &ce) {
			d.PayError = ce.Message
		}
		d.CanPay = err == nil
	}
	c.render(w, http.StatusOK, "statement", rq.base(c, "settlement", rq.L.T("settle.statement")), d)
	return nil
}

func asCoreError(err error, ce **core.Error) bool {
	e, ok := err.(*core.Error)
	*ce = e
	return ok
}

func (c *Console) statementCSV(w http.ResponseWriter, rq *request) error {
	st, err := c.statementFor(rq)
	if err != nil {
		return err
	}
	return download(w, "statement-"+st.Period.Month+"-"+st.Provider.OrgID+".csv",
		func(w io.Writer) error { return settlement.WriteStatementCSV(w, st) })
}

// payStatement records the payout of a provider's statement (operator).
func (c *Console) payStatement(w http.ResponseWriter, rq *request) error {
	if rq.P.Role != core.RoleOperator {
		return core.Errorf(core.EForbidden, "only the operator marks statements paid")
	}
	if err := parseSmallForm(w, rq.Request); err != nil {
		return err
	}
	ref := rq.PostForm.Get("reference")
	if ref == "" || len(ref) > 200 {
		return core.FieldErrorf("reference", "must be 1..200 bytes")
	}
	q := url.Values{"month": {rq.PostForm.Get("month")}, "provider": {rq.PostForm.Get("provider")}}
	rq.URL.RawQuery = q.Encode()
	st, err := c.statementFor(rq)
	if err != nil {
		return err
	}
	amount, err := st.PayoutAmount(c.now())
	if err != nil {
		return err
	}
	if _, err := c.settle.RecordPayout(rq.Context(), store.Payout{ProviderOrgID: st.Provider.OrgID, PeriodStart: st.Period.Start,
		PeriodEnd: st.Period.End, Amount: amount, Reference: ref}, rq.P.OrgID); err != nil {
		return err
	}
	q.Set("paid", "1")
	http.Redirect(w, rq.Request, "/settlement/statement?"+q.Encode(), http.StatusSeeOther)
	return nil
}

// parseSmallForm parses a form body of at most formBytesMax.
func parseSmallForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, formBytesMax)
	if err := r.ParseForm(); err != nil {
		return core.Errorf(core.EInvalid, "bad form: %v", err)
	}
	return nil
}

func (c *Console) reportCSV(w http.ResponseWriter, rq *request) error {
	if rq.P.Role != core.RoleOperator {
		return core.Errorf(core.EForbidden, "only the operator reads the operator report")
	}
	nav, err := c.period(rq)
	if err != nil {
		return err
	}
	r, err := c.settle.OperatorReport(rq.Context(), nav.P, c.now())
	if err != nil {
		return err
	}
	return download(w, "operator-report-"+r.Period.Month+".csv", func(w io.Writer) error { return settlement.WriteOperatorCSV(w, r) })
}

// redemptionsData is the redemption report page.
type redemptionsData struct {
	Nav     monthNav
	Schemes []store.VoucherScheme
	Scheme  string
	R       *settlement.Redemption
}

func (c *Console) redemption(rq *request) (redemptionsData, error) {
	if rq.P.Role != core.RoleOperator {
		return redemptionsData{}, core.Errorf(core.EForbidden, "only the operator prepares redemption reports")
	}
	nav, err := c.period(rq)
	if err != nil {
		return redemptionsData{}, err
	}
	scheme, err := param(rq, "scheme", schemeLenMax)
	if err != nil {
		return redemptionsData{}, err
	}
	d := redemptionsData{Nav: nav, Scheme: scheme}
	if d.Schemes, err = c.settle.VoucherSchemes(rq.Context()); err != nil {
		return d, err
	}
	if scheme == "" && len(d.Schemes) > 0 {
		d.Scheme = d.Schemes[0].Name
	}
	if d.Scheme != "" {
		r, err := c.settle.RedemptionReport(rq.Context(), d.Scheme, nav.P, c.now())
		if err != nil {
			return d, err
		}
		d.R = &r
	}
	return d, nil
}

func (c *Console) redemptionsPage(w http.ResponseWriter, rq *request) error {
	d, err := c.redemption(rq)
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "redemptions", rq.base(c, "settlement", rq.L.T("settle.redemptions")), d)
	return nil
}

func (c *Console) redemptionsCSV(w http.ResponseWriter, rq *request) error {
	d, err := c.redemption(rq)
	if err != nil {
		return err
	}
	if d.R == nil {
		return core.FieldErrorf("scheme", "name a voucher scheme")
	}
	return download(w, "redemptions-"+d.R.Scheme.ID+"-"+d.R.Period.Month+".csv",
		func(w io.Writer) error { return settlement.WriteRedemptionCSV(w, *d.R) })
}
