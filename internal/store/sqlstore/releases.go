package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// Allocations returns what every replica of a scheduled or running job
// holds, for whom, and until when at the latest: one pass that gives the
// scheduler node usage, backfill releases and tenant usage.
func (s *Store) Allocations(ctx context.Context) ([]store.Allocation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT p.idx, p.node_id, j.tenant_org_id, j.spec,
		COALESCE(j.started_at, j.scheduled_at, j.submitted_at), j.id, j.attempt, COALESCE(j.center_id, ''), j.tier, p.rate_scaled
		FROM placements p JOIN jobs j ON j.id = p.job_id WHERE j.state IN ('scheduled','running') ORDER BY j.id, p.idx`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Allocation
	for rows.Next() {
		var idx int
		var node, tenant, spec, jobID, center, tier string
		var start, rate int64
		var attempt int
		if err := rows.Scan(&idx, &node, &tenant, &spec, &start, &jobID, &attempt, &center, &tier, &rate); err != nil {
			return nil, err
		}
		sp, err := decodeSpec(spec)
		if err != nil {
			return nil, err
		}
		if idx < 0 || idx >= len(sp.Replicas) {
			return nil, fmt.Errorf("placement %d of a %d-replica job", idx, len(sp.Replicas))
		}
		r := sp.Replicas[idx]
		out = append(out, store.Allocation{NodeID: node, TenantOrgID: tenant, CPU: r.CPUMilli, Mem: r.MemMiB,
			Accel: r.AccelCount, ReleaseAtMs: start + sp.MaxDuration.Milliseconds(),
			JobID: jobID, Attempt: attempt, CenterID: center, Priority: sp.Priority, Tier: tier, StartedAtMs: start, RateScaled: rate})
	}
	return out, rows.Err()
}

// SetTenantPolicy sets a tenant's fair-share weight, quotas, cohort,
// borrowing limits and center-ranking weights, replacing what was set.
func (s *Store) SetTenantPolicy(ctx context.Context, p store.TenantPolicy, actor string) error {
	weights, err := checkPolicy(p)
	if err != nil {
		return err
	}
	o, err := s.Org(ctx, p.OrgID)
	if err != nil {
		return err
	}
	if o.Role != core.RoleTenant {
		return core.FieldErrorf("org_id", "%s is not a tenant", p.OrgID)
	}
	return s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO tenant_policies(org_id, weight, quota_cpu, quota_mem, quota_accel,
			cohort, borrow_cpu, borrow_mem, borrow_accel, weights, updated_by, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(org_id) DO UPDATE SET weight = excluded.weight, quota_cpu = excluded.quota_cpu,
			quota_mem = excluded.quota_mem, quota_accel = excluded.quota_accel, cohort = excluded.cohort,
			borrow_cpu = excluded.borrow_cpu, borrow_mem = excluded.borrow_mem, borrow_accel = excluded.borrow_accel,
			weights = excluded.weights, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			p.OrgID, p.Weight, p.QuotaCPU, p.QuotaMem, p.QuotaAccel, p.Cohort, p.BorrowCPU, p.BorrowMem, p.BorrowAccel,
			weights, actor, ms(t.now))
		if err != nil {
			return fmt.Errorf("set the policy of %s: %w", p.OrgID, err)
		}
		return nil
	})
}

// checkPolicy checks a policy's bounds, naming the field at fault, and
// returns its weights as stored (empty for the platform default).
func checkPolicy(p store.TenantPolicy) (string, error) {
	if p.Weight < 1 || p.Weight > 1000 {
		return "", core.FieldErrorf("weight", "must be 1..1000")
	}
	for _, f := range []struct {
		name  string
		value int64
	}{{"quota_cpu_milli", p.QuotaCPU}, {"quota_mem_mib", p.QuotaMem}, {"quota_accelerators", p.QuotaAccel},
		{"borrow_cpu_milli", p.BorrowCPU}, {"borrow_mem_mib", p.BorrowMem}, {"borrow_accelerators", p.BorrowAccel}} {
		if f.value < 0 {
			return "", core.FieldErrorf(f.name, "must not be negative")
		}
	}
	if !store.ValidCohort(p.Cohort) {
		return "", core.FieldErrorf("cohort", "must be empty or 1 to %d lowercase letters, digits and '-'", store.CohortLenMax)
	}
	if p.Weights == nil {
		return "", nil
	}
	if err := p.Weights.Validate("weights"); err != nil {
		return "", err
	}
	b, err := json.Marshal(p.Weights)
	if err != nil {
		return "", fmt.Errorf("encode weights: %w", err)
	}
	return string(b), nil
}

// TenantPolicies returns every tenant's policy that was set, by org id.
func (s *Store) TenantPolicies(ctx context.Context) ([]store.TenantPolicy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT org_id, weight, quota_cpu, quota_mem, quota_accel,
		cohort, borrow_cpu, borrow_mem, borrow_accel, weights FROM tenant_policies ORDER BY org_id`)
	if err != nil {
		return nil, fmt.Errorf("tenant policies: %w", err)
	}
	defer rows.Close()
	var out []store.TenantPolicy
	for rows.Next() {
		var p store.TenantPolicy
		var weights string
		if err := rows.Scan(&p.OrgID, &p.Weight, &p.QuotaCPU, &p.QuotaMem, &p.QuotaAccel,
			&p.Cohort, &p.BorrowCPU, &p.BorrowMem, &p.BorrowAccel, &weights); err != nil {
			return nil, fmt.Errorf("tenant policies: %w", err)
		}
		if weights != "" {
			p.Weights = new(core.ScoreWeights)
			if err := json.Unmarshal([]byte(weights), p.Weights); err != nil {
				return nil, fmt.Errorf("tenant policy of %s: weights: %w", p.OrgID, err)
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
