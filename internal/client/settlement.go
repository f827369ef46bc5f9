package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/suanli/suanli/internal/settlement"
	"github.com/suanli/suanli/internal/store"
)

// query builds "?k=v&…" from pairs, leaving out empty values.
func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// raw GETs a non-JSON resource (CSV, HTML); errors come back as *Error.
func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	c.mu.Lock()
	server := c.Server
	if len(c.Servers) > 0 {
		server = c.Servers[c.good]
	}
	c.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+path, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, responseBytesMax))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		e := &Error{}
		if json.Unmarshal(body, e) != nil || e.Code == "" {
			e.Message = strings.TrimSpace(string(body))
		}
		e.Status = resp.StatusCode
		return nil, e
	}
	return body, nil
}

// Invoices lists a month's invoices ("" = the current month).
func (c *Client) Invoices(ctx context.Context, month string) ([]settlement.TenantRow, error) {
	var out struct{ Invoices []settlement.TenantRow }
	return out.Invoices, c.do(ctx, http.MethodGet, "/api/v1/invoices"+query("month", month), nil, &out)
}

// Invoice gets a tenant's statement and invoice for a month (orgID only
// for operators).
func (c *Client) Invoice(ctx context.Context, month, orgID string) (settlement.Invoice, error) {
	var out settlement.Invoice
	return out, c.do(ctx, http.MethodGet, "/api/v1/invoices/"+url.PathEscape(month)+query("org_id", orgID), nil, &out)
}

// InvoiceCSV gets a tenant's invoice lines as CSV.
func (c *Client) InvoiceCSV(ctx context.Context, month, orgID string) ([]byte, error) {
	return c.raw(ctx, "/api/v1/invoices/"+url.PathEscape(month)+"/csv"+query("org_id", orgID))
}

// InvoiceHTML gets a tenant's invoice as a printable HTML page.
func (c *Client) InvoiceHTML(ctx context.Context, month, orgID string) ([]byte, error) {
	return c.raw(ctx, "/api/v1/invoices/"+url.PathEscape(month)+"/html"+query("org_id", orgID))
}

// Statements gets provider statements for a month, optionally for one
// provider or one center.
func (c *Client) Statements(ctx context.Context, month, provider, center string) ([]settlement.Statement, error) {
	var out struct{ Statements []settlement.Statement }
	return out.Statements, c.do(ctx, http.MethodGet, "/api/v1/settlement/statements"+
		query("month", month, "provider", provider, "center", center), nil, &out)
}

// StatementCSV gets one provider's statement as CSV.
func (c *Client) StatementCSV(ctx context.Context, month, provider, center string) ([]byte, error) {
	return c.raw(ctx, "/api/v1/settlement/statements/csv"+query("month", month, "provider", provider, "center", center))
}

// PayStatement marks a provider's statement for an ended month paid
// (operator): name the provider or one of its centers.
func (c *Client) PayStatement(ctx context.Context, month, provider, center, ref string) (store.Payout, error) {
	var out store.Payout
	in := map[string]string{"month": month, "reference": ref}
	if provider != "" {
		in["provider_org_id"] = provider
	}
	if center != "" {
		in["center"] = center
	}
	return out, c.do(ctx, http.MethodPost, "/api/v1/settlement/payouts", in, &out)
}

// SettlementPayouts lists payouts to providers.
func (c *Client) SettlementPayouts(ctx context.Context, provider string) ([]store.Payout, error) {
	var out struct{ Payouts []store.Payout }
	return out.Payouts, c.do(ctx, http.MethodGet, "/api/v1/settlement/payouts"+query("provider", provider), nil, &out)
}

// OperatorReport gets the operator's report for a month.
func (c *Client) OperatorReport(ctx context.Context, month string) (settlement.OperatorReport, error) {
	var out settlement.OperatorReport
	return out, c.do(ctx, http.MethodGet, "/api/v1/reports/operator"+query("month", month), nil, &out)
}

// OperatorReportCSV gets the operator's report as CSV.
func (c *Client) OperatorReportCSV(ctx context.Context, month string) ([]byte, error) {
	return c.raw(ctx, "/api/v1/reports/operator/csv"+query("month", month))
}

// Redemptions gets a voucher scheme's redemption report for a month.
func (c *Client) Redemptions(ctx context.Context, scheme, month string) (settlement.Redemption, error) {
	var out settlement.Redemption
	return out, c.do(ctx, http.MethodGet, "/api/v1/vouchers/redemptions"+query("scheme", scheme, "month", month), nil, &out)
}

// RedemptionsCSV gets a voucher scheme's redemption report as CSV.
func (c *Client) RedemptionsCSV(ctx context.Context, scheme, month string) ([]byte, error) {
	return c.raw(ctx, "/api/v1/vouchers/redemptions/csv"+query("scheme", scheme, "month", month))
}
