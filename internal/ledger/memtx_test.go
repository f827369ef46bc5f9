package ledger_test

import (
	"context"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
)

// memTx is an in-memory ledger.Tx that behaves like the SQLite store's
// transaction: UpdateBalances writes only the four balance columns,
// InsertTransfer rejects a duplicate id (the primary key), and Resolution
// finds any transfer whose pending_id matches. apply wraps ledger.Apply in a
// transaction: it snapshots the state first and restores it on error, as the
// store's rollback does.
type memTx struct {
	accounts  map[string]ledger.Account
	transfers []ledger.Transfer // in insertion order
}

func newMemTx(accounts ...ledger.Account) *memTx {
	m := &memTx{accounts: map[string]ledger.Account{}}
	for _, a := range accounts {
		m.accounts[a.ID] = a
	}
	return m
}

func (m *memTx) Account(_ context.Context, id string) (ledger.Account, error) {
	a, ok := m.accounts[id]
	if !ok {
		return ledger.Account{}, core.Errorf(core.ENotFound, "account %q not found", id)
	}
	return a, nil
}

func (m *memTx) UpdateBalances(_ context.Context, a ledger.Account) error {
	old, ok := m.accounts[a.ID]
	if !ok {
		return core.Errorf(core.ENotFound, "account %q not found", a.ID)
	}
	old.DebitsPending, old.DebitsPosted = a.DebitsPending, a.DebitsPosted
	old.CreditsPending, old.CreditsPosted = a.CreditsPending, a.CreditsPosted
	m.accounts[a.ID] = old
	return nil
}

func (m *memTx) Transfer(_ context.Context, id string) (ledger.Transfer, bool, error) {
	for _, t := range m.transfers {
		if t.ID == id {
			return t, true, nil
		}
	}
	return ledger.Transfer{}, false, nil
}

func (m *memTx) Resolution(_ context.Context, pendingID string) (ledger.Transfer, bool, error) {
	for _, t := range m.transfers {
		if t.PendingID == pendingID {
			return t, true, nil
		}
	}
	return ledger.Transfer{}, false, nil
}

func (m *memTx) InsertTransfer(_ context.Context, t ledger.Transfer) error {
	if _, ok, _ := m.Transfer(context.Background(), t.ID); ok {
		return core.Errorf(core.EConflict, "UNIQUE constraint failed: transfers.id %s", t.ID)
	}
	m.transfers = append(m.transfers, t)
	return nil
}

func (m *memTx) LastHash(context.Context) (string, error) {
	if len(m.transfers) == 0 {
		return "", nil
	}
	return m.transfers[len(m.transfers)-1].Hash, nil
}

type memState struct {
	accounts  map[string]ledger.Account
	transfers []ledger.Transfer
}

func (m *memTx) save() memState {
	return memState{accounts: maps.Clone(m.accounts), transfers: slices.Clone(m.transfers)}
}

func (m *memTx) restore(s memState) { m.accounts, m.transfers = s.accounts, s.transfers }

// apply runs one batch in a transaction that rolls back on error.
func (m *memTx) apply(now time.Time, batch ...ledger.Transfer) error {
	s := m.save()
	err := ledger.Apply(context.Background(), m, now, batch...)
	if err != nil {
		m.restore(s)
	}
	return err
}

// must applies a batch that the test expects to succeed.
func (m *memTx) must(t testing.TB, batch ...ledger.Transfer) {
	t.Helper()
	if err := m.apply(t0, batch...); err != nil {
		t.Fatalf("apply %+v: %v", batch, err)
	}
}

// Accounts returns all accounts sorted by id, as a store would list them.
func (m *memTx) Accounts() []ledger.Account {
	out := slices.Collect(maps.Values(m.accounts))
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// check fails the test when ledger.Check rejects the fake's state.
func (m *memTx) check(t testing.TB) {
	t.Helper()
	if err := ledger.Check(m.Accounts(), m.transfers); err != nil {
		t.Fatalf("ledger.Check: %v", err)
	}
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Fixture accounts: wallets are credit-normal with the overdraft guard;
// escrow and bank clearing have no limits, as in the store's seed.
func wallet(org string) ledger.Account {
	return ledger.Account{ID: ledger.WalletID(org), Code: ledger.CodeTenantWallet, OrgID: org,
		Flags: ledger.DebitsMustNotExceedCredits}
}

func escrow() ledger.Account {
	return ledger.Account{ID: ledger.EscrowID, Code: ledger.CodeEscrow}
}

func bank() ledger.Account {
	return ledger.Account{ID: ledger.BankClearingID, Code: ledger.CodeBankClearing}
}

func payable(org string) ledger.Account {
	return ledger.Account{ID: ledger.PayableID(org), Code: ledger.CodeProviderPayable, OrgID: org}
}

// Transfer builders.
func topup(id, org string, amount core.Micros) ledger.Transfer {
	return ledger.Transfer{ID: id, DebitAccountID: ledger.BankClearingID, CreditAccountID: ledger.WalletID(org),
		Amount: amount, Code: "topup"}
}

func hold(id, org string, amount core.Micros) ledger.Transfer {
	return ledger.Transfer{ID: id, DebitAccountID: ledger.WalletID(org), CreditAccountID: ledger.EscrowID,
		Amount: amount, Flags: ledger.Pending, Code: "hold"}
}

// post and void are written the way the store writes them: only the
// pending id, no accounts.
func post(id, pendingID string, amount core.Micros) ledger.Transfer {
	return ledger.Transfer{ID: id, PendingID: pendingID, Amount: amount, Flags: ledger.PostPending, Code: "capture"}
}

func void(id, pendingID string) ledger.Transfer {
	return ledger.Transfer{ID: id, PendingID: pendingID, Flags: ledger.VoidPending, Code: "release"}
}

// bal is an account's balances: debits pending/posted, credits pending/posted.
type bal struct{ DP, DPo, CP, CPo core.Micros }

func balOf(a ledger.Account) bal {
	return bal{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
}

func (m *memTx) balances() map[string]bal {
	out := map[string]bal{}
	for id, a := range m.accounts {
		out[id] = balOf(a)
	}
	return out
}
