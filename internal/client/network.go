package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// SetPolicy sets a tenant's fair-share weight, quotas, cohort, borrowing
// limits and weights, replacing what was set (operator).
func (c *Client) SetPolicy(ctx context.Context, p store.TenantPolicy) error {
	// The body is the policy but for its org, which is in the path.
	in := struct {
		Weight      int64              `json:"weight"`
		QuotaCPU    int64              `json:"quota_cpu_milli"`
		QuotaMem    int64              `json:"quota_mem_mib"`
		QuotaAccel  int64              `json:"quota_accelerators"`
		Cohort      string             `json:"cohort,omitempty"`
		BorrowCPU   int64              `json:"borrow_cpu_milli"`
		BorrowMem   int64              `json:"borrow_mem_mib"`
		BorrowAccel int64              `json:"borrow_accelerators"`
		Weights     *core.ScoreWeights `json:"weights,omitempty"`
	}{p.Weight, p.QuotaCPU, p.QuotaMem, p.QuotaAccel, p.Cohort, p.BorrowCPU, p.BorrowMem, p.BorrowAccel, p.Weights}
	return c.do(ctx, http.MethodPut, "/api/v1/orgs/"+url.PathEscape(p.OrgID)+"/policy", in, nil)
}

// Policies lists the tenant policies that were set (operator).
func (c *Client) Policies(ctx context.Context) ([]store.TenantPolicy, error) {
	var out struct{ Policies []store.TenantPolicy }
	return out.Policies, c.do(ctx, http.MethodGet, "/api/v1/tenant-policies", nil, &out)
}

// Links lists the network between regions, each link once (From < To).
func (c *Client) Links(ctx context.Context) ([]core.Link, error) {
	var out struct{ Links []core.Link }
	return out.Links, c.do(ctx, http.MethodGet, "/api/v1/network/links", nil, &out)
}

// SetLink sets the link between two regions (operator).
func (c *Client) SetLink(ctx context.Context, l core.Link) error {
	return c.do(ctx, http.MethodPut, "/api/v1/network/links", l, nil)
}

// DeleteLink removes the link between two regions, either way round
// (operator).
func (c *Client) DeleteLink(ctx context.Context, from, to string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/network/links/"+url.PathEscape(from)+"/"+url.PathEscape(to), nil, nil)
}

// SchedWeights returns the platform's default weights for ranking centers.
func (c *Client) SchedWeights(ctx context.Context) (core.ScoreWeights, error) {
	var out struct{ Weights core.ScoreWeights }
	return out.Weights, c.do(ctx, http.MethodGet, "/api/v1/scheduler/weights", nil, &out)
}

// SetSchedWeights sets the platform's default weights (operator).
func (c *Client) SetSchedWeights(ctx context.Context, w core.ScoreWeights) error {
	return c.do(ctx, http.MethodPut, "/api/v1/scheduler/weights", map[string]core.ScoreWeights{"weights": w}, nil)
}
