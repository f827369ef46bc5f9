package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/settlement"
	"github.com/suanli/suanli/internal/store"
)

// SettlementStore is what the settlement endpoints need: reports built
// from the ledger for a period, and recording a provider's payout.
type SettlementStore interface {
	TenantInvoice(ctx context.Context, tenantOrgID string, p settlement.Period, now time.Time) (settlement.Invoice, error)
	ProviderStatement(ctx context.Context, providerOrgID, centerID string, p settlement.Period, now time.Time) (settlement.Statement, error)
	ProviderStatements(ctx context.Context, p settlement.Period, now time.Time) ([]settlement.Statement, error)
	OperatorReport(ctx context.Context, p settlement.Period, now time.Time) (settlement.OperatorReport, error)
	RedemptionReport(ctx context.Context, scheme string, p settlement.Period, now time.Time) (settlement.Redemption, error)
	RecordPayout(ctx context.Context, p store.Payout, actor string) (store.Payout, error)
	Payouts(ctx context.Context, providerOrgID string) ([]store.Payout, error)
}

// settlementRoutes registers the settlement, invoice, report and voucher
// redemption endpoints. Without a SettlementStore there are none.
func (s *Server) settlementRoutes(a huma.API) {
	if s.Settlement == nil {
		return
	}
	reg := func(id, method, path, summary, tag string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag}}
	}
	huma.Register(a, reg("list-invoices", http.MethodGet, "/api/v1/invoices",
		"A month's invoices (operator: every tenant; tenant: its own)", "settlement"), s.listInvoices)
	huma.Register(a, reg("get-invoice", http.MethodGet, "/api/v1/invoices/{month}",
		"A tenant's monthly statement and 发票 invoice data (operators pass org_id)", "settlement"), s.getInvoice)
	huma.Register(a, reg("invoice-csv", http.MethodGet, "/api/v1/invoices/{month}/csv",
		"A tenant's invoice lines as CSV (UTF-8 with BOM)", "settlement"), s.invoiceCSV)
	huma.Register(a, reg("invoice-html", http.MethodGet, "/api/v1/invoices/{month}/html",
		"A tenant's invoice as a printable HTML page", "settlement"), s.invoiceHTML)
	huma.Register(a, reg("list-statements", http.MethodGet, "/api/v1/settlement/statements",
		"Provider settlement statements for a month (operator: all or filtered; provider: its own)", "settlement"), s.listStatements)
	huma.Register(a, reg("statement-csv", http.MethodGet, "/api/v1/settlement/statements/csv",
		"One provider's statement as CSV (operators name the provider or a center)", "settlement"), s.statementCSV)
	pay := reg("pay-statement", http.MethodPost, "/api/v1/settlement/payouts",
		"Mark a provider's statement for an ended month paid: records a payout of its net payable (operator)", "settlement")
	pay.DefaultStatus, pay.MaxBodyBytes = http.StatusCreated, BodyBytesMax+1
	huma.Register(a, pay, s.payStatement)
	huma.Register(a, reg("list-payouts", http.MethodGet, "/api/v1/settlement/payouts",
		"Payouts to providers (operator: all; provider: its own)", "settlement"), s.listPayouts)
	huma.Register(a, reg("operator-report", http.MethodGet, "/api/v1/reports/operator",
		"The operator's report for a month: revenue, commission, VAT, per center and tenant, receivables (operator)", "reports"), s.operatorReport)
	huma.Register(a, reg("operator-report-csv", http.MethodGet, "/api/v1/reports/operator/csv",
		"The operator's report as CSV (operator)", "reports"), s.operatorReportCSV)
	huma.Register(a, reg("voucher-redemptions", http.MethodGet, "/api/v1/vouchers/redemptions",
		"A 算力券 scheme's redemption report for its funding body, reconciled with the ledger (operator)", "reports"), s.redemptions)
	huma.Register(a, reg("voucher-redemptions-csv", http.MethodGet, "/api/v1/vouchers/redemptions/csv",
		"A 算力券 scheme's redemption report as CSV (operator)", "reports"), s.redemptionsCSV)
}

// period parses a month given at loc (query.month, path.month,
// body.month); empty means the current month.
func (s *Server) period(loc, month string) (settlement.Period, error) {
	if month == "" {
		return settlement.MonthOf(s.Now()), nil
	}
	p, err := settlement.ParseMonth(month)
	var ce *core.Error
	if errors.As(err, &ce) {
		return p, invalidField(loc, ce.Message)
	}
	return p, err
}

// invalidField is a 422 naming a query, path or body field (fail names
// body fields only).
func invalidField(field, msg string) error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: core.EInvalid, Field: field, Message: field + ": " + msg}
}

// fileOut is a non-JSON response: CSV or HTML.
type fileOut struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

// file renders a download into memory (reports are bounded), so a
// failure never sends half a file.
func (s *Server) file(contentType, name string, write func(w io.Writer) error) (*fileOut, error) {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return nil, s.fail(err)
	}
	out := &fileOut{ContentType: contentType, Body: buf.Bytes()}
	if name != "" {
		out.ContentDisposition = `attachment; filename="` + name + `"`
	}
	return out, nil
}

// tenantOf returns whose invoice the caller may read: a tenant its own
// (another org is 404), the operator the named tenant.
func tenantOf(p core.Principal, orgID string) (string, error) {
	switch p.Role {
	case core.RoleOperator:
		if orgID == "" {
			return "", invalidField("query.org_id", "operators must name the tenant")
		}
		return orgID, nil
	case core.RoleTenant:
		if orgID != "" && orgID != p.OrgID {
			return "", notFound("invoice of", orgID)
		}
		return p.OrgID, nil
	}
	return "", forbidden("providers have no invoices; see /api/v1/settlement/statements")
}

type monthQuery struct {
	Month string `query:"month" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"YYYY-MM in China time; default the current month."`
}

type invoicesOut struct {
	Body struct {
		Period   settlement.Period      `json:"period"`
		Invoices []settlement.TenantRow `json:"invoices"`
	}
}

func (s *Server) listInvoices(ctx context.Context, in *monthQuery) (*invoicesOut, error) {
	p := principal(ctx)
	per, err := s.period("query.month", in.Month)
	if err != nil {
		return nil, err
	}
	out := &invoicesOut{}
	out.Body.Period, out.Body.Invoices = per, []settlement.TenantRow{}
	switch p.Role {
	case core.RoleOperator:
		r, err := s.Settlement.OperatorReport(ctx, per, s.Now())
		if err != nil {
			return nil, s.fail(err)
		}
		out.Body.Invoices = r.Tenants
	case core.RoleTenant:
		inv, err := s.Settlement.TenantInvoice(ctx, p.OrgID, per, s.Now())
		if err != nil {
			return nil, s.fail(err)
		}
		if inv.Number != "" {
			out.Body.Invoices = append(out.Body.Invoices, settlement.TenantRow{Tenant: inv.Buyer, Invoice: inv.Number,
				Totals: settlement.Totals{Jobs: inv.JobsTotal, Charges: inv.Charges, Refunds: inv.Refunds, Net: inv.Total,
					Wallet: inv.Wallet, Voucher: inv.Voucher, Arrears: inv.Arrears}})
		}
	default:
		return nil, forbidden("providers have no invoices; see /api/v1/settlement/statements")
	}
	return out, nil
}

type invoiceIn struct {
	Month string `path:"month" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"YYYY-MM in China time."`
	OrgID string `query:"org_id" maxLength:"128" doc:"Operator only: the tenant."`
}

func (s *Server) invoice(ctx context.Context, in *invoiceIn) (settlement.Invoice, error) {
	org, err := tenantOf(principal(ctx), in.OrgID)
	if err != nil {
		return settlement.Invoice{}, err
	}
	per, err := s.period("path.month", in.Month)
	if err != nil {
		return settlement.Invoice{}, err
	}
	inv, err := s.Settlement.TenantInvoice(ctx, org, per, s.Now())
	if err != nil {
		if core.ErrorCode(err) == core.ENotFound {
			return inv, notFound("tenant", org)
		}
		if ce, ok := err.(*core.Error); ok && ce.Field == "org_id" {
			return inv, invalidField("query.org_id", ce.Message)
		}
		return inv, s.fail(err)
	}
	return inv, nil
}

type invoiceOut struct{ Body settlement.Invoice }

func (s *Server) getInvoice(ctx context.Context, in *invoiceIn) (*invoiceOut, error) {
	inv, err := s.invoice(ctx, in)
	if err != nil {
		return nil, err
	}
	return &invoiceOut{Body: inv}, nil
}

func invoiceFile(inv settlement.Invoice, ext string) string {
	if inv.Number != "" {
		return "invoice-" + inv.Number + "." + ext
	}
	return "invoice-" + inv.Period.Month + "-" + inv.Buyer.OrgID + "." + ext
}

func (s *Server) invoiceCSV(ctx context.Context, in *invoiceIn) (*fileOut, error) {
	inv, err := s.invoice(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.file("text/csv; charset=utf-8", invoiceFile(inv, "csv"), func(w io.Writer) error { return settlement.WriteInvoiceCSV(w, inv) })
}

func (s *Server) invoiceHTML(ctx context.Context, in *invoiceIn) (*fileOut, error) {
	inv, err := s.invoice(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.file("text/html; charset=utf-8", "", func(w io.Writer) error { return settlement.WriteInvoiceHTML(w, inv) })
}

type statementsIn struct {
	Month    string `query:"month" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"YYYY-MM in China time; default the current month."`
	Provider string `query:"provider" maxLength:"128" doc:"Operator only: one provider's org id."`
	Center   string `query:"center" maxLength:"128" doc:"Only this center (name or id)."`
}

type statementsOut struct {
	Body struct {
		Statements []settlement.Statement `json:"statements"`
	}
}

// statements returns the statements the caller may see, filtered.
func (s *Server) statements(ctx context.Context, in *statementsIn) ([]settlement.Statement, error) {
	p := principal(ctx)
	per, err := s.period("query.month", in.Month)
	if err != nil {
		return nil, err
	}
	provider, center := in.Provider, ""
	switch p.Role {
	case core.RoleTenant:
		return nil, forbidden("tenants have no settlement statements; see /api/v1/invoices")
	case core.RoleProvider:
		if provider != "" && provider != p.OrgID {
			return nil, notFound("statements of", provider)
		}
		provider = p.OrgID
	}
	if in.Center != "" {
		c, err := s.Store.Center(ctx, in.Center)
		if err != nil || (p.Role == core.RoleProvider && c.ProviderOrgID != p.OrgID) {
			if err == nil || core.ErrorCode(err) == core.ENotFound {
				return nil, notFound("center", in.Center)
			}
			return nil, s.fail(err)
		}
		if provider != "" && c.ProviderOrgID != provider {
			return nil, invalidField("query.center", "center "+c.Name+" does not belong to provider "+provider)
		}
		provider, center = c.ProviderOrgID, c.ID
	}
	if provider == "" {
		sts, err := s.Settlement.ProviderStatements(ctx, per, s.Now())
		if err != nil {
			return nil, s.fail(err)
		}
		return sts, nil
	}
	st, err := s.Settlement.ProviderStatement(ctx, provider, center, per, s.Now())
	if err != nil {
		if core.ErrorCode(err) == core.ENotFound {
			return nil, notFound("provider", provider)
		}
		if ce, ok := err.(*core.Error); ok && ce.Field != "" {
			return nil, invalidField("query.provider", ce.Message)
		}
		return nil, s.fail(err)
	}
	return []settlement.Statement{st}, nil
}

func (s *Server) listStatements(ctx context.Context, in *statementsIn) (*statementsOut, error) {
	sts, err := s.statements(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &statementsOut{}
	out.Body.Statements = sts
	return out, nil
}

func (s *Server) statementCSV(ctx context.Context, in *statementsIn) (*fileOut, error) {
	if principal(ctx).Role == core.RoleOperator && in.Provider == "" && in.Center == "" {
		return nil, invalidField("query.provider", "name the provider or a center")
	}
	sts, err := s.statements(ctx, in)
	if err != nil {
		return nil, err
	}
	st := sts[0]
	return s.file("text/csv; charset=utf-8", "statement-"+st.Period.Month+"-"+st.Provider.OrgID+".csv",
		func(w io.Writer) error { return settlement.WriteStatementCSV(w, st) })
}

type payIn struct {
	Body struct {
		Month         string `json:"month" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"The month (YYYY-MM, China time) whose statement is paid; it must have ended."`
		ProviderOrgID string `json:"provider_org_id,omitempty" maxLength:"128" doc:"The provider; or name one of its centers."`
		Center        string `json:"center,omitempty" maxLength:"128" doc:"A center (name or id) of the provider."`
		Reference     string `json:"reference" minLength:"1" maxLength:"200" doc:"The bank transfer reference of the payout."`
	}
}

type payoutOut struct{ Body store.Payout }

// payStatement records the payout of a provider's net payable for an
// ended month. The month must be over: later charges land in later
// months, so the amount paid is final.
func (s *Server) payStatement(ctx context.Context, in *payIn) (*payoutOut, error) {
	p := principal(ctx)
	if p.Role != core.RoleOperator {
		return nil, forbidden("only the operator marks statements paid")
	}
	per, err := s.period("body.month", in.Body.Month)
	if err != nil {
		return nil, err
	}
	provider := in.Body.ProviderOrgID
	if (provider == "") == (in.Body.Center == "") {
		return nil, invalidField("body.provider_org_id", "name either the provider_org_id or a center")
	}
	if in.Body.Center != "" {
		c, err := s.Store.Center(ctx, in.Body.Center)
		if err != nil {
			if core.ErrorCode(err) == core.ENotFound {
				return nil, invalidField("body.center", "no center "+quote(in.Body.Center))
			}
			return nil, s.fail(err)
		}
		provider = c.ProviderOrgID
	}
	now := s.Now()
	if !per.Closed(now) { // before reading anything: the month must be over
		return nil, s.fail(core.Errorf(core.EConflict, "%s has not ended; a statement is paid once its month is over", per.Month))
	}
	st, err := s.Settlement.ProviderStatement(ctx, provider, "", per, now)
	if err != nil {
		if core.ErrorCode(err) == core.ENotFound {
			return nil, invalidField("body.provider_org_id", "no organization "+quote(provider))
		}
		if ce, ok := err.(*core.Error); ok && ce.Field != "" {
			return nil, invalidField("body.provider_org_id", ce.Message)
		}
		return nil, s.fail(err)
	}
	amount, err := st.PayoutAmount(now)
	if err != nil {
		return nil, s.fail(err)
	}
	po, err := s.Settlement.RecordPayout(ctx, store.Payout{ProviderOrgID: provider, PeriodStart: per.Start, PeriodEnd: per.End,
		Amount: amount, Reference: in.Body.Reference}, p.OrgID)
	if err != nil {
		return nil, s.fail(err)
	}
	return &payoutOut{Body: po}, nil
}

type payoutsIn struct {
	Provider string `query:"provider" maxLength:"128" doc:"Operator only: one provider's org id."`
}

type payoutsOut struct {
	Body struct {
		Payouts []store.Payout `json:"payouts"`
	}
}

func (s *Server) listPayouts(ctx context.Context, in *payoutsIn) (*payoutsOut, error) {
	p := principal(ctx)
	provider := in.Provider
	switch p.Role {
	case core.RoleTenant:
		return nil, forbidden("tenants have no payouts")
	case core.RoleProvider:
		if provider != "" && provider != p.OrgID {
			return nil, notFound("payouts of", provider)
		}
		provider = p.OrgID
	}
	ps, err := s.Settlement.Payouts(ctx, provider)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &payoutsOut{}
	out.Body.Payouts = ps
	if out.Body.Payouts == nil {
		out.Body.Payouts = []store.Payout{}
	}
	return out, nil
}

type operatorReportOut struct{ Body settlement.OperatorReport }

func (s *Server) opReport(ctx context.Context, month string) (settlement.OperatorReport, error) {
	if principal(ctx).Role != core.RoleOperator {
		return settlement.OperatorReport{}, forbidden("only the operator reads the operator report")
	}
	per, err := s.period("query.month", month)
	if err != nil {
		return settlement.OperatorReport{}, err
	}
	r, err := s.Settlement.OperatorReport(ctx, per, s.Now())
	if err != nil {
		return r, s.fail(err)
	}
	return r, nil
}

func (s *Server) operatorReport(ctx context.Context, in *monthQuery) (*operatorReportOut, error) {
	r, err := s.opReport(ctx, in.Month)
	if err != nil {
		return nil, err
	}
	return &operatorReportOut{Body: r}, nil
}

func (s *Server) operatorReportCSV(ctx context.Context, in *monthQuery) (*fileOut, error) {
	r, err := s.opReport(ctx, in.Month)
	if err != nil {
		return nil, err
	}
	return s.file("text/csv; charset=utf-8", "operator-report-"+r.Period.Month+".csv",
		func(w io.Writer) error { return settlement.WriteOperatorCSV(w, r) })
}

type redemptionsIn struct {
	Scheme string `query:"scheme" required:"true" minLength:"1" maxLength:"200" doc:"The voucher scheme's name or id."`
	Month  string `query:"month" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"YYYY-MM in China time; default the current month."`
}

type redemptionOut struct{ Body settlement.Redemption }

func (s *Server) redemption(ctx context.Context, in *redemptionsIn) (settlement.Redemption, error) {
	if principal(ctx).Role != core.RoleOperator {
		return settlement.Redemption{}, forbidden("only the operator prepares redemption reports")
	}
	per, err := s.period("query.month", in.Month)
	if err != nil {
		return settlement.Redemption{}, err
	}
	r, err := s.Settlement.RedemptionReport(ctx, in.Scheme, per, s.Now())
	if err != nil {
		if core.ErrorCode(err) == core.ENotFound {
			return r, notFound("voucher scheme", in.Scheme)
		}
		return r, s.fail(err)
	}
	return r, nil
}

func (s *Server) redemptions(ctx context.Context, in *redemptionsIn) (*redemptionOut, error) {
	r, err := s.redemption(ctx, in)
	if err != nil {
		return nil, err
	}
	return &redemptionOut{Body: r}, nil
}

func (s *Server) redemptionsCSV(ctx context.Context, in *redemptionsIn) (*fileOut, error) {
	r, err := s.redemption(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.file("text/csv; charset=utf-8", "redemptions-"+r.Scheme.ID+"-"+r.Period.Month+".csv",
		func(w io.Writer) error { return settlement.WriteRedemptionCSV(w, r) })
}
