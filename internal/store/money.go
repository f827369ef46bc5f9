package store

import (
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/meter"
)

// VoucherScheme is a 算力券 scheme: a funding body pays a share of eligible
// spend, a higher share on domestic chips, up to a cap per tenant per year
// and a total budget, within a validity window, at eligible centers, never
// between related parties.
type VoucherScheme struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Issuer           string            `json:"issuer"` // the funding body, e.g. a city bureau
	ShareBPS         int64             `json:"share_bps"`
	DomesticShareBPS int64             `json:"domestic_share_bps"`
	CapPerTenantYear core.Micros       `json:"cap_per_tenant_year"`
	Budget           core.Micros       `json:"budget"`
	ValidFrom        time.Time         `json:"valid_from"`
	ValidUntil       time.Time         `json:"valid_until"`
	EligibleKinds    []core.CenterKind `json:"eligible_kinds,omitempty"`   // empty = all kinds
	EligibleCenters  []string          `json:"eligible_centers,omitempty"` // center names; empty = all
	CreatedBy        string            `json:"created_by"`
	CreatedAt        time.Time         `json:"created_at"`
}

// Validate checks a scheme's fields.
func (v VoucherScheme) Validate() error {
	switch {
	case v.Name == "" || len(v.Name) > 200:
		return core.FieldErrorf("name", "must be 1..200 bytes")
	case v.Issuer == "" || len(v.Issuer) > 200:
		return core.FieldErrorf("issuer", "must be 1..200 bytes")
	case v.ShareBPS < 0 || v.ShareBPS > meter.BPSMax:
		return core.FieldErrorf("share_bps", "must be 0..10000")
	case v.DomesticShareBPS < 0 || v.DomesticShareBPS > meter.BPSMax:
		return core.FieldErrorf("domestic_share_bps", "must be 0..10000")
	case v.CapPerTenantYear <= 0:
		return core.FieldErrorf("cap_per_tenant_year", "must be positive")
	case v.Budget <= 0:
		return core.FieldErrorf("budget", "must be positive")
	case !v.ValidUntil.After(v.ValidFrom):
		return core.FieldErrorf("valid_until", "must be after valid_from")
	}
	for _, k := range v.EligibleKinds {
		if !k.Valid() {
			return core.FieldErrorf("eligible_kinds", "unknown kind %q", k)
		}
	}
	return nil
}

// VoucherGrant is an amount of a scheme granted to a tenant for a year.
type VoucherGrant struct {
	ID          string      `json:"id"`
	SchemeID    string      `json:"scheme_id"`
	TenantOrgID string      `json:"tenant_org_id"`
	Year        int         `json:"year"`
	Amount      core.Micros `json:"amount"`
	CreatedBy   string      `json:"created_by"`
	CreatedAt   time.Time   `json:"created_at"`
}

// UsageEvent is one usage report for a replica of a job, as an agent or a
// center's own meter sends it. ID is the reporter's and makes it
// idempotent: a repeat with the same fields is ignored, with different
// fields it is a conflict.
type UsageEvent struct {
	ID           string `json:"id"`
	JobID        string `json:"job_id"`
	Replica      int    `json:"replica"`
	WallMs       int64  `json:"wall_ms"`
	StorageMiBMs int64  `json:"storage_mib_ms"`
	EgressMiB    int64  `json:"egress_mib"`
}

// Payout is money paid to a provider for a settlement period.
type Payout struct {
	ID            string      `json:"id"`
	ProviderOrgID string      `json:"provider_org_id"`
	PeriodStart   time.Time   `json:"period_start"`
	PeriodEnd     time.Time   `json:"period_end"`
	Amount        core.Micros `json:"amount"`
	Reference     string      `json:"reference"`
	CreatedBy     string      `json:"created_by"`
	CreatedAt     time.Time   `json:"created_at"`
}

// Bundle is a prepaid bundle.
type Bundle struct {
	ID          string      `json:"id"`
	TenantOrgID string      `json:"tenant_org_id"`
	AccelModel  string      `json:"accel_model"`
	CardHours   int64       `json:"card_hours"`
	Price       core.Micros `json:"price_micros"`
	UsedCardMs  int64       `json:"used_card_ms"`
	ValidUntil  time.Time   `json:"valid_until"`
	Expired     bool        `json:"expired"`
	CreatedAt   time.Time   `json:"created_at"`
}
