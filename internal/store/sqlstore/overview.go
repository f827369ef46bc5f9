package sqlstore

import (
	"context"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// JobCounts returns the number of jobs in each state, for one tenant or
// (tenantOrgID empty) everyone.
func (s *Store) JobCounts(ctx context.Context, tenantOrgID string) (map[core.JobState]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM jobs WHERE ? = '' OR tenant_org_id = ? GROUP BY state`,
		tenantOrgID, tenantOrgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[core.JobState]int{}
	for _, st := range core.JobStates {
		out[st] = 0
	}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[core.JobState(st)] = n
	}
	return out, rows.Err()
}

// RevenueSince sums captured charges since t.
func (s *Store) RevenueSince(ctx context.Context, since time.Time) (store.Revenue, error) {
	var r store.Revenue
	var g, p, c int64
	err := s.r.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN code IN ('vat', 'commission', 'provider_share') THEN amount END), 0),
		COALESCE(SUM(CASE WHEN code = 'provider_share' THEN amount END), 0),
		COALESCE(SUM(CASE WHEN code = 'commission' THEN amount END), 0)
		FROM transfers WHERE created_at >= ?`, ms(since)).Scan(&g, &p, &c)
	r.Gross, r.Provider, r.Commission = core.Micros(g), core.Micros(p), core.Micros(c)
	return r, err
}

// Hourly returns revenue and finished jobs per hour for the hours hours
// before now, oldest first, with empty hours filled in.
func (s *Store) Hourly(ctx context.Context, now time.Time, hours int) ([]store.HourlyPoint, error) {
	hours = min(max(hours, 1), store.HoursMax)
	end := now.Truncate(time.Hour).Add(time.Hour)
	start := end.Add(-time.Duration(hours) * time.Hour)
	out := make([]store.HourlyPoint, hours)
	for i := range out {
		out[i].Hour = start.Add(time.Duration(i) * time.Hour)
	}
	bucket := func(atMs int64) int { return int((atMs - ms(start)) / int64(time.Hour/time.Millisecond)) }
	// Gross revenue: what escrow split out (whoever paid it: wallet, voucher or arrears).
	rows, err := s.r.QueryContext(ctx, `SELECT created_at, amount FROM transfers WHERE code IN ('vat', 'commission', 'provider_share')
		AND created_at >= ?`, ms(start))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var at, amount int64
		if err := rows.Scan(&at, &amount); err != nil {
			rows.Close()
			return nil, err
		}
		if b := bucket(at); b >= 0 && b < hours {
			out[b].Revenue += core.Micros(amount)
		}
	}
	rows.Close()
	rows, err = s.r.QueryContext(ctx, `SELECT finished_at FROM jobs WHERE finished_at >= ?`, ms(start))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, err
		}
		if b := bucket(at); b >= 0 && b < hours {
			out[b].Finished++
		}
	}
	return out, rows.Err()
}
