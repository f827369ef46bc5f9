package settlement

import (
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/meter"
)

// Line is one 发票 line: one compute service (a center's accelerator
// model, or its CPU) in the period.
//
// Gross is exact (1e-6 CNY): the charges of the line's jobs in the period
// less their refunds, VAT included. Amount (excluding tax) and Tax split
// it exactly. AmountFen and TaxFen are the same line rounded to fen, as
// printed on the invoice.
type Line struct {
	Service       string      `json:"service"` // 算力服务 · <center> · <model>
	CenterName    string      `json:"center"`
	CenterDisplay string      `json:"center_display"`
	Model         string      `json:"model"` // accelerator model or CPU
	Unit          string      `json:"unit"`  // 卡时 (card-hours) or 核时 (core-hours)
	QuantityMilli int64       `json:"quantity_milli"`
	Quantity      string      `json:"quantity"`          // three decimals
	UnitPrice     core.Micros `json:"unit_price"`        // excluding tax, per unit; 0 when the quantity is 0
	TaxBPS        int64       `json:"tax_bps"`           // e.g. 600
	TaxRate       string      `json:"tax_rate"`          // e.g. 6%
	Jobs          int         `json:"jobs"`              // jobs with money on this line
	Charges       core.Micros `json:"charges_micros"`    // VAT included
	Refunds       core.Micros `json:"refunds_micros"`    // VAT included
	Gross         core.Micros `json:"gross_micros"`      // Charges − Refunds = Amount + Tax
	Amount        core.Micros `json:"amount_micros"`     // excluding tax, exact
	Tax           core.Micros `json:"tax_micros"`        // exact
	AmountFen     core.Micros `json:"amount_fen_micros"` // rounded to fen (a multiple of 10,000 micros)
	TaxFen        core.Micros `json:"tax_fen_micros"`
}

// JobCharge is one job's money on a tenant statement.
type JobCharge struct {
	JobID   string      `json:"job_id"`
	Name    string      `json:"name"`
	Center  string      `json:"center"`
	Models  string      `json:"models"`
	Charges core.Micros `json:"charges_micros"`
	Wallet  core.Micros `json:"wallet_micros"`
	Voucher core.Micros `json:"voucher_micros"`
	Arrears core.Micros `json:"arrears_micros"`
	Refund  core.Micros `json:"refund_micros"`
}

// VoucherPaid is what one 算力券 scheme paid on a statement.
type VoucherPaid struct {
	SchemeID string      `json:"scheme_id"`
	Name     string      `json:"name"`
	Issuer   string      `json:"issuer"`
	Amount   core.Micros `json:"amount_micros"`
}

// Invoice is a tenant's monthly statement and the data of its 发票: the
// operator (platform service provider) sells compute services to the
// tenant. Draft until the month has ended.
type Invoice struct {
	Number string `json:"number"` // see InvoiceNumbers; "" when the tenant had no money in the month
	Period Period `json:"period"`
	Draft  bool   `json:"draft"`
	Seller Party  `json:"seller"`
	Buyer  Party  `json:"buyer"`
	TaxBPS int64  `json:"tax_bps"`
	Lines  []Line `json:"lines"`

	Charges core.Micros `json:"charges_micros"` // gross charges in the period, VAT included
	Refunds core.Micros `json:"refunds_micros"`
	Total   core.Micros `json:"total_micros"` // Charges − Refunds = Σ line Gross = Amount + Tax
	Amount  core.Micros `json:"amount_micros"`
	Tax     core.Micros `json:"tax_micros"`
	// The invoice in fen: TotalFen = AmountFen + TaxFen = Total rounded
	// half up to fen; Rounding = Total − TotalFen (under half a fen).
	TotalFen  core.Micros `json:"total_fen_micros"`
	AmountFen core.Micros `json:"amount_fen_micros"`
	TaxFen    core.Micros `json:"tax_fen_micros"`
	Rounding  core.Micros `json:"rounding_micros"`

	// How the charges were paid: Wallet + Voucher + Arrears = Charges.
	Wallet   core.Micros   `json:"wallet_micros"`
	Voucher  core.Micros   `json:"voucher_micros"`
	Arrears  core.Micros   `json:"arrears_micros"`
	Vouchers []VoucherPaid `json:"vouchers"`
	// LedgerVAT is the VAT the ledger booked on these charges (per job,
	// cumulatively); it may differ from Tax by rounding units only.
	LedgerVAT core.Micros `json:"ledger_vat_micros"`

	Jobs      []JobCharge `json:"jobs"` // at most JobsShownMax, by job id
	JobsTotal int         `json:"jobs_total"`
}

// Scheme is a 算力券 scheme as reports name it.
type Scheme struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Issuer           string `json:"issuer"`
	ShareBPS         int64  `json:"share_bps"`
	DomesticShareBPS int64  `json:"domestic_share_bps"`
}

// InvoiceInput is what BuildInvoice needs.
type InvoiceInput struct {
	Period  Period
	Number  string
	Seller  Party // the operator
	Buyer   Party // the tenant
	TaxBPS  int64
	Jobs    []JobRow // the tenant's jobs with money in the period
	Book    Book
	Schemes map[string]Scheme
	Now     time.Time
}

// BuildInvoice builds a tenant's statement and invoice for a period.
//
// Rounding: lines are ordered (center, model) and cut from the running
// total, cumulatively. With C_i the sum of the first i lines' Gross, line
// i's Tax is tax(C_i) − tax(C_{i−1}), where tax(x) = round-half-up(x ×
// rate / (1 + rate)) as in meter.Split; its fen total is fen(C_i) −
// fen(C_{i−1}) and its fen tax taxfen(fen(C_i)) − taxfen(fen(C_{i−1})).
// Each line is off the exact rate by under one unit, the tax total is
// exactly tax(Total), the lines add up to the totals with no separate
// balancing entry, and any difference of the per-line roundings lands on
// the last line by construction. Refunds may make a line (a red entry) or
// the total negative; rounding is symmetric about zero.
func BuildInvoice(in InvoiceInput) Invoice {
	inv := Invoice{Number: in.Number, Period: in.Period, Draft: !in.Period.Closed(in.Now), Seller: in.Seller,
		Buyer: in.Buyer, TaxBPS: in.TaxBPS, Lines: []Line{}, Vouchers: []VoucherPaid{}, Jobs: []JobCharge{}}
	type key struct{ center, model string }
	lines := map[key]*Line{}
	raw := map[key]int64{}
	jobsOn := map[key]map[string]bool{}
	vouchers := map[string]core.Micros{}
	for _, j := range in.Jobs {
		m := j.Money
		inv.Charges += m.Charges()
		inv.Refunds += m.Refund
		inv.Wallet += m.Wallet()
		inv.Voucher += m.Voucher
		inv.Arrears += m.Arrears
		inv.LedgerVAT += m.VAT - m.RefundVAT
		if m.Voucher != 0 {
			vouchers[j.VoucherSchemeID] += m.Voucher
		}
		var models []string
		for _, s := range services(j) {
			k := key{s.center, s.model}
			l := lines[k]
			if l == nil {
				c := in.Book.center(s.center)
				l = &Line{CenterName: c.Name, CenterDisplay: c.DisplayName, Model: modelName(s.model),
					Unit: unitName(s.model), TaxBPS: in.TaxBPS, TaxRate: FormatBPS(in.TaxBPS)}
				l.Service = "算力服务 · " + l.CenterDisplay + " · " + l.Model
				lines[k], jobsOn[k] = l, map[string]bool{}
			}
			l.Charges += s.money.Charges()
			l.Refunds += s.money.Refund
			raw[k] += s.quantity
			jobsOn[k][j.JobID] = true
			models = append(models, modelName(s.model))
		}
		inv.Jobs = append(inv.Jobs, JobCharge{JobID: j.JobID, Name: j.Name, Center: in.Book.center(j.CenterID).Name,
			Models: joinModels(models), Charges: m.Charges(), Wallet: m.Wallet(), Voucher: m.Voucher, Arrears: m.Arrears,
			Refund: m.Refund})
	}
	ordered := make([]*Line, 0, len(lines))
	for k, l := range lines {
		l.Jobs = len(jobsOn[k])
		l.QuantityMilli = quantityMilli(raw[k])
		ordered = append(ordered, l)
	}
	inv.cut(ordered)
	inv.Total = inv.Charges - inv.Refunds
	inv.TotalFen = Fen(inv.Total)
	inv.Rounding = inv.Total - inv.TotalFen
	for id, a := range vouchers {
		s := in.Schemes[id]
		inv.Vouchers = append(inv.Vouchers, VoucherPaid{SchemeID: id, Name: s.Name, Issuer: s.Issuer, Amount: a})
	}
	sort.Slice(inv.Vouchers, func(a, b int) bool { return inv.Vouchers[a].SchemeID < inv.Vouchers[b].SchemeID })
	sort.Slice(inv.Jobs, func(a, b int) bool { return inv.Jobs[a].JobID < inv.Jobs[b].JobID })
	inv.JobsTotal = len(inv.Jobs)
	if len(inv.Jobs) > JobsShownMax {
		inv.Jobs = inv.Jobs[:JobsShownMax]
	}
	return inv
}

// cut orders the lines (center, model) and cuts tax and fen amounts from
// the running total (see BuildInvoice), adding them to the invoice.
func (inv *Invoice) cut(lines []*Line) {
	sort.Slice(lines, func(a, b int) bool {
		if lines[a].CenterName != lines[b].CenterName {
			return lines[a].CenterName < lines[b].CenterName
		}
		return lines[a].Model < lines[b].Model
	})
	var cum core.Micros
	for _, l := range lines {
		l.Quantity = FormatMilli(l.QuantityMilli)
		l.Gross = l.Charges - l.Refunds
		before := cum
		cum += l.Gross
		l.Tax = TaxOf(cum, inv.TaxBPS) - TaxOf(before, inv.TaxBPS)
		l.Amount = l.Gross - l.Tax
		l.TaxFen = TaxFenOf(Fen(cum), inv.TaxBPS) - TaxFenOf(Fen(before), inv.TaxBPS)
		l.AmountFen = Fen(cum) - Fen(before) - l.TaxFen
		if l.QuantityMilli != 0 {
			l.UnitPrice = core.Micros(roundDiv(int64(l.Amount)*1000, l.QuantityMilli))
		}
		inv.Lines = append(inv.Lines, *l)
		inv.Amount += l.Amount
		inv.Tax += l.Tax
		inv.AmountFen += l.AmountFen
		inv.TaxFen += l.TaxFen
	}
}

func joinModels(ms []string) string {
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += ","
		}
		s += m
	}
	return s
}

// Check verifies an invoice's arithmetic; nil when every identity holds.
func (inv Invoice) Check() error {
	var gross, amount, tax, amountFen, taxFen core.Micros
	for _, l := range inv.Lines {
		if l.Amount+l.Tax != l.Gross || l.Charges-l.Refunds != l.Gross {
			return fmt.Errorf("line %s: amount %d + tax %d != gross %d", l.Service, l.Amount, l.Tax, l.Gross)
		}
		if l.AmountFen%10_000 != 0 || l.TaxFen%10_000 != 0 {
			return fmt.Errorf("line %s: fen amounts not whole fen", l.Service)
		}
		gross, amount, tax, amountFen, taxFen = gross+l.Gross, amount+l.Amount, tax+l.Tax, amountFen+l.AmountFen, taxFen+l.TaxFen
	}
	switch {
	case gross != inv.Total || inv.Charges-inv.Refunds != inv.Total:
		return fmt.Errorf("lines %d, total %d, charges − refunds %d", gross, inv.Total, inv.Charges-inv.Refunds)
	case amount != inv.Amount || tax != inv.Tax || amount+tax != inv.Total:
		return fmt.Errorf("amount %d + tax %d != total %d", amount, tax, inv.Total)
	case amountFen != inv.AmountFen || taxFen != inv.TaxFen || amountFen+taxFen != inv.TotalFen:
		return fmt.Errorf("fen: amount %d + tax %d != total %d", amountFen, taxFen, inv.TotalFen)
	case inv.TotalFen+inv.Rounding != inv.Total:
		return fmt.Errorf("fen total %d + rounding %d != total %d", inv.TotalFen, inv.Rounding, inv.Total)
	case inv.Wallet+inv.Voucher+inv.Arrears != inv.Charges:
		return fmt.Errorf("wallet %d + voucher %d + arrears %d != charges %d", inv.Wallet, inv.Voucher, inv.Arrears, inv.Charges)
	}
	return nil
}

// TaxOf is the VAT contained in a gross amount (VAT included), rounded half
// up (away from zero for negative amounts): the rule of meter.Split.
func TaxOf(gross core.Micros, taxBPS int64) core.Micros {
	if gross < 0 {
		return -TaxOf(-gross, taxBPS)
	}
	vat, _, _ := meter.Split(gross, taxBPS, 0)
	return vat
}

// Fen rounds an amount to whole fen (10,000 micros), half away from zero.
func Fen(m core.Micros) core.Micros {
	if m < 0 {
		return -Fen(-m)
	}
	return (m + 5_000) / 10_000 * 10_000
}

// TaxFenOf is the VAT in whole fen contained in a gross amount of whole
// fen.
func TaxFenOf(grossFen core.Micros, taxBPS int64) core.Micros {
	return TaxOf(grossFen/10_000, taxBPS) * 10_000
}

// roundDiv is a/b rounded half away from zero, b > 0.
func roundDiv(a, b int64) int64 {
	x := new(big.Int).Mul(big.NewInt(a), big.NewInt(2))
	neg := x.Sign() < 0
	x.Abs(x)
	x.Add(x, big.NewInt(b))
	x.Quo(x, big.NewInt(2*b))
	if neg {
		x.Neg(x)
	}
	return x.Int64()
}

// TenantFirst is when a tenant's first invoiceable transfer (a charge or
// a refund) of a month was made.
type TenantFirst struct {
	OrgID string
	At    time.Time
}

// InvoiceNumbers numbers a month's invoices: "SL-YYYYMM-NNNNN", from 00001,
// in the order of each tenant's first invoiceable transfer in the month
// (ties by org id). The numbering is deterministic, gap-free and stable:
// transfers are immutable and their times only grow, so a tenant that
// starts spending later in the month is numbered after every tenant
// already numbered, and a closed month's numbers never change.
func InvoiceNumbers(p Period, firsts []TenantFirst) map[string]string {
	fs := append([]TenantFirst(nil), firsts...)
	sort.Slice(fs, func(a, b int) bool {
		if !fs[a].At.Equal(fs[b].At) {
			return fs[a].At.Before(fs[b].At)
		}
		return fs[a].OrgID < fs[b].OrgID
	})
	ym := p.Month[:4] + p.Month[5:]
	out := make(map[string]string, len(fs))
	for i, f := range fs {
		out[f.OrgID] = fmt.Sprintf("SL-%s-%05d", ym, i+1)
	}
	return out
}
