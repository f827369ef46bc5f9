package client

import (
	"context"
	"net/http"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// SchemeRequest creates a voucher scheme.
type SchemeRequest struct {
	Name             string            `json:"name"`
	Issuer           string            `json:"issuer"`
	ShareBPS         int64             `json:"share_bps"`
	DomesticShareBPS int64             `json:"domestic_share_bps"`
	CapPerTenantYear core.Micros       `json:"cap_per_tenant_year_micros"`
	Budget           core.Micros       `json:"budget_micros"`
	ValidFrom        time.Time         `json:"valid_from"`
	ValidUntil       time.Time         `json:"valid_until"`
	EligibleKinds    []core.CenterKind `json:"eligible_kinds,omitempty"`
	EligibleCenters  []string          `json:"eligible_centers,omitempty"`
}

// CreateScheme creates a voucher scheme (operator).
func (c *Client) CreateScheme(ctx context.Context, r SchemeRequest) (store.VoucherScheme, error) {
	var out store.VoucherScheme
	return out, c.do(ctx, http.MethodPost, "/api/v1/vouchers/schemes", r, &out)
}

// Schemes lists voucher schemes.
func (c *Client) Schemes(ctx context.Context) ([]store.VoucherScheme, error) {
	var out struct{ Schemes []store.VoucherScheme }
	return out.Schemes, c.do(ctx, http.MethodGet, "/api/v1/vouchers/schemes", nil, &out)
}

// Grant grants vouchers to a tenant (operator).
func (c *Client) Grant(ctx context.Context, scheme, tenant string, amount core.Micros, ref string) (store.VoucherGrant, error) {
	var out store.VoucherGrant
	in := map[string]any{"scheme": scheme, "tenant_org_id": tenant, "amount_micros": amount, "reference": ref}
	return out, c.do(ctx, http.MethodPost, "/api/v1/vouchers/grants", in, &out)
}

// Grants lists voucher grants visible to the caller.
func (c *Client) Grants(ctx context.Context) ([]store.VoucherGrant, error) {
	var out struct{ Grants []store.VoucherGrant }
	return out.Grants, c.do(ctx, http.MethodGet, "/api/v1/vouchers/grants", nil, &out)
}

// AddRelated records two organizations as related parties (operator).
func (c *Client) AddRelated(ctx context.Context, a, b, note string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/related-parties", map[string]string{"org_a": a, "org_b": b, "note": note}, nil)
}

// ReportUsage sends a usage event; late says it was charged after settlement.
func (c *Client) ReportUsage(ctx context.Context, ev store.UsageEvent) (bool, error) {
	var out struct{ Late bool }
	return out.Late, c.do(ctx, http.MethodPost, "/api/v1/usage", ev, &out)
}

// Refund refunds part of an ended job's charge (operator).
func (c *Client) Refund(ctx context.Context, jobID string, amount core.Micros, ref, reason string) error {
	in := map[string]any{"job_id": jobID, "amount_micros": amount, "reference": ref, "reason": reason}
	return c.do(ctx, http.MethodPost, "/api/v1/ledger/refunds", in, nil)
}

// Adjust credits (positive) or debits (negative) a wallet (operator).
func (c *Client) Adjust(ctx context.Context, orgID string, amount core.Micros, ref, reason string) error {
	in := map[string]any{"org_id": orgID, "amount_micros": amount, "reference": ref, "reason": reason}
	return c.do(ctx, http.MethodPost, "/api/v1/ledger/adjustments", in, nil)
}

// WriteOff writes off part of a receivable (operator).
func (c *Client) WriteOff(ctx context.Context, account string, amount core.Micros, ref, reason string) error {
	in := map[string]any{"account": account, "amount_micros": amount, "reference": ref, "reason": reason}
	return c.do(ctx, http.MethodPost, "/api/v1/ledger/writeoffs", in, nil)
}

// ReceivePayment records a payment against a receivable (operator).
func (c *Client) ReceivePayment(ctx context.Context, account string, amount core.Micros, ref string) error {
	in := map[string]any{"account": account, "amount_micros": amount, "reference": ref}
	return c.do(ctx, http.MethodPost, "/api/v1/ledger/payments", in, nil)
}

// Accounts lists ledger accounts (operator).
func (c *Client) Accounts(ctx context.Context) ([]ledger.Account, error) {
	var out struct{ Accounts []ledger.Account }
	return out.Accounts, c.do(ctx, http.MethodGet, "/api/v1/ledger/accounts", nil, &out)
}

// Verify runs the server's full money verification (operator).
func (c *Client) Verify(ctx context.Context) ([]string, error) {
	var out struct{ Problems []string }
	return out.Problems, c.do(ctx, http.MethodGet, "/api/v1/ledger/verify", nil, &out)
}
