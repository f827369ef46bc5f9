package settlement

import (
	"sort"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// RedemptionItem is one job (the delivered contract) a 算力券 paid for.
type RedemptionItem struct {
	JobID         string      `json:"job_id"`
	Name          string      `json:"name"`
	Center        string      `json:"center"`
	CenterDisplay string      `json:"center_display"`
	Provider      Party       `json:"provider"`
	Models        string      `json:"models"`
	QuantityMilli int64       `json:"quantity_milli"` // card-hours (or core-hours) × 1000 in the period
	Unit          string      `json:"unit"`
	Charges       core.Micros `json:"charges_micros"` // what the job was charged in the period, VAT included
	Voucher       core.Micros `json:"voucher_micros"` // what the scheme paid of it
	ShareBPS      int64       `json:"share_bps"`      // Voucher / Charges
}

// RedemptionTenant is one tenant's redemptions.
type RedemptionTenant struct {
	Tenant   Party            `json:"tenant"`
	Invoice  string           `json:"invoice"` // the tenant's invoice for the month
	Jobs     int              `json:"jobs"`
	Charges  core.Micros      `json:"charges_micros"`
	Voucher  core.Micros      `json:"voucher_micros"`
	ShareBPS int64            `json:"share_bps"`
	Items    []RedemptionItem `json:"items"`
}

// Redemption is the report a funding body gets for a scheme and a month
// (兑付申请): per tenant, the jobs its 算力券 paid for, the amounts, the
// invoice they appear on and the share paid. Voucher reconciles with the
// ledger three ways: the sum of the items, the scheme's funder receivable
// (CNY ledger) and the scheme's used entitlement (VOUCHER ledger).
type Redemption struct {
	Period  Period             `json:"period"`
	Draft   bool               `json:"draft"`
	Scheme  Scheme             `json:"scheme"`
	Tenants []RedemptionTenant `json:"tenants"`
	Jobs    int                `json:"jobs"`
	Charges core.Micros        `json:"charges_micros"`
	Voucher core.Micros        `json:"voucher_micros"`
	// LedgerVoucher is Σ voucher transfers into escrow from the scheme's
	// funder receivable in the period; LedgerUsed Σ voucher_use transfers
	// on the VOUCHER ledger. Reconciled: both equal Voucher.
	LedgerVoucher core.Micros `json:"ledger_voucher_micros"`
	LedgerUsed    core.Micros `json:"ledger_used_micros"`
	Reconciled    bool        `json:"reconciled"`
}

// RedemptionInput is what BuildRedemption needs.
type RedemptionInput struct {
	Period        Period
	Scheme        Scheme
	Jobs          []JobRow // jobs of the scheme with money in the period
	Book          Book
	Invoices      map[string]string
	LedgerVoucher core.Micros
	LedgerUsed    core.Micros
	Now           time.Time
}

// BuildRedemption builds a scheme's redemption report. Jobs the voucher
// paid nothing for in the period are left out.
func BuildRedemption(in RedemptionInput) Redemption {
	r := Redemption{Period: in.Period, Draft: !in.Period.Closed(in.Now), Scheme: in.Scheme, Tenants: []RedemptionTenant{},
		LedgerVoucher: in.LedgerVoucher, LedgerUsed: in.LedgerUsed}
	tenants := map[string]*RedemptionTenant{}
	for _, j := range in.Jobs {
		if j.VoucherSchemeID != in.Scheme.ID || j.Money.Voucher == 0 {
			continue
		}
		c := in.Book.center(j.CenterID)
		it := RedemptionItem{JobID: j.JobID, Name: j.Name, Center: c.Name, CenterDisplay: c.DisplayName,
			Provider: in.Book.party(c.ProviderOrgID), Charges: j.Money.Charges(), Voucher: j.Money.Voucher}
		it.ShareBPS = shareBPS(it.Voucher, it.Charges)
		var models []string
		var raw int64
		for _, s := range services(j) {
			models = append(models, modelName(s.model))
			raw += s.quantity
			it.Unit = unitName(s.model)
		}
		it.Models, it.QuantityMilli = joinModels(models), quantityMilli(raw)
		t := tenants[j.TenantOrgID]
		if t == nil {
			t = &RedemptionTenant{Tenant: in.Book.party(j.TenantOrgID), Invoice: in.Invoices[j.TenantOrgID]}
			tenants[j.TenantOrgID] = t
		}
		t.Items = append(t.Items, it)
		t.Jobs++
		t.Charges += it.Charges
		t.Voucher += it.Voucher
	}
	for _, t := range tenants {
		sort.Slice(t.Items, func(a, b int) bool { return t.Items[a].JobID < t.Items[b].JobID })
		t.ShareBPS = shareBPS(t.Voucher, t.Charges)
		r.Tenants = append(r.Tenants, *t)
		r.Jobs += t.Jobs
		r.Charges += t.Charges
		r.Voucher += t.Voucher
	}
	sort.Slice(r.Tenants, func(a, b int) bool {
		if r.Tenants[a].Invoice != r.Tenants[b].Invoice {
			return r.Tenants[a].Invoice < r.Tenants[b].Invoice
		}
		return r.Tenants[a].Tenant.OrgID < r.Tenants[b].Tenant.OrgID
	})
	r.Reconciled = r.Voucher == r.LedgerVoucher && r.Voucher == r.LedgerUsed
	return r
}
