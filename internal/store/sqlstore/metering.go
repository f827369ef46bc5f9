package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/meter"
	"github.com/suanli/suanli/internal/store"
)

// Billing configures how jobs are charged.
type Billing struct {
	VATBPS int64 // VAT on services, in basis points of the net price (600 = 6 %); list prices include it
	// Window is a rolling hold's length: a job whose max duration exceeds
	// Window+Grace holds only one window (plus grace) at a time and is
	// charged at each window's end.
	Window time.Duration
	// Grace is how long a job keeps running after its wallet failed to fund
	// the next window; the current hold covers it. Then the job is stopped.
	Grace time.Duration
	// Slack is held beyond window and grace: it covers per-second rounding
	// and the time it takes to stop a job, so a stopped job never ran
	// beyond its hold.
	Slack time.Duration
}

// DefaultBilling is used unless the server configures otherwise.
var DefaultBilling = Billing{VATBPS: 600, Window: 10 * time.Minute, Grace: 2 * time.Minute, Slack: time.Minute}

// Account IDs the settlement uses beyond the ledger package's.
const (
	VATPayableID = "operator:vat_payable"
	CodeVAT      = "vat_payable"
	CodeFunder   = "funder_receivable"
	CodeArrears  = "tenant_receivable"
)

// FunderReceivableID is what a voucher scheme's funding body owes.
func FunderReceivableID(schemeID string) string { return "funder:" + schemeID + ":receivable" }

// ArrearsID is what a tenant owes when usage outran its wallet.
func ArrearsID(orgID string) string { return "tenant:" + orgID + ":receivable" }

func holdIDSeq(jobID string, seq int) string {
	if seq == 0 {
		return "job:" + jobID + ":hold"
	}
	return fmt.Sprintf("job:%s:hold:%d", jobID, seq)
}

// rolling reports whether a job is charged in windows.
func (b Billing) rolling(spec core.JobSpec) bool { return spec.MaxDuration > b.Window+b.Grace+b.Slack }

// HoldFor is the hold for a job whose replicas cost rateScaled per hour in
// all: its whole max duration, or one window plus grace and slack for
// rolling jobs.
func (b Billing) HoldFor(spec core.JobSpec, rateScaled int64) core.Micros {
	d := spec.MaxDuration
	if b.rolling(spec) {
		d = b.Window + b.Grace + b.Slack
	}
	return core.Cost(core.CostTerm(new(big.Int), rateScaled, d.Milliseconds()))
}

// usage reads a job's cumulative usage over all attempts, and the rates in
// effect when it happened.
func (t *tx) usage(ctx context.Context, j core.Job) (meter.Rates, meter.Usage, jobKeys, error) {
	r := meter.Rates{Replica: map[int]int64{}, MaxMs: j.Spec.MaxDuration.Milliseconds()}
	u := meter.Usage{ReplicaMs: map[int]int64{}, CoveredMs: map[int]int64{}}
	keys := jobKeys{model: map[int]string{}, cards: map[int]int64{}}
	var storageHour, egress int64
	if j.CenterID != "" {
		if err := t.QueryRowContext(ctx, `SELECT storage_gib_hour, egress_gib FROM centers WHERE id = ?`, j.CenterID).
			Scan(&storageHour, &egress); err != nil {
			return r, u, keys, err
		}
	}
	r.StorageGiBHour, r.EgressGiB = core.Micros(storageHour), core.Micros(egress)
	rows, err := t.QueryContext(ctx, `SELECT attempt, replica, MAX(rate_scaled), SUM(wall_ms), SUM(storage_mib_ms), SUM(egress_mib),
		MAX(accel_model), MAX(cards) FROM usage_events WHERE job_id = ? GROUP BY attempt, replica`, j.ID)
	if err != nil {
		return r, u, keys, err
	}
	for rows.Next() {
		var attempt, replica int
		var rate, wall, storage, eg, cards int64
		var model string
		if err := rows.Scan(&attempt, &replica, &rate, &wall, &storage, &eg, &model, &cards); err != nil {
			rows.Close()
			return r, u, keys, err
		}
		key := attempt*core.ReplicasMax + replica
		r.Replica[key], u.ReplicaMs[key] = rate, wall
		keys.model[key], keys.cards[key] = model, cards
		u.StorageMiBMs += storage
		u.EgressMiB += eg
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, u, keys, err
	}
	rows, err = t.QueryContext(ctx, `SELECT key, covered_ms FROM job_bundle_keys WHERE job_id = ?`, j.ID)
	if err != nil {
		return r, u, keys, err
	}
	defer rows.Close()
	for rows.Next() {
		var key int
		var covered int64
		if err := rows.Scan(&key, &covered); err != nil {
			return r, u, keys, err
		}
		u.CoveredMs[key] = covered
	}
	return r, u, keys, rows.Err()
}

// jobKeys is the accelerator model and count per replica key.
type jobKeys struct {
	model map[int]string
	cards map[int]int64
}

// recordUsage stores a usage event for every replica whose cumulative wall
// time in this attempt grew past what was recorded. Event ids are
// job/attempt/replica/sequence, so replaying the same totals adds nothing.
func (t *tx) recordUsage(ctx context.Context, j core.Job, totals map[int]int64, source string) error {
	rows, err := t.QueryContext(ctx, `SELECT replica, SUM(wall_ms), COUNT(*) FROM usage_events
		WHERE job_id = ? AND attempt = ? AND source <> 'external' GROUP BY replica`, j.ID, j.Attempt)
	if err != nil {
		return err
	}
	type rec struct{ ms, n int64 }
	have := map[int]rec{}
	for rows.Next() {
		var replica int
		var r rec
		if err := rows.Scan(&replica, &r.ms, &r.n); err != nil {
			rows.Close()
			return err
		}
		have[replica] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range j.Placements {
		total, ok := totals[p.Index]
		h := have[p.Index]
		if !ok || total <= h.ms {
			continue
		}
		id := fmt.Sprintf("%s/%d/%d/%d", j.ID, j.Attempt, p.Index, h.n)
		if _, err := t.ExecContext(ctx, `INSERT INTO usage_events(id, job_id, attempt, replica, seq, wall_ms, rate_scaled,
			accel_model, cards, source, received_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`, id, j.ID, j.Attempt, p.Index, h.n,
			total-h.ms, p.RateScaled, p.AccelModel, replicaCards(j, p.Index), source, ms(t.now)); err != nil {
			return fmt.Errorf("usage event %s: %w", id, err)
		}
	}
	return nil
}

func replicaCards(j core.Job, idx int) int64 {
	if idx < 0 || idx >= len(j.Spec.Replicas) {
		return 0
	}
	return j.Spec.Replicas[idx].AccelCount
}

type accrueMode int

const (
	accrueWindow accrueMode = iota // a rolling window ended: capture it and hold the next
	accrueFinal                    // the job ended: capture the rest and resolve the hold
	accrueLate                     // usage arrived after the job was settled: charge it directly
)

// errShort means the wallet cannot fund the next rolling window.
var errShort = errors.New("wallet cannot fund the next window")

// accrue charges a job for its usage so far: cumulative total minus what was
// already charged, paid first from a 算力券 grant (the eligible share) and
// the rest from the wallet hold, then split from escrow into VAT,
// commission and the provider's share. All transfers of one capture are a
// linked batch with ids derived from the job and the capture number, so a
// retried capture cannot charge twice. j must be read in this transaction.
func (t *tx) accrue(ctx context.Context, s *Store, j core.Job, mode accrueMode, commissionBPS int64) error {
	rates, u, keys, err := t.usage(ctx, j)
	if err != nil {
		return err
	}
	k := j.Charges.CaptureSeq + 1
	// 资源包 first: new card-time on their model is paid from bundles.
	bp, err := t.planBundles(ctx, j, rates, u, keys.model, keys.cards, k)
	if err != nil {
		return err
	}
	u.CoveredMs = bp.covered
	cash := meter.Total(rates, u)
	total := cash + bp.total
	delta := total - j.CostMicros
	if delta < 0 {
		panic(fmt.Sprintf("accrue: job %s total %d below charged %d", j.ID, total, j.CostMicros))
	}
	bundleDelta := bp.added
	id := func(kind string) string { return fmt.Sprintf("job:%s:%s:%d", j.ID, kind, k) }
	var batch []ledger.Transfer
	wallet := ledger.WalletID(j.TenantOrgID)
	holdID := holdIDSeq(j.ID, j.HoldSeq)
	holdOpen := j.HoldMicros > 0 && mode != accrueLate
	newHoldSeq, newHold := j.HoldSeq, j.HoldMicros
	if mode == accrueWindow {
		newHoldSeq = j.HoldSeq + 1
		newHold = s.Billing.HoldFor(j.Spec, placementRate(j))
		batch = append(batch, ledger.Transfer{ID: holdIDSeq(j.ID, newHoldSeq), DebitAccountID: wallet,
			CreditAccountID: ledger.EscrowID, Amount: newHold, Flags: ledger.Pending, Code: "hold", JobID: j.ID})
	}

	batch = append(batch, bp.transfers...)
	// The voucher pays its share of the cash part (bundles were prepaid).
	v, err := t.voucherShare(ctx, j, cash)
	if err != nil {
		return err
	}
	vdelta := v.amount - j.Charges.VoucherMicros
	if vdelta > 0 {
		batch = append(batch,
			ledger.Transfer{ID: id("voucher-use"), DebitAccountID: voucherGrantID(v.schemeID, j.TenantOrgID, v.year),
				CreditAccountID: voucherUsedID(v.schemeID), Amount: vdelta, Code: "voucher_use", JobID: j.ID},
			ledger.Transfer{ID: id("voucher"), DebitAccountID: FunderReceivableID(v.schemeID),
				CreditAccountID: ledger.EscrowID, Amount: vdelta, Code: "voucher", JobID: j.ID})
	}
	wdelta := delta - max(vdelta, 0) - bundleDelta
	if wdelta < 0 {
		panic(fmt.Sprintf("accrue: job %s wallet part %d < 0", j.ID, wdelta))
	}

	// The wallet pays the rest: from the hold, beyond it directly, and what
	// the wallet cannot cover becomes arrears.
	fromHold := core.Micros(0)
	if holdOpen {
		fromHold = min(wdelta, j.HoldMicros)
		if fromHold > 0 {
			batch = append(batch, ledger.Transfer{ID: id("capture"), PendingID: holdID, Flags: ledger.PostPending,
				Amount: fromHold, Code: "capture", JobID: j.ID})
		} else {
			batch = append(batch, ledger.Transfer{ID: id("release"), PendingID: holdID, Flags: ledger.VoidPending,
				Code: "release", JobID: j.ID})
		}
	}
	rest := wdelta - fromHold
	var arrears core.Micros
	if rest > 0 {
		acct, err := t.accountTx(ctx, wallet)
		if err != nil {
			return err
		}
		direct := min(rest, max(acct.Available(), 0))
		if direct > 0 {
			batch = append(batch, ledger.Transfer{ID: id("direct"), DebitAccountID: wallet, CreditAccountID: ledger.EscrowID,
				Amount: direct, Code: "capture_direct", JobID: j.ID})
		}
		if arrears = rest - direct; arrears > 0 {
			if err := t.openAccount(ctx, ArrearsID(j.TenantOrgID), CodeArrears, j.TenantOrgID, 0); err != nil {
				return err
			}
			batch = append(batch, ledger.Transfer{ID: id("arrears"), DebitAccountID: ArrearsID(j.TenantOrgID),
				CreditAccountID: ledger.EscrowID, Amount: arrears, Code: "arrears", JobID: j.ID})
		}
	}

	// Escrow pays out the split, cumulatively.
	vat, comm, prov := meter.Split(total, s.Billing.VATBPS, commissionBPS)
	switch {
	case delta == 0:
		// Nothing new to split: keep the legs as they are, whatever
		// commission this caller passes (a cancel after the last attempt
		// was settled, for one).
		vat, comm, prov = j.Charges.VATMicros, j.Charges.CommissionMicros, j.Charges.ProviderMicros
	case comm < j.Charges.CommissionMicros:
		// The commission was lowered since the last accrual: it applies to
		// new usage only; what was split stays split.
		comm = j.Charges.CommissionMicros
		prov = total - vat - comm
	}
	var providerOrg string
	if delta > 0 {
		if err := t.QueryRowContext(ctx, `SELECT provider_org_id FROM centers WHERE id = ?`, j.CenterID).Scan(&providerOrg); err != nil {
			return fmt.Errorf("provider of center %q: %w", j.CenterID, err)
		}
	}
	for _, leg := range []struct {
		kind, acct, code string
		amount           core.Micros
	}{
		{"vat", VATPayableID, "vat", vat - j.Charges.VATMicros},
		{"commission", ledger.CommissionID, "commission", comm - j.Charges.CommissionMicros},
		{"provider", ledger.PayableID(providerOrg), "provider_share", prov - j.Charges.ProviderMicros},
	} {
		if leg.amount < 0 {
			panic("accrue: cumulative split decreased")
		}
		if leg.amount > 0 {
			batch = append(batch, ledger.Transfer{ID: id(leg.kind), DebitAccountID: ledger.EscrowID,
				CreditAccountID: leg.acct, Amount: leg.amount, Code: leg.code, JobID: j.ID})
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if err := ledger.Apply(ctx, ledgerTx{t}, t.now, batch...); err != nil {
		if mode == accrueWindow && core.ErrorCode(err) == core.EInsufficientFunds {
			return errShort // the new hold failed first; nothing was written
		}
		return err
	}
	if err := bp.write(ctx, t, j.ID); err != nil {
		return err
	}
	if !holdOpen || mode == accrueFinal {
		newHold = 0
	}
	_, err = t.ExecContext(ctx, `UPDATE jobs SET cost_micros = ?, capture_seq = ?, hold_seq = ?, hold_micros = ?,
		voucher_micros = voucher_micros + ?, voucher_scheme_id = CASE WHEN ? > 0 THEN ? ELSE voucher_scheme_id END,
		vat_micros = ?, commission_micros = ?, provider_micros = ?, arrears_micros = arrears_micros + ? WHERE id = ?`,
		int64(total), k, newHoldSeq, int64(newHold), int64(max(vdelta, 0)), int64(vdelta), v.schemeID,
		int64(vat), int64(comm), int64(prov), int64(arrears), j.ID)
	return err
}

// placementRate is the job's total rate at its placements.
func placementRate(j core.Job) int64 {
	var r int64
	for _, p := range j.Placements {
		r += p.RateScaled
	}
	return r
}

func (t *tx) accountTx(ctx context.Context, id string) (ledger.Account, error) {
	return ledgerTx{t}.Account(ctx, id)
}

func (t *tx) readJob(ctx context.Context, s *Store, id string) (core.Job, error) {
	j, err := scanJob(t.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, notFound("job", id)
	}
	if err != nil {
		return j, err
	}
	j.Placements, err = s.placements(ctx, t, id)
	return j, err
}

// Meter records a running job's cumulative usage per replica and, for a
// rolling job whose window has ended, captures the window and holds the
// next. If the wallet cannot fund the next window the job enters its grace
// period (a notice event is written once) and the status says when to stop.
func (s *Store) Meter(ctx context.Context, jobID string, totals map[int]int64, commissionBPS int64) (store.MeterStatus, error) {
	var st store.MeterStatus
	err := s.update(ctx, func(t *tx) error {
		st = store.MeterStatus{}
		j, err := t.readJob(ctx, s, jobID)
		if err != nil {
			return err
		}
		if j.State != core.JobRunning {
			return nil
		}
		if err := t.recordUsage(ctx, j, totals, "control"); err != nil {
			return err
		}
		var next, short sql.NullInt64
		if err := t.QueryRowContext(ctx, `SELECT next_capture_at, funds_short_since FROM jobs WHERE id = ?`, jobID).
			Scan(&next, &short); err != nil {
			return err
		}
		if !s.Billing.rolling(j.Spec) || !next.Valid || ms(t.now) < next.Int64 {
			return nil
		}
		err = t.accrue(ctx, s, j, accrueWindow, commissionBPS)
		switch {
		case errors.Is(err, errShort):
			since := t.now
			if short.Valid {
				since = fromMs(short.Int64)
			} else {
				if _, err := t.ExecContext(ctx, `UPDATE jobs SET funds_short_since = ? WHERE id = ?`, ms(t.now), jobID); err != nil {
					return err
				}
				if err := t.event(ctx, jobID, "notice", fmt.Sprintf("the wallet cannot fund the next %s window (%s CNY); "+
					"the job will be stopped at %s unless the wallet is topped up", s.Billing.Window,
					s.Billing.HoldFor(j.Spec, placementRate(j)).Yuan(), t.now.Add(s.Billing.Grace).Format(time.RFC3339))); err != nil {
					return err
				}
			}
			st = store.MeterStatus{Short: true, StopAt: since.Add(s.Billing.Grace)}
			return nil
		case err != nil:
			return err
		}
		if short.Valid {
			if err := t.event(ctx, jobID, "funded", "the wallet funded the next window again"); err != nil {
				return err
			}
		}
		_, err = t.ExecContext(ctx, `UPDATE jobs SET funds_short_since = NULL, next_capture_at = ? WHERE id = ?`,
			next.Int64+s.Billing.Window.Milliseconds(), jobID)
		return err
	})
	return st, err
}

// UsageEventIDMax bounds event ids.
const UsageEventIDMax = 200

// RecordUsageEvent stores an externally reported usage event for a job on
// one of providerOrgID's centers ("" = any, for the operator). An event for
// a job that was already settled is late: it is charged at once, directly
// from the wallet (arrears if the wallet cannot pay).
func (s *Store) RecordUsageEvent(ctx context.Context, ev UsageEvent, providerOrgID string, commissionBPS int64) (late bool, err error) {
	switch {
	case ev.ID == "" || len(ev.ID) > UsageEventIDMax:
		return false, core.FieldErrorf("id", "must be 1..%d bytes", UsageEventIDMax)
	case ev.WallMs < 0 || ev.StorageMiBMs < 0 || ev.EgressMiB < 0:
		return false, core.FieldErrorf("wall_ms", "usage quantities must not be negative")
	case ev.WallMs == 0 && ev.StorageMiBMs == 0 && ev.EgressMiB == 0:
		return false, core.FieldErrorf("wall_ms", "an event must report some usage")
	}
	err = s.update(ctx, func(t *tx) error {
		j, err := t.readJob(ctx, s, ev.JobID)
		if err != nil {
			return err
		}
		var provider, executor string
		if j.CenterID != "" {
			if err := t.QueryRowContext(ctx, `SELECT provider_org_id, executor FROM centers WHERE id = ?`, j.CenterID).
				Scan(&provider, &executor); err != nil {
				return err
			}
		}
		if j.CenterID == "" || (providerOrgID != "" && provider != providerOrgID) {
			return notFound("job", ev.JobID)
		}
		if ev.WallMs > 0 && (executor == core.ExecutorLocal || executor == core.ExecutorSimulated) {
			// The server meters wall time of the runs it executes itself; a
			// second report would count it twice.
			return core.FieldErrorf("wall_ms", "wall time of jobs on %s centers is metered by the server; report storage and egress only", executor)
		}
		var rate int64 = -1
		for _, p := range j.Placements {
			if p.Index == ev.Replica {
				rate = p.RateScaled
			}
		}
		if rate < 0 {
			return core.FieldErrorf("replica", "job %s has no replica %d", ev.JobID, ev.Replica)
		}
		id := "ext:" + ev.ID
		var old UsageEvent
		err = t.QueryRowContext(ctx, `SELECT job_id, replica, wall_ms, storage_mib_ms, egress_mib FROM usage_events WHERE id = ?`, id).
			Scan(&old.JobID, &old.Replica, &old.WallMs, &old.StorageMiBMs, &old.EgressMiB)
		if err == nil {
			old.ID = ev.ID
			if old != ev {
				return core.Errorf(core.EConflict, "usage event %s was reported before with other values", ev.ID)
			}
			return nil // a duplicate
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		late = j.State.Terminal()
		var model string
		for _, p := range j.Placements {
			if p.Index == ev.Replica {
				model = p.AccelModel
			}
		}
		if _, err := t.ExecContext(ctx, `INSERT INTO usage_events(id, job_id, attempt, replica, seq, wall_ms, storage_mib_ms,
			egress_mib, rate_scaled, accel_model, cards, late, source, received_at) VALUES (?,?,?,?,-1,?,?,?,?,?,?,?,?,?)`, id,
			j.ID, j.Attempt, ev.Replica, ev.WallMs, ev.StorageMiBMs, ev.EgressMiB, rate, model, replicaCards(j, ev.Replica),
			b2i(late), "external", ms(t.now)); err != nil {
			return err
		}
		if !late {
			return nil // charged with the job's next capture
		}
		if err := t.accrue(ctx, s, j, accrueLate, commissionBPS); err != nil {
			return err
		}
		return t.event(ctx, j.ID, "late-usage", fmt.Sprintf("usage event %s arrived after settlement and was charged", ev.ID))
	})
	return late, err
}
