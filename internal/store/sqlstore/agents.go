package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// agentLostReason marks a center made unavailable because its agent went
// silent; only such a center comes back by itself on the next heartbeat.
const agentLostReason = "agent missed its heartbeats"

// AgentHeartbeat records that a center's agent is alive and how long to
// wait for the next heartbeat. A center that was unavailable because its
// agent went silent becomes available again (restored = true).
func (s *Store) AgentHeartbeat(ctx context.Context, centerID string, timeout time.Duration) (restored bool, err error) {
	err = s.update(ctx, func(t *tx) error {
		var exec, status, reason string
		err := t.QueryRowContext(ctx, `SELECT executor, status, status_reason FROM centers WHERE id = ?`, centerID).
			Scan(&exec, &status, &reason)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("center", centerID)
		}
		if err != nil {
			return err
		}
		if exec != core.ExecutorAgent {
			return core.Errorf(core.EConflict, "center %s is run by the %s executor, not an agent", centerID, exec)
		}
		restored = status == core.CenterUnavailable && reason == agentLostReason
		if _, err := t.ExecContext(ctx, `UPDATE centers SET agent_seen_at = ?, agent_timeout_ms = ?,
			status = CASE WHEN ? THEN 'available' ELSE status END,
			status_reason = CASE WHEN ? THEN '' ELSE status_reason END WHERE id = ?`,
			ms(t.now), timeout.Milliseconds(), restored, restored, centerID); err != nil {
			return err
		}
		if restored {
			return t.bumpTopology(ctx)
		}
		return nil
	})
	return restored, err
}

// SyncNodes makes a center's node list what its agent reports: new nodes
// are added, changed ones updated, and nodes no longer reported marked
// down (never deleted: placements refer to them). It returns how many
// nodes changed.
func (s *Store) SyncNodes(ctx context.Context, centerID string, nodes []core.Node) (changed int, err error) {
	if err := core.ValidateNodes(nodes); err != nil {
		return 0, err
	}
	seen := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		seen[n.Name] = true
	}
	err = s.update(ctx, func(t *tx) error {
		changed = 0
		have := map[string]core.Node{}
		rows, err := t.QueryContext(ctx, `SELECT id, name, cpu_milli, mem_mib, accel_model, accel_count, cpu_model, status
			FROM nodes WHERE center_id = ?`, centerID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n core.Node
			if err := rows.Scan(&n.ID, &n.Name, &n.CPUMilli, &n.MemMiB, &n.AccelModel, &n.AccelCount, &n.CPUModel, &n.Status); err != nil {
				rows.Close()
				return err
			}
			have[n.Name] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, n := range nodes {
			old, ok := have[n.Name]
			switch {
			case !ok:
				_, err = t.ExecContext(ctx, `INSERT INTO nodes(id, center_id, name, cpu_milli, mem_mib, accel_model,
					accel_count, cpu_model, status) VALUES (?,?,?,?,?,?,?,?,?)`, newID("node-"), centerID, n.Name,
					n.CPUMilli, n.MemMiB, n.AccelModel, n.AccelCount, n.CPUModel, n.Status)
			case old.CPUMilli != n.CPUMilli || old.MemMiB != n.MemMiB || old.AccelModel != n.AccelModel ||
				old.AccelCount != n.AccelCount || old.CPUModel != n.CPUModel || old.Status != n.Status:
				_, err = t.ExecContext(ctx, `UPDATE nodes SET cpu_milli = ?, mem_mib = ?, accel_model = ?, accel_count = ?,
					cpu_model = ?, status = ? WHERE id = ?`, n.CPUMilli, n.MemMiB, n.AccelModel, n.AccelCount, n.CPUModel,
					n.Status, old.ID)
			default:
				continue
			}
			if err != nil {
				return err
			}
			changed++
		}
		for name, old := range have {
			if seen[name] || old.Status == core.NodeDown {
				continue
			}
			if _, err := t.ExecContext(ctx, `UPDATE nodes SET status = 'down' WHERE id = ?`, old.ID); err != nil {
				return err
			}
			changed++
		}
		if changed > 0 {
			return t.bumpTopology(ctx)
		}
		return nil
	})
	return changed, err
}

// StaleAgentCenters lists available agent centers whose agent has not
// sent a heartbeat within its timeout.
func (s *Store) StaleAgentCenters(ctx context.Context) ([]core.Center, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+centerCols+` FROM centers WHERE executor = 'agent'
		AND status = 'available' AND agent_seen_at IS NOT NULL AND agent_seen_at + agent_timeout_ms < ? ORDER BY name`,
		ms(s.Now()))
	if err != nil {
		return nil, err
	}
	return scanCenters(rows)
}

// LoseCenter marks an agent center unavailable because its agent went
// silent and requeues its scheduled and running jobs for another attempt
// elsewhere (or fails those out of attempts). Usage its agent reported
// before going silent stays charged, once.
func (s *Store) LoseCenter(ctx context.Context, centerID string, commissionBPS int64) (requeued, failed []string, err error) {
	err = s.update(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, `UPDATE centers SET status = 'unavailable', status_reason = ?
			WHERE id = ? AND executor = 'agent'`, agentLostReason, centerID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("agent center", centerID)
		}
		if err := t.bumpTopology(ctx); err != nil {
			return err
		}
		requeued, failed, err = t.loseJobs(ctx, s, `center_id = ?`, []any{centerID},
			"the center's agent went silent while the job was %s", commissionBPS)
		return err
	})
	return requeued, failed, err
}

// CenterJobs lists a center's scheduled and running jobs with their
// placements, oldest first: the work its agent must be running.
func (s *Store) CenterJobs(ctx context.Context, centerID string, limit int) ([]core.Job, error) {
	return s.jobsWithPlacements(ctx, `SELECT `+jobCols+` FROM jobs WHERE center_id = ? AND state IN ('scheduled','running')
		ORDER BY seq LIMIT ?`, centerID, limit)
}

// MarkStarted records that the center's own system started a scheduled
// job's attempt: its id there and when it started (the backend's clock
// when it reports one). It is a no-op for a job already running on that
// attempt, and a conflict when the job has moved on.
func (s *Store) MarkStarted(ctx context.Context, jobID string, attempt int, backendID string, startedAt time.Time, msg string) error {
	return s.update(ctx, func(t *tx) error {
		var state string
		var cur int
		err := t.QueryRowContext(ctx, `SELECT state, attempt FROM jobs WHERE id = ?`, jobID).Scan(&state, &cur)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", jobID)
		}
		if err != nil {
			return err
		}
		if cur != attempt || (state != string(core.JobScheduled) && state != string(core.JobRunning)) {
			return core.Errorf(core.EConflict, "job %s is %s on attempt %d, not %d", jobID, state, cur, attempt)
		}
		if state == string(core.JobRunning) {
			_, err := t.ExecContext(ctx, `UPDATE jobs SET backend_id = ? WHERE id = ? AND backend_id = ''`, backendID, jobID)
			return err
		}
		if startedAt.IsZero() || startedAt.After(t.now) {
			startedAt = t.now
		}
		if _, err := t.ExecContext(ctx, `UPDATE jobs SET state = 'running', started_at = ?, next_capture_at = ?, backend_id = ?
			WHERE id = ?`, ms(startedAt), ms(t.now.Add(s.Billing.Window)), backendID, jobID); err != nil {
			return err
		}
		return t.event(ctx, jobID, "started", msg)
	})
}

// SetBackendID records where a scheduled run waits in the center's system.
func (s *Store) SetBackendID(ctx context.Context, jobID string, attempt int, backendID string) error {
	return s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `UPDATE jobs SET backend_id = ? WHERE id = ? AND attempt = ? AND backend_id <> ?`,
			backendID, jobID, attempt, backendID)
		return err
	})
}

// LogBytesMax bounds the logs kept per job.
const LogBytesMax = 1 << 20

// SaveLogs keeps the latest logs an agent uploaded for a job's attempt
// (the tail when longer than LogBytesMax). Logs of an older attempt never
// replace a newer one's.
func (s *Store) SaveLogs(ctx context.Context, jobID string, attempt int, text string) error {
	if len(text) > LogBytesMax {
		text = text[len(text)-LogBytesMax:]
	}
	return s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO job_logs(job_id, attempt, text, updated_at) VALUES (?,?,?,?)
			ON CONFLICT(job_id) DO UPDATE SET attempt = excluded.attempt, text = excluded.text, updated_at = excluded.updated_at
			WHERE excluded.attempt >= job_logs.attempt`, jobID, attempt, text, ms(t.now))
		return err
	})
}

// JobLogs returns the logs agents uploaded for a job and when; empty when
// none were.
func (s *Store) JobLogs(ctx context.Context, jobID string) (text string, updatedAt time.Time, err error) {
	var at int64
	err = s.r.QueryRowContext(ctx, `SELECT text, updated_at FROM job_logs WHERE job_id = ?`, jobID).Scan(&text, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	return text, fromMs(at), err
}
