package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/meter"
	"github.com/suanli/suanli/internal/store"
)

// Shared types, defined in package store for every store implementation.
type (
	VoucherScheme = store.VoucherScheme
	VoucherGrant  = store.VoucherGrant
	UsageEvent    = store.UsageEvent
	Payout        = store.Payout
)

// chinaTime is UTC+8: grant years are Chinese calendar years. A fixed zone,
// so the host needs no time-zone database.
var chinaTime = time.FixedZone("CST", 8*3600)

func voucherGrantID(schemeID, tenant string, year int) string {
	return fmt.Sprintf("voucher:%s:grant:%s:%d", schemeID, tenant, year)
}
func voucherUsedID(schemeID string) string       { return "voucher:" + schemeID + ":used" }
func voucherBudgetID(schemeID string) string     { return "voucher:" + schemeID + ":budget" }
func voucherAuthorizedID(schemeID string) string { return "voucher:" + schemeID + ":authorized" }

// CreateVoucherScheme registers a scheme and authorizes its budget on the
// voucher ledger.
func (s *Store) CreateVoucherScheme(ctx context.Context, v VoucherScheme, actor string) (VoucherScheme, error) {
	if err := v.Validate(); err != nil {
		return v, err
	}
	for _, c := range v.EligibleCenters {
		if _, err := s.Center(ctx, c); err != nil {
			return v, core.FieldErrorf("eligible_centers", "unknown center %q", c)
		}
	}
	v.ID, v.CreatedBy = newID("vs-"), actor
	kinds := make([]string, len(v.EligibleKinds))
	for i, k := range v.EligibleKinds {
		kinds[i] = string(k)
	}
	err := s.update(ctx, func(t *tx) error {
		v.CreatedAt = t.now
		if _, err := t.ExecContext(ctx, `INSERT INTO voucher_schemes(id, name, issuer, share_bps, domestic_share_bps,
			cap_per_tenant_year, budget, valid_from, valid_until, eligible_kinds, eligible_centers, created_by, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, v.ID, v.Name, v.Issuer, v.ShareBPS, v.DomesticShareBPS,
			int64(v.CapPerTenantYear), int64(v.Budget), ms(v.ValidFrom), ms(v.ValidUntil), strings.Join(kinds, ","),
			strings.Join(v.EligibleCenters, ","), actor, ms(t.now)); err != nil {
			if isUnique(err) {
				return core.Errorf(core.EConflict, "a voucher scheme named %q exists", v.Name)
			}
			return err
		}
		for _, a := range []struct {
			id, ledgerName, code string
			flags                ledger.AccountFlags
		}{
			{voucherAuthorizedID(v.ID), ledger.LedgerVoucher, "voucher_authorized", 0},
			{voucherBudgetID(v.ID), ledger.LedgerVoucher, "voucher_budget", ledger.DebitsMustNotExceedCredits},
			{voucherUsedID(v.ID), ledger.LedgerVoucher, "voucher_used", 0},
			{FunderReceivableID(v.ID), ledger.LedgerCNY, CodeFunder, 0},
		} {
			if err := t.openLedgerAccount(ctx, a.id, a.ledgerName, a.code, "", a.flags); err != nil {
				return err
			}
		}
		return ledger.Apply(ctx, ledgerTx{t}, t.now, ledger.Transfer{ID: "voucher:" + v.ID + ":authorize",
			DebitAccountID: voucherAuthorizedID(v.ID), CreditAccountID: voucherBudgetID(v.ID), Amount: v.Budget,
			Code: "voucher_budget", Actor: actor, Reason: "scheme " + v.Name})
	})
	return v, err
}

func (t *tx) openLedgerAccount(ctx context.Context, id, ledgerName, code, orgID string, flags ledger.AccountFlags) error {
	_, err := t.ExecContext(ctx, `INSERT INTO accounts(id, ledger, code, org_id, flags) VALUES (?,?,?,?,?)
		ON CONFLICT(id) DO NOTHING`, id, ledgerName, code, orgID, int64(flags))
	return err
}

const schemeCols = `id, name, issuer, share_bps, domestic_share_bps, cap_per_tenant_year, budget, valid_from, valid_until,
	eligible_kinds, eligible_centers, created_by, created_at`

func scanScheme(sc interface{ Scan(...any) error }) (VoucherScheme, error) {
	var v VoucherScheme
	var capYear, budget, from, until, created int64
	var kinds, centers string
	err := sc.Scan(&v.ID, &v.Name, &v.Issuer, &v.ShareBPS, &v.DomesticShareBPS, &capYear, &budget, &from, &until,
		&kinds, &centers, &v.CreatedBy, &created)
	v.CapPerTenantYear, v.Budget = core.Micros(capYear), core.Micros(budget)
	v.ValidFrom, v.ValidUntil, v.CreatedAt = fromMs(from), fromMs(until), fromMs(created)
	for _, k := range strings.Split(kinds, ",") {
		if k != "" {
			v.EligibleKinds = append(v.EligibleKinds, core.CenterKind(k))
		}
	}
	for _, c := range strings.Split(centers, ",") {
		if c != "" {
			v.EligibleCenters = append(v.EligibleCenters, c)
		}
	}
	return v, err
}

// VoucherSchemes lists schemes.
func (s *Store) VoucherSchemes(ctx context.Context) ([]VoucherScheme, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+schemeCols+` FROM voucher_schemes ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VoucherScheme
	for rows.Next() {
		v, err := scanScheme(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// VoucherScheme returns one scheme by id or name.
func (s *Store) VoucherScheme(ctx context.Context, idOrName string) (VoucherScheme, error) {
	v, err := scanScheme(s.r.QueryRowContext(ctx, `SELECT `+schemeCols+` FROM voucher_schemes WHERE id = ? OR name = ?`, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound("voucher scheme", idOrName)
	}
	return v, err
}

// GrantVoucher grants amount of a scheme to a tenant for the current year.
// ref makes the grant idempotent. The per-tenant yearly cap and the
// scheme's budget are enforced in the transaction (the budget by the
// ledger's balance limit), so concurrent grants can never exceed them.
func (s *Store) GrantVoucher(ctx context.Context, schemeID, tenantOrgID string, amount core.Micros, ref, actor string) (VoucherGrant, error) {
	if amount <= 0 {
		return VoucherGrant{}, core.FieldErrorf("amount", "must be positive")
	}
	if ref == "" || len(ref) > 128 {
		return VoucherGrant{}, core.FieldErrorf("reference", "must be 1..128 bytes")
	}
	v, err := s.VoucherScheme(ctx, schemeID)
	if err != nil {
		return VoucherGrant{}, err
	}
	org, err := s.Org(ctx, tenantOrgID)
	if err != nil {
		return VoucherGrant{}, err
	}
	if org.Role != core.RoleTenant {
		return VoucherGrant{}, core.FieldErrorf("tenant_org_id", "%s is not a tenant", tenantOrgID)
	}
	g := VoucherGrant{ID: "vg:" + v.ID + ":" + ref, SchemeID: v.ID, TenantOrgID: tenantOrgID, Amount: amount, CreatedBy: actor}
	err = s.update(ctx, func(t *tx) error {
		var existing VoucherGrant
		var created int64
		err := t.QueryRowContext(ctx, `SELECT tenant_org_id, year, amount, created_at FROM voucher_grants WHERE id = ?`, g.ID).
			Scan(&existing.TenantOrgID, &existing.Year, &existing.Amount, &created)
		if err == nil {
			if existing.TenantOrgID != tenantOrgID || existing.Amount != amount {
				return core.Errorf(core.EConflict, "grant reference %q was used for a different grant", ref)
			}
			g.Year, g.CreatedAt = existing.Year, fromMs(created)
			return nil // idempotent replay
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		g.CreatedAt, g.Year = t.now, t.now.In(chinaTime).Year()
		if !t.now.Before(v.ValidUntil) {
			return core.Errorf(core.EConflict, "voucher scheme %s expired at %s", v.Name, v.ValidUntil.Format(time.RFC3339))
		}
		var granted int64
		if err := t.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM voucher_grants WHERE scheme_id = ?
			AND tenant_org_id = ? AND year = ?`, v.ID, tenantOrgID, g.Year).Scan(&granted); err != nil {
			return err
		}
		if core.Micros(granted)+amount > v.CapPerTenantYear {
			return core.FieldErrorf("amount", "grants to this tenant in %d would reach %s CNY, over the cap of %s CNY",
				g.Year, (core.Micros(granted) + amount).Yuan(), v.CapPerTenantYear.Yuan())
		}
		acct := voucherGrantID(v.ID, tenantOrgID, g.Year)
		if err := t.openLedgerAccount(ctx, acct, ledger.LedgerVoucher, "voucher_grant", tenantOrgID, ledger.DebitsMustNotExceedCredits); err != nil {
			return err
		}
		if err := ledger.Apply(ctx, ledgerTx{t}, t.now, ledger.Transfer{ID: g.ID, DebitAccountID: voucherBudgetID(v.ID),
			CreditAccountID: acct, Amount: amount, Code: "voucher_grant", Actor: actor, Reason: "grant " + ref}); err != nil {
			if core.ErrorCode(err) == core.EInsufficientFunds {
				return core.Errorf(core.EInsufficientFunds, "voucher scheme %s has not enough budget left for %s CNY", v.Name, amount.Yuan())
			}
			return err
		}
		_, err = t.ExecContext(ctx, `INSERT INTO voucher_grants(id, scheme_id, tenant_org_id, year, amount, created_by, created_at)
			VALUES (?,?,?,?,?,?,?)`, g.ID, v.ID, tenantOrgID, g.Year, int64(amount), actor, ms(t.now))
		return err
	})
	return g, err
}

// VoucherGrants lists grants, for one tenant or (empty) all.
func (s *Store) VoucherGrants(ctx context.Context, tenantOrgID string) ([]VoucherGrant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, scheme_id, tenant_org_id, year, amount, created_by, created_at
		FROM voucher_grants WHERE ? = '' OR tenant_org_id = ? ORDER BY created_at`, tenantOrgID, tenantOrgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VoucherGrant
	for rows.Next() {
		var g VoucherGrant
		var amount, created int64
		if err := rows.Scan(&g.ID, &g.SchemeID, &g.TenantOrgID, &g.Year, &amount, &g.CreatedBy, &created); err != nil {
			return nil, err
		}
		g.Amount, g.CreatedAt = core.Micros(amount), fromMs(created)
		out = append(out, g)
	}
	return out, rows.Err()
}

// AddRelatedParty records that two organizations are related parties
// (关联方): vouchers never pay for trades between them.
func (s *Store) AddRelatedParty(ctx context.Context, a, b, note, actor string) error {
	if a == b {
		return core.FieldErrorf("org_b", "must differ from org_a")
	}
	if a > b {
		a, b = b, a
	}
	for _, id := range []string{a, b} {
		if _, err := s.Org(ctx, id); err != nil {
			return err
		}
	}
	return s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO related_parties(org_a, org_b, note, created_by, created_at) VALUES (?,?,?,?,?)
			ON CONFLICT DO NOTHING`, a, b, note, actor, ms(t.now))
		return err
	})
}

type voucherPart struct {
	schemeID string
	year     int
	amount   core.Micros // cumulative voucher payment for the job
}

// voucherShare returns how much of a job's cumulative charge total its
// voucher pays, cumulatively: the scheme's share (the domestic share when
// the job's chips are domestic) of the total, limited by what the tenant's
// grant for this year still holds. A job sticks to the first scheme that
// paid for it; a scheme applies only within its validity window, at
// eligible centers, and never when tenant and provider are related.
func (t *tx) voucherShare(ctx context.Context, j core.Job, total core.Micros) (voucherPart, error) {
	out := voucherPart{schemeID: j.Charges.VoucherSchemeID, amount: j.Charges.VoucherMicros, year: t.now.In(chinaTime).Year()}
	if j.CenterID == "" || total == 0 {
		return out, nil
	}
	var kind, name, provider string
	var domesticCenter int
	if err := t.QueryRowContext(ctx, `SELECT kind, name, provider_org_id, domestic FROM centers WHERE id = ?`, j.CenterID).
		Scan(&kind, &name, &provider, &domesticCenter); err != nil {
		return out, err
	}
	var related int
	a, b := j.TenantOrgID, provider
	if a > b {
		a, b = b, a
	}
	if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM related_parties WHERE org_a = ? AND org_b = ?`, a, b).Scan(&related); err != nil {
		return out, err
	}
	if related > 0 {
		return out, nil
	}
	rows, err := t.QueryContext(ctx, `SELECT `+schemeCols+` FROM voucher_schemes WHERE valid_from <= ? AND valid_until > ?
		ORDER BY valid_until, id`, ms(t.now), ms(t.now))
	if err != nil {
		return out, err
	}
	var schemes []VoucherScheme
	for rows.Next() {
		v, err := scanScheme(rows)
		if err != nil {
			rows.Close()
			return out, err
		}
		schemes = append(schemes, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	for _, v := range schemes {
		if out.schemeID != "" && v.ID != out.schemeID {
			continue
		}
		if !eligible(v, core.CenterKind(kind), name) {
			continue
		}
		grant, err := ledgerTx{t}.Account(ctx, voucherGrantID(v.ID, j.TenantOrgID, out.year))
		if core.ErrorCode(err) == core.ENotFound {
			continue
		}
		if err != nil {
			return out, err
		}
		bps := v.ShareBPS
		if domesticChips(j, domesticCenter == 1) {
			bps = v.DomesticShareBPS
		}
		target := meter.Share(total, bps)
		out.schemeID = v.ID
		out.amount = max(min(target, j.Charges.VoucherMicros+grant.Available()), j.Charges.VoucherMicros)
		return out, nil
	}
	return out, nil
}

func eligible(v VoucherScheme, kind core.CenterKind, center string) bool {
	if len(v.EligibleKinds) > 0 {
		ok := false
		for _, k := range v.EligibleKinds {
			ok = ok || k == kind
		}
		if !ok {
			return false
		}
	}
	if len(v.EligibleCenters) > 0 {
		ok := false
		for _, c := range v.EligibleCenters {
			ok = ok || c == center
		}
		if !ok {
			return false
		}
	}
	return true
}

// domesticChips reports whether a job runs on domestic chips: every
// accelerator placement on a domestic model, or, without accelerators, a
// domestic center.
func domesticChips(j core.Job, domesticCenter bool) bool {
	anyAccel := false
	for _, p := range j.Placements {
		if p.AccelModel == "" {
			continue
		}
		anyAccel = true
		if a, ok := core.LookupAccelerator(p.AccelModel); !ok || !a.Domestic {
			return false
		}
	}
	return anyAccel || domesticCenter
}
