package settlement

import (
	"sort"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// StatementLine is one accelerator model (or CPU) of a center, or a total.
// Charges − Refunds = VAT + Commission + Payable, exactly.
type StatementLine struct {
	Model         string      `json:"model,omitempty"`
	Unit          string      `json:"unit,omitempty"`
	QuantityMilli int64       `json:"quantity_milli"`
	Quantity      string      `json:"quantity"`
	Jobs          int         `json:"jobs"`
	Charges       core.Micros `json:"charges_micros"` // gross, VAT included
	Refunds       core.Micros `json:"refunds_micros"`
	VAT           core.Micros `json:"vat_micros"`
	Commission    core.Micros `json:"commission_micros"`
	Payable       core.Micros `json:"payable_micros"` // the provider's share: net payable
}

func (l *StatementLine) add(m Money) {
	l.Charges += m.Charges()
	l.Refunds += m.Refund
	l.VAT += m.VAT - m.RefundVAT
	l.Commission += m.Commission - m.RefundCommission
	l.Payable += m.Provider - m.RefundProvider
}

func (l *StatementLine) addLine(o StatementLine) {
	l.Jobs += o.Jobs
	l.Charges += o.Charges
	l.Refunds += o.Refunds
	l.VAT += o.VAT
	l.Commission += o.Commission
	l.Payable += o.Payable
}

// Net is Charges − Refunds.
func (l StatementLine) Net() core.Micros { return l.Charges - l.Refunds }

// CenterStatement is one center's part of a provider's statement.
type CenterStatement struct {
	CenterID    string          `json:"center_id"`
	Name        string          `json:"name"`
	DisplayName string          `json:"display_name"`
	Lines       []StatementLine `json:"lines"`
	Total       StatementLine   `json:"total"`
}

// PayoutInfo is the payout that settled a statement.
type PayoutInfo struct {
	ID        string      `json:"id"`
	Amount    core.Micros `json:"amount_micros"`
	Reference string      `json:"reference"`
	CreatedBy string      `json:"created_by"`
	CreatedAt time.Time   `json:"created_at"`
}

// Statement statuses.
const (
	StatusDraft = "draft" // the period has not ended
	StatusOpen  = "open"  // ended, not yet paid out
	StatusPaid  = "paid"  // a payout was recorded
)

// Statement is a provider's settlement statement (交易结算单) for a period:
// what its centers earned, per center and accelerator model.
type Statement struct {
	Period   Period            `json:"period"`
	Status   string            `json:"status"`
	Provider Party             `json:"provider"`
	Centers  []CenterStatement `json:"centers"`
	// Total covers the centers shown; ProviderPayable is the provider's
	// whole net payable for the period (all its centers), which is what a
	// payout pays.
	Total           StatementLine `json:"total"`
	ProviderPayable core.Micros   `json:"provider_payable_micros"`
	Payout          *PayoutInfo   `json:"payout,omitempty"`
}

// StatementInput is what BuildStatement needs.
type StatementInput struct {
	Period   Period
	Provider Party
	Centers  []core.Center // the provider's centers, all of them
	Only     string        // show only this center id ("" = all)
	Jobs     []JobRow      // jobs with money in the period at the provider's centers
	Payout   *PayoutInfo
	Now      time.Time
}

// BuildStatement builds a provider's statement.
func BuildStatement(in StatementInput) Statement {
	st := Statement{Period: in.Period, Provider: in.Provider, Centers: []CenterStatement{}, Payout: in.Payout}
	st.Status = StatusDraft
	switch {
	case in.Payout != nil:
		st.Status = StatusPaid
	case in.Period.Closed(in.Now):
		st.Status = StatusOpen
	}
	type key struct{ center, model string }
	lines := map[key]*StatementLine{}
	raw := map[key]int64{}
	jobsOn := map[key]map[string]bool{}
	for _, j := range in.Jobs {
		st.ProviderPayable += j.Money.Provider - j.Money.RefundProvider
		for _, s := range services(j) {
			k := key{s.center, s.model}
			if lines[k] == nil {
				lines[k] = &StatementLine{Model: modelName(s.model), Unit: unitName(s.model)}
				jobsOn[k] = map[string]bool{}
			}
			lines[k].add(s.money)
			raw[k] += s.quantity
			jobsOn[k][j.JobID] = true
		}
	}
	centers := append([]core.Center(nil), in.Centers...)
	sort.Slice(centers, func(a, b int) bool { return centers[a].Name < centers[b].Name })
	for _, c := range centers {
		if in.Only != "" && c.ID != in.Only {
			continue
		}
		cs := CenterStatement{CenterID: c.ID, Name: c.Name, DisplayName: c.DisplayName, Lines: []StatementLine{}}
		for k, l := range lines {
			if k.center != c.ID {
				continue
			}
			l.Jobs = len(jobsOn[k])
			l.QuantityMilli = quantityMilli(raw[k])
			l.Quantity = FormatMilli(l.QuantityMilli)
			cs.Lines = append(cs.Lines, *l)
		}
		sort.Slice(cs.Lines, func(a, b int) bool { return cs.Lines[a].Model < cs.Lines[b].Model })
		centerJobs := map[string]bool{}
		for k := range lines {
			if k.center == c.ID {
				for id := range jobsOn[k] {
					centerJobs[id] = true
				}
			}
		}
		for _, l := range cs.Lines {
			cs.Total.addLine(l)
		}
		cs.Total.Jobs = len(centerJobs)
		cs.Total.Quantity = ""
		st.Centers = append(st.Centers, cs)
		st.Total.addLine(cs.Total)
	}
	return st
}

// PayoutAmount is what a payout settling st pays: the provider's whole net
// payable for the period. The period must have ended (later charges land
// in later periods, so the amount is final), the statement must be unpaid,
// and something must be payable; otherwise it is a conflict.
func (st Statement) PayoutAmount(now time.Time) (core.Micros, error) {
	switch {
	case !st.Period.Closed(now):
		return 0, core.Errorf(core.EConflict, "%s has not ended; a statement is paid once its month is over", st.Period.Month)
	case st.Payout != nil:
		return 0, core.Errorf(core.EConflict, "the %s statement of %s was already paid (reference %s)", st.Period.Month,
			st.Provider.Name, st.Payout.Reference)
	case st.ProviderPayable <= 0:
		return 0, core.Errorf(core.EConflict, "%s has nothing payable for %s", st.Provider.Name, st.Period.Month)
	}
	return st.ProviderPayable, nil
}
