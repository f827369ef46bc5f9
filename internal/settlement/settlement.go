// Package settlement builds the money reports of a period from plain rows
// read out of the ledger: tenant statements and 发票 invoice data, provider
// settlement statements, the operator's report and the 算力券 redemption
// report for a funding body. It is pure: no SQL, no clock (the caller
// passes now), no I/O beyond the writers it is given.
//
// Money is attributed to a period by the time its transfer was created:
// the charges of a long job land in the months they were captured. Every
// report is built from per-job sums of transfer codes (Money), so each
// total reconciles with the ledger to the 1e-6 CNY; where amounts must be
// divided (VAT on an invoice line, a job's charge across accelerator
// models, rounding to fen) the division is cumulative, so the parts always
// add up to the whole.
package settlement

import (
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/meter"
)

// Zone is China time (UTC+8, no daylight saving): periods are calendar
// months there. A fixed zone, so the host needs no time-zone database.
var Zone = time.FixedZone("CST", 8*3600)

// DefaultVATBPS is the VAT rate on compute services (现代服务 6 %), in basis
// points of the net price. List prices include it.
const DefaultVATBPS = 600

// Bounds.
const (
	JobRowsMax   = 100_000 // jobs with money in one report's period; more is ETooLarge, never a silent cut
	JobsShownMax = 500     // jobs listed on a statement (totals always cover all)
	monthYearMin = 2000
	monthYearMax = 2200
)

// Period is one calendar month in China time: [Start, End).
type Period struct {
	Month string    `json:"month"` // YYYY-MM
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

var monthRE = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)

// ParseMonth parses "YYYY-MM" into its period. Errors name the field
// "month".
func ParseMonth(s string) (Period, error) {
	m := monthRE.FindStringSubmatch(s)
	if m == nil {
		return Period{}, core.FieldErrorf("month", "must be YYYY-MM, e.g. 2026-11, not %q", s)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if mo < 1 || mo > 12 {
		return Period{}, core.FieldErrorf("month", "month %d is not 01..12", mo)
	}
	if y < monthYearMin || y > monthYearMax {
		return Period{}, core.FieldErrorf("month", "year %d is not %d..%d", y, monthYearMin, monthYearMax)
	}
	return monthPeriod(y, time.Month(mo)), nil
}

// MonthOf returns the period that contains t.
func MonthOf(t time.Time) Period {
	c := t.In(Zone)
	return monthPeriod(c.Year(), c.Month())
}

func monthPeriod(y int, m time.Month) Period {
	start := time.Date(y, m, 1, 0, 0, 0, 0, Zone)
	return Period{Month: fmt.Sprintf("%04d-%02d", y, int(m)), Start: start.UTC(), End: start.AddDate(0, 1, 0).UTC()}
}

// Closed reports whether the period has ended at now: only then are its
// reports final (transfers are immutable and later ones land in later
// periods, so a closed period's reports never change).
func (p Period) Closed(now time.Time) bool { return !now.Before(p.End) }

// Money is one job's transfers in a period, summed by code.
type Money struct {
	// What the tenant paid: the wallet hold posted (capture), the wallet
	// beyond the hold (capture_direct), what became the tenant's arrears,
	// and what a 算力券 paid (voucher, owed by the funding body).
	Capture       core.Micros `json:"capture"`
	CaptureDirect core.Micros `json:"capture_direct"`
	Arrears       core.Micros `json:"arrears"`
	Voucher       core.Micros `json:"voucher"`
	// Bundle is card-time paid from prepaid 资源包: the bundle's price of the
	// units used. Bundle purchases are prepayments, invoiced as they are used.
	Bundle core.Micros `json:"bundle"`
	// The split of the gross out of escrow.
	VAT        core.Micros `json:"vat"`
	Commission core.Micros `json:"commission"`
	Provider   core.Micros `json:"provider_share"`
	// Refunds to the wallet, and the split legs they reversed.
	Refund           core.Micros `json:"refund"`
	RefundVAT        core.Micros `json:"refund_vat"`
	RefundCommission core.Micros `json:"refund_commission"`
	RefundProvider   core.Micros `json:"refund_provider"`
}

// Codes are the transfer codes Money sums; AddCode maps them.
var Codes = []string{"capture", "capture_direct", "arrears", "voucher", "bundle", "vat", "commission", "provider_share",
	"refund", "refund_vat", "refund_commission", "refund_provider"}

// AddCode adds amount to the field of code; false for a code Money does
// not sum.
func (m *Money) AddCode(code string, amount core.Micros) bool {
	p := map[string]*core.Micros{"capture": &m.Capture, "capture_direct": &m.CaptureDirect, "arrears": &m.Arrears,
		"voucher": &m.Voucher, "bundle": &m.Bundle, "vat": &m.VAT, "commission": &m.Commission, "provider_share": &m.Provider,
		"refund": &m.Refund, "refund_vat": &m.RefundVAT, "refund_commission": &m.RefundCommission,
		"refund_provider": &m.RefundProvider}[code]
	if p == nil {
		return false
	}
	*p += amount
	return true
}

// Add returns m + o.
func (m Money) Add(o Money) Money {
	return Money{m.Capture + o.Capture, m.CaptureDirect + o.CaptureDirect, m.Arrears + o.Arrears, m.Voucher + o.Voucher,
		m.Bundle + o.Bundle, m.VAT + o.VAT, m.Commission + o.Commission, m.Provider + o.Provider, m.Refund + o.Refund, m.RefundVAT + o.RefundVAT,
		m.RefundCommission + o.RefundCommission, m.RefundProvider + o.RefundProvider}
}

// Charges is the gross charged (VAT included): what the tenant's side paid
// into escrow.
func (m Money) Charges() core.Micros {
	return m.Capture + m.CaptureDirect + m.Arrears + m.Voucher + m.Bundle
}

// Wallet is the part of the charges the wallet paid.
func (m Money) Wallet() core.Micros { return m.Capture + m.CaptureDirect }

// Net is the charges less refunds.
func (m Money) Net() core.Micros { return m.Charges() - m.Refund }

// Split is what escrow paid out: VAT, commission and provider share, less
// what refunds reversed. The ledger keeps Split() == Net() for every job.
func (m Money) Split() core.Micros {
	return m.VAT + m.Commission + m.Provider - m.RefundVAT - m.RefundCommission - m.RefundProvider
}

// Usage is one replica's billed usage in one attempt of a job.
type Usage struct {
	Model      string `json:"model"`       // accelerator model; "" = CPU only
	Units      int64  `json:"units"`       // cards (accelerator) or milli-cores (CPU) per replica
	BilledMs   int64  `json:"billed_ms"`   // wall time billed (per started second, capped at the max duration)
	RateScaled int64  `json:"rate_scaled"` // price per hour × core.RateScale
}

// milliUnitMs is the usage in thousandths of a unit × milliseconds:
// cards × 1000 × ms, or milli-cores × ms.
func (u Usage) milliUnitMs() *big.Int {
	units := u.Units
	if u.Model != "" {
		units *= 1000
	}
	return new(big.Int).Mul(big.NewInt(units), big.NewInt(u.BilledMs))
}

// JobRow is one job with money in the period.
type JobRow struct {
	JobID           string      `json:"job_id"`
	Name            string      `json:"name"`
	TenantOrgID     string      `json:"tenant_org_id"`
	CenterID        string      `json:"center_id"`
	CostMicros      core.Micros `json:"cost_micros"` // cumulative charge of the job over all periods
	VoucherSchemeID string      `json:"voucher_scheme_id,omitempty"`
	Usage           []Usage     `json:"usage"` // over the job's whole life
	Money           Money       `json:"money"` // in the period
}

// Party is a company on a document.
type Party struct {
	OrgID      string `json:"org_id"`
	Name       string `json:"name"`
	CreditCode string `json:"credit_code"` // 统一社会信用代码 (纳税人识别号)
}

// PartyOf converts an org.
func PartyOf(o core.Org) Party { return Party{OrgID: o.ID, Name: o.Name, CreditCode: o.CreditCode} }

// Book is what builders look up by id: centers and organizations.
type Book struct {
	Centers map[string]core.Center // by id
	Orgs    map[string]core.Org    // by id
}

func (b Book) center(id string) core.Center {
	if c, ok := b.Centers[id]; ok {
		return c
	}
	return core.Center{ID: id, Name: id, DisplayName: id}
}

func (b Book) party(id string) Party {
	if o, ok := b.Orgs[id]; ok {
		return PartyOf(o)
	}
	return Party{OrgID: id, Name: id}
}

// service is one (center, model) part of a job's money in the period.
type service struct {
	center   string // center id
	model    string // "" = CPU
	qty      *big.Int
	weight   *big.Int
	jobID    string
	money    Money
	quantity int64 // milli-unit-ms in the period
}

// services divides a job's period money across the (model) services it
// used, by the value of their usage (rate × billed time), and its quantity
// in proportion to the part of its whole charge that fell in the period.
// One model, the usual case, takes everything.
func services(j JobRow) []service {
	byModel := map[string]*service{}
	var order []string
	for _, u := range j.Usage {
		s := byModel[u.Model]
		if s == nil {
			s = &service{center: j.CenterID, model: u.Model, qty: new(big.Int), weight: new(big.Int), jobID: j.JobID}
			byModel[u.Model] = s
			order = append(order, u.Model)
		}
		s.qty.Add(s.qty, u.milliUnitMs())
		s.weight.Add(s.weight, new(big.Int).Mul(big.NewInt(u.RateScaled), big.NewInt(u.BilledMs)))
	}
	if len(order) == 0 { // money without metered usage (none today): a CPU service with no quantity
		return []service{{center: j.CenterID, jobID: j.JobID, money: j.Money, qty: new(big.Int), weight: big.NewInt(1)}}
	}
	sort.Strings(order)
	out := make([]service, len(order))
	weights := make([]*big.Int, len(order))
	for i, m := range order {
		out[i] = *byModel[m]
		weights[i] = out[i].weight
		if j.CostMicros > 0 && j.Money.Charges() > 0 {
			q := new(big.Int).Mul(out[i].qty, big.NewInt(int64(j.Money.Charges())))
			out[i].quantity = q.Quo(q, big.NewInt(int64(j.CostMicros))).Int64()
		}
	}
	parts := splitMoney(j.Money, weights)
	for i := range out {
		out[i].money = parts[i]
	}
	return out
}

// splitMoney divides m by weights (see allocate). The provider's share
// and its refund are what remains of each part after VAT and commission,
// so every part keeps the ledger's rule Charges − Refund = Split.
func splitMoney(m Money, weights []*big.Int) []Money {
	out := make([]Money, len(weights))
	if len(weights) == 1 {
		out[0] = m
		return out
	}
	fields := func(x *Money) []*core.Micros {
		return []*core.Micros{&x.Capture, &x.CaptureDirect, &x.Arrears, &x.Voucher, &x.VAT, &x.Commission,
			&x.Refund, &x.RefundVAT, &x.RefundCommission}
	}
	src := fields(&m)
	for f := range src {
		parts := allocate(*src[f], weights)
		for i := range out {
			*fields(&out[i])[f] = parts[i]
		}
	}
	for i := range out {
		o := &out[i]
		o.Provider = o.Charges() - o.VAT - o.Commission
		o.RefundProvider = o.Refund - o.RefundVAT - o.RefundCommission
	}
	return out
}

// allocate divides total by weights cumulatively: part i is
// ⌊total·W≤i/W⌋ − ⌊total·W<i/W⌋ (truncated), so the parts always add up
// to total exactly. All weights zero gives everything to the first part.
func allocate(total core.Micros, weights []*big.Int) []core.Micros {
	out := make([]core.Micros, len(weights))
	sum := new(big.Int)
	for _, w := range weights {
		sum.Add(sum, w)
	}
	if sum.Sign() == 0 {
		out[0] = total
		return out
	}
	cum, prev := new(big.Int), int64(0)
	for i, w := range weights {
		cum.Add(cum, w)
		x := new(big.Int).Mul(big.NewInt(int64(total)), cum)
		v := x.Quo(x, sum).Int64()
		out[i], prev = core.Micros(v-prev), v
	}
	return out
}

// quantityMilli converts milli-unit-ms to thousandths of a unit-hour,
// rounded half up: the 3 decimals of a card-hour or core-hour quantity.
func quantityMilli(milliUnitMs int64) int64 { return (milliUnitMs + 1_800_000) / 3_600_000 }

// FormatMilli shows thousandths with three decimals: 12345 → "12.345".
func FormatMilli(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%03d", sign, v/1000, v%1000)
}

// FormatBPS shows basis points as a percentage: 600 → "6%", 650 → "6.5%".
func FormatBPS(bps int64) string {
	s := strconv.FormatFloat(float64(bps)/100, 'f', 2, 64)
	for len(s) > 0 && (s[len(s)-1] == '0') {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s + "%"
}

// shareBPS is part/whole in basis points, rounded half up; 0 when whole is 0.
func shareBPS(part, whole core.Micros) int64 {
	if whole <= 0 || part <= 0 {
		return 0
	}
	return (int64(part)*meter.BPSMax*2 + int64(whole)) / (2 * int64(whole))
}

// unitName is the quantity unit of a model's service.
func unitName(model string) string {
	if model == "" {
		return "核时"
	}
	return "卡时"
}

// modelName labels a model ("" is CPU).
func modelName(model string) string {
	if model == "" {
		return "CPU"
	}
	return model
}
