package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
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
	return scanTransferOpt(l.t.QueryRowContext(ctx, selectResolution, pendingID))
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

// selectResolution repeats the partial index's condition so that SQLite
// uses transfers_resolution: with `pending_id = ?` alone it cannot prove the
// parameter is not ” and scans the whole journal.
const selectResolution = `SELECT ` + transferCols + ` FROM transfers WHERE pending_id = ? AND pending_id <> ''`

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
		AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id AND r.pending_id <> '') ORDER BY expires_at LIMIT ?`, ms(now), ExpireBatchMax)
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

// TransferBatchesMax bounds the linked batches in one ApplyTransferBatches
// call, and so the transfers (at most ledger.BatchMax each) held in memory
// until its commit.
const TransferBatchesMax = 8192

// ApplyTransfers applies a linked batch of transfers in one transaction:
// all of them or none (see ledger.Apply).
func (s *Store) ApplyTransfers(ctx context.Context, batch []ledger.Transfer) error {
	return s.update(ctx, func(t *tx) error {
		b := newBatchTx(t)
		defer b.close()
		if err := ledger.Apply(ctx, b, t.now, batch...); err != nil {
			return err
		}
		return b.flush(ctx)
	})
}

// ApplyTransferBatches applies independent linked batches in one database
// transaction, so one fsync covers them all (group commit). Each batch is
// all-or-nothing on its own: results[i] is the error that rejected batch i
// (an invalid transfer, insufficient funds, a conflict), and the other
// batches still commit. When err is not nil nothing was committed.
func (s *Store) ApplyTransferBatches(ctx context.Context, batches [][]ledger.Transfer) (results []error, err error) {
	if len(batches) > TransferBatchesMax {
		return nil, core.Errorf(core.EInvalid, "%d batches exceed %d", len(batches), TransferBatchesMax)
	}
	results = make([]error, len(batches))
	err = s.update(ctx, func(t *tx) error {
		b := newBatchTx(t)
		defer b.close()
		for i, batch := range batches {
			b.begin()
			if results[i] = ledger.Apply(ctx, b, t.now, batch...); results[i] != nil {
				if core.ErrorCode(results[i]) == core.EInternal {
					return results[i] // an I/O failure or a bug, not a rejected batch
				}
				b.rollback()
			}
		}
		return b.flush(ctx)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// batchTx is a ledger.Tx over one write transaction that applies many
// transfers. Nothing is written until flush: balances are cached and each
// changed account is updated once, new transfers are buffered (lookups see
// them) and inserted in journal order, and the chain's last hash is kept in
// memory. A batch that fails is undone in memory only (begin, rollback), so
// no SAVEPOINT is needed. Statements are prepared once per transaction. The
// transaction must not write accounts or transfers by other means between
// newBatchTx and flush.
type batchTx struct {
	t        *tx
	stmts    [stmtCount]*sql.Stmt
	accounts map[string]*cachedAccount
	journal  []ledger.Transfer // not yet inserted, in order
	byID     map[string]int    // index in journal
	resolved map[string]int    // pending id -> index in journal of its post or void
	hash     string            // the chain's last hash
	hashOK   bool              // hash has been read

	// Undo state of the current batch.
	mark     int
	markHash string
	undo     map[string]cachedAccount // before the batch's first change
}

type cachedAccount struct {
	a     ledger.Account
	dirty bool
}

const (
	stmtAccount = iota
	stmtUpdate
	stmtTransfer
	stmtResolution
	stmtLastHash
	stmtInsert
	stmtInsertMany
	stmtCount
)

// insertRows is how many transfers one multi-row INSERT writes (13
// parameters each, far below SQLite's 32766).
const insertRows = 32

const insertTransferSQL = `INSERT INTO transfers(id, debit_account_id, credit_account_id, amount, pending_id, flags,
	code, job_id, expires_at, reason, actor, created_at, hash) VALUES `

const insertTransferRow = `(?,?,?,?,?,?,?,?,?,?,?,?,?)`

var batchSQL = [stmtCount]string{
	stmtAccount:    `SELECT ` + accountCols + ` FROM accounts WHERE id = ?`,
	stmtUpdate:     `UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, credits_posted = ? WHERE id = ?`,
	stmtTransfer:   `SELECT ` + transferCols + ` FROM transfers WHERE id = ?`,
	stmtResolution: selectResolution,
	stmtLastHash:   `SELECT hash FROM transfers ORDER BY seq DESC LIMIT 1`,
	stmtInsert:     insertTransferSQL + insertTransferRow,
	stmtInsertMany: insertTransferSQL + insertTransferRow + strings.Repeat(","+insertTransferRow, insertRows-1),
}

var _ ledger.Tx = (*batchTx)(nil)

func newBatchTx(t *tx) *batchTx {
	return &batchTx{t: t, accounts: map[string]*cachedAccount{}, byID: map[string]int{}, resolved: map[string]int{},
		undo: map[string]cachedAccount{}}
}

func (b *batchTx) stmt(ctx context.Context, i int) (*sql.Stmt, error) {
	if b.stmts[i] == nil {
		st, err := b.t.PrepareContext(ctx, batchSQL[i])
		if err != nil {
			return nil, err
		}
		b.stmts[i] = st
	}
	return b.stmts[i], nil
}

func (b *batchTx) close() {
	for _, st := range b.stmts {
		if st != nil {
			st.Close()
		}
	}
}

// begin starts a batch that rollback can undo.
func (b *batchTx) begin() {
	b.mark, b.markHash = len(b.journal), b.hash
	clear(b.undo)
}

// rollback undoes everything since begin.
func (b *batchTx) rollback() {
	for id, c := range b.undo {
		*b.accounts[id] = c
	}
	for _, t := range b.journal[b.mark:] {
		delete(b.byID, t.ID)
		if t.PendingID != "" {
			delete(b.resolved, t.PendingID)
		}
	}
	b.journal = b.journal[:b.mark]
	b.hash = b.markHash
	clear(b.undo)
}

func (b *batchTx) Account(ctx context.Context, id string) (ledger.Account, error) {
	if c, ok := b.accounts[id]; ok {
		return c.a, nil
	}
	st, err := b.stmt(ctx, stmtAccount)
	if err != nil {
		return ledger.Account{}, err
	}
	a, err := scanAccount(st.QueryRowContext(ctx, id), id)
	if err != nil {
		return a, err
	}
	b.accounts[id] = &cachedAccount{a: a}
	return a, nil
}

func (b *batchTx) UpdateBalances(_ context.Context, a ledger.Account) error {
	c, ok := b.accounts[a.ID]
	if !ok {
		panic("sqlite: balances of account " + a.ID + " updated before it was read")
	}
	if _, saved := b.undo[a.ID]; !saved {
		b.undo[a.ID] = *c
	}
	c.a.DebitsPending, c.a.DebitsPosted, c.a.CreditsPending, c.a.CreditsPosted = a.DebitsPending, a.DebitsPosted,
		a.CreditsPending, a.CreditsPosted
	c.dirty = true
	return nil
}

func (b *batchTx) Transfer(ctx context.Context, id string) (ledger.Transfer, bool, error) {
	if i, ok := b.byID[id]; ok {
		return b.journal[i], true, nil
	}
	st, err := b.stmt(ctx, stmtTransfer)
	if err != nil {
		return ledger.Transfer{}, false, err
	}
	return scanTransferOpt(st.QueryRowContext(ctx, id))
}

func (b *batchTx) Resolution(ctx context.Context, pendingID string) (ledger.Transfer, bool, error) {
	if i, ok := b.resolved[pendingID]; ok {
		return b.journal[i], true, nil
	}
	st, err := b.stmt(ctx, stmtResolution)
	if err != nil {
		return ledger.Transfer{}, false, err
	}
	return scanTransferOpt(st.QueryRowContext(ctx, pendingID))
}

func (b *batchTx) InsertTransfer(_ context.Context, t ledger.Transfer) error {
	if _, dup := b.byID[t.ID]; dup {
		panic("sqlite: transfer " + t.ID + " inserted twice") // Apply looks it up first
	}
	// Stored times are milliseconds: keep what a read-back would return, so
	// an idempotent retry in the same transaction compares equal.
	t.CreatedAt = fromMs(ms(t.CreatedAt))
	if !t.ExpiresAt.IsZero() {
		t.ExpiresAt = fromMs(ms(t.ExpiresAt))
	}
	b.byID[t.ID] = len(b.journal)
	if t.PendingID != "" {
		b.resolved[t.PendingID] = len(b.journal)
	}
	b.journal = append(b.journal, t)
	b.hash, b.hashOK = t.Hash, true
	return nil
}

func (b *batchTx) LastHash(ctx context.Context) (string, error) {
	if b.hashOK {
		return b.hash, nil
	}
	st, err := b.stmt(ctx, stmtLastHash)
	if err != nil {
		return "", err
	}
	err = st.QueryRowContext(ctx).Scan(&b.hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	b.hashOK, b.markHash = true, b.hash
	return b.hash, nil
}

// flush writes the changed balances and the buffered transfers.
func (b *batchTx) flush(ctx context.Context) error {
	ids := make([]string, 0, len(b.accounts))
	for id, c := range b.accounts {
		if c.dirty {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > 0 {
		st, err := b.stmt(ctx, stmtUpdate)
		if err != nil {
			return err
		}
		for _, id := range ids {
			a := b.accounts[id].a
			if _, err := st.ExecContext(ctx, int64(a.DebitsPending), int64(a.DebitsPosted), int64(a.CreditsPending),
				int64(a.CreditsPosted), id); err != nil {
				return fmt.Errorf("update account %s: %w", id, err)
			}
		}
	}
	js := b.journal
	args := make([]any, 0, 13*insertRows)
	for len(js) > 0 {
		n, which := insertRows, stmtInsertMany
		if len(js) < insertRows {
			n, which = 1, stmtInsert
		}
		st, err := b.stmt(ctx, which)
		if err != nil {
			return err
		}
		args = args[:0]
		for _, t := range js[:n] {
			args = appendTransferArgs(args, t)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert transfers: %w", err)
		}
		js = js[n:]
	}
	b.journal = b.journal[:0]
	clear(b.byID)
	clear(b.resolved)
	return nil
}

func appendTransferArgs(args []any, t ledger.Transfer) []any {
	var exp int64
	if !t.ExpiresAt.IsZero() {
		exp = ms(t.ExpiresAt)
	}
	return append(args, t.ID, t.DebitAccountID, t.CreditAccountID, int64(t.Amount), t.PendingID, int64(t.Flags), t.Code,
		t.JobID, exp, t.Reason, t.Actor, ms(t.CreatedAt), t.Hash)
}
