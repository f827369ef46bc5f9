package settlement

import (
	"sort"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// Totals are a set of jobs' money in a period. Charges = Wallet + Voucher
// + Arrears, and Charges − Refunds = VAT + Commission + ProviderShare.
type Totals struct {
	Jobs          int         `json:"jobs"`
	Charges       core.Micros `json:"charges_micros"`
	Refunds       core.Micros `json:"refunds_micros"`
	Net           core.Micros `json:"net_micros"`
	Wallet        core.Micros `json:"wallet_micros"`
	Voucher       core.Micros `json:"voucher_micros"`
	Arrears       core.Micros `json:"arrears_micros"`
	VAT           core.Micros `json:"vat_micros"`
	Commission    core.Micros `json:"commission_micros"`
	ProviderShare core.Micros `json:"provider_share_micros"`
}

func (t *Totals) add(m Money) {
	t.Jobs++
	t.Charges += m.Charges()
	t.Refunds += m.Refund
	t.Net += m.Net()
	t.Wallet += m.Wallet()
	t.Voucher += m.Voucher
	t.Arrears += m.Arrears
	t.VAT += m.VAT - m.RefundVAT
	t.Commission += m.Commission - m.RefundCommission
	t.ProviderShare += m.Provider - m.RefundProvider
}

// CenterRow is one center's money in a period.
type CenterRow struct {
	CenterID    string `json:"center_id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Provider    Party  `json:"provider"`
	Totals
}

// TenantRow is one tenant's money in a period.
type TenantRow struct {
	Tenant  Party  `json:"tenant"`
	Invoice string `json:"invoice"`
	Totals
}

// ReceivableMoves are one receivable account's movements: the balance
// before the period and what happened in it.
type ReceivableMoves struct {
	AccountID  string      `json:"account_id"`
	Code       string      `json:"code"`   // funder_receivable or tenant_receivable
	OrgID      string      `json:"org_id"` // the tenant of an arrears account
	Opening    core.Micros `json:"opening_micros"`
	Accrued    core.Micros `json:"accrued_micros"`     // debits: vouchers redeemed, arrears incurred
	Received   core.Micros `json:"received_micros"`    // payment_received credits
	WrittenOff core.Micros `json:"written_off_micros"` // writeoff credits
	Other      core.Micros `json:"other_micros"`       // any other credits
}

// Receivable is one row of the receivables table.
type Receivable struct {
	ReceivableMoves
	Name    string      `json:"name"`   // the scheme, or the tenant
	Issuer  string      `json:"issuer"` // the funding body of a scheme
	Closing core.Micros `json:"closing_micros"`
}

// Receivable account codes.
const (
	CodeFunderReceivable = "funder_receivable"
	CodeTenantReceivable = "tenant_receivable"
)

// OperatorReport is the operator's report for a period: revenue,
// commission, VAT, what providers earned, how tenants paid, per center and
// per tenant, and what funding bodies and tenants owe.
type OperatorReport struct {
	Period  Period      `json:"period"`
	Draft   bool        `json:"draft"`
	Totals  Totals      `json:"totals"`
	Centers []CenterRow `json:"centers"`
	Tenants []TenantRow `json:"tenants"`
	// Funders are the funding bodies' receivables (算力券 redeemed, not yet
	// paid); Arrears the tenants' receivables.
	Funders []Receivable `json:"funders"`
	Arrears []Receivable `json:"arrears"`
	Payouts core.Micros  `json:"payouts_micros"` // paid out to providers in the period
}

// OperatorInput is what BuildOperatorReport needs.
type OperatorInput struct {
	Period      Period
	Jobs        []JobRow
	Book        Book
	Schemes     map[string]Scheme
	Invoices    map[string]string // tenant org id → invoice number
	Receivables []ReceivableMoves
	Payouts     core.Micros
	Now         time.Time
}

// BuildOperatorReport builds the operator's report.
func BuildOperatorReport(in OperatorInput) OperatorReport {
	r := OperatorReport{Period: in.Period, Draft: !in.Period.Closed(in.Now), Centers: []CenterRow{}, Tenants: []TenantRow{},
		Funders: []Receivable{}, Arrears: []Receivable{}, Payouts: in.Payouts}
	centers := map[string]*CenterRow{}
	tenants := map[string]*TenantRow{}
	for _, j := range in.Jobs {
		r.Totals.add(j.Money)
		c := centers[j.CenterID]
		if c == nil {
			cc := in.Book.center(j.CenterID)
			c = &CenterRow{CenterID: cc.ID, Name: cc.Name, DisplayName: cc.DisplayName, Provider: in.Book.party(cc.ProviderOrgID)}
			centers[j.CenterID] = c
		}
		c.add(j.Money)
		t := tenants[j.TenantOrgID]
		if t == nil {
			t = &TenantRow{Tenant: in.Book.party(j.TenantOrgID), Invoice: in.Invoices[j.TenantOrgID]}
			tenants[j.TenantOrgID] = t
		}
		t.add(j.Money)
	}
	for _, c := range centers {
		r.Centers = append(r.Centers, *c)
	}
	sort.Slice(r.Centers, func(a, b int) bool { return r.Centers[a].Name < r.Centers[b].Name })
	for _, t := range tenants {
		r.Tenants = append(r.Tenants, *t)
	}
	sort.Slice(r.Tenants, func(a, b int) bool {
		if r.Tenants[a].Invoice != r.Tenants[b].Invoice {
			return r.Tenants[a].Invoice < r.Tenants[b].Invoice
		}
		return r.Tenants[a].Tenant.OrgID < r.Tenants[b].Tenant.OrgID
	})
	for _, m := range in.Receivables {
		rv := Receivable{ReceivableMoves: m, Closing: m.Opening + m.Accrued - m.Received - m.WrittenOff - m.Other}
		switch m.Code {
		case CodeFunderReceivable:
			s := in.Schemes[schemeOfFunder(m.AccountID)]
			rv.Name, rv.Issuer = s.Name, s.Issuer
			r.Funders = append(r.Funders, rv)
		case CodeTenantReceivable:
			rv.Name = in.Book.party(m.OrgID).Name
			r.Arrears = append(r.Arrears, rv)
		}
	}
	return r
}

// schemeOfFunder extracts the scheme id of "funder:<scheme>:receivable".
func schemeOfFunder(account string) string {
	const pre, suf = "funder:", ":receivable"
	if len(account) > len(pre)+len(suf) && account[:len(pre)] == pre && account[len(account)-len(suf):] == suf {
		return account[len(pre) : len(account)-len(suf)]
	}
	return ""
}
