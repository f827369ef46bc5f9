package sqlstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/meter"
)

// Verify checks every invariant of the money in the store and returns the
// violations found (empty when sound): the ledger's own (ledger.Audit: the
// hash chain, balances equal to the fold of transfers, debits equal to
// credits, limits); every job charged what its usage costs, exactly once,
// paid and split in full; every open hold with a live cause; escrow empty
// of posted money; voucher grants within their yearly caps.
func (s *Store) Verify(ctx context.Context) ([]string, error) {
	accts, ts, err := s.readLedger(ctx)
	if err != nil {
		return nil, err
	}
	problems := ledger.Audit(accts, ts)
	add := func(format string, args ...any) {
		if len(problems) < ledger.ProblemsMax {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	byAcct := map[string]ledger.Account{}
	for _, a := range accts {
		byAcct[a.ID] = a
	}
	if e := byAcct[ledger.EscrowID]; e.CreditsPosted != e.DebitsPosted {
		add("escrow holds %d posted micros; every capture must be split out in full", e.CreditsPosted-e.DebitsPosted)
	}
	type jobMoney struct{ paid, split, refundIn, refundOut core.Micros }
	money := map[string]*jobMoney{}
	get := func(id string) *jobMoney {
		m := money[id]
		if m == nil {
			m = &jobMoney{}
			money[id] = m
		}
		return m
	}
	resolved := map[string]bool{}
	for _, t := range ts {
		if t.PendingID != "" {
			resolved[t.PendingID] = true
		}
		if t.JobID == "" {
			continue
		}
		switch t.Code {
		case "capture", "capture_direct", "arrears", "voucher", "bundle":
			get(t.JobID).paid += t.Amount
		case "vat", "commission", "provider_share":
			get(t.JobID).split += t.Amount
		}
	}
	jobs, err := s.allJobs(ctx)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, j := range jobs {
		live[j.ID] = !j.State.Terminal()
		m := get(j.ID)
		if m.paid != j.CostMicros || m.split != j.CostMicros {
			add("job %s: cost %d, paid %d, split %d: each must equal the cost", j.ID, j.CostMicros, m.paid, m.split)
		}
		if j.Charges.VATMicros+j.Charges.CommissionMicros+j.Charges.ProviderMicros != j.CostMicros {
			add("job %s: VAT + commission + provider share != cost %d", j.ID, j.CostMicros)
		}
		if !j.State.Terminal() {
			continue
		}
		total, err := s.usageTotal(ctx, j)
		if err != nil {
			return nil, err
		}
		if total != j.CostMicros {
			add("job %s (%s): usage rates to %d micros but %d was charged", j.ID, j.State, total, j.CostMicros)
		}
	}
	for _, t := range ts {
		if t.Flags != ledger.Pending || resolved[t.ID] {
			continue
		}
		switch {
		case t.JobID != "" && !live[t.JobID]:
			add("hold %s is still pending but its job %s has ended", t.ID, t.JobID)
		case t.JobID == "" && t.ExpiresAt.IsZero():
			add("hold %s has neither a job nor an expiry", t.ID)
		}
	}
	if err := s.verifyGrants(ctx, add); err != nil {
		return nil, err
	}
	sort.Strings(problems)
	return problems, nil
}

func (s *Store) allJobs(ctx context.Context) ([]core.Job, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func (s *Store) usageTotal(ctx context.Context, j core.Job) (core.Micros, error) {
	t, err := s.r.BeginTx(ctx, s.snapshot())
	if err != nil {
		return 0, err
	}
	defer t.Rollback() //nolint:errcheck // read only
	rates, u, _, err := (&tx{Tx: t}).usage(ctx, j)
	if err != nil {
		return 0, err
	}
	// Bundle-paid time is valued at the bundle's price, recorded per job.
	var bundles int64
	if err := t.QueryRowContext(ctx, `SELECT COALESCE(SUM(value), 0) FROM bundle_usage WHERE job_id = ?`, j.ID).Scan(&bundles); err != nil {
		return 0, err
	}
	return meter.Total(rates, u) + core.Micros(bundles), nil
}

func (s *Store) verifyGrants(ctx context.Context, add func(string, ...any)) error {
	rows, err := s.r.QueryContext(ctx, `SELECT g.scheme_id, g.tenant_org_id, g.year, SUM(g.amount), MAX(v.cap_per_tenant_year)
		FROM voucher_grants g JOIN voucher_schemes v ON v.id = g.scheme_id GROUP BY g.scheme_id, g.tenant_org_id, g.year`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var scheme, tenant string
		var year int
		var sum, capYear int64
		if err := rows.Scan(&scheme, &tenant, &year, &sum, &capYear); err != nil {
			return err
		}
		if sum > capYear {
			add("voucher scheme %s: tenant %s was granted %d in %d, over the cap %d", scheme, tenant, sum, year, capYear)
		}
	}
	return rows.Err()
}
