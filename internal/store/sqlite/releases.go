package sqlite

import (
	"context"
	"fmt"

	"github.com/suanli/suanli/internal/store"
)

// Releases returns, for every replica of a scheduled or running job, when
// its capacity comes back at the latest: its start (or placement, if not
// started) plus the job's max duration. Backfill plans with it.
func (s *Store) Releases(ctx context.Context) ([]store.Release, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT p.idx, p.node_id, j.spec, COALESCE(j.started_at, j.scheduled_at, j.submitted_at)
		FROM placements p JOIN jobs j ON j.id = p.job_id WHERE j.state IN ('scheduled','running')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Release
	for rows.Next() {
		var idx int
		var node, spec string
		var start int64
		if err := rows.Scan(&idx, &node, &spec, &start); err != nil {
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
		out = append(out, store.Release{NodeID: node, AtMs: start + sp.MaxDuration.Milliseconds(),
			CPU: r.CPUMilli, Mem: r.MemMiB, Accel: r.AccelCount})
	}
	return out, rows.Err()
}
