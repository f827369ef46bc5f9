package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

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
	t, err := s.r.BeginTx(ctx, s.snapshot())
	if err != nil {
		return nil, nil, err
	}
	defer t.Rollback() //nolint:errcheck // read-only
	return readLedgerIn(ctx, t)
}

// snapshot is the options of a read transaction that sees one consistent
// state across its queries: SQLite's read transactions do; PostgreSQL's
// default (read committed) does not.
func (s *Store) snapshot() *sql.TxOptions {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == dialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return opts
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
		AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = p.id AND r.pending_id <> '')
		ORDER BY expires_at LIMIT ?`, ms(now), ExpireBatchMax)
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
		if err := b.prefetch(ctx, [][]ledger.Transfer{batch}); err != nil {
			return err
		}
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
	return s.applyTransferBatches(ctx, batches, nil)
}

// applyTransferBatches is ApplyTransferBatches with statements prepared
// beforehand on the writer (nil: prepare them in the transaction).
func (s *Store) applyTransferBatches(ctx context.Context, batches [][]ledger.Transfer, prepared *batchStmts) ([]error, error) {
	if len(batches) > TransferBatchesMax {
		return nil, core.Errorf(core.EInvalid, "%d batches exceed %d", len(batches), TransferBatchesMax)
	}
	results := make([]error, len(batches))
	if len(batches) == 0 {
		return results, nil
	}
	err := s.update(ctx, func(t *tx) error {
		b := newBatchTx(t)
		b.prepared = prepared
		defer b.close()
		if err := b.prefetch(ctx, batches); err != nil {
			return err
		}
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
	prepared *batchStmts // prepared on the writer, or nil
	stmts    batchStmts  // used in this transaction
	accounts map[string]*cachedAccount
	journal  []ledger.Transfer // not yet inserted, in order
	byID     map[string]int    // index in journal
	resolved map[string]int    // pending id -> index in journal of its post or void
	hash     string            // the chain's last hash
	hashOK   bool              // hash has been read

	// What prefetch read of the database, which the transaction does not
	// change before flush; nil means known to be absent.
	stored     map[string]*ledger.Transfer // by id
	resolution map[string]*ledger.Transfer // by pending id

	// Undo state of the current batch.
	mark     int
	markHash string
	undo     map[string]cachedAccount // before the batch's first change
}

type cachedAccount struct {
	a     ledger.Account
	dirty bool
}

// batchStmts are the statements of a batchTx, by the constants below.
type batchStmts [stmtCount]*sql.Stmt

// prepareBatchStmts prepares every statement of a batchTx on the writer,
// to be used in many transactions; the caller closes them.
func (s *Store) prepareBatchStmts(ctx context.Context) (*batchStmts, error) {
	var p batchStmts
	for i, q := range batchSQLFor(s.dialect) {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			p.close()
			return nil, err
		}
		p[i] = st
	}
	return &p, nil
}

func (p *batchStmts) close() {
	for _, st := range p {
		if st != nil {
			st.Close()
		}
	}
}

const (
	stmtAccount = iota
	stmtUpdate
	stmtTransfer
	stmtResolution
	stmtLastHash
	stmtInsert
	stmtInsertMany
	stmtPrefetchTransfers
	stmtPrefetchResolutions
	stmtPrefetchAccounts
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
	// One statement for any number of keys: the keys are one JSON array.
	stmtPrefetchTransfers:   `SELECT ` + transferCols + ` FROM transfers WHERE id IN (SELECT value FROM json_each(?))`,
	stmtPrefetchResolutions: `SELECT ` + transferCols + ` FROM transfers WHERE pending_id IN (SELECT value FROM json_each(?)) AND pending_id <> ''`,
	stmtPrefetchAccounts:    `SELECT ` + accountCols + ` FROM accounts WHERE id IN (SELECT value FROM json_each(?))`,
}

// batchSQLPG is batchSQL for PostgreSQL, whose JSON array function has
// another name.
var batchSQLPG = func() [stmtCount]string {
	q := batchSQL
	for _, i := range []int{stmtPrefetchTransfers, stmtPrefetchResolutions, stmtPrefetchAccounts} {
		q[i] = strings.Replace(q[i], "json_each(?)", "json_array_elements_text(CAST(? AS json))", 1)
	}
	return q
}()

func batchSQLFor(d dialect) *[stmtCount]string {
	if d == dialectPostgres {
		return &batchSQLPG
	}
	return &batchSQL
}

var _ ledger.Tx = (*batchTx)(nil)

func newBatchTx(t *tx) *batchTx {
	return &batchTx{t: t, accounts: map[string]*cachedAccount{}, byID: map[string]int{}, resolved: map[string]int{},
		undo: map[string]cachedAccount{}, stored: map[string]*ledger.Transfer{}, resolution: map[string]*ledger.Transfer{}}
}

// prefetch reads, in three queries, what applying batches will look up one
// by one otherwise: the transfers they name by id or pending id, the
// resolutions of those pending transfers, and the accounts involved.
func (b *batchTx) prefetch(ctx context.Context, batches [][]ledger.Transfer) error {
	var ids, pending []string
	for _, batch := range batches {
		for _, t := range batch {
			if jsonSafe(t.ID) {
				ids = append(ids, t.ID)
			}
			if t.PendingID != "" && jsonSafe(t.PendingID) {
				ids, pending = append(ids, t.PendingID), append(pending, t.PendingID)
			}
		}
	}
	for _, id := range ids {
		b.stored[id] = nil
	}
	err := b.prefetchTransfers(ctx, stmtPrefetchTransfers, ids, func(t *ledger.Transfer) { b.stored[t.ID] = t })
	if err != nil {
		return err
	}
	for _, id := range pending {
		b.resolution[id] = nil
	}
	err = b.prefetchTransfers(ctx, stmtPrefetchResolutions, pending, func(t *ledger.Transfer) { b.resolution[t.PendingID] = t })
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var accts []string
	note := func(id string) {
		if _, cached := b.accounts[id]; id != "" && !cached && !seen[id] && jsonSafe(id) {
			seen[id] = true
			accts = append(accts, id)
		}
	}
	for _, batch := range batches {
		for _, t := range batch {
			note(t.DebitAccountID)
			note(t.CreditAccountID)
			if p := b.stored[t.PendingID]; p != nil {
				note(p.DebitAccountID)
				note(p.CreditAccountID)
			}
		}
	}
	if len(accts) == 0 {
		return nil
	}
	rows, err := b.query(ctx, stmtPrefetchAccounts, accts)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAccount(rows, "")
		if err != nil {
			return err
		}
		b.accounts[a.ID] = &cachedAccount{a: a}
	}
	return rows.Err()
}

// jsonSafe reports whether s survives a round trip through a JSON array
// and SQLite's json_each unchanged; prefetch leaves other keys to the
// one-by-one lookups (encoding/json replaces invalid UTF-8, and NUL ends
// a string in parts of SQLite).
func jsonSafe(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func (b *batchTx) prefetchTransfers(ctx context.Context, which int, keys []string, got func(*ledger.Transfer)) error {
	if len(keys) == 0 {
		return nil
	}
	rows, err := b.query(ctx, which, keys)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return err
		}
		got(&t)
	}
	return rows.Err()
}

func (b *batchTx) query(ctx context.Context, which int, keys []string) (*sql.Rows, error) {
	arg, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	st, err := b.stmt(ctx, which)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, string(arg))
}

func (b *batchTx) stmt(ctx context.Context, i int) (*sql.Stmt, error) {
	if b.stmts[i] == nil {
		var st *sql.Stmt
		var err error
		if b.prepared != nil {
			st = b.t.StmtContext(ctx, b.prepared[i]) // reuses the statement prepared on the connection
		} else {
			st, err = b.t.PrepareContext(ctx, batchSQLFor(b.t.dialect)[i])
		}
		if err != nil {
			return nil, err
		}
		b.stmts[i] = st
	}
	return b.stmts[i], nil
}

func (b *batchTx) close() { b.stmts.close() }

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
	if t, ok := b.stored[id]; ok {
		if t == nil {
			return ledger.Transfer{}, false, nil
		}
		return *t, true, nil
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
	if t, ok := b.resolution[pendingID]; ok {
		if t == nil {
			return ledger.Transfer{}, false, nil
		}
		return *t, true, nil
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

// Bounds of a LedgerWriter.
const (
	// WriterQueueMax bounds the linked batches waiting for the writer.
	WriterQueueMax = 4096
	// WriterGroupMax bounds the linked batches in one group commit.
	WriterGroupMax = 1024
)

// ErrWriterClosed is returned by LedgerWriter.Apply after Close.
var ErrWriterClosed = errors.New("ledger writer closed")

// LedgerWriter group-commits linked batches of transfers from many
// goroutines: one goroutine drains a bounded queue into ApplyTransferBatches,
// so batches that arrive while a transaction commits share the next
// transaction and its fsync. Each batch still succeeds or fails on its own.
type LedgerWriter struct {
	s       *Store
	stmts   *batchStmts
	queue   chan *writeRequest
	stopped chan struct{}
	mu      sync.RWMutex // held for reading while sending on queue
	closed  bool
	txns    atomic.Int64
	batches atomic.Int64
}

type writeRequest struct {
	ctx   context.Context
	batch []ledger.Transfer
	done  chan error // buffered: the writer never waits for the caller
}

// NewLedgerWriter starts a writer; Close stops it.
func (s *Store) NewLedgerWriter(ctx context.Context) (*LedgerWriter, error) {
	stmts, err := s.prepareBatchStmts(ctx)
	if err != nil {
		return nil, err
	}
	w := &LedgerWriter{s: s, stmts: stmts, queue: make(chan *writeRequest, WriterQueueMax), stopped: make(chan struct{})}
	go w.run()
	return w, nil
}

// Apply applies one linked batch, all of it or none, and returns once it
// is committed (or rejected). If ctx ends while the batch is queued or
// committing, Apply returns ctx's error and the batch may still commit:
// retry with the same transfer ids, which makes the retry a no-op.
func (w *LedgerWriter) Apply(ctx context.Context, batch []ledger.Transfer) error {
	if len(batch) > ledger.BatchMax {
		return core.Errorf(core.EInvalid, "batch of %d transfers exceeds %d", len(batch), ledger.BatchMax)
	}
	r := &writeRequest{ctx: ctx, batch: batch, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrWriterClosed
	}
	select {
	case w.queue <- r:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WriterStats counts what a LedgerWriter has committed.
type WriterStats struct {
	Transactions int64 // group commits
	Batches      int64 // linked batches applied or rejected in them
}

// Stats returns the writer's counts so far.
func (w *LedgerWriter) Stats() WriterStats {
	return WriterStats{Transactions: w.txns.Load(), Batches: w.batches.Load()}
}

// Close stops accepting batches, commits those already queued, and waits
// for the writer to stop.
func (w *LedgerWriter) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.stopped
}

func (w *LedgerWriter) run() {
	defer close(w.stopped)
	defer w.stmts.close()
	group := make([]*writeRequest, 0, WriterGroupMax)
	batches := make([][]ledger.Transfer, 0, WriterGroupMax)
	for r := range w.queue {
		group = append(group[:0], r)
	drain:
		for len(group) < WriterGroupMax {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		batches = batches[:0]
		live := group[:0]
		for _, r := range group {
			if err := r.ctx.Err(); err != nil { // gave up while queued: not applied
				r.done <- err
				continue
			}
			live = append(live, r)
			batches = append(batches, r.batch)
		}
		if len(live) == 0 {
			continue
		}
		// One caller's deadline must not abort the others' transaction.
		results, err := w.s.applyTransferBatches(context.Background(), batches, w.stmts)
		w.txns.Add(1)
		w.batches.Add(int64(len(live)))
		for i, r := range live {
			if err != nil {
				r.done <- err
			} else {
				r.done <- results[i]
			}
		}
	}
}
