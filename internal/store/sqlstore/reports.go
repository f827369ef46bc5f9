package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/settlement"
)

// Reports read the ledger for settlement (package settlement builds them).
// Each report reads in one read-only transaction, so it sees one snapshot
// of the journal; money is attributed to a period by its transfers'
// created_at.

// reportFilter selects the jobs of a report; empty fields do not filter.
type reportFilter struct {
	tenant, center, provider, scheme string
}

// where returns the condition and arguments that select a period's
// settlement transfers (t) of the filtered jobs (j).
func (f reportFilter) where(p settlement.Period) (string, []any) {
	codes := "'" + strings.Join(settlement.Codes, "','") + "'"
	return `t.created_at >= ? AND t.created_at < ? AND t.flags <> 1 AND t.code IN (` + codes + `)
		AND (? = '' OR j.tenant_org_id = ?) AND (? = '' OR j.center_id = ?)
		AND (? = '' OR j.center_id IN (SELECT id FROM centers WHERE provider_org_id = ?))
		AND (? = '' OR j.voucher_scheme_id = ?)`,
		[]any{ms(p.Start), ms(p.End), f.tenant, f.tenant, f.center, f.center, f.provider, f.provider, f.scheme, f.scheme}
}

// readTx runs fn in one read-only transaction (one snapshot).
func (s *Store) readTx(ctx context.Context, fn func(q *sql.Tx) error) error {
	t, err := s.r.BeginTx(ctx, s.snapshot())
	if err != nil {
		return err
	}
	defer t.Rollback() //nolint:errcheck // read-only
	return fn(t)
}

// jobRows returns the jobs with settlement money in the period, with their
// money summed by code, their billed usage and where it ran. More than
// settlement.JobRowsMax jobs is ETooLarge.
func (s *Store) jobRows(ctx context.Context, q querier, p settlement.Period, f reportFilter) ([]settlement.JobRow, error) {
	where, args := f.where(p)
	rows, err := q.QueryContext(ctx, `SELECT t.job_id, t.code, SUM(t.amount) FROM transfers t JOIN jobs j ON j.id = t.job_id
		WHERE `+where+` GROUP BY t.job_id, t.code`, args...)
	if err != nil {
		return nil, err
	}
	byID := map[string]*settlement.JobRow{}
	for rows.Next() {
		var id, code string
		var amount int64
		if err := rows.Scan(&id, &code, &amount); err != nil {
			rows.Close()
			return nil, err
		}
		j := byID[id]
		if j == nil {
			if len(byID) >= settlement.JobRowsMax {
				rows.Close()
				return nil, core.Errorf(core.ETooLarge, "more than %d jobs have money in %s; narrow the report",
					settlement.JobRowsMax, p.Month)
			}
			j = &settlement.JobRow{JobID: id}
			byID[id] = j
		}
		j.Money.AddCode(code, core.Micros(amount))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sub := `SELECT DISTINCT t.job_id FROM transfers t JOIN jobs j ON j.id = t.job_id WHERE ` + where
	specs, err := s.jobDetails(ctx, q, sub, args, byID)
	if err != nil {
		return nil, err
	}
	if err := jobUsage(ctx, q, sub, args, byID, specs); err != nil {
		return nil, err
	}
	out := make([]settlement.JobRow, 0, len(byID))
	for _, j := range byID {
		out = append(out, *j)
	}
	return out, nil
}

// jobDetails fills in the jobs' tenant, center and totals and returns
// their specs.
func (s *Store) jobDetails(ctx context.Context, q querier, sub string, args []any, byID map[string]*settlement.JobRow) (map[string]core.JobSpec, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, tenant_org_id, COALESCE(center_id, ''), cost_micros, voucher_scheme_id, spec
		FROM jobs WHERE id IN (`+sub+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	specs := map[string]core.JobSpec{}
	for rows.Next() {
		var id, name, tenant, center, scheme, spec string
		var cost int64
		if err := rows.Scan(&id, &name, &tenant, &center, &cost, &scheme, &spec); err != nil {
			return nil, err
		}
		j := byID[id]
		if j == nil {
			continue // money arrived after the first query; this snapshot cannot see it, but be safe
		}
		sp, err := decodeSpec(spec)
		if err != nil {
			return nil, err
		}
		j.Name, j.TenantOrgID, j.CenterID, j.CostMicros, j.VoucherSchemeID = name, tenant, center, core.Micros(cost), scheme
		specs[id] = sp
	}
	return specs, rows.Err()
}

// jobUsage fills in each job's billed usage per attempt and replica (the
// wall time billed per started second and capped at the max duration, as
// meter.Total bills it), with the model it ran on.
func jobUsage(ctx context.Context, q querier, sub string, args []any, byID map[string]*settlement.JobRow, specs map[string]core.JobSpec) error {
	models := map[string]map[int]string{}
	rows, err := q.QueryContext(ctx, `SELECT job_id, idx, accel_model FROM placements WHERE job_id IN (`+sub+`)`, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, model string
		var idx int
		if err := rows.Scan(&id, &idx, &model); err != nil {
			rows.Close()
			return err
		}
		if models[id] == nil {
			models[id] = map[int]string{}
		}
		models[id][idx] = model
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, `SELECT job_id, replica, SUM(wall_ms), MAX(rate_scaled) FROM usage_events
		WHERE job_id IN (`+sub+`) GROUP BY job_id, attempt, replica ORDER BY job_id, attempt, replica`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var replica int
		var wall, rate int64
		if err := rows.Scan(&id, &replica, &wall, &rate); err != nil {
			return err
		}
		j, sp := byID[id], specs[id]
		if j == nil || replica < 0 || replica >= len(sp.Replicas) {
			continue
		}
		billed := core.BilledMs(wall)
		if m := sp.MaxDuration.Milliseconds(); m > 0 {
			billed = min(billed, m)
		}
		u := settlement.Usage{Model: models[id][replica], BilledMs: billed, RateScaled: rate}
		u.Units = sp.Replicas[replica].CPUMilli
		if u.Model != "" {
			u.Units = sp.Replicas[replica].AccelCount
		}
		j.Usage = append(j.Usage, u)
	}
	return rows.Err()
}

// book reads the centers, organizations and voucher schemes reports name.
func (s *Store) book(ctx context.Context) (settlement.Book, map[string]settlement.Scheme, error) {
	b := settlement.Book{Centers: map[string]core.Center{}, Orgs: map[string]core.Org{}}
	cs, err := s.Centers(ctx)
	if err != nil {
		return b, nil, err
	}
	for _, c := range cs {
		b.Centers[c.ID] = c
	}
	orgs, err := s.Orgs(ctx, "")
	if err != nil {
		return b, nil, err
	}
	for _, o := range orgs {
		b.Orgs[o.ID] = o
	}
	vs, err := s.VoucherSchemes(ctx)
	if err != nil {
		return b, nil, err
	}
	schemes := make(map[string]settlement.Scheme, len(vs))
	for _, v := range vs {
		schemes[v.ID] = schemeOf(v)
	}
	return b, schemes, nil
}

func schemeOf(v VoucherScheme) settlement.Scheme {
	return settlement.Scheme{ID: v.ID, Name: v.Name, Issuer: v.Issuer, ShareBPS: v.ShareBPS, DomesticShareBPS: v.DomesticShareBPS}
}

// invoiceNumbers numbers the period's invoices (see
// settlement.InvoiceNumbers) from each tenant's first charge or refund.
func invoiceNumbers(ctx context.Context, q querier, p settlement.Period) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT j.tenant_org_id, MIN(t.created_at) FROM transfers t JOIN jobs j ON j.id = t.job_id
		WHERE t.created_at >= ? AND t.created_at < ? AND t.flags <> 1
		AND t.code IN ('capture','capture_direct','arrears','voucher','refund') GROUP BY j.tenant_org_id`, ms(p.Start), ms(p.End))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var firsts []settlement.TenantFirst
	for rows.Next() {
		var f settlement.TenantFirst
		var at int64
		if err := rows.Scan(&f.OrgID, &at); err != nil {
			return nil, err
		}
		f.At = fromMs(at)
		firsts = append(firsts, f)
	}
	return settlement.InvoiceNumbers(p, firsts), rows.Err()
}

func (s *Store) operatorParty(ctx context.Context) (settlement.Party, error) {
	ops, err := s.Orgs(ctx, core.RoleOperator)
	if err != nil || len(ops) == 0 {
		return settlement.Party{}, err
	}
	return settlement.PartyOf(ops[0]), nil
}

// TenantInvoice builds a tenant's statement and invoice for a period (see
// settlement.BuildInvoice), with VAT at the billing's rate. now decides
// whether it is still a draft.
func (s *Store) TenantInvoice(ctx context.Context, tenantOrgID string, p settlement.Period, now time.Time) (settlement.Invoice, error) {
	org, err := s.Org(ctx, tenantOrgID)
	if err != nil {
		return settlement.Invoice{}, err
	}
	if org.Role != core.RoleTenant {
		return settlement.Invoice{}, core.FieldErrorf("org_id", "%s is not a tenant", tenantOrgID)
	}
	book, schemes, err := s.book(ctx)
	if err != nil {
		return settlement.Invoice{}, err
	}
	seller, err := s.operatorParty(ctx)
	if err != nil {
		return settlement.Invoice{}, err
	}
	var jobs []settlement.JobRow
	var numbers map[string]string
	err = s.readTx(ctx, func(q *sql.Tx) error {
		if jobs, err = s.jobRows(ctx, q, p, reportFilter{tenant: tenantOrgID}); err != nil {
			return err
		}
		numbers, err = invoiceNumbers(ctx, q, p)
		return err
	})
	if err != nil {
		return settlement.Invoice{}, err
	}
	return settlement.BuildInvoice(settlement.InvoiceInput{Period: p, Number: numbers[tenantOrgID], Seller: seller,
		Buyer: settlement.PartyOf(org), TaxBPS: s.Billing.VATBPS, Jobs: jobs, Book: book, Schemes: schemes, Now: now}), nil
}

// ProviderStatement builds a provider's statement for a period, showing
// one center (centerID) or all of its centers (""), with the payout that
// settled it if there is one.
func (s *Store) ProviderStatement(ctx context.Context, providerOrgID, centerID string, p settlement.Period, now time.Time) (settlement.Statement, error) {
	sts, err := s.providerStatements(ctx, providerOrgID, centerID, p, now)
	if err != nil {
		return settlement.Statement{}, err
	}
	return sts[0], nil
}

// ProviderStatements builds every provider's statement for a period.
func (s *Store) ProviderStatements(ctx context.Context, p settlement.Period, now time.Time) ([]settlement.Statement, error) {
	return s.providerStatements(ctx, "", "", p, now)
}

func (s *Store) providerStatements(ctx context.Context, providerOrgID, centerID string, p settlement.Period, now time.Time) ([]settlement.Statement, error) {
	book, _, err := s.book(ctx)
	if err != nil {
		return nil, err
	}
	var providers []core.Org
	if providerOrgID != "" {
		o, err := s.Org(ctx, providerOrgID)
		if err != nil {
			return nil, err
		}
		if o.Role != core.RoleProvider {
			return nil, core.FieldErrorf("provider", "%s is not a provider", providerOrgID)
		}
		providers = []core.Org{o}
	} else if providers, err = s.Orgs(ctx, core.RoleProvider); err != nil {
		return nil, err
	}
	var jobs []settlement.JobRow
	if err := s.readTx(ctx, func(q *sql.Tx) error {
		jobs, err = s.jobRows(ctx, q, p, reportFilter{provider: providerOrgID})
		return err
	}); err != nil {
		return nil, err
	}
	payouts, err := s.Payouts(ctx, providerOrgID)
	if err != nil {
		return nil, err
	}
	out := make([]settlement.Statement, 0, len(providers))
	for _, o := range providers {
		in := settlement.StatementInput{Period: p, Provider: settlement.PartyOf(o), Only: centerID, Now: now}
		for _, c := range book.Centers {
			if c.ProviderOrgID == o.ID {
				in.Centers = append(in.Centers, c)
			}
		}
		for _, j := range jobs {
			if book.Centers[j.CenterID].ProviderOrgID == o.ID {
				in.Jobs = append(in.Jobs, j)
			}
		}
		for _, po := range payouts {
			if po.ProviderOrgID == o.ID && po.PeriodStart.Equal(p.Start) && po.PeriodEnd.Equal(p.End) {
				in.Payout = &settlement.PayoutInfo{ID: po.ID, Amount: po.Amount, Reference: po.Reference,
					CreatedBy: po.CreatedBy, CreatedAt: po.CreatedAt}
			}
		}
		out = append(out, settlement.BuildStatement(in))
	}
	return out, nil
}

// OperatorReport builds the operator's report for a period.
func (s *Store) OperatorReport(ctx context.Context, p settlement.Period, now time.Time) (settlement.OperatorReport, error) {
	book, schemes, err := s.book(ctx)
	if err != nil {
		return settlement.OperatorReport{}, err
	}
	in := settlement.OperatorInput{Period: p, Book: book, Schemes: schemes, Now: now}
	err = s.readTx(ctx, func(q *sql.Tx) error {
		if in.Jobs, err = s.jobRows(ctx, q, p, reportFilter{}); err != nil {
			return err
		}
		if in.Invoices, err = invoiceNumbers(ctx, q, p); err != nil {
			return err
		}
		if in.Receivables, err = receivables(ctx, q, p); err != nil {
			return err
		}
		var paid int64
		if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE code = 'payout'
			AND created_at >= ? AND created_at < ?`, ms(p.Start), ms(p.End)).Scan(&paid); err != nil {
			return err
		}
		in.Payouts = core.Micros(paid)
		return nil
	})
	if err != nil {
		return settlement.OperatorReport{}, err
	}
	return settlement.BuildOperatorReport(in), nil
}

// receivables returns the movements of every receivable account (funding
// bodies', tenants' arrears): the balance before the period, and debits
// and credits by kind in it.
func receivables(ctx context.Context, q *sql.Tx, p settlement.Period) ([]settlement.ReceivableMoves, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, code, org_id FROM accounts WHERE code IN (?, ?) ORDER BY id`,
		CodeFunder, CodeArrears)
	if err != nil {
		return nil, err
	}
	var out []settlement.ReceivableMoves
	idx := map[string]int{}
	for rows.Next() {
		var m settlement.ReceivableMoves
		if err := rows.Scan(&m.AccountID, &m.Code, &m.OrgID); err != nil {
			rows.Close()
			return nil, err
		}
		idx[m.AccountID] = len(out)
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	const sums = `SELECT %s, t.code, t.created_at >= ?, SUM(t.amount) FROM transfers t
		WHERE t.created_at < ? AND t.flags <> 1 AND %s IN (SELECT id FROM accounts WHERE code IN (?, ?)) GROUP BY 1, 2, 3`
	for _, side := range []string{"t.debit_account_id", "t.credit_account_id"} {
		rows, err := q.QueryContext(ctx, strings.ReplaceAll(sums, "%s", side), ms(p.Start), ms(p.End), CodeFunder, CodeArrears)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var acct, code string
			var in bool
			var amount int64
			if err := rows.Scan(&acct, &code, &in, &amount); err != nil {
				rows.Close()
				return nil, err
			}
			i, ok := idx[acct]
			if !ok {
				continue
			}
			m, a := &out[i], core.Micros(amount)
			switch {
			case !in && side == "t.debit_account_id":
				m.Opening += a
			case !in:
				m.Opening -= a
			case side == "t.debit_account_id":
				m.Accrued += a
			case code == "payment_received":
				m.Received += a
			case code == "writeoff":
				m.WrittenOff += a
			default:
				m.Other += a
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RedemptionReport builds a voucher scheme's redemption report for a
// period, and reads the ledger's own totals for it so the report can say
// whether it reconciles.
func (s *Store) RedemptionReport(ctx context.Context, scheme string, p settlement.Period, now time.Time) (settlement.Redemption, error) {
	v, err := s.VoucherScheme(ctx, scheme)
	if err != nil {
		return settlement.Redemption{}, err
	}
	book, _, err := s.book(ctx)
	if err != nil {
		return settlement.Redemption{}, err
	}
	in := settlement.RedemptionInput{Period: p, Scheme: schemeOf(v), Book: book, Now: now}
	err = s.readTx(ctx, func(q *sql.Tx) error {
		if in.Jobs, err = s.jobRows(ctx, q, p, reportFilter{scheme: v.ID}); err != nil {
			return err
		}
		if in.Invoices, err = invoiceNumbers(ctx, q, p); err != nil {
			return err
		}
		var cny, used int64
		if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE code = 'voucher'
			AND debit_account_id = ? AND created_at >= ? AND created_at < ?`, FunderReceivableID(v.ID), ms(p.Start), ms(p.End)).
			Scan(&cny); err != nil {
			return err
		}
		if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE code = 'voucher_use'
			AND credit_account_id = ? AND created_at >= ? AND created_at < ?`, voucherUsedID(v.ID), ms(p.Start), ms(p.End)).
			Scan(&used); err != nil {
			return err
		}
		in.LedgerVoucher, in.LedgerUsed = core.Micros(cny), core.Micros(used)
		return nil
	})
	if err != nil {
		return settlement.Redemption{}, err
	}
	return settlement.BuildRedemption(in), nil
}
