package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// ledgerTx adapts a write transaction to ledger.Tx.
type ledgerTx struct{ t *tx }

var _ ledger.Tx = ledgerTx{}

func (l ledgerTx) Account(ctx context.Context, id string) (ledger.Account, error) {
	return scanAccount(l.t.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id), id)
}

func (l ledgerTx) UpdateBalances(ctx context.Context, a ledger.Account) error {
	_, err := l.t.ExecContext(ctx, `UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?,
		credits_posted = ? WHERE id = ?`, int64(a.DebitsPending), int64(a.DebitsPosted), int64(a.CreditsPending),
		int64(a.CreditsPosted), a.ID)
	return err
}

func (l ledgerTx) Transfer(ctx context.Context, id string) (ledger.Transfer, bool, error) {
	return scanTransferOpt(l.t.QueryRowContext(ctx, `SELECT `+transferCols+` FROM transfers WHERE id = ?`, id))
}

func (l ledgerTx) Resolution(ctx context.Context, pendingID string) (ledger.Transfer, bool, error) {
	return scanTransferOpt(l.t.QueryRowContext(ctx, `SELECT `+transferCols+` FROM transfers WHERE pending_id = ?`, pendingID))
}

func (l ledgerTx) InsertTransfer(ctx context.Context, t ledger.Transfer) error {
	var exp int64
	if !t.ExpiresAt.IsZero() {
		exp = ms(t.ExpiresAt)
	}
	_, err := l.t.ExecContext(ctx, `INSERT INTO transfers(id, debit_account_id, credit_account_id, amount, pending_id,
		flags, code, job_id, expires_at, reason, actor, created_at, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, t.ID,
		t.DebitAccountID, t.CreditAccountID, int64(t.Amount), t.PendingID, int64(t.Flags), t.Code, t.JobID, exp,
		t.Reason, t.Actor, ms(t.CreatedAt), t.Hash)
	return err
}

func (l ledgerTx) LastHash(ctx context.Context) (string, error) {
	var h string
	err := l.t.QueryRowContext(ctx, `SELECT hash FROM transfers ORDER BY seq DESC LIMIT 1`).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return h, err
}

const accountCols = `id, ledger, code, org_id, flags, debits_pending, debits_posted, credits_pending, credits_posted`

func scanAccount(sc interface{ Scan(...any) error }, id string) (ledger.Account, error) {
	var a ledger.Account
	var flags, dp, dpo, cp, cpo int64
	err := sc.Scan(&a.ID, &a.Ledger, &a.Code, &a.OrgID, &flags, &dp, &dpo, &cp, &cpo)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("account", id)
	}
	a.Flags = ledger.AccountFlags(flags)
	a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted = core.Micros(dp), core.Micros(dpo), core.Micros(cp), core.Micros(cpo)
	return a, err
}

const transferCols = `id, debit_account_id, credit_account_id, amount, pending_id, flags, code, job_id, expires_at,
	reason, actor, created_at, hash`

func scanTransfer(sc interface{ Scan(...any) error }) (ledger.Transfer, error) {
	var t ledger.Transfer
	var amount, flags, exp, created int64
	err := sc.Scan(&t.ID, &t.DebitAccountID, &t.CreditAccountID, &amount, &t.PendingID, &flags, &t.Code, &t.JobID, &exp,
		&t.Reason, &t.Actor, &created, &t.Hash)
	t.Amount, t.Flags, t.CreatedAt = core.Micros(amount), ledger.TransferFlags(flags), fromMs(created)
	if exp != 0 {
		t.ExpiresAt = fromMs(exp)
	}
	return t, err
}

func scanTransferOpt(sc interface{ Scan(...any) error }) (ledger.Transfer, bool, error) {
	t, err := scanTransfer(sc)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	return t, err == nil, err
}

// Account returns one ledger account.
func (s *Store) Account(ctx context.Context, id string) (ledger.Account, error) {
	return scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id), id)
}

// Accounts returns every ledger account.
func (s *Store) Accounts(ctx context.Context) ([]ledger.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Account
	for rows.Next() {
		a, err := scanAccount(rows, "")
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Transfers lists transfers, newest first, and the total that match.
func (s *Store) Transfers(ctx context.Context, f store.TransferFilter) ([]ledger.Transfer, int, error) {
	if f.Limit <= 0 || f.Limit > store.TransfersPageMax {
		f.Limit = store.TransfersPageMax
	}
	where := `(? = '' OR debit_account_id = ? OR credit_account_id = ?) AND (? = '' OR job_id = ?)`
	args := []any{f.AccountID, f.AccountID, f.AccountID, f.JobID, f.JobID}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM transfers WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+transferCols+` FROM transfers WHERE `+where+` ORDER BY seq DESC LIMIT ? OFFSET ?`,
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []ledger.Transfer
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	return out, total, rows.Err()
}

// CheckLedger reads the whole ledger in one read transaction and verifies
// its invariants (see ledger.Audit); nil when sound.
func (s *Store) CheckLedger(ctx context.Context) error {
	problems, err := s.AuditLedger(ctx)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d ledger problems: %s", len(problems), strings.Join(problems, "; "))
	}
	return nil
}

// AuditLedger reads the whole ledger in one read transaction and returns
// every invariant violation (see ledger.Audit).
func (s *Store) AuditLedger(ctx context.Context) ([]string, error) {
	accts, ts, err := s.readLedger(ctx)
	if err != nil {
		return nil, err
	}
	return ledger.Audit(accts, ts), nil
}

func (s *Store) readLedger(ctx context.Context) ([]ledger.Account, []ledger.Transfer, error) {
	t, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer t.Rollback() //nolint:errcheck // read-only
	rows, err := t.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts`)
	if err != nil {
		return nil, nil, err
	}
	var accts []ledger.Account
	for rows.Next() {
		a, err := scanAccount(rows, "")
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		accts = append(accts, a)
	}
	rows.Close()
	rows, err = t.QueryContext(ctx, `SELECT `+transferCols+` FROM transfers ORDER BY seq`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var ts []ledger.Transfer
	for rows.Next() {
		tr, err := scanTransfer(rows)
		if err != nil {
			return nil, nil, err
		}
		ts = append(ts, tr)
	}
	return accts, ts, rows.Err()
}

// TopUp credits a tenant's wallet from bank clearing. ref is the caller's
// reference (a bank transfer number) and makes the top-up idempotent.
func (s *Store) TopUp(ctx context.Context, orgID string, amount core.Micros, ref string) (ledger.Account, error) {
	if amount <= 0 {
		return ledger.Account{}, core.FieldErrorf("amount", "must be positive")
	}
	if ref == "" || len(ref) > 128 {
		return ledger.Account{}, core.FieldErrorf("reference", "must be 1..128 bytes")
	}
	o, err := s.Org(ctx, orgID)
	if err != nil {
		return ledger.Account{}, err
	}
	if o.Role != core.RoleTenant {
		return ledger.Account{}, core.FieldErrorf("org_id", "%s is not a tenant", orgID)
	}
	err = s.update(ctx, func(t *tx) error {
		return ledger.Apply(ctx, ledgerTx{t}, t.now, ledger.Transfer{
			ID: "topup:" + orgID + ":" + ref, DebitAccountID: ledger.BankClearingID,
			CreditAccountID: ledger.WalletID(orgID), Amount: amount, Code: "topup",
		})
	})
	if err != nil {
		return ledger.Account{}, err
	}
	return s.Account(ctx, ledger.WalletID(orgID))
}

// ApplyTransfers applies a linked batch of transfers in one transaction:
// all of them or none (see ledger.Apply).
func (s *Store) ApplyTransfers(ctx context.Context, batch []ledger.Transfer) error {
	return s.update(ctx, func(t *tx) error {
		return ledger.Apply(ctx, ledgerTx{t}, t.now, batch...)
	})
}

// OpenAccount opens a ledger account (idempotent: an existing account with
// the same id is left as it is).
func (s *Store) OpenAccount(ctx context.Context, a ledger.Account) error {
	if a.ID == "" || a.Code == "" {
		return core.FieldErrorf("id", "account id and code are required")
	}
	if a.Ledger == "" {
		a.Ledger = ledger.LedgerCNY
	}
	return s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO accounts(id, ledger, code, org_id, flags) VALUES (?,?,?,?,?)
			ON CONFLICT(id) DO NOTHING`, a.ID, a.Ledger, a.Code, a.OrgID, int64(a.Flags))
		return err
	})
}

// ExpireBatchMax bounds one expiry sweep.
const ExpireBatchMax = 500

// ExpireHolds voids pending transfers whose expiry has passed and that are
// still unresolved, each exactly once; it returns how many it voided.
func (s *Store) ExpireHolds(ctx context.Context) (int, error) {
	now := s.Now()
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM transfers p WHERE flags = 1 AND expires_at > 0 AND expires_at <= ?
		AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id) ORDER BY expires_at LIMIT ?`, ms(now), ExpireBatchMax)
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return 0, err
	}
	n := 0
	err = s.update(ctx, func(t *tx) error {
		n = 0
		for _, id := range ids {
			if err := ledger.Expire(ctx, ledgerTx{t}, t.now, id); err != nil {
				if core.ErrorCode(err) == core.EConflict { // resolved in the meantime
					continue
				}
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
