package sqlstore

import (
	"context"
	"fmt"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/meter"
)

// Operator accounts for corrections and payouts.
const (
	PayoutsID       = "bank:payouts"         // money paid out to providers
	CodePayouts     = "payouts"              //
	AdjustmentsID   = "operator:adjustments" // goodwill credits and write-offs the operator absorbs
	CodeAdjustments = "adjustments"          //
)

// Corrections never change a transfer: each is a new transfer with a
// reason and the operator who made it, and an id derived from the caller's
// reference, so a retried correction applies once.

// CorrectionRefMax bounds references and reasons.
const CorrectionRefMax = 200

func checkCorrection(ref, reason, actor string) error {
	switch {
	case ref == "" || len(ref) > CorrectionRefMax:
		return core.FieldErrorf("reference", "must be 1..%d bytes", CorrectionRefMax)
	case reason == "" || len(reason) > CorrectionRefMax:
		return core.FieldErrorf("reason", "must be 1..%d bytes", CorrectionRefMax)
	case actor == "":
		return core.FieldErrorf("actor", "is required")
	}
	return nil
}

// Refund returns up to what a tenant paid for a job (wallet part; voucher
// and arrears parts are not refunded to the wallet) back to its wallet. The
// refund reverses the split cumulatively: provider, commission and VAT give
// back their shares of the refunded total.
func (s *Store) Refund(ctx context.Context, jobID string, amount core.Micros, ref, reason, actor string, commissionBPS int64) error {
	if err := checkCorrection(ref, reason, actor); err != nil {
		return err
	}
	if amount <= 0 {
		return core.FieldErrorf("amount", "must be positive")
	}
	return s.update(ctx, func(t *tx) error {
		j, err := t.readJob(ctx, s, jobID)
		if err != nil {
			return err
		}
		if !j.State.Terminal() {
			return core.Errorf(core.EConflict, "job %s has not ended; refund it once it has", jobID)
		}
		var refunded int64
		if err := t.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE job_id = ? AND code = 'refund'`,
			jobID).Scan(&refunded); err != nil {
			return err
		}
		base := "refund:" + jobID + ":" + ref
		if done, _, err := (ledgerTx{t}).Transfer(ctx, base+":wallet"); err != nil {
			return err
		} else if done.ID != "" {
			if done.Amount != amount || done.Reason != reason {
				return core.Errorf(core.EConflict, "refund reference %q was used with other values", ref)
			}
			return nil // idempotent replay
		}
		paid := j.CostMicros - j.Charges.VoucherMicros - j.Charges.ArrearsMicros
		if core.Micros(refunded)+amount > paid {
			return core.FieldErrorf("amount", "refunds would total %s CNY, more than the %s CNY the wallet paid",
				(core.Micros(refunded) + amount).Yuan(), paid.Yuan())
		}
		var providerOrg string
		if err := t.QueryRowContext(ctx, `SELECT provider_org_id FROM centers WHERE id = ?`, j.CenterID).Scan(&providerOrg); err != nil {
			return err
		}
		before := core.Micros(refunded)
		v0, c0, p0 := meter.Split(before, s.Billing.VATBPS, commissionBPS)
		v1, c1, p1 := meter.Split(before+amount, s.Billing.VATBPS, commissionBPS)
		batch := []ledger.Transfer{}
		for _, leg := range []struct {
			kind, acct string
			amount     core.Micros
		}{
			{"provider", ledger.PayableID(providerOrg), p1 - p0},
			{"commission", ledger.CommissionID, c1 - c0},
			{"vat", VATPayableID, v1 - v0},
		} {
			if leg.amount > 0 {
				batch = append(batch, ledger.Transfer{ID: base + ":" + leg.kind, DebitAccountID: leg.acct,
					CreditAccountID: ledger.EscrowID, Amount: leg.amount, Code: "refund_" + leg.kind, JobID: jobID,
					Reason: reason, Actor: actor})
			}
		}
		batch = append(batch, ledger.Transfer{ID: base + ":wallet", DebitAccountID: ledger.EscrowID,
			CreditAccountID: ledger.WalletID(j.TenantOrgID), Amount: amount, Code: "refund", JobID: jobID, Reason: reason, Actor: actor})
		if err := ledger.Apply(ctx, ledgerTx{t}, t.now, batch...); err != nil {
			return err
		}
		return t.event(ctx, jobID, "refund", fmt.Sprintf("refunded %s CNY: %s", amount.Yuan(), reason))
	})
}

// Adjust credits (amount > 0) or debits (amount < 0) a tenant's wallet
// against the operator's adjustments account: goodwill credits, manual
// corrections. A debit never overdraws the wallet.
func (s *Store) Adjust(ctx context.Context, orgID string, amount core.Micros, ref, reason, actor string) error {
	if err := checkCorrection(ref, reason, actor); err != nil {
		return err
	}
	if amount == 0 {
		return core.FieldErrorf("amount", "must not be zero")
	}
	tr := ledger.Transfer{ID: "adjust:" + orgID + ":" + ref, DebitAccountID: AdjustmentsID, CreditAccountID: ledger.WalletID(orgID),
		Amount: amount, Code: "adjustment", Reason: reason, Actor: actor}
	if amount < 0 {
		tr.DebitAccountID, tr.CreditAccountID, tr.Amount = ledger.WalletID(orgID), AdjustmentsID, -amount
	}
	return s.ApplyTransfers(ctx, []ledger.Transfer{tr})
}

// WriteOff forgives part of a receivable (a funding body's or a tenant's
// arrears) that will not be collected; the operator absorbs it.
func (s *Store) WriteOff(ctx context.Context, accountID string, amount core.Micros, ref, reason, actor string) error {
	if err := checkCorrection(ref, reason, actor); err != nil {
		return err
	}
	if amount <= 0 {
		return core.FieldErrorf("amount", "must be positive")
	}
	a, err := s.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if a.Code != CodeFunder && a.Code != CodeArrears {
		return core.FieldErrorf("account", "only receivables (%s, %s) can be written off", CodeFunder, CodeArrears)
	}
	if owed := a.DebitsPosted - a.CreditsPosted; amount > owed {
		return core.FieldErrorf("amount", "more than the %s CNY owed", owed.Yuan())
	}
	return s.ApplyTransfers(ctx, []ledger.Transfer{{ID: "writeoff:" + accountID + ":" + ref, DebitAccountID: AdjustmentsID,
		CreditAccountID: accountID, Amount: amount, Code: "writeoff", Reason: reason, Actor: actor}})
}

// ReceivePayment records money received against a receivable (a funding
// body paying redeemed vouchers, a tenant paying arrears).
func (s *Store) ReceivePayment(ctx context.Context, accountID string, amount core.Micros, ref, actor string) error {
	if err := checkCorrection(ref, "payment received", actor); err != nil {
		return err
	}
	if amount <= 0 {
		return core.FieldErrorf("amount", "must be positive")
	}
	a, err := s.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if a.Code != CodeFunder && a.Code != CodeArrears {
		return core.FieldErrorf("account", "payments are received against receivables only")
	}
	if owed := a.DebitsPosted - a.CreditsPosted; amount > owed {
		return core.FieldErrorf("amount", "more than the %s CNY owed", owed.Yuan())
	}
	return s.ApplyTransfers(ctx, []ledger.Transfer{{ID: "payment:" + accountID + ":" + ref, DebitAccountID: ledger.BankClearingID,
		CreditAccountID: accountID, Amount: amount, Code: "payment_received", Reason: "payment " + ref, Actor: actor}})
}

// RecordPayout marks a provider's statement for a period paid: its payable
// is debited to the payouts account. One payout per provider and period;
// never more than the payable holds.
func (s *Store) RecordPayout(ctx context.Context, p Payout, actor string) (Payout, error) {
	if err := checkCorrection(p.Reference, "payout", actor); err != nil {
		return p, err
	}
	if p.Amount <= 0 {
		return p, core.FieldErrorf("amount", "must be positive")
	}
	if !p.PeriodEnd.After(p.PeriodStart) {
		return p, core.FieldErrorf("period_end", "must be after period_start")
	}
	p.ID, p.CreatedBy = fmt.Sprintf("payout:%s:%d-%d", p.ProviderOrgID, ms(p.PeriodStart), ms(p.PeriodEnd)), actor
	err := s.update(ctx, func(t *tx) error {
		p.CreatedAt = t.now
		if _, err := t.ExecContext(ctx, `INSERT INTO payouts(id, provider_org_id, period_start, period_end, amount, reference,
			created_by, created_at) VALUES (?,?,?,?,?,?,?,?)`, p.ID, p.ProviderOrgID, ms(p.PeriodStart), ms(p.PeriodEnd),
			int64(p.Amount), p.Reference, actor, ms(t.now)); err != nil {
			if isUnique(err) {
				return core.Errorf(core.EConflict, "a payout for this provider and period exists")
			}
			return err
		}
		if err := ledger.Apply(ctx, ledgerTx{t}, t.now, ledger.Transfer{ID: p.ID, DebitAccountID: ledger.PayableID(p.ProviderOrgID),
			CreditAccountID: PayoutsID, Amount: p.Amount, Code: "payout", Reason: "payout " + p.Reference, Actor: actor}); err != nil {
			if core.ErrorCode(err) == core.EInsufficientFunds {
				return core.FieldErrorf("amount", "more than the provider's payable balance")
			}
			return err
		}
		return nil
	})
	return p, err
}

// Payouts lists payouts, for one provider or (empty) all.
func (s *Store) Payouts(ctx context.Context, providerOrgID string) ([]Payout, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, provider_org_id, period_start, period_end, amount, reference, created_by,
		created_at FROM payouts WHERE ? = '' OR provider_org_id = ? ORDER BY period_start`, providerOrgID, providerOrgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Payout
	for rows.Next() {
		var p Payout
		var start, end, amount, created int64
		if err := rows.Scan(&p.ID, &p.ProviderOrgID, &start, &end, &amount, &p.Reference, &p.CreatedBy, &created); err != nil {
			return nil, err
		}
		p.PeriodStart, p.PeriodEnd, p.Amount, p.CreatedAt = fromMs(start), fromMs(end), core.Micros(amount), fromMs(created)
		out = append(out, p)
	}
	return out, rows.Err()
}
