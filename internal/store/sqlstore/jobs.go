package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/meter"
	"github.com/suanli/suanli/internal/store"
)

func decodeSpec(s string) (core.JobSpec, error) {
	var sp core.JobSpec
	if err := json.Unmarshal([]byte(s), &sp); err != nil {
		return sp, fmt.Errorf("decode job spec: %w", err)
	}
	return sp, nil
}

func (t *tx) event(ctx context.Context, jobID, typ, msg string) error {
	_, err := t.ExecContext(ctx, `INSERT INTO job_events(job_id, at, type, message) VALUES (?,?,?,?)`, jobID, ms(t.now), typ, msg)
	return err
}

// SubmitJob stores a queued job and places its hold on the tenant's wallet,
// in one transaction: a job without its hold never exists. maxRateScaled is
// the highest rate the job could run at (see sched.Quote); the hold covers
// it for the max duration, or for one window plus grace for rolling jobs,
// at the job's tier.
func (s *Store) SubmitJob(ctx context.Context, tenantOrgID string, spec core.JobSpec, maxRateScaled int64) (core.Job, error) {
	if err := spec.Validate(); err != nil {
		return core.Job{}, err
	}
	if spec.Tier == "" {
		spec.Tier = "normal"
	}
	if maxRateScaled < 0 {
		panic("SubmitJob: negative rate")
	}
	hold := s.Billing.HoldFor(spec, meter.TierRate(maxRateScaled, spec.Tier))
	raw, err := json.Marshal(spec)
	if err != nil {
		return core.Job{}, err
	}
	req := &submitReq{tenant: tenantOrgID, raw: string(raw), hold: hold, done: make(chan struct{}),
		job: core.Job{ID: newID("job-"), TenantOrgID: tenantOrgID, Spec: spec, State: core.JobQueued, HoldMicros: hold}}
	if err := s.submits.submit(ctx, s, req); err != nil {
		return core.Job{}, err
	}
	if req.err == nil && req.replay {
		return s.Job(ctx, req.job.ID)
	}
	return req.job, req.err
}

// Group commit of submissions. Concurrent SubmitJob calls share one write
// transaction (one fsync) of up to SubmitBatchMax jobs; each job is its
// own savepoint, so one refused job (no funds, idempotency conflict) does
// not take the others with it. The first caller to find no batch running
// commits batches until the queue is empty.
const (
	SubmitBatchMax = 256
	submitQueueMax = 16 * SubmitBatchMax
	// submitTimeout bounds one batch: callers from many requests wait on
	// it, so no single caller's context may cancel it.
	submitTimeout = 30 * time.Second
)

type submitReq struct {
	tenant string
	raw    string
	hold   core.Micros
	job    core.Job
	replay bool
	err    error
	done   chan struct{}
}

type submitter struct {
	mu    sync.Mutex
	queue []*submitReq
	busy  bool
}

// submit queues req and returns once its batch has committed (the result
// is in req) or with an error when req's fate is unknown to the caller.
func (b *submitter) submit(ctx context.Context, s *Store, req *submitReq) error {
	b.mu.Lock()
	if len(b.queue) >= submitQueueMax {
		b.mu.Unlock()
		return core.Errorf(core.EUnavailable, "too many submissions in flight; retry")
	}
	b.queue = append(b.queue, req)
	if b.busy {
		b.mu.Unlock()
		select {
		case <-req.done:
			return nil
		case <-ctx.Done():
			// The batch still commits or not (and owns req until then); the
			// caller's retry with an idempotency key finds out which.
			return ctx.Err()
		}
	}
	b.busy = true
	b.mu.Unlock()
	for {
		b.mu.Lock()
		n := min(len(b.queue), SubmitBatchMax)
		batch := append([]*submitReq(nil), b.queue[:n]...)
		b.queue = b.queue[n:]
		if n == 0 {
			b.busy = false
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		s.submitBatch(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

func (s *Store) submitBatch(batch []*submitReq) {
	ctx, cancel := context.WithTimeout(context.Background(), submitTimeout)
	defer cancel()
	errs := make([]error, len(batch))
	err := s.update(ctx, func(t *tx) error {
		var seq int64
		if err := t.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM jobs`).Scan(&seq); err != nil {
			return err
		}
		// The holds go through one batchTx: the wallets, the escrow account
		// and the journal's last hash are read once and written once per
		// batch instead of once per job; a refused job is undone in memory
		// (b.rollback) as its rows are by the savepoint.
		b := newBatchTx(t)
		defer b.close()
		holds := make([][]ledger.Transfer, 0, len(batch))
		for _, r := range batch {
			if h, ok := r.holdTransfer(); ok {
				holds = append(holds, []ledger.Transfer{h})
			}
		}
		if err := b.prefetch(ctx, holds); err != nil {
			return err
		}
		for i, r := range batch {
			if _, err := t.ExecContext(ctx, `SAVEPOINT submit`); err != nil {
				return err
			}
			b.begin()
			r.job.Seq = seq + 1
			errs[i] = s.submitIn(ctx, t, b, r)
			if errs[i] != nil {
				if core.ErrorCode(errs[i]) == core.EInternal {
					return errs[i] // an I/O failure or a bug, not a refused job
				}
				b.rollback()
				if _, err := t.ExecContext(ctx, `ROLLBACK TO SAVEPOINT submit`); err != nil {
					return err
				}
			} else if !r.replay {
				seq++
			}
			if _, err := t.ExecContext(ctx, `RELEASE SAVEPOINT submit`); err != nil {
				return err
			}
		}
		return b.flush(ctx)
	})
	for i, r := range batch {
		r.err = errs[i]
		if err != nil {
			r.err, r.replay = err, false
		}
	}
}

// holdTransfer is the job's hold, if it has one.
func (r *submitReq) holdTransfer() (ledger.Transfer, bool) {
	return ledger.Transfer{ID: holdIDSeq(r.job.ID, 0), DebitAccountID: ledger.WalletID(r.tenant), CreditAccountID: ledger.EscrowID,
		Amount: r.hold, Flags: ledger.Pending, Code: "hold", JobID: r.job.ID}, r.hold > 0
}

// submitIn inserts one job and its hold within a batch's transaction.
func (s *Store) submitIn(ctx context.Context, t *tx, lt ledger.Tx, r *submitReq) error {
	j := &r.job
	j.SubmittedAt = t.now
	if key := j.Spec.IdempotencyKey; key != "" {
		var id, oldSpec string
		err := t.QueryRowContext(ctx, `SELECT id, spec FROM jobs WHERE tenant_org_id = ? AND idempotency_key = ?`,
			r.tenant, key).Scan(&id, &oldSpec)
		if err == nil {
			if oldSpec != r.raw {
				return core.Errorf(core.EConflict, "idempotency key %q was used for a different job", key)
			}
			j.ID, r.replay = id, true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO jobs(id, seq, tenant_org_id, name, spec, state, priority, hold_micros,
		submitted_at, tier, idempotency_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)`, j.ID, j.Seq, r.tenant, j.Spec.Name, r.raw,
		string(j.State), j.Spec.Priority, int64(r.hold), ms(t.now), j.Spec.Tier, j.Spec.IdempotencyKey); err != nil {
		return err
	}
	if h, ok := r.holdTransfer(); ok {
		if err := ledger.Apply(ctx, lt, t.now, h); err != nil {
			return err
		}
	}
	return t.event(ctx, j.ID, "submitted", fmt.Sprintf("queued; hold of %s CNY placed", r.hold.Yuan()))
}

const jobCols = `id, seq, tenant_org_id, spec, state, center_id, attempt, hold_micros, cost_micros, usage_ms, exit_code,
	reason, submitted_at, scheduled_at, started_at, finished_at, hold_seq, capture_seq, voucher_micros, voucher_scheme_id,
	vat_micros, commission_micros, provider_micros, arrears_micros, backend_id, cancel_requested, preemptions, waits_for, waits_until`

func scanJob(sc interface{ Scan(...any) error }) (core.Job, error) {
	var j core.Job
	var spec, state string
	var center sql.NullString
	var exit, sched, started, finished sql.NullInt64
	var hold, cost, submitted, voucher, vat, comm, prov, arrears, cancelReq, waitsUntil int64
	err := sc.Scan(&j.ID, &j.Seq, &j.TenantOrgID, &spec, &state, &center, &j.Attempt, &hold, &cost, &j.UsageMs, &exit,
		&j.Reason, &submitted, &sched, &started, &finished, &j.HoldSeq, &j.Charges.CaptureSeq, &voucher,
		&j.Charges.VoucherSchemeID, &vat, &comm, &prov, &arrears, &j.BackendID, &cancelReq, &j.Preemptions, &j.WaitsFor, &waitsUntil)
	j.CancelRequested = cancelReq == 1
	j.Charges.VoucherMicros, j.Charges.VATMicros, j.Charges.CommissionMicros = core.Micros(voucher), core.Micros(vat), core.Micros(comm)
	j.Charges.ProviderMicros, j.Charges.ArrearsMicros = core.Micros(prov), core.Micros(arrears)
	if err != nil {
		return j, err
	}
	if j.Spec, err = decodeSpec(spec); err != nil {
		return j, err
	}
	j.State, j.CenterID = core.JobState(state), center.String
	j.HoldMicros, j.CostMicros = core.Micros(hold), core.Micros(cost)
	if exit.Valid {
		v := int(exit.Int64)
		j.ExitCode = &v
	}
	j.SubmittedAt = fromMs(submitted)
	if waitsUntil > 0 {
		t := fromMs(waitsUntil)
		j.WaitsUntil = &t
	}
	j.ScheduledAt, j.StartedAt, j.FinishedAt = fromNullMs(sched), fromNullMs(started), fromNullMs(finished)
	return j, nil
}

// Job returns a job with its placements.
func (s *Store) Job(ctx context.Context, id string) (core.Job, error) {
	j, err := scanJob(s.r.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, notFound("job", id)
	}
	if err != nil {
		return j, err
	}
	j.Placements, err = s.placements(ctx, s.r, id)
	return j, err
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *Store) placements(ctx context.Context, q querier, jobID string) ([]core.Placement, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.idx, p.node_id, n.name, p.accel_model, p.rate_scaled, p.exit_code, p.usage_ms
		FROM placements p JOIN nodes n ON n.id = p.node_id WHERE p.job_id = ? ORDER BY p.idx`, jobID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Placement
	for rows.Next() {
		var p core.Placement
		var exit sql.NullInt64
		if err := rows.Scan(&p.Index, &p.NodeID, &p.NodeName, &p.AccelModel, &p.RateScaled, &exit, &p.UsageMs); err != nil {
			return nil, err
		}
		if exit.Valid {
			v := int(exit.Int64)
			p.ExitCode = &v
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Jobs lists jobs, newest first, and the number that match.
func (s *Store) Jobs(ctx context.Context, f store.JobFilter) ([]core.Job, int, error) {
	if f.Limit <= 0 || f.Limit > store.JobsPageMax {
		f.Limit = store.JobsPageMax
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	where := `(? = '' OR tenant_org_id = ?) AND (? = '' OR state = ?) AND (? = '' OR center_id = ?)
		AND (? = '' OR center_id IN (SELECT id FROM centers WHERE provider_org_id = ?))`
	args := []any{f.TenantOrgID, f.TenantOrgID, string(f.State), string(f.State), f.CenterID, f.CenterID,
		f.ProviderOrgID, f.ProviderOrgID}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE `+where+` ORDER BY seq DESC LIMIT ? OFFSET ?`,
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []core.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, j)
	}
	return out, total, rows.Err()
}

// JobsInStates returns all jobs in the given states, oldest first, at most
// limit of them.
func (s *Store) JobsInStates(ctx context.Context, limit int, states ...core.JobState) ([]core.Job, error) {
	if len(states) == 0 {
		return nil, nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(states)), ",")
	args := make([]any, 0, len(states)+1)
	for _, st := range states {
		args = append(args, string(st))
	}
	return s.jobsWithPlacements(ctx, `SELECT `+jobCols+` FROM jobs WHERE state IN (`+ph+`) ORDER BY seq LIMIT ?`,
		append(args, limit)...)
}

// jobsWithPlacements reads the jobs a query selects (jobCols), then each
// one's placements.
func (s *Store) jobsWithPlacements(ctx context.Context, q string, args ...any) ([]core.Job, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []core.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Placements, err = s.placements(ctx, s.r, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Events returns a job's history, oldest first.
func (s *Store) Events(ctx context.Context, jobID string) ([]core.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT job_id, at, type, message FROM job_events WHERE job_id = ? ORDER BY id LIMIT ?`,
		jobID, store.EventsPerJobMax)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		var e core.Event
		var at int64
		if err := rows.Scan(&e.JobID, &at, &e.Type, &e.Message); err != nil {
			return nil, err
		}
		e.At = fromMs(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ApplyPlan commits scheduling decisions and pending reasons in one
// transaction. A decision for a job that is no longer queued (cancelled in
// the meantime) is skipped; the number applied is returned.
func (s *Store) ApplyPlan(ctx context.Context, as []store.Assignment, pending map[string]string) (int, error) {
	applied := 0
	err := s.update(ctx, func(t *tx) error {
		applied = 0
		for _, a := range as {
			res, err := t.ExecContext(ctx, `UPDATE jobs SET state = 'scheduled', center_id = ?, scheduled_at = ?, reason = ''
				WHERE id = ? AND state = 'queued' AND cancel_requested = 0`, a.CenterID, ms(t.now), a.JobID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			if _, err := t.ExecContext(ctx, `DELETE FROM placements WHERE job_id = ?`, a.JobID); err != nil {
				return err
			}
			var tier string
			if err := t.QueryRowContext(ctx, `SELECT tier FROM jobs WHERE id = ?`, a.JobID).Scan(&tier); err != nil {
				return err
			}
			var nodes []string
			for _, p := range a.Placements {
				if _, err := t.ExecContext(ctx, `INSERT INTO placements(job_id, idx, node_id, accel_model, rate_scaled)
					VALUES (?,?,?,?,?)`, a.JobID, p.Index, p.NodeID, p.AccelModel, meter.TierRate(p.RateScaled, tier)); err != nil {
					return err
				}
				nodes = append(nodes, p.NodeName)
			}
			var center string
			if err := t.QueryRowContext(ctx, `SELECT name FROM centers WHERE id = ?`, a.CenterID).Scan(&center); err != nil {
				return err
			}
			msg := fmt.Sprintf("placed on %s: %s", center, summarizeNodes(nodes))
			if a.Why != "" {
				msg += "; why: " + a.Why
			}
			if err := t.event(ctx, a.JobID, "scheduled", msg); err != nil {
				return err
			}
			applied++
		}
		for id, reason := range pending {
			if _, err := t.ExecContext(ctx, `UPDATE jobs SET reason = ? WHERE id = ? AND state = 'queued'`, reason, id); err != nil {
				return err
			}
		}
		return nil
	})
	return applied, err
}

func summarizeNodes(nodes []string) string {
	const shown = 4
	if len(nodes) <= shown {
		return strings.Join(nodes, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(nodes[:shown], ", "), len(nodes)-shown)
}

// MarkRunning moves a scheduled job to running.
func (s *Store) MarkRunning(ctx context.Context, jobID, msg string) error {
	return s.update(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, `UPDATE jobs SET state = 'running', started_at = ?, next_capture_at = ?
			WHERE id = ? AND state = 'scheduled'`, ms(t.now), ms(t.now.Add(s.Billing.Window)), jobID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return core.Errorf(core.EConflict, "job %s is not scheduled", jobID)
		}
		return t.event(ctx, jobID, "started", msg)
	})
}

// FinishJob records a job's end and settles its money in the same
// transaction: the hold is posted for the actual cost (the rest released),
// and the cost is split between the center's provider and the operator's
// commission (bps of the cost). Billed time per replica is its wall time
// rounded up to whole seconds (core.BilledMs), capped at the max duration.
func (s *Store) FinishJob(ctx context.Context, jobID string, r store.Result, commissionBPS int64) (core.Job, error) {
	if !r.State.Terminal() {
		panic("FinishJob: non-terminal state " + string(r.State))
	}
	err := s.update(ctx, func(t *tx) error {
		j, err := scanJob(t.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, jobID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", jobID)
		}
		if err != nil {
			return err
		}
		if j.State.Terminal() {
			return core.Errorf(core.EConflict, "job %s already %s", jobID, j.State)
		}
		if r.Attempt != nil && (*r.Attempt != j.Attempt || j.State == core.JobQueued) {
			return core.Errorf(core.EConflict, "job %s is on attempt %d (%s), not %d", jobID, j.Attempt, j.State, *r.Attempt)
		}
		if j.Placements, err = s.placements(ctx, t, jobID); err != nil {
			return err
		}
		return t.finish(ctx, s, j, r, commissionBPS)
	})
	if err != nil {
		return core.Job{}, err
	}
	return s.Job(ctx, jobID)
}

func (t *tx) finish(ctx context.Context, s *Store, j core.Job, r store.Result, commissionBPS int64) error {
	byIdx := map[int]store.ReplicaResult{}
	totals := map[int]int64{}
	for _, rr := range r.Replicas {
		byIdx[rr.Index] = rr
		totals[rr.Index] = max(rr.UsageMs, 0)
	}
	if err := t.recordUsage(ctx, j, totals, "final"); err != nil {
		return err
	}
	maxMs := j.Spec.MaxDuration.Milliseconds()
	var usage int64
	for _, p := range j.Placements {
		rr := byIdx[p.Index]
		billed := min(core.BilledMs(rr.UsageMs), maxMs)
		usage += billed
		var exit any
		if rr.ExitCode != nil {
			exit = *rr.ExitCode
		}
		if _, err := t.ExecContext(ctx, `UPDATE placements SET usage_ms = ?, exit_code = ? WHERE job_id = ? AND idx = ?`,
			billed, exit, j.ID, p.Index); err != nil {
			return err
		}
	}
	if err := t.accrue(ctx, s, j, accrueFinal, commissionBPS); err != nil {
		return err
	}
	var exit any
	if r.ExitCode != nil {
		exit = *r.ExitCode
	}
	var cost int64
	if err := t.QueryRowContext(ctx, `SELECT cost_micros FROM jobs WHERE id = ?`, j.ID).Scan(&cost); err != nil {
		return err
	}
	if _, err := t.ExecContext(ctx, `UPDATE jobs SET state = ?, exit_code = ?, reason = ?, usage_ms = ?, finished_at = ?,
		cancel_requested = 0, funds_short_since = NULL, next_capture_at = NULL WHERE id = ?`, string(r.State), exit, r.Reason,
		usage, ms(t.now), j.ID); err != nil {
		return err
	}
	msg := fmt.Sprintf("%s; charged %s CNY in all for %.1f replica-seconds this attempt", r.State, core.Micros(cost).Exact(),
		float64(usage)/1000)
	if r.Reason != "" {
		msg = r.Reason + "; " + msg
	}
	return t.event(ctx, j.ID, "finished", msg)
}

// CancelJob cancels a job. A queued job ends at once and its hold is
// released; a scheduled or running job is flagged, and the control loop
// stops it and charges the time it ran. cancelled reports whether the job
// ended now.
func (s *Store) CancelJob(ctx context.Context, jobID string) (ended bool, err error) {
	err = s.update(ctx, func(t *tx) error {
		j, err := scanJob(t.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, jobID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", jobID)
		}
		if err != nil {
			return err
		}
		switch {
		case j.State.Terminal():
			return core.Errorf(core.EConflict, "job %s already %s", jobID, j.State)
		case j.State == core.JobQueued:
			ended = true
			return t.finish(ctx, s, j, store.Result{State: core.JobCancelled, Reason: "cancelled while queued"}, 0)
		}
		if _, err := t.ExecContext(ctx, `UPDATE jobs SET cancel_requested = 1 WHERE id = ?`, jobID); err != nil {
			return err
		}
		return t.event(ctx, jobID, "cancel-requested", "cancel requested; stopping the replicas")
	})
	return ended, err
}

// CancelRequested returns active jobs with a pending cancel request.
func (s *Store) CancelRequested(ctx context.Context) ([]string, error) {
	// Agent centers' jobs are stopped through their agent (agenthub), not
	// by the control loop.
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM jobs WHERE cancel_requested = 1 AND state IN ('scheduled','running')
		AND center_id NOT IN (SELECT id FROM centers WHERE executor = 'agent')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// RecoverLost handles jobs that were scheduled or running on a center with
// a real executor when the server stopped: their processes died with it.
// Each is requeued for a new attempt (its hold stays in place) until
// the spec's attempts, then failed. Usage metered before the loss stays
// charged (accrual sums every attempt); nothing after the last meter is.
// Jobs on simulated centers need no recovery: their runs are modelled
// from the recorded start time.
func (s *Store) RecoverLost(ctx context.Context, executor string, commissionBPS int64) (requeued, failed int, err error) {
	err = s.update(ctx, func(t *tx) error {
		rq, fl, err := t.loseJobs(ctx, s, `center_id IN (SELECT id FROM centers WHERE executor = ?)`, []any{executor},
			"the server stopped while the job was %s; its process was lost", commissionBPS)
		requeued, failed = len(rq), len(fl)
		return err
	})
	return requeued, failed, err
}

// loseJobs requeues (or, when out of attempts, fails) the scheduled and
// running jobs matching where; cause explains the loss, with %s for the
// state the job was in. It returns the IDs it requeued and failed.
func (t *tx) loseJobs(ctx context.Context, s *Store, where string, args []any, cause string, commissionBPS int64) (requeued, failed []string, err error) {
	rows, err := t.QueryContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE state IN ('scheduled','running') AND `+where+` ORDER BY seq`, args...)
	if err != nil {
		return nil, nil, err
	}
	var lost []core.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		lost = append(lost, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for _, j := range lost {
		why := fmt.Sprintf(cause, j.State)
		if j.CancelRequested {
			if j.Placements, err = s.placements(ctx, t, j.ID); err != nil {
				return nil, nil, err
			}
			if err := t.finish(ctx, s, j, store.Result{State: core.JobCancelled, Reason: "cancelled; " + why}, commissionBPS); err != nil {
				return nil, nil, err
			}
			failed = append(failed, j.ID)
			continue
		}
		if j.Attempt-j.Preemptions+1 >= j.Spec.Attempts() {
			if j.Placements, err = s.placements(ctx, t, j.ID); err != nil {
				return nil, nil, err
			}
			if err := t.finish(ctx, s, j, store.Result{State: core.JobFailed,
				Reason: fmt.Sprintf("%s on attempt %d of %d", why, j.Attempt-j.Preemptions+1, j.Spec.Attempts())}, commissionBPS); err != nil {
				return nil, nil, err
			}
			failed = append(failed, j.ID)
			continue
		}
		if err := t.settleAttempt(ctx, s, j, commissionBPS); err != nil {
			return nil, nil, err
		}
		if _, err := t.ExecContext(ctx, `UPDATE jobs SET state = 'queued', center_id = NULL, attempt = attempt + 1,
			scheduled_at = NULL, started_at = NULL, backend_id = '', reason = ? WHERE id = ?`, "requeued: "+why, j.ID); err != nil {
			return nil, nil, err
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM placements WHERE job_id = ?`, j.ID); err != nil {
			return nil, nil, err
		}
		if err := t.event(ctx, j.ID, "requeued", fmt.Sprintf("%s; requeued as attempt %d of %d "+
			"(usage metered before the loss stays charged)", why, j.Attempt-j.Preemptions+2, j.Spec.Attempts())); err != nil {
			return nil, nil, err
		}
		requeued = append(requeued, j.ID)
	}
	return requeued, failed, nil
}

// PreemptedWaitMax bounds how long a preempted job waits for its
// preemptor to start before it may start again itself.
const PreemptedWaitMax = time.Minute

// PreemptJob stops attempt of a scheduled or running job and queues it
// again, so that capacity goes to the job that preempted it. Usage metered
// before stays charged; the caller meters the run's last totals first. It
// is a conflict when the job has moved on from that attempt (it ended or
// was already requeued), so a retried preemption changes nothing.
func (s *Store) PreemptJob(ctx context.Context, jobID string, attempt int, forJobID, reason string, commissionBPS int64) error {
	return s.update(ctx, func(t *tx) error {
		j, err := t.readJob(ctx, s, jobID)
		if err != nil {
			return err
		}
		if j.Attempt != attempt || (j.State != core.JobScheduled && j.State != core.JobRunning) || j.CancelRequested {
			return core.Errorf(core.EConflict, "job %s is no longer scheduled or running on attempt %d", jobID, attempt)
		}
		if err := t.settleAttempt(ctx, s, j, commissionBPS); err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, `UPDATE jobs SET state = 'queued', center_id = NULL, attempt = attempt + 1,
			preemptions = preemptions + 1, scheduled_at = NULL, started_at = NULL, backend_id = '', reason = ?,
			waits_for = ?, waits_until = ? WHERE id = ?`, reason, forJobID, ms(t.now.Add(PreemptedWaitMax)), jobID)
		if err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, `DELETE FROM placements WHERE job_id = ?`, jobID); err != nil {
			return err
		}
		if err := t.event(ctx, jobID, "preempted", reason+"; queued again (usage metered before stays charged)"); err != nil {
			return err
		}
		if forJobID == "" {
			return nil
		}
		return t.event(ctx, forJobID, "preempting", fmt.Sprintf("stopped job %s to make room: %s", jobID, reason))
	})
}

// settleAttempt charges what a job's attempt used so far, before the job
// leaves its center (preempted, or lost with the center): each accrual pays
// its delta to the center the job is on, and the next attempt may run on
// another center. The hold rolls over to the next attempt; when the wallet
// cannot fund a new hold, the usage is charged directly (arrears beyond the
// wallet) and the old hold stays for the next attempt.
func (t *tx) settleAttempt(ctx context.Context, s *Store, j core.Job, commissionBPS int64) error {
	if j.State != core.JobRunning || j.CenterID == "" {
		return nil // never started: nothing used
	}
	if len(j.Placements) == 0 {
		var err error
		if j.Placements, err = s.placements(ctx, t, j.ID); err != nil {
			return err
		}
	}
	err := t.accrue(ctx, s, j, accrueWindow, commissionBPS)
	if errors.Is(err, errShort) {
		err = t.accrue(ctx, s, j, accrueLate, commissionBPS)
	}
	return err
}
