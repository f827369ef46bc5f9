package sqlstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// benchWallets is how many tenant wallets the benchmarks spread over.
const benchWallets = 1000

// benchLedger opens a store with benchWallets wallets and returns a
// generator of valid transfers: per wallet, a cycle of top-up, hold, post
// of that hold, hold, void of that hold.
func benchLedger(b *testing.B) (*Store, func() ledger.Transfer) {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.EnsureSystemAccounts(ctx); err != nil {
		b.Fatal(err)
	}
	for i := range benchWallets {
		if err := s.OpenAccount(ctx, ledger.Account{ID: ledger.WalletID("b" + strconv.Itoa(i)), Code: ledger.CodeTenantWallet,
			Flags: ledger.DebitsMustNotExceedCredits}); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	return s, func() ledger.Transfer {
		w, step := n%benchWallets, (n/benchWallets)%5
		wallet, id := ledger.WalletID("b"+strconv.Itoa(w)), "t"+strconv.Itoa(n)
		prev := "t" + strconv.Itoa(n-benchWallets) // this wallet's previous transfer: the hold
		n++
		switch step {
		case 0:
			return ledger.Transfer{ID: id, DebitAccountID: ledger.BankClearingID, CreditAccountID: wallet,
				Amount: 100 * core.MicrosPerYuan, Code: "topup"}
		case 1, 3:
			return ledger.Transfer{ID: id, DebitAccountID: wallet, CreditAccountID: ledger.EscrowID,
				Amount: 10 * core.MicrosPerYuan, Flags: ledger.Pending, Code: "hold"}
		case 2:
			return ledger.Transfer{ID: id, PendingID: prev, Flags: ledger.PostPending, Amount: 7 * core.MicrosPerYuan, Code: "capture"}
		}
		return ledger.Transfer{ID: id, PendingID: prev, Flags: ledger.VoidPending, Code: "release"}
	}
}

func BenchmarkApplyTransfersBatched(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			s, next := benchLedger(b)
			ctx := context.Background()
			b.ResetTimer()
			for done := 0; done < b.N; done += size {
				batches := make([][]ledger.Transfer, min(size, b.N-done))
				for i := range batches {
					batches[i] = []ledger.Transfer{next()}
				}
				results, err := s.ApplyTransferBatches(ctx, batches)
				if err = errors.Join(err, errors.Join(results...)); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
			if err := s.CheckLedger(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func BenchmarkApplyTransferSingle(b *testing.B) {
	s, next := benchLedger(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if err := s.ApplyTransfers(ctx, []ledger.Transfer{next()}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	if err := s.CheckLedger(ctx); err != nil {
		b.Fatal(err)
	}
}

// TestApplyTransferBatchesMatchesWriteThrough applies the same random
// batches, valid and not (overdrafts, unknown and twice-resolved holds,
// idempotent and conflicting retries, in the same group and across groups),
// once through the write-through ledgerTx, one batch per transaction, and
// once through ApplyTransferBatches in random groups; the outcomes, the
// balances and the hash-chained journals must be identical.
func TestApplyTransferBatchesMatchesWriteThrough(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	open := func() *Store {
		s := testStore(t, "FULL")
		s.Now = func() time.Time { return now }
		if err := s.EnsureSystemAccounts(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if err := s.OpenAccount(ctx, ledger.Account{ID: ledger.WalletID(strconv.Itoa(i)), Code: ledger.CodeTenantWallet,
				Flags: ledger.DebitsMustNotExceedCredits}); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	ref, got := open(), open()
	rng := rand.New(rand.NewPCG(1, 2))
	var ids, holds []string // every id and every hold id generated so far
	pick := func() string {
		switch r := rng.IntN(10); {
		case r == 0 || len(ids) == 0:
			return "nope"
		case r == 1 || len(holds) == 0:
			return ids[rng.IntN(len(ids))]
		}
		return holds[max(0, len(holds)-1-rng.IntN(8))] // a recent hold, often open
	}
	wallet := func() string { return ledger.WalletID(strconv.Itoa(rng.IntN(4))) }
	var prev []ledger.Transfer
	gen := func() ledger.Transfer {
		if len(prev) > 0 && rng.IntN(10) == 0 { // a retry: the same, or with one field changed
			tr := prev[rng.IntN(len(prev))]
			if rng.IntN(2) == 0 {
				tr.Amount++
			}
			return tr
		}
		id := "t" + strconv.Itoa(len(ids))
		ids = append(ids, id)
		amount := core.Micros(1 + rng.Int64N(30))
		var tr ledger.Transfer
		switch rng.IntN(5) {
		case 0:
			tr = ledger.Transfer{ID: id, DebitAccountID: ledger.BankClearingID, CreditAccountID: wallet(), Amount: 3 * amount, Code: "topup"}
		case 1:
			tr = ledger.Transfer{ID: id, DebitAccountID: wallet(), CreditAccountID: ledger.EscrowID, Amount: amount, Code: "spend"}
		case 2:
			holds = append(holds, id)
			tr = ledger.Transfer{ID: id, DebitAccountID: wallet(), CreditAccountID: ledger.EscrowID, Amount: amount,
				Flags: ledger.Pending, Code: "hold", ExpiresAt: now.Add(time.Hour)}
		case 3:
			tr = ledger.Transfer{ID: id, PendingID: pick(), Flags: ledger.PostPending, Amount: amount, Code: "capture"}
		default:
			tr = ledger.Transfer{ID: id, PendingID: pick(), Flags: ledger.VoidPending, Code: "release"}
		}
		prev = append(prev, tr)
		return tr
	}
	outcome := func(err error) string {
		if err == nil {
			return "ok"
		}
		return core.ErrorCode(err) + ": " + err.Error()
	}
	accepted := 0
	for range 100 {
		group := make([][]ledger.Transfer, 1+rng.IntN(20))
		for i := range group {
			group[i] = make([]ledger.Transfer, 1+rng.IntN(3))
			for j := range group[i] {
				group[i][j] = gen()
			}
		}
		results, err := got.ApplyTransferBatches(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		for i, batch := range group {
			want := ref.update(ctx, func(t *tx) error { return ledger.Apply(ctx, ledgerTx{t}, t.now, batch...) })
			if g, w := outcome(results[i]), outcome(want); g != w {
				t.Fatalf("batch %v: got %s, want %s", batch, g, w)
			}
			if want == nil {
				accepted++
			}
		}
	}
	if accepted < 100 {
		t.Fatalf("only %d batches accepted: the test exercises too little", accepted)
	}
	for _, s := range []*Store{ref, got} {
		if err := s.CheckLedger(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ra, rt, err := ref.readLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ga, gt, err := got.readLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ga, ra) {
		t.Errorf("accounts differ:\ngot  %+v\nwant %+v", ga, ra)
	}
	if !reflect.DeepEqual(gt, rt) {
		t.Errorf("journals differ: got %d transfers, want %d", len(gt), len(rt))
	}
}

func TestLedgerWriter(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "FULL")
	if err := s.EnsureSystemAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := s.NewLedgerWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 24 // each even
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for i := range workers {
		wallet := ledger.WalletID(strconv.Itoa(i))
		if err := s.OpenAccount(ctx, ledger.Account{ID: wallet, Code: ledger.CodeTenantWallet,
			Flags: ledger.DebitsMustNotExceedCredits}); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for j := range each {
				id := wallet + ":" + strconv.Itoa(j)
				// Every other batch overdraws the wallet and must fail alone.
				err := w.Apply(ctx, []ledger.Transfer{
					{ID: id + ":in", DebitAccountID: ledger.BankClearingID, CreditAccountID: wallet, Amount: 10, Code: "topup"},
					{ID: id + ":out", DebitAccountID: wallet, CreditAccountID: ledger.EscrowID, Amount: core.Micros(10 + 5*(j%2)), Code: "spend"},
				})
				errs <- err
			}
		})
	}
	wg.Wait()
	w.Close()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if core.ErrorCode(err) != core.EInsufficientFunds {
				t.Fatal(err)
			}
			failed++
		}
	}
	if failed != workers*each/2 { // every other batch overdraws
		t.Errorf("%d batches failed, want %d", failed, workers*each/2)
	}
	st := w.Stats()
	if st.Batches != workers*each || st.Transactions < 1 || st.Transactions > st.Batches {
		t.Errorf("stats %+v", st)
	}
	if err := w.Apply(ctx, nil); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Apply after Close = %v, want ErrWriterClosed", err)
	}
	_, n, err := s.Transfers(ctx, store.TransferFilter{Limit: 1})
	if err != nil || n != workers*each { // two transfers in each batch that succeeded
		t.Fatalf("journal holds %d transfers (%v), want %d", n, err, workers*each)
	}
	if err := s.CheckLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestApplyTransfersOddIDs: ids that prefetch cannot send through JSON
// (invalid UTF-8, NUL) are still found, so retries stay idempotent.
func TestApplyTransfersOddIDs(t *testing.T) {
	ctx := context.Background()
	if onPostgres() {
		t.Skip("PostgreSQL text cannot hold NUL or invalid UTF-8: such ids are refused there, not stored")
	}
	s := testStore(t, "FULL")
	if err := s.EnsureSystemAccounts(ctx); err != nil {
		t.Fatal(err)
	}
	wallet := ledger.WalletID("w\xff\x00")
	if err := s.OpenAccount(ctx, ledger.Account{ID: wallet, Code: ledger.CodeTenantWallet, Flags: ledger.DebitsMustNotExceedCredits}); err != nil {
		t.Fatal(err)
	}
	in := ledger.Transfer{ID: "in\xff", DebitAccountID: ledger.BankClearingID, CreditAccountID: wallet, Amount: 10, Code: "topup"}
	hold := ledger.Transfer{ID: "hold\x00", DebitAccountID: wallet, CreditAccountID: ledger.EscrowID, Amount: 4,
		Flags: ledger.Pending, Code: "hold"}
	post := ledger.Transfer{ID: "post", PendingID: hold.ID, Flags: ledger.PostPending, Amount: 3, Code: "capture"}
	for i, batch := range [][]ledger.Transfer{{in, hold}, {in, hold}, {post}, {post}} {
		if err := s.ApplyTransfers(ctx, batch); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	again := post
	again.ID = "post again"
	if err := s.ApplyTransfers(ctx, []ledger.Transfer{again}); core.ErrorCode(err) != core.EConflict {
		t.Fatalf("second post of the hold: %v, want a conflict", err)
	}
	a, err := s.Account(ctx, wallet)
	if err != nil || a.CreditsPosted != 10 || a.DebitsPosted != 3 || a.DebitsPending != 0 {
		t.Fatalf("wallet %+v (%v): want credits 10, debits 3, nothing pending", a, err)
	}
	if err := s.CheckLedger(ctx); err != nil {
		t.Fatal(err)
	}
}
