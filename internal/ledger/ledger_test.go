package ledger_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
)

var (
	w1 = ledger.WalletID("t1")
	w2 = ledger.WalletID("t2")
	p1 = ledger.PayableID("p1")
)

// limited is a debit-normal account whose credits may not exceed its debits.
const limited = "limited"

func fixture() *memTx {
	return newMemTx(wallet("t1"), wallet("t2"), escrow(), bank(), payable("p1"),
		ledger.Account{ID: ledger.CommissionID, Code: ledger.CodeCommission},
		ledger.Account{ID: limited, Code: "test", Flags: ledger.CreditsMustNotExceedDebits})
}

// spend posts amount from wallet t1 to the provider's payable at once.
func spend(id string, amount core.Micros) ledger.Transfer {
	return ledger.Transfer{ID: id, DebitAccountID: w1, CreditAccountID: p1, Amount: amount, Code: "spend"}
}

func with(t ledger.Transfer, f func(*ledger.Transfer)) ledger.Transfer {
	f(&t)
	return t
}

func many(n int) []ledger.Transfer {
	out := make([]ledger.Transfer, n)
	for i := range out {
		out[i] = topup(fmt.Sprintf("top%d", i), "t2", 1)
	}
	return out
}

// diffBalances lists accounts whose balances differ, got before want;
// accounts missing from want are expected to be all zero.
func diffBalances(got, want map[string]bal) string {
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		if got[id] != want[id] {
			fmt.Fprintf(&b, "\n  %s: got %+v, want %+v", id, got[id], want[id])
		}
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			fmt.Fprintf(&b, "\n  %s: missing, want %+v", id, want[id])
		}
	}
	return b.String()
}

func TestApply(t *testing.T) {
	top := topup("top", "t1", 100)
	h := hold("h", "t1", 60)
	funded := map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {CPo: 100}}
	held := map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {DP: 60, CPo: 100}, ledger.EscrowID: {CP: 60}}
	tests := []struct {
		name  string
		setup []ledger.Transfer // applied one at a time; each must succeed
		batch []ledger.Transfer
		code  string         // core.ErrorCode of Apply's error; "" for success
		want  map[string]bal // balances after a successful batch; unlisted accounts are zero
	}{
		{name: "posted transfer", batch: []ledger.Transfer{top}, want: funded},
		{name: "pending hold", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{h}, want: held},
		{
			name: "full post", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{post("p", "h", 60)},
			want: map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {DPo: 60, CPo: 100}, ledger.EscrowID: {CPo: 60}},
		},
		{
			name: "partial post releases the rest", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{post("p", "h", 25)},
			want: map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {DPo: 25, CPo: 100}, ledger.EscrowID: {CPo: 25}},
		},
		{name: "void releases all", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{void("v", "h")}, want: funded},
		{
			name: "void ignores its amount", setup: []ledger.Transfer{top, h},
			batch: []ledger.Transfer{with(void("v", "h"), func(t *ledger.Transfer) { t.Amount = 999 })}, want: funded,
		},
		{
			name: "resolution moves between the hold's accounts, whatever it names", setup: []ledger.Transfer{top, h},
			batch: []ledger.Transfer{with(post("p", "h", 10), func(t *ledger.Transfer) { t.DebitAccountID, t.CreditAccountID = w2, p1 })},
			want:  map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {DPo: 10, CPo: 100}, ledger.EscrowID: {CPo: 10}},
		},
		{
			name: "settlement batch", setup: []ledger.Transfer{top, h},
			batch: []ledger.Transfer{
				post("cap", "h", 50),
				{ID: "prov", DebitAccountID: ledger.EscrowID, CreditAccountID: p1, Amount: 45, Code: "provider_share"},
				{ID: "comm", DebitAccountID: ledger.EscrowID, CreditAccountID: ledger.CommissionID, Amount: 5, Code: "commission"},
			},
			want: map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {DPo: 50, CPo: 100}, ledger.EscrowID: {DPo: 50, CPo: 50},
				p1: {CPo: 45}, ledger.CommissionID: {CPo: 5}},
		},
		{name: "post after post", setup: []ledger.Transfer{top, h, post("p", "h", 10)}, batch: []ledger.Transfer{post("p2", "h", 10)}, code: core.EConflict},
		{name: "void after post", setup: []ledger.Transfer{top, h, post("p", "h", 10)}, batch: []ledger.Transfer{void("v", "h")}, code: core.EConflict},
		{name: "post after void", setup: []ledger.Transfer{top, h, void("v", "h")}, batch: []ledger.Transfer{post("p", "h", 10)}, code: core.EConflict},
		{name: "void after void", setup: []ledger.Transfer{top, h, void("v", "h")}, batch: []ledger.Transfer{void("v2", "h")}, code: core.EConflict},
		{name: "post more than held", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{post("p", "h", 61)}, code: core.EInvalid},
		{name: "post zero", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{post("p", "h", 0)}, code: core.EInvalid},
		{name: "post negative", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{post("p", "h", -5)}, code: core.EInvalid},
		{name: "post of unknown pending", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{post("p", "nope", 1)}, code: core.ENotFound},
		{name: "post of a posted transfer", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{post("p", "top", 1)}, code: core.ENotFound},
		{name: "void of a resolution", setup: []ledger.Transfer{top, h, post("p", "h", 5)}, batch: []ledger.Transfer{void("v", "p")}, code: core.ENotFound},
		{name: "replay of a posted transfer", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{top}, want: funded},
		{name: "replay of a hold", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{h}, want: held},
		{name: "replay of a hold after its void", setup: []ledger.Transfer{top, h, void("v", "h")}, batch: []ledger.Transfer{h}, want: funded},
		{name: "replay in one batch", setup: []ledger.Transfer{}, batch: []ledger.Transfer{top, top}, want: funded},
		{name: "same id, other amount", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{topup("top", "t1", 101)}, code: core.EConflict},
		{name: "same id, other credit account", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{topup("top", "t2", 100)}, code: core.EConflict},
		{
			name: "same id, other debit account", setup: []ledger.Transfer{top},
			batch: []ledger.Transfer{with(top, func(t *ledger.Transfer) { t.DebitAccountID = ledger.EscrowID })}, code: core.EConflict,
		},
		{
			name: "same id, other code", setup: []ledger.Transfer{top},
			batch: []ledger.Transfer{with(top, func(t *ledger.Transfer) { t.Code = "gift" })}, code: core.EConflict,
		},
		{
			name: "same id, other flags", setup: []ledger.Transfer{top},
			batch: []ledger.Transfer{with(top, func(t *ledger.Transfer) { t.Flags = ledger.Pending })}, code: core.EConflict,
		},
		{
			name: "same id, other pending id", setup: []ledger.Transfer{top, h, hold("h2", "t1", 10), post("p", "h", 5)},
			batch: []ledger.Transfer{with(post("p", "h2", 5), func(t *ledger.Transfer) { t.DebitAccountID, t.CreditAccountID = w1, ledger.EscrowID })},
			code:  core.EConflict,
		},
		{name: "overdraft", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{spend("s", 101)}, code: core.EInsufficientFunds},
		{
			name: "spend all", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{spend("s", 100)},
			want: map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {DPo: 100, CPo: 100}, p1: {CPo: 100}},
		},
		{name: "holds count against a spend", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{spend("s", 41)}, code: core.EInsufficientFunds},
		{name: "holds count against a hold", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{hold("h2", "t1", 41)}, code: core.EInsufficientFunds},
		{
			name: "hold up to what is available", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{hold("h2", "t1", 40)},
			want: map[string]bal{ledger.BankClearingID: {DPo: 100}, w1: {DP: 100, CPo: 100}, ledger.EscrowID: {CP: 100}},
		},
		{name: "empty wallet", batch: []ledger.Transfer{hold("h", "t1", 1)}, code: core.EInsufficientFunds},
		{
			name: "credits must not exceed debits", setup: []ledger.Transfer{{ID: "l", DebitAccountID: limited, CreditAccountID: w1, Amount: 100, Code: "x"}},
			batch: []ledger.Transfer{{ID: "l2", DebitAccountID: ledger.BankClearingID, CreditAccountID: limited, Amount: 101, Code: "x"}},
			code:  core.EInsufficientFunds,
		},
		{name: "linked batch: second fails, first undone", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{hold("a", "t1", 60), hold("b", "t1", 50)}, code: core.EInsufficientFunds},
		{name: "linked batch: bad post undoes a topup", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{topup("t2", "t2", 5), post("p", "h", 61)}, code: core.EInvalid},
		{name: "linked batch: two resolutions of one hold", setup: []ledger.Transfer{top, h}, batch: []ledger.Transfer{post("p", "h", 10), void("v", "h")}, code: core.EConflict},
		{name: "linked batch: conflict after a new transfer", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{h, topup("top", "t1", 7)}, code: core.EConflict},
		{name: "zero amount", batch: []ledger.Transfer{topup("z", "t1", 0)}, code: core.EInvalid},
		{name: "negative amount", batch: []ledger.Transfer{topup("z", "t1", -1)}, code: core.EInvalid},
		{name: "negative hold", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{hold("z", "t1", -1)}, code: core.EInvalid},
		{name: "same debit and credit account", setup: []ledger.Transfer{top}, batch: []ledger.Transfer{{ID: "x", DebitAccountID: w1, CreditAccountID: w1, Amount: 1}}, code: core.EInvalid},
		{name: "unknown debit account", batch: []ledger.Transfer{{ID: "x", DebitAccountID: "ghost", CreditAccountID: w1, Amount: 1}}, code: core.ENotFound},
		{name: "unknown credit account", batch: []ledger.Transfer{{ID: "x", DebitAccountID: ledger.BankClearingID, CreditAccountID: "ghost", Amount: 1}}, code: core.ENotFound},
		{name: "empty id", batch: []ledger.Transfer{topup("", "t1", 1)}, code: core.EInvalid},
		{name: "unknown flags", batch: []ledger.Transfer{with(topup("x", "t1", 1), func(t *ledger.Transfer) { t.Flags = ledger.Pending | ledger.PostPending })}, code: core.EInvalid},
		{name: "batch over BatchMax", batch: many(ledger.BatchMax + 1), code: core.EInvalid},
		{name: "batch of BatchMax", batch: many(ledger.BatchMax), want: map[string]bal{ledger.BankClearingID: {DPo: ledger.BatchMax}, w2: {CPo: ledger.BatchMax}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture()
			for _, s := range tt.setup {
				m.must(t, s)
			}
			before := m.save()
			err := m.apply(t0, tt.batch...)
			if got := core.ErrorCode(err); got != tt.code {
				t.Fatalf("Apply error = %v (code %q), want code %q", err, got, tt.code)
			}
			m.check(t)
			if tt.code != "" {
				// The caller rolled back; also the error names the transfer.
				if !reflect.DeepEqual(m.transfers, before.transfers) || !maps.Equal(m.accounts, before.accounts) {
					t.Errorf("state changed after a failed batch and rollback")
				}
				if len(tt.batch) <= ledger.BatchMax && !strings.HasPrefix(err.Error(), "transfer ") {
					t.Errorf("error %q does not name the failing transfer", err)
				}
				return
			}
			if d := diffBalances(m.balances(), tt.want); d != "" {
				t.Errorf("balances differ (got, want):%s", d)
			}
		})
	}
}

// A failed batch must not depend on the caller's rollback for the check
// that runs before anything is written.
func TestApplyBatchMaxWritesNothing(t *testing.T) {
	m := fixture()
	err := ledger.Apply(context.Background(), m, t0, many(ledger.BatchMax+1)...)
	if core.ErrorCode(err) != core.EInvalid || len(m.transfers) != 0 {
		t.Errorf("Apply(BatchMax+1) = %v with %d transfers written, want invalid and none", err, len(m.transfers))
	}
}

func TestApplyStoredTransfers(t *testing.T) {
	m := fixture()
	m.must(t, topup("top", "t1", 100), hold("h1", "t1", 30), hold("h2", "t1", 30))
	later := t0.Add(time.Hour)
	if err := m.apply(later, post("p", "h1", 12), with(void("v", "h2"), func(t *ledger.Transfer) { t.Amount = 30 })); err != nil {
		t.Fatal(err)
	}
	if err := m.apply(later.Add(time.Hour), topup("top", "t1", 100)); err != nil {
		t.Fatalf("replay: %v", err)
	}
	want := []ledger.Transfer{
		{ID: "top", DebitAccountID: ledger.BankClearingID, CreditAccountID: w1, Amount: 100, Code: "topup", CreatedAt: t0},
		{ID: "h1", DebitAccountID: w1, CreditAccountID: ledger.EscrowID, Amount: 30, Flags: ledger.Pending, Code: "hold", CreatedAt: t0},
		{ID: "h2", DebitAccountID: w1, CreditAccountID: ledger.EscrowID, Amount: 30, Flags: ledger.Pending, Code: "hold", CreatedAt: t0},
		// Resolutions are stored with the hold's accounts; a void moves 0.
		{ID: "p", DebitAccountID: w1, CreditAccountID: ledger.EscrowID, Amount: 12, PendingID: "h1", Flags: ledger.PostPending, Code: "capture", CreatedAt: later},
		{ID: "v", DebitAccountID: w1, CreditAccountID: ledger.EscrowID, Amount: 0, PendingID: "h2", Flags: ledger.VoidPending, Code: "release", CreatedAt: later},
	}
	prev := ""
	for i := range want {
		want[i].Hash = ledger.Hash(prev, want[i])
		prev = want[i].Hash
	}
	if !reflect.DeepEqual(m.transfers, want) {
		t.Errorf("stored transfers:\n got %+v\nwant %+v", m.transfers, want)
	}
	if a := m.accounts[w1]; a.Available() != 88 {
		t.Errorf("available = %d, want 88", a.Available())
	}
}

func TestAccountAvailable(t *testing.T) {
	a := ledger.Account{CreditsPosted: 100, DebitsPosted: 30, DebitsPending: 20, CreditsPending: 1000}
	if got := a.Available(); got != 50 {
		t.Errorf("Available = %d, want 50 (pending credits do not count)", got)
	}
}

func TestCheck(t *testing.T) {
	good := func() *memTx {
		m := fixture()
		m.must(t, topup("top", "t1", 100), hold("h", "t1", 60), hold("h2", "t1", 20), post("p", "h", 50),
			ledger.Transfer{ID: "prov", DebitAccountID: ledger.EscrowID, CreditAccountID: p1, Amount: 50, Code: "provider_share"})
		return m
	}
	if m := good(); ledger.Check(m.Accounts(), m.transfers) != nil {
		t.Fatalf("Check(good) = %v, want nil", ledger.Check(m.Accounts(), m.transfers))
	}
	tests := []struct {
		name   string
		tamper func(accounts []ledger.Account, transfers []ledger.Transfer) ([]ledger.Account, []ledger.Transfer)
	}{
		{"cached posted credit changed", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, w1)].CreditsPosted++
			return as, ts
		}},
		{"cached pending debit changed", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, w1)].DebitsPending = 0
			return as, ts
		}},
		{"both sides changed by the same amount", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, w1)].CreditsPosted += 5
			as[idx(as, ledger.BankClearingID)].DebitsPosted += 5
			return as, ts
		}},
		// Balanced moves between accounts keep the sums equal, so only the
		// per-account comparison of each balance can see them.
		{"pending debit moved off the wallet", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, w1)].DebitsPending -= 5
			as[idx(as, p1)].DebitsPending += 5
			return as, ts
		}},
		{"posted debit moved off the wallet", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, w1)].DebitsPosted -= 5
			as[idx(as, p1)].DebitsPosted += 5
			return as, ts
		}},
		{"pending credit moved off escrow", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, ledger.EscrowID)].CreditsPending -= 5
			as[idx(as, p1)].CreditsPending += 5
			return as, ts
		}},
		{"posted credit moved between accounts", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, p1)].CreditsPosted -= 5
			as[idx(as, ledger.CommissionID)].CreditsPosted += 5
			return as, ts
		}},
		{"round trip through an account missing from the list", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, ledger.BankClearingID)].DebitsPosted += 5
			as[idx(as, ledger.BankClearingID)].CreditsPosted += 5
			return as, append(ts,
				ledger.Transfer{ID: "out", DebitAccountID: ledger.BankClearingID, CreditAccountID: "ghost", Amount: 5},
				ledger.Transfer{ID: "back", DebitAccountID: "ghost", CreditAccountID: ledger.BankClearingID, Amount: 5})
		}},
		// Only the debits = credits sums see this: each listed account
		// matches the journal and the account count matches too.
		{"account listed twice while another is missing", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, ledger.BankClearingID)].DebitsPosted += 5
			return append(as, as[idx(as, ledger.BankClearingID)]), append(ts,
				ledger.Transfer{ID: "out", DebitAccountID: ledger.BankClearingID, CreditAccountID: "ghost", Amount: 5})
		}},
		{"void of an unknown pending", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			return as, append(ts, ledger.Transfer{ID: "v?", DebitAccountID: w1, CreditAccountID: ledger.EscrowID,
				PendingID: "nope", Flags: ledger.VoidPending})
		}},
		{"transfer amount changed", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			ts[0].Amount = 99
			return as, ts
		}},
		{"transfer dropped", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			return as, ts[:len(ts)-1]
		}},
		{"account missing from the list", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			return slices.Delete(as, idx(as, p1), idx(as, p1)+1), ts
		}},
		{"resolution of an unknown pending", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			return as, slices.DeleteFunc(ts, func(t ledger.Transfer) bool { return t.ID == "h" })
		}},
		{"unbalanced journal and cache", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as = append(as, ledger.Account{ID: "mint", CreditsPosted: 7})
			return as, ts
		}},
		{"overdrawn wallet consistent with a forged journal", func(as []ledger.Account, ts []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			as[idx(as, w1)].DebitsPosted += 100
			as[idx(as, p1)].CreditsPosted += 100
			return as, append(ts, spend("forged", 100))
		}},
	}
	for _, tt := range tests {
		m := good()
		as, ts := tt.tamper(m.Accounts(), slices.Clone(m.transfers))
		if err := ledger.Check(as, ts); err == nil {
			t.Errorf("%s: Check = nil, want an error", tt.name)
		}
	}
}

func idx(as []ledger.Account, id string) int {
	for i, a := range as {
		if a.ID == id {
			return i
		}
	}
	panic("no account " + id)
}

// TestRegressionReplayOfResolutionConflicts (found by the tests, fixed): the store posts and voids holds with
// only a pending id (sqlite settle); Apply stores the resolution with the
// hold's accounts filled in, so replaying the very same request is compared
// against different account ids and fails with a conflict instead of being
// a no-op. A retried settlement therefore errors.
func TestRegressionReplayOfResolutionConflicts(t *testing.T) {
	for _, r := range []ledger.Transfer{post("cap", "h", 10), void("cap", "h")} {
		m := fixture()
		m.must(t, topup("top", "t1", 100), hold("h", "t1", 60), r)
		before := m.balances()
		if err := m.apply(t0, r); err != nil {
			t.Errorf("replay of %+v = %v, want nil", r, err)
		}
		if d := diffBalances(m.balances(), before); d != "" {
			t.Errorf("replay changed balances:%s", d)
		}
	}
}

// TestRegressionAmountOverflowBypassesLimit (found by the tests, fixed): Apply adds amounts with no overflow
// check, so a huge hold wraps DebitsPending negative and passes
// DebitsMustNotExceedCredits on a wallet holding 10 micros.
func TestRegressionAmountOverflowBypassesLimit(t *testing.T) {
	m := fixture()
	m.must(t, topup("top", "t1", 10), hold("h1", "t1", 1))
	err := m.apply(t0, hold("h2", "t1", math.MaxInt64))
	if err == nil {
		t.Errorf("hold of MaxInt64 on a wallet of 10 accepted; wallet now %+v", m.accounts[w1])
	}
}

// TestRegressionReplayIgnoresJobID (found by the tests, fixed): differs() does not compare JobID, so the same
// transfer id reused for another job is silently taken as a replay.
func TestRegressionReplayIgnoresJobID(t *testing.T) {
	m := fixture()
	first := with(hold("h", "t1", 10), func(t *ledger.Transfer) { t.JobID = "job-1" })
	m.must(t, topup("top", "t1", 100), first)
	other := with(first, func(t *ledger.Transfer) { t.JobID = "job-2" })
	if err := m.apply(t0, other); core.ErrorCode(err) != core.EConflict {
		t.Errorf("replay with another job id = %v, want conflict", err)
	}
}

// --- model-based property test -------------------------------------------

// model is an independent oracle for the ledger: what each transfer should
// do to the balances, written from the rules rather than from ledger.go.
type model struct {
	bal    map[string]bal
	flags  map[string]ledger.AccountFlags
	stored map[string]ledger.Transfer // by id, as the ledger should store it
	ids    []string                   // stored ids in order, to pick replays from
	open   map[string]bool            // pending id → unresolved
}

func newModel(m *memTx) *model {
	md := &model{bal: m.balances(), flags: map[string]ledger.AccountFlags{},
		stored: map[string]ledger.Transfer{}, open: map[string]bool{}}
	for id, a := range m.accounts {
		md.flags[id] = a.Flags
	}
	return md
}

func (md *model) clone() *model {
	return &model{bal: maps.Clone(md.bal), flags: md.flags, stored: maps.Clone(md.stored),
		ids: slices.Clone(md.ids), open: maps.Clone(md.open)}
}

// apply predicts t's outcome: the error code, or "" after applying it.
func (md *model) apply(t ledger.Transfer, now time.Time) string {
	if old, ok := md.stored[t.ID]; ok {
		if old.DebitAccountID != t.DebitAccountID || old.CreditAccountID != t.CreditAccountID ||
			old.Amount != t.Amount || old.Flags != t.Flags || old.PendingID != t.PendingID || old.Code != t.Code {
			return core.EConflict
		}
		return ""
	}
	amount, held := t.Amount, core.Micros(0)
	switch t.Flags {
	case 0, ledger.Pending:
		_, dok := md.bal[t.DebitAccountID]
		_, cok := md.bal[t.CreditAccountID]
		switch {
		case t.Amount <= 0 || t.DebitAccountID == t.CreditAccountID:
			return core.EInvalid
		case !dok || !cok:
			return core.ENotFound
		}
	case ledger.PostPending, ledger.VoidPending:
		p, ok := md.stored[t.PendingID]
		switch {
		case !ok || p.Flags != ledger.Pending:
			return core.ENotFound
		case !md.open[p.ID]:
			return core.EConflict
		case t.Flags == ledger.PostPending && (t.Amount <= 0 || t.Amount > p.Amount):
			return core.EInvalid
		}
		held = p.Amount
		if t.Flags == ledger.VoidPending {
			amount = 0
		}
	default:
		return core.EInvalid
	}
	d, c := md.bal[t.DebitAccountID], md.bal[t.CreditAccountID]
	d.DP, c.CP = d.DP-held, c.CP-held
	if t.Flags == ledger.Pending {
		d.DP, c.CP = d.DP+amount, c.CP+amount
	} else {
		d.DPo, c.CPo = d.DPo+amount, c.CPo+amount
	}
	if md.flags[t.DebitAccountID]&ledger.DebitsMustNotExceedCredits != 0 && d.DP+d.DPo > d.CPo ||
		md.flags[t.CreditAccountID]&ledger.CreditsMustNotExceedDebits != 0 && c.CP+c.CPo > c.DPo {
		return core.EInsufficientFunds
	}
	md.bal[t.DebitAccountID], md.bal[t.CreditAccountID] = d, c
	switch t.Flags {
	case ledger.Pending:
		md.open[t.ID] = true
	case ledger.PostPending, ledger.VoidPending:
		md.open[t.PendingID] = false
	}
	t.Amount, t.CreatedAt = amount, now
	md.stored[t.ID] = t
	md.ids = append(md.ids, t.ID)
	return ""
}

// gen makes random transfers against a model's state.
type gen struct {
	r    *rand.Rand
	md   *model
	next int
	orgs []string
}

func (g *gen) id() string { g.next++; return fmt.Sprintf("x%d", g.next) }

func (g *gen) org() string { return g.orgs[g.r.IntN(len(g.orgs))] }

// fresh returns one new transfer: a topup, a hold, a spend, a post or void
// of a random hold (open or not), or one with a single fault.
func (g *gen) fresh() ledger.Transfer {
	r := g.r
	switch r.IntN(10) {
	case 0, 1:
		return topup(g.id(), g.org(), core.Micros(1+r.IntN(1000)))
	case 2, 3:
		return hold(g.id(), g.org(), core.Micros(1+r.IntN(600)))
	case 4:
		o := g.org()
		return ledger.Transfer{ID: g.id(), DebitAccountID: ledger.WalletID(o), CreditAccountID: p1,
			Amount: core.Micros(1 + r.IntN(300)), Code: "spend"}
	case 5, 6, 7:
		var holds []string
		for id := range g.md.open {
			holds = append(holds, id)
		}
		if len(holds) == 0 {
			return hold(g.id(), g.org(), core.Micros(1+r.IntN(600)))
		}
		sort.Strings(holds)
		p := g.md.stored[holds[r.IntN(len(holds))]]
		// Resolutions name the hold's accounts, the form the ledger stores,
		// so that replays of them are true replays (see TestBugReplayOf...).
		if r.IntN(3) == 0 {
			return ledger.Transfer{ID: g.id(), PendingID: p.ID, DebitAccountID: p.DebitAccountID,
				CreditAccountID: p.CreditAccountID, Flags: ledger.VoidPending, Code: "release"}
		}
		return ledger.Transfer{ID: g.id(), PendingID: p.ID, DebitAccountID: p.DebitAccountID,
			CreditAccountID: p.CreditAccountID, Amount: core.Micros(r.Int64N(int64(p.Amount) + 2)),
			Flags: ledger.PostPending, Code: "capture"}
	case 8:
		t := topup(g.id(), g.org(), core.Micros(1+r.IntN(10)))
		switch r.IntN(4) {
		case 0:
			t.Amount = -t.Amount
		case 1:
			t.DebitAccountID = t.CreditAccountID
		case 2:
			t.CreditAccountID = "ghost"
		case 3:
			t.Flags = 8
		}
		return t
	default:
		return post(g.id(), "ghost", 1)
	}
}

// replay returns a stored transfer as submitted, or with one field changed.
func (g *gen) replay(change bool) (ledger.Transfer, bool) {
	if len(g.md.ids) == 0 {
		return ledger.Transfer{}, false
	}
	t := g.md.stored[g.md.ids[g.r.IntN(len(g.md.ids))]]
	t.CreatedAt = time.Time{}
	if change {
		switch g.r.IntN(5) {
		case 0:
			t.Amount++
		case 1:
			t.Code += "!"
		case 2:
			t.DebitAccountID = ledger.WalletID("t9")
		case 3:
			t.CreditAccountID = ledger.BankClearingID
		case 4:
			t.Flags ^= ledger.Pending
		}
	}
	return t, true
}

func (g *gen) batch() []ledger.Transfer {
	n := 1
	if g.r.IntN(4) == 0 {
		n = 2 + g.r.IntN(3)
	}
	var b []ledger.Transfer
	for range n {
		switch k := g.r.IntN(10); {
		case k < 7:
			b = append(b, g.fresh())
		default:
			if t, ok := g.replay(k == 9); ok {
				b = append(b, t)
			}
		}
	}
	return b
}

// TestPropLedger drives random batches through Apply (with rollback on
// error) and after every step checks the outcome against the model and the
// ledger's invariants.
func TestPropLedger(t *testing.T) {
	const runs, steps = 200, 60
	outcomes := map[string]int{}
	for seed := uint64(1); seed <= runs; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x1ed9e7))
		m := newMemTx(wallet("t1"), wallet("t2"), wallet("t3"), escrow(), bank(), payable("p1"))
		md := newModel(m)
		g := &gen{r: r, md: md, orgs: []string{"t1", "t2", "t3"}}
		for step := range steps {
			now := t0.Add(time.Duration(step) * time.Second)
			b := g.batch()
			next, want := md.clone(), ""
			for _, tr := range b {
				if want = next.apply(tr, now); want != "" {
					break
				}
			}
			err := m.apply(now, b...)
			outcomes[want]++
			if got := core.ErrorCode(err); got != want {
				t.Fatalf("seed %d step %d: Apply(%+v) = %v (code %q), want code %q", seed, step, b, err, got, want)
			}
			if want == "" {
				md = next
				g.md = md
			}
			if bad := checkAgainst(m, md); bad != nil {
				t.Fatalf("seed %d step %d after %+v (Apply: %v): %v", seed, step, b, err, bad)
			}
		}
	}
	// Guard against a generator that never reaches some outcomes.
	for _, code := range []string{"", core.EConflict, core.EInvalid, core.ENotFound, core.EInsufficientFunds} {
		if outcomes[code] < 20 {
			t.Errorf("outcome %q seen %d times; the generator does not exercise it", code, outcomes[code])
		}
	}
}

// checkAgainst checks the fake's state against the model and the ledger's
// invariants: Check passes (cached = fold, debits = credits), balances and
// stored transfers match the model (so replays and failed batches changed
// nothing, and no transfer ever changed), no wallet is overdrawn, each hold
// resolves at most once, and Σ wallet pending debits = Σ open holds = escrow
// pending credits.
func checkAgainst(m *memTx, md *model) error {
	if err := ledger.Check(m.Accounts(), m.transfers); err != nil {
		return fmt.Errorf("ledger.Check: %w", err)
	}
	if d := diffBalances(m.balances(), md.bal); d != "" {
		return fmt.Errorf("balances differ from the model (got, want):%s", d)
	}
	if len(m.transfers) != len(md.stored) {
		return fmt.Errorf("%d transfers stored, model has %d", len(m.transfers), len(md.stored))
	}
	resolutions := map[string]int{}
	for _, tr := range m.transfers {
		// The hash is checked by ledger.Check (the chain); compare the rest.
		if want, got := md.stored[tr.ID], withoutHash(tr); got != want {
			return fmt.Errorf("stored transfer %+v, want %+v", got, want)
		}
		if tr.PendingID != "" {
			if resolutions[tr.PendingID]++; resolutions[tr.PendingID] > 1 {
				return fmt.Errorf("hold %s resolved twice", tr.PendingID)
			}
		}
	}
	var walletPending, openHolds core.Micros
	for _, a := range m.accounts {
		if a.Code == ledger.CodeTenantWallet {
			if a.Available() < 0 {
				return fmt.Errorf("wallet %s available %d < 0", a.ID, a.Available())
			}
			walletPending += a.DebitsPending
		}
	}
	for id, open := range md.open {
		if open {
			openHolds += md.stored[id].Amount
		}
	}
	if walletPending != openHolds || m.accounts[ledger.EscrowID].CreditsPending != openHolds {
		return fmt.Errorf("Σ wallet pending debits %d, escrow pending credits %d, Σ open holds %d",
			walletPending, m.accounts[ledger.EscrowID].CreditsPending, openHolds)
	}
	return nil
}

func withoutHash(t ledger.Transfer) ledger.Transfer {
	t.Hash = ""
	return t
}

// TestHashChainDetectsTampering: changing any stored transfer, or removing
// or reordering one, breaks the chain that Audit verifies.
func TestHashChainDetectsTampering(t *testing.T) {
	m := fixture()
	m.must(t, topup("top", "t1", 100), hold("h1", "t1", 30), post("p", "h1", 12))
	if problems := ledger.Audit(m.Accounts(), m.transfers); len(problems) != 0 {
		t.Fatalf("clean journal: %v", problems)
	}
	tamper := []struct {
		name string
		edit func([]ledger.Transfer) []ledger.Transfer
	}{
		{"amount", func(ts []ledger.Transfer) []ledger.Transfer { ts[0].Amount++; return ts }},
		{"code", func(ts []ledger.Transfer) []ledger.Transfer { ts[1].Code = "gift"; return ts }},
		{"time", func(ts []ledger.Transfer) []ledger.Transfer {
			ts[2].CreatedAt = ts[2].CreatedAt.Add(time.Second)
			return ts
		}},
		{"removed", func(ts []ledger.Transfer) []ledger.Transfer { return ts[1:] }},
		{"reordered", func(ts []ledger.Transfer) []ledger.Transfer { ts[0], ts[1] = ts[1], ts[0]; return ts }},
	}
	for _, tt := range tamper {
		ts := tt.edit(append([]ledger.Transfer(nil), m.transfers...))
		problems := ledger.Audit(m.Accounts(), ts)
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p, "hash chain")
		}
		if !found {
			t.Errorf("%s: Audit = %v, want a broken hash chain", tt.name, problems)
		}
	}
}

// TestExpiry: an expired hold is voided exactly once by Expire; posting it
// after its expiry is refused; Expire before the expiry is refused.
func TestExpiry(t *testing.T) {
	m := fixture()
	m.must(t, topup("top", "t1", 100))
	h := hold("h", "t1", 40)
	h.ExpiresAt = t0.Add(time.Minute)
	m.must(t, h)
	ctx := context.Background()
	if err := ledger.Expire(ctx, m, t0.Add(30*time.Second), "h"); core.ErrorCode(err) != core.EConflict {
		t.Errorf("Expire before the expiry = %v, want conflict", err)
	}
	if err := m.apply(t0.Add(2*time.Minute), post("p", "h", 10)); core.ErrorCode(err) != core.EConflict {
		t.Errorf("post after expiry = %v, want conflict", err)
	}
	for i := 0; i < 2; i++ { // the second sweep is an idempotent replay
		if err := ledger.Expire(ctx, m, t0.Add(2*time.Minute), "h"); err != nil {
			t.Fatalf("Expire #%d: %v", i, err)
		}
	}
	if a := m.accounts[w1]; a.DebitsPending != 0 || a.Available() != 100 {
		t.Errorf("wallet after expiry = %+v, want the hold released", a)
	}
	if err := ledger.Check(m.Accounts(), m.transfers); err != nil {
		t.Error(err)
	}
	bad := hold("h2", "t1", 5)
	bad.ExpiresAt = t0.Add(-time.Second)
	if err := m.apply(t0, bad); core.ErrorCode(err) != core.EInvalid {
		t.Errorf("hold expiring in the past = %v, want invalid", err)
	}
}

// TestLedgersDoNotMix: a transfer between accounts of different ledgers
// (money and voucher entitlements) is refused.
func TestLedgersDoNotMix(t *testing.T) {
	m := newMemTx(ledger.Account{ID: "cash", Ledger: ledger.LedgerCNY}, ledger.Account{ID: "quota", Ledger: ledger.LedgerVoucher})
	err := m.apply(t0, ledger.Transfer{ID: "x", DebitAccountID: "cash", CreditAccountID: "quota", Amount: 1, Code: "t"})
	if core.ErrorCode(err) != core.EInvalid {
		t.Errorf("cross-ledger transfer = %v, want invalid", err)
	}
}

// TestHashFormatIsStable pins the journal hash to its documented format:
// changing it would break every stored chain.
func TestHashFormatIsStable(t *testing.T) {
	tr := ledger.Transfer{ID: "id\"1", DebitAccountID: "a", CreditAccountID: "b", Amount: 42, PendingID: "p",
		Flags: ledger.PostPending, Code: "capture", JobID: "j", ExpiresAt: t0.Add(time.Minute), Reason: "r|x",
		Actor: "op", CreatedAt: t0}
	raw := fmt.Sprintf("%s\n%q|%q|%q|%d|%q|%d|%q|%q|%d|%q|%q|%d", "prev", tr.ID, tr.DebitAccountID, tr.CreditAccountID,
		tr.Amount, tr.PendingID, tr.Flags, tr.Code, tr.JobID, tr.ExpiresAt.UnixMilli(), tr.Reason, tr.Actor, tr.CreatedAt.UnixMilli())
	sum := sha256.Sum256([]byte(raw))
	if got, want := ledger.Hash("prev", tr), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
}
