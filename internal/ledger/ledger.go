// Package ledger is suanli's double-entry core in the TigerBeetle model:
// accounts with pending and posted debits and credits, and immutable
// transfers that move an amount from one account to another. Transfers are
// applied through a Tx that the store implements inside its own database
// transaction, so money moves atomically with the state change that causes
// it. A batch passed to Apply is linked: if one transfer fails, the caller
// rolls the whole database transaction back.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// AccountFlags constrain an account's balance.
type AccountFlags uint32

// Account flags.
const (
	// DebitsMustNotExceedCredits keeps a credit-normal account (a wallet)
	// from going negative; pending debits (holds) count against it.
	DebitsMustNotExceedCredits AccountFlags = 1 << iota
	// CreditsMustNotExceedDebits is the mirror for debit-normal accounts.
	CreditsMustNotExceedDebits
)

// Account codes: what an account is for.
const (
	CodeTenantWallet    = "tenant_wallet"    // a tenant's prepaid balance (credit-normal)
	CodeEscrow          = "escrow"           // holds in flight between capture and split
	CodeProviderPayable = "provider_payable" // owed to a provider (credit-normal)
	CodeCommission      = "commission"       // the operator's commission revenue
	CodeBankClearing    = "bank_clearing"    // money in from outside; debit-normal
)

// Well-known account IDs.
const (
	EscrowID       = "escrow"
	CommissionID   = "operator:commission"
	BankClearingID = "bank:clearing"
)

// WalletID returns the wallet account of a tenant org.
func WalletID(orgID string) string { return "tenant:" + orgID + ":wallet" }

// PayableID returns the payable account of a provider org.
func PayableID(orgID string) string { return "provider:" + orgID + ":payable" }

// Ledgers: accounts only transact within one ledger (one asset).
const (
	LedgerCNY     = "CNY"     // money, in 1e-6 CNY
	LedgerVoucher = "VOUCHER" // 算力券 entitlements, in 1e-6 CNY of subsidy
	LedgerUnits   = "UNITS"   // prepaid bundle units, in card-milliseconds
)

// Account is a ledger account with its cached balances.
type Account struct {
	ID             string       `json:"id"`
	Ledger         string       `json:"ledger"`
	Code           string       `json:"code"`
	OrgID          string       `json:"org_id,omitempty"`
	Flags          AccountFlags `json:"flags"`
	DebitsPending  core.Micros  `json:"debits_pending"`
	DebitsPosted   core.Micros  `json:"debits_posted"`
	CreditsPending core.Micros  `json:"credits_pending"`
	CreditsPosted  core.Micros  `json:"credits_posted"`
}

// Available is what a credit-normal account can still spend: posted
// credits less posted and pending debits.
func (a Account) Available() core.Micros {
	return a.CreditsPosted - a.DebitsPosted - a.DebitsPending
}

// TransferFlags say what kind of transfer it is.
type TransferFlags uint32

// Transfer flags. A transfer without flags posts at once.
const (
	Pending     TransferFlags = 1 << iota // reserve the amount (a hold)
	PostPending                           // post a hold, fully or partly; the rest is released
	VoidPending                           // release a hold
)

// Transfer moves Amount from DebitAccountID to CreditAccountID. ID is chosen
// by the caller and makes the transfer idempotent.
type Transfer struct {
	ID              string        `json:"id"`
	DebitAccountID  string        `json:"debit_account_id"`
	CreditAccountID string        `json:"credit_account_id"`
	Amount          core.Micros   `json:"amount"`
	PendingID       string        `json:"pending_id,omitempty"`
	Flags           TransferFlags `json:"flags"`
	Code            string        `json:"code"`             // why: hold, capture, provider_share, commission, topup, …
	JobID           string        `json:"job_id,omitempty"` // the job that caused it
	// ExpiresAt, on a pending transfer, is when an unresolved hold is
	// voided by the expiry sweep; zero means it never expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Reason    string    `json:"reason,omitempty"` // required on corrections
	Actor     string    `json:"actor,omitempty"`  // the org (operator) that made a correction
	CreatedAt time.Time `json:"created_at"`
	// Hash chains the journal: sha256 of the previous transfer's hash and
	// this transfer's fields. Set by Apply.
	Hash string `json:"hash"`
}

// Tx is what Apply needs from the store's open transaction. The store's
// transaction must serialize writers (SQLite's single writer, or row locks
// in PostgreSQL), so reads here see no concurrent change.
type Tx interface {
	Account(ctx context.Context, id string) (Account, error) // core.ENotFound when missing
	UpdateBalances(ctx context.Context, a Account) error
	Transfer(ctx context.Context, id string) (Transfer, bool, error)
	// Resolution returns the post or void transfer of a pending transfer.
	Resolution(ctx context.Context, pendingID string) (Transfer, bool, error)
	InsertTransfer(ctx context.Context, t Transfer) error
	// LastHash returns the hash of the most recently inserted transfer, ""
	// for an empty journal.
	LastHash(ctx context.Context) (string, error)
}

// BatchMax bounds a linked batch.
const BatchMax = 64

// Apply applies a linked batch of transfers in order. A transfer whose ID
// already exists with the same fields is skipped (idempotent retry); with
// different fields it is a conflict. Any error means the caller must roll
// back its transaction.
func Apply(ctx context.Context, tx Tx, now time.Time, batch ...Transfer) error {
	if len(batch) > BatchMax {
		return core.Errorf(core.EInvalid, "batch of %d transfers exceeds %d", len(batch), BatchMax)
	}
	for _, t := range batch {
		t.CreatedAt = now
		if err := apply(ctx, tx, t); err != nil {
			return fmt.Errorf("transfer %s: %w", t.ID, err)
		}
	}
	return nil
}

// Codes used by the ledger itself.
const (
	CodeExpire = "expire" // an unresolved hold voided at its expiry
)

// Expire voids a pending transfer whose expiry has passed, exactly once:
// the void's id derives from the hold's id, so a repeated sweep is a no-op.
func Expire(ctx context.Context, tx Tx, now time.Time, pendingID string) error {
	p, ok, err := tx.Transfer(ctx, pendingID)
	if err != nil {
		return err
	}
	if !ok || p.Flags != Pending {
		return core.Errorf(core.ENotFound, "pending transfer %q not found", pendingID)
	}
	if p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt) {
		return core.Errorf(core.EConflict, "pending transfer %s has not expired", pendingID)
	}
	return Apply(ctx, tx, now, Transfer{ID: "expire:" + pendingID, PendingID: pendingID, Flags: VoidPending,
		Code: CodeExpire, JobID: p.JobID, Reason: "hold expired at " + p.ExpiresAt.UTC().Format(time.RFC3339)})
}

func apply(ctx context.Context, tx Tx, t Transfer) error {
	if t.ID == "" {
		return core.FieldErrorf("id", "transfer id is required")
	}
	if old, ok, err := tx.Transfer(ctx, t.ID); err != nil {
		return err
	} else if ok {
		if (t.Flags == PostPending || t.Flags == VoidPending) && t.DebitAccountID == "" && t.CreditAccountID == "" {
			// A resolution may name only its hold; Apply stored it with
			// the hold's accounts filled in.
			t.DebitAccountID, t.CreditAccountID = old.DebitAccountID, old.CreditAccountID
		}
		if diff := differs(old, t); diff != "" {
			return core.Errorf(core.EConflict, "transfer %s exists with different %s", t.ID, diff)
		}
		return nil
	}
	switch t.Flags {
	case 0, Pending:
		return applyNew(ctx, tx, t)
	case PostPending, VoidPending:
		return applyResolve(ctx, tx, t)
	default:
		return core.FieldErrorf("flags", "unknown flags %d", t.Flags)
	}
}

func differs(a, b Transfer) string {
	switch {
	case a.DebitAccountID != b.DebitAccountID:
		return "debit_account_id"
	case a.CreditAccountID != b.CreditAccountID:
		return "credit_account_id"
	case a.Amount != b.Amount:
		return "amount"
	case a.Flags != b.Flags:
		return "flags"
	case a.PendingID != b.PendingID:
		return "pending_id"
	case a.Code != b.Code:
		return "code"
	case a.JobID != b.JobID:
		return "job_id"
	case !a.ExpiresAt.Equal(b.ExpiresAt):
		return "expires_at"
	case a.Reason != b.Reason:
		return "reason"
	case a.Actor != b.Actor:
		return "actor"
	}
	return ""
}

func applyNew(ctx context.Context, tx Tx, t Transfer) error {
	if t.Amount <= 0 {
		return core.FieldErrorf("amount", "must be positive")
	}
	if t.DebitAccountID == t.CreditAccountID {
		return core.FieldErrorf("credit_account_id", "must differ from the debit account")
	}
	if !t.ExpiresAt.IsZero() && (t.Flags != Pending || !t.ExpiresAt.After(t.CreatedAt)) {
		return core.FieldErrorf("expires_at", "only a pending transfer expires, and only in the future")
	}
	dr, err := tx.Account(ctx, t.DebitAccountID)
	if err != nil {
		return err
	}
	cr, err := tx.Account(ctx, t.CreditAccountID)
	if err != nil {
		return err
	}
	if dr.Ledger != cr.Ledger {
		return core.FieldErrorf("credit_account_id", "accounts are on different ledgers (%s, %s)", dr.Ledger, cr.Ledger)
	}
	var err1, err2 error
	if t.Flags == Pending {
		dr.DebitsPending, err1 = add(dr.DebitsPending, t.Amount)
		cr.CreditsPending, err2 = add(cr.CreditsPending, t.Amount)
	} else {
		dr.DebitsPosted, err1 = add(dr.DebitsPosted, t.Amount)
		cr.CreditsPosted, err2 = add(cr.CreditsPosted, t.Amount)
	}
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	return write(ctx, tx, dr, cr, t)
}

func applyResolve(ctx context.Context, tx Tx, t Transfer) error {
	p, ok, err := tx.Transfer(ctx, t.PendingID)
	if err != nil {
		return err
	}
	if !ok || p.Flags != Pending {
		return core.Errorf(core.ENotFound, "pending transfer %q not found", t.PendingID)
	}
	if r, done, err := tx.Resolution(ctx, p.ID); err != nil {
		return err
	} else if done {
		return core.Errorf(core.EConflict, "pending transfer %s was already resolved by %s", p.ID, r.ID)
	}
	if !p.ExpiresAt.IsZero() && !t.CreatedAt.Before(p.ExpiresAt) && t.Code != CodeExpire {
		return core.Errorf(core.EConflict, "pending transfer %s expired at %s", p.ID, p.ExpiresAt.UTC().Format(time.RFC3339))
	}
	// A resolution always moves between the hold's own accounts.
	t.DebitAccountID, t.CreditAccountID = p.DebitAccountID, p.CreditAccountID
	if t.Flags == VoidPending {
		t.Amount = 0
	} else if t.Amount <= 0 || t.Amount > p.Amount {
		return core.FieldErrorf("amount", "post of %d must be in 1..%d", t.Amount, p.Amount)
	}
	dr, err := tx.Account(ctx, p.DebitAccountID)
	if err != nil {
		return err
	}
	cr, err := tx.Account(ctx, p.CreditAccountID)
	if err != nil {
		return err
	}
	dr.DebitsPending -= p.Amount
	cr.CreditsPending -= p.Amount
	var err1, err2 error
	dr.DebitsPosted, err1 = add(dr.DebitsPosted, t.Amount)
	cr.CreditsPosted, err2 = add(cr.CreditsPosted, t.Amount)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if dr.DebitsPending < 0 || cr.CreditsPending < 0 {
		panic("ledger: pending balance below zero") // the hold was counted when created
	}
	return write(ctx, tx, dr, cr, t)
}

// write checks the accounts' limits after a transfer, then stores both
// balances and the transfer.
func write(ctx context.Context, tx Tx, dr, cr Account, t Transfer) error {
	if err := checkLimits(dr, cr); err != nil {
		return err
	}
	if err := tx.UpdateBalances(ctx, dr); err != nil {
		return err
	}
	if err := tx.UpdateBalances(ctx, cr); err != nil {
		return err
	}
	prev, err := tx.LastHash(ctx)
	if err != nil {
		return err
	}
	t.Hash = Hash(prev, t)
	return tx.InsertTransfer(ctx, t)
}

// Hash is the journal hash of t following a transfer with hash prev. It
// covers every field but Hash itself; times at millisecond precision, as
// stored.
func Hash(prev string, t Transfer) string {
	var exp int64
	if !t.ExpiresAt.IsZero() {
		exp = t.ExpiresAt.UnixMilli()
	}
	// The bytes are those of fmt's "%s\n%q|%q|%q|%d|%q|%d|%q|%q|%d|%q|%q|%d",
	// built with appends because this runs for every transfer. Changing
	// them breaks every existing chain.
	b := make([]byte, 0, 256)
	b = append(b, prev...)
	b = append(b, '\n')
	b = strconv.AppendQuote(b, t.ID)
	b = append(b, '|')
	b = strconv.AppendQuote(b, t.DebitAccountID)
	b = append(b, '|')
	b = strconv.AppendQuote(b, t.CreditAccountID)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(t.Amount), 10)
	b = append(b, '|')
	b = strconv.AppendQuote(b, t.PendingID)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(t.Flags), 10)
	b = append(b, '|')
	b = strconv.AppendQuote(b, t.Code)
	b = append(b, '|')
	b = strconv.AppendQuote(b, t.JobID)
	b = append(b, '|')
	b = strconv.AppendInt(b, exp, 10)
	b = append(b, '|')
	b = strconv.AppendQuote(b, t.Reason)
	b = append(b, '|')
	b = strconv.AppendQuote(b, t.Actor)
	b = append(b, '|')
	b = strconv.AppendInt(b, t.CreatedAt.UnixMilli(), 10)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// add adds two non-negative balances, refusing to overflow: a wrapped
// balance would slip past every limit check.
func add(a, b core.Micros) (core.Micros, error) {
	if b > math.MaxInt64-a {
		return 0, core.FieldErrorf("amount", "balance would overflow")
	}
	return a + b, nil
}

func checkLimits(dr, cr Account) error {
	if dr.Flags&DebitsMustNotExceedCredits != 0 && (dr.DebitsPending > math.MaxInt64-dr.DebitsPosted ||
		dr.DebitsPending+dr.DebitsPosted > dr.CreditsPosted) {
		return core.Errorf(core.EInsufficientFunds, "account %s: available %s CNY is not enough",
			dr.ID, (dr.CreditsPosted - dr.DebitsPosted - (dr.DebitsPending)).Exact())
	}
	if cr.Flags&CreditsMustNotExceedDebits != 0 && (cr.CreditsPending > math.MaxInt64-cr.CreditsPosted ||
		cr.CreditsPending+cr.CreditsPosted > cr.DebitsPosted) {
		return core.Errorf(core.EInsufficientFunds, "account %s: credits would exceed debits", cr.ID)
	}
	return nil
}

// ProblemsMax bounds an audit report.
const ProblemsMax = 100

// Audit verifies the ledger's invariants over a full read of accounts and of
// transfers in journal order, and returns every violation found (at most
// ProblemsMax): the hash chain is intact; every cached balance equals the
// fold over the transfers; debits equal credits per ledger, posted and
// pending; no limited account is over its limit; every resolution resolves
// a pending transfer once, for at most its amount, between its accounts.
func Audit(accounts []Account, transfers []Transfer) []string {
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < ProblemsMax {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	type bal struct{ dp, dpo, cp, cpo core.Micros }
	fold := make(map[string]*bal, len(accounts))
	get := func(id string) *bal {
		b := fold[id]
		if b == nil {
			b = &bal{}
			fold[id] = b
		}
		return b
	}
	byID := make(map[string]Transfer, len(transfers))
	resolved := make(map[string]string, len(transfers))
	prev := ""
	for _, t := range transfers {
		if want := Hash(prev, t); t.Hash != want {
			add("hash chain broken at transfer %s: stored %.12s…, computed %.12s…", t.ID, t.Hash, want)
		}
		prev = t.Hash
		if _, dup := byID[t.ID]; dup {
			add("transfer id %s appears twice", t.ID)
		}
		byID[t.ID] = t
		dr, cr := get(t.DebitAccountID), get(t.CreditAccountID)
		switch t.Flags {
		case 0:
			dr.dpo += t.Amount
			cr.cpo += t.Amount
		case Pending:
			dr.dp += t.Amount
			cr.cp += t.Amount
		case PostPending, VoidPending:
			p, ok := byID[t.PendingID]
			if !ok || p.Flags != Pending {
				add("transfer %s resolves unknown pending transfer %s", t.ID, t.PendingID)
				continue
			}
			if other, twice := resolved[p.ID]; twice {
				add("pending transfer %s resolved twice, by %s and %s", p.ID, other, t.ID)
			}
			resolved[p.ID] = t.ID
			if t.Amount > p.Amount || t.DebitAccountID != p.DebitAccountID || t.CreditAccountID != p.CreditAccountID {
				add("transfer %s posts %d of hold %s (%d) or between other accounts", t.ID, t.Amount, p.ID, p.Amount)
			}
			dr.dp -= p.Amount
			cr.cp -= p.Amount
			dr.dpo += t.Amount
			cr.cpo += t.Amount
		default:
			add("transfer %s has unknown flags %d", t.ID, t.Flags)
		}
	}
	type sums struct{ d, c, dp, cp core.Micros }
	perLedger := map[string]*sums{}
	seen := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		seen[a.ID] = true
		b := get(a.ID)
		if a.DebitsPending != b.dp || a.DebitsPosted != b.dpo || a.CreditsPending != b.cp || a.CreditsPosted != b.cpo {
			add("account %s: cached balances %d/%d/%d/%d differ from the journal %d/%d/%d/%d (debits pending/posted, credits pending/posted)",
				a.ID, a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted, b.dp, b.dpo, b.cp, b.cpo)
		}
		if a.Flags&DebitsMustNotExceedCredits != 0 && a.DebitsPending+a.DebitsPosted > a.CreditsPosted {
			add("account %s is overdrawn: debits %d (pending %d) exceed credits %d", a.ID,
				a.DebitsPending+a.DebitsPosted, a.DebitsPending, a.CreditsPosted)
		}
		if a.Flags&CreditsMustNotExceedDebits != 0 && a.CreditsPending+a.CreditsPosted > a.DebitsPosted {
			add("account %s: credits exceed debits", a.ID)
		}
		sm := perLedger[a.Ledger]
		if sm == nil {
			sm = &sums{}
			perLedger[a.Ledger] = sm
		}
		sm.d += a.DebitsPosted
		sm.c += a.CreditsPosted
		sm.dp += a.DebitsPending
		sm.cp += a.CreditsPending
	}
	for id := range fold {
		if !seen[id] {
			add("transfers reference account %s, which does not exist", id)
		}
	}
	for l, sm := range perLedger {
		if sm.d != sm.c || sm.dp != sm.cp {
			add("ledger %s unbalanced: posted debits %d credits %d, pending debits %d credits %d", l, sm.d, sm.c, sm.dp, sm.cp)
		}
	}
	sort.Strings(problems)
	return problems
}

// Check is Audit as an error: nil when the ledger is sound.
func Check(accounts []Account, transfers []Transfer) error {
	problems := Audit(accounts, transfers)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%d ledger problems: %s", len(problems), strings.Join(problems, "; "))
}
