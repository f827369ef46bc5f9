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

// 资源包 (prepaid bundles). A bundle is card-hours of one accelerator model,
// bought from the wallet at a discount and valid for a year. Consumption
// order at each capture of a job (normal and guaranteed tiers; spot work
// pays cash only): the job's new card-time on the bundle's model is paid
// from the tenant's bundles first, earliest expiry first, then oldest; the
// 算力券 share applies to what remains, and the wallet pays the rest.
// Bundle money is deferred revenue until used: each capture recognizes the
// used units' share of the bundle's price, cumulatively per bundle, so a
// fully used bundle recognizes exactly its price. Unused units expire with
// the bundle and its remaining deferred revenue is booked as breakage.

// Bundle limits and prices.
const (
	BundleCardHoursMax     = 1_000_000
	BundleDiscountBPS      = 1_500 // 15 % below the lowest list price of the model
	BundleValidity         = 365 * 24 * time.Hour
	cardMsPerHour          = 3_600_000
	bundlesIssuedID        = "bundles:issued"
	bundlesUsedID          = "bundles:used"
	BreakageID             = "operator:breakage"
	CodeBreakage           = "breakage"
	CodeBundleDeferred     = "bundle_deferred"
	bundleExpireBatchMax   = 100
	bundleCandidatesPerJob = 64
)

func bundleDeferredID(id string) string { return "bundle:" + id + ":deferred" }
func bundleUnitsID(id string) string    { return "bundle:" + id + ":units" }

// Bundle is a prepaid bundle (the type is shared in package store).
type Bundle = store.Bundle

// BundlePrice is what cardHours of model cost as a bundle: the lowest list
// price of the model at any center, less BundleDiscountBPS.
func (s *Store) BundlePrice(ctx context.Context, model string, cardHours int64) (core.Micros, error) {
	var low sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MIN(card_hour) FROM center_prices WHERE accel_model = ?`, model).Scan(&low); err != nil {
		return 0, err
	}
	if !low.Valid || low.Int64 <= 0 {
		return 0, core.FieldErrorf("accel_model", "no center sells %q", model)
	}
	x := new(big.Int).Mul(big.NewInt(low.Int64*cardHours), big.NewInt(meter.BPSMax-BundleDiscountBPS))
	x.Add(x, big.NewInt(meter.BPSMax/2))
	return core.Micros(x.Quo(x, big.NewInt(meter.BPSMax)).Int64()), nil
}

// BuyBundle buys a bundle for a tenant from its wallet; ref makes the
// purchase idempotent.
func (s *Store) BuyBundle(ctx context.Context, tenantOrgID, model string, cardHours int64, ref string) (Bundle, error) {
	if _, ok := core.LookupAccelerator(model); !ok {
		return Bundle{}, core.FieldErrorf("accel_model", "unknown accelerator model %q", model)
	}
	if cardHours <= 0 || cardHours > BundleCardHoursMax {
		return Bundle{}, core.FieldErrorf("card_hours", "must be 1..%d", BundleCardHoursMax)
	}
	if ref == "" || len(ref) > 128 {
		return Bundle{}, core.FieldErrorf("reference", "must be 1..128 bytes")
	}
	price, err := s.BundlePrice(ctx, model, cardHours)
	if err != nil {
		return Bundle{}, err
	}
	b := Bundle{ID: "bdl-" + tenantOrgID + "-" + ref, TenantOrgID: tenantOrgID, AccelModel: model, CardHours: cardHours, Price: price}
	err = s.update(ctx, func(t *tx) error {
		var units, oldPrice int64
		var model0 string
		err := t.QueryRowContext(ctx, `SELECT accel_model, units, price FROM bundles WHERE id = ?`, b.ID).Scan(&model0, &units, &oldPrice)
		if err == nil {
			if model0 != model || units != cardHours*cardMsPerHour {
				return core.Errorf(core.EConflict, "bundle reference %q was used for another bundle", ref)
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		b.CreatedAt, b.ValidUntil = t.now, t.now.Add(BundleValidity)
		for _, a := range []struct {
			id, ledgerName, code string
			flags                ledger.AccountFlags
		}{
			{bundlesIssuedID, ledger.LedgerUnits, "bundles_issued", 0},
			{bundlesUsedID, ledger.LedgerUnits, "bundles_used", 0},
			{bundleUnitsID(b.ID), ledger.LedgerUnits, "bundle_units", ledger.DebitsMustNotExceedCredits},
			{bundleDeferredID(b.ID), ledger.LedgerCNY, CodeBundleDeferred, ledger.DebitsMustNotExceedCredits},
		} {
			if err := t.openLedgerAccount(ctx, a.id, a.ledgerName, a.code, tenantOrgID, a.flags); err != nil {
				return err
			}
		}
		if _, err := t.ExecContext(ctx, `INSERT INTO bundles(id, tenant_org_id, accel_model, units, price, valid_until, created_at)
			VALUES (?,?,?,?,?,?,?)`, b.ID, tenantOrgID, model, cardHours*cardMsPerHour, int64(price), ms(b.ValidUntil), ms(t.now)); err != nil {
			return err
		}
		return ledger.Apply(ctx, ledgerTx{t}, t.now,
			ledger.Transfer{ID: b.ID + ":purchase", DebitAccountID: ledger.WalletID(tenantOrgID),
				CreditAccountID: bundleDeferredID(b.ID), Amount: price, Code: "bundle_purchase"},
			ledger.Transfer{ID: b.ID + ":issue", DebitAccountID: bundlesIssuedID, CreditAccountID: bundleUnitsID(b.ID),
				Amount: core.Micros(cardHours * cardMsPerHour), Code: "bundle_issue"})
	})
	if err != nil {
		return b, err
	}
	return s.bundle(ctx, b.ID)
}

func (s *Store) bundle(ctx context.Context, id string) (Bundle, error) {
	bs, err := s.bundles(ctx, `b.id = ?`, id)
	if err != nil {
		return Bundle{}, err
	}
	if len(bs) == 0 {
		return Bundle{}, notFound("bundle", id)
	}
	return bs[0], nil
}

// Bundles lists a tenant's bundles ("" = all).
func (s *Store) Bundles(ctx context.Context, tenantOrgID string) ([]Bundle, error) {
	return s.bundles(ctx, `? = '' OR b.tenant_org_id = ?`, tenantOrgID, tenantOrgID)
}

func (s *Store) bundles(ctx context.Context, where string, args ...any) ([]Bundle, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT b.id, b.tenant_org_id, b.accel_model, b.units, b.price, b.valid_until, b.expired,
		b.created_at, COALESCE(a.debits_posted, 0) FROM bundles b LEFT JOIN accounts a ON a.id = 'bundle:' || b.id || ':units'
		WHERE `+where+` ORDER BY b.created_at`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Bundle
	for rows.Next() {
		var b Bundle
		var units, price, until, created int64
		var expired int
		if err := rows.Scan(&b.ID, &b.TenantOrgID, &b.AccelModel, &units, &price, &until, &expired, &created, &b.UsedCardMs); err != nil {
			return nil, err
		}
		b.CardHours, b.Price, b.ValidUntil, b.Expired, b.CreatedAt = units/cardMsPerHour, core.Micros(price), fromMs(until), expired == 1, fromMs(created)
		out = append(out, b)
	}
	return out, rows.Err()
}

// bundlePlan is what one capture takes from bundles: ledger transfers to
// add to the capture's batch and the state to write once they applied.
type bundlePlan struct {
	transfers []ledger.Transfer
	covered   map[int]int64 // per key, cumulative, after this capture
	seen      map[int]int64
	units     map[string]int64       // per bundle, added now
	value     map[string]core.Micros // per bundle, recognized now
	total     core.Micros            // the job's cumulative bundle value after this capture
	added     core.Micros            // recognized by this capture
}

// planBundles covers a job's new billed card-time on each key from the
// tenant's bundles (see the package comment on 资源包 for the order).
func (t *tx) planBundles(ctx context.Context, j core.Job, rates meter.Rates, u meter.Usage, models map[int]string,
	cards map[int]int64, capture int) (bundlePlan, error) {
	p := bundlePlan{covered: map[int]int64{}, seen: map[int]int64{}, units: map[string]int64{}, value: map[string]core.Micros{}}
	rows, err := t.QueryContext(ctx, `SELECT key, seen_ms, covered_ms FROM job_bundle_keys WHERE job_id = ?`, j.ID)
	if err != nil {
		return p, err
	}
	for rows.Next() {
		var key int
		var seen, covered int64
		if err := rows.Scan(&key, &seen, &covered); err != nil {
			rows.Close()
			return p, err
		}
		p.seen[key], p.covered[key] = seen, covered
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return p, err
	}
	var prior int64
	if err := t.QueryRowContext(ctx, `SELECT COALESCE(SUM(value), 0) FROM bundle_usage WHERE job_id = ?`, j.ID).Scan(&prior); err != nil {
		return p, err
	}
	p.total = core.Micros(prior)
	if j.Spec.Tier == core.TierSpot {
		return p, nil
	}
	type cand struct {
		id        string
		model     string
		units     int64 // total
		avail     int64
		price     int64
		consumed0 int64 // consumed before this capture
	}
	var cands []*cand
	rows, err = t.QueryContext(ctx, `SELECT b.id, b.accel_model, b.units, b.price, a.credits_posted - a.debits_posted, a.debits_posted
		FROM bundles b JOIN accounts a ON a.id = 'bundle:' || b.id || ':units'
		WHERE b.tenant_org_id = ? AND b.expired = 0 AND b.valid_until > ? AND a.credits_posted > a.debits_posted
		ORDER BY b.valid_until, b.created_at LIMIT ?`, j.TenantOrgID, ms(t.now), bundleCandidatesPerJob)
	if err != nil {
		return p, err
	}
	for rows.Next() {
		c := &cand{}
		if err := rows.Scan(&c.id, &c.model, &c.units, &c.price, &c.avail, &c.consumed0); err != nil {
			rows.Close()
			return p, err
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(cands) == 0 {
		return p, err
	}
	keys := make([]int, 0, len(u.ReplicaMs))
	for k := range u.ReplicaMs {
		keys = append(keys, k)
	}
	sortInts(keys)
	for _, k := range keys {
		billed := meter.Billed(rates, u.ReplicaMs[k])
		newMs := billed - p.seen[k]
		p.seen[k] = billed
		if newMs <= 0 || models[k] == "" || cards[k] <= 0 {
			continue
		}
		for _, c := range cands {
			if newMs == 0 {
				break
			}
			if c.model != models[k] || c.avail < cards[k] {
				continue
			}
			take := min(newMs, c.avail/cards[k])
			c.avail -= take * cards[k]
			p.units[c.id] += take * cards[k]
			p.covered[k] += take
			newMs -= take
		}
	}
	for _, c := range cands {
		n := p.units[c.id]
		if n == 0 {
			continue
		}
		// Recognize revenue cumulatively per bundle: a fully used bundle
		// recognizes exactly its price.
		recognized := func(consumed int64) int64 {
			x := new(big.Int).Mul(big.NewInt(c.price), big.NewInt(consumed))
			x.Add(x, big.NewInt(c.units/2))
			return x.Quo(x, big.NewInt(c.units)).Int64()
		}
		v := core.Micros(recognized(c.consumed0+n) - recognized(c.consumed0))
		p.value[c.id] = v
		p.total += v
		p.added += v
		id := fmt.Sprintf("job:%s:bundle:%d:%s", j.ID, capture, c.id)
		p.transfers = append(p.transfers,
			ledger.Transfer{ID: id + ":units", DebitAccountID: bundleUnitsID(c.id), CreditAccountID: bundlesUsedID,
				Amount: core.Micros(n), Code: "bundle_use", JobID: j.ID})
		if v > 0 {
			p.transfers = append(p.transfers, ledger.Transfer{ID: id, DebitAccountID: bundleDeferredID(c.id),
				CreditAccountID: ledger.EscrowID, Amount: v, Code: "bundle", JobID: j.ID})
		}
	}
	return p, nil
}

// write stores the plan's state; call it after its transfers applied.
func (p bundlePlan) write(ctx context.Context, t *tx, jobID string) error {
	for k, seen := range p.seen {
		if _, err := t.ExecContext(ctx, `INSERT INTO job_bundle_keys(job_id, key, seen_ms, covered_ms) VALUES (?,?,?,?)
			ON CONFLICT(job_id, key) DO UPDATE SET seen_ms = excluded.seen_ms, covered_ms = excluded.covered_ms`,
			jobID, k, seen, p.covered[k]); err != nil {
			return err
		}
	}
	for id, n := range p.units {
		if _, err := t.ExecContext(ctx, `INSERT INTO bundle_usage(job_id, bundle_id, units, value) VALUES (?,?,?,?)
			ON CONFLICT(job_id, bundle_id) DO UPDATE SET units = bundle_usage.units + excluded.units, value = bundle_usage.value + excluded.value`,
			jobID, id, n, int64(p.value[id])); err != nil {
			return err
		}
	}
	return nil
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for k := i; k > 0 && a[k] < a[k-1]; k-- {
			a[k], a[k-1] = a[k-1], a[k]
		}
	}
}

// ExpireBundles retires bundles past their validity: their unused units are
// retired and their remaining deferred revenue is booked as breakage.
func (s *Store) ExpireBundles(ctx context.Context) (int, error) {
	n := 0
	err := s.update(ctx, func(t *tx) error {
		n = 0
		rows, err := t.QueryContext(ctx, `SELECT id FROM bundles WHERE expired = 0 AND valid_until <= ? LIMIT ?`, ms(t.now), bundleExpireBatchMax)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := t.openLedgerAccount(ctx, BreakageID, ledger.LedgerCNY, CodeBreakage, "", 0); err != nil {
			return err
		}
		for _, id := range ids {
			units, err := ledgerTx{t}.Account(ctx, bundleUnitsID(id))
			if err != nil {
				return err
			}
			deferred, err := ledgerTx{t}.Account(ctx, bundleDeferredID(id))
			if err != nil {
				return err
			}
			var batch []ledger.Transfer
			if left := units.Available(); left > 0 {
				batch = append(batch, ledger.Transfer{ID: id + ":expire-units", DebitAccountID: units.ID,
					CreditAccountID: bundlesUsedID, Amount: left, Code: "bundle_expire", Reason: "bundle expired"})
			}
			if left := deferred.Available(); left > 0 {
				batch = append(batch, ledger.Transfer{ID: id + ":breakage", DebitAccountID: deferred.ID,
					CreditAccountID: BreakageID, Amount: left, Code: CodeBreakage, Reason: "bundle expired unused"})
			}
			if err := ledger.Apply(ctx, ledgerTx{t}, t.now, batch...); err != nil {
				return err
			}
			if _, err := t.ExecContext(ctx, `UPDATE bundles SET expired = 1 WHERE id = ?`, id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
