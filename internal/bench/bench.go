// Package bench measures the durable write rate of the SQLite ledger: a
// fresh store in its own directory (WAL, synchronous=FULL, so every
// acknowledged transfer has been fsynced), tenant wallets that must not go
// negative, and a deterministic mix of top-ups, holds, posts and voids.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

// Bounds on a run, so a typo cannot fill the disk.
const (
	TransfersMax = 10_000_000
	AccountsMax  = 1_000_000
	WorkersMax   = 1024
)

// Config sizes a run. Zero counts skip that mode.
type Config struct {
	Dir        string // where the database goes; "" means a new temp dir, removed afterwards
	Accounts   int    // tenant wallets
	Transfers  int    // batched mode: transfers in all
	Batch      int    // batched mode: transfers per database transaction
	Single     int    // single mode: transfers, one per transaction, one after another
	Concurrent int    // concurrent mode: transfers, one per request, from Workers goroutines, group-committed
	Workers    int    // concurrent mode: goroutines
	Seed       uint64 // the mix is a deterministic function of the seed
}

// DefaultConfig is what `suanli bench ledger` runs without flags.
func DefaultConfig() Config {
	return Config{Accounts: 1000, Transfers: 200_000, Batch: 1000, Single: 2000, Concurrent: 20_000, Workers: 32, Seed: 1}
}

// Mode is the outcome of one way of writing.
type Mode struct {
	Name         string        `json:"name"`
	Transfers    int           `json:"transfers"`
	Transactions int           `json:"transactions"` // database transactions (commits, each fsynced)
	Elapsed      time.Duration `json:"elapsed_ns"`
	PerSecond    float64       `json:"transfers_per_second"`
	// Latency is per call: one transaction in batched and single mode, one
	// request (queueing plus its group's commit) in concurrent mode.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Result is a whole run.
type Result struct {
	Accounts   int            `json:"accounts"`
	Modes      []Mode         `json:"modes"`
	Mix        map[string]int `json:"mix"`       // transfers by kind: topup, hold, post, void
	Journal    int            `json:"journal"`   // transfers in the database at the end
	LedgerOK   bool           `json:"ledger_ok"` // Store.CheckLedger passed
	LedgerErr  string         `json:"ledger_error,omitempty"`
	GOMAXPROCS int            `json:"gomaxprocs"`
	NumCPU     int            `json:"num_cpu"`
	GoVersion  string         `json:"go_version"`
	GOOS       string         `json:"goos"`
	GOARCH     string         `json:"goarch"`
	Fsync      string         `json:"fsync"`
}

// Fsync describes the durability every mode runs with.
const Fsync = "on (WAL, synchronous=FULL)"

func (c Config) validate() error {
	switch {
	case c.Accounts < 1 || c.Accounts > AccountsMax:
		return core.FieldErrorf("accounts", "must be in 1..%d", AccountsMax)
	case c.Transfers < 0 || c.Single < 0 || c.Concurrent < 0 || c.Transfers+c.Single+c.Concurrent > TransfersMax:
		return core.FieldErrorf("transfers", "counts must be non-negative and at most %d in all", TransfersMax)
	case c.Transfers > 0 && (c.Batch < 1 || c.Batch > min(c.Transfers, sqlstore.TransferBatchesMax)):
		return core.FieldErrorf("batch", "must be in 1..%d", min(c.Transfers, sqlstore.TransferBatchesMax))
	case c.Concurrent > 0 && (c.Workers < 1 || c.Workers > WorkersMax || c.Workers > c.Accounts):
		return core.FieldErrorf("workers", "must be in 1..%d and at most the number of accounts", WorkersMax)
	}
	return nil
}

// Run opens a fresh store, runs the modes Config asks for, and verifies the
// ledger at the end. An error in any transfer ends the run: the mix is built
// so that every transfer is valid.
func Run(ctx context.Context, c Config) (Result, error) {
	if err := c.validate(); err != nil {
		return Result{}, err
	}
	res := Result{Accounts: c.Accounts, Mix: map[string]int{}, GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Fsync: Fsync}
	dir := c.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "suanli-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	s, err := sqlstore.Open(ctx, dir)
	if err != nil {
		return res, err
	}
	defer s.Close()
	wallets, err := openAccounts(ctx, s, c.Accounts)
	if err != nil {
		return res, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5ca1ab1e))
	if c.Transfers > 0 {
		gen := newGen("b", wallets, rng, res.Mix)
		m, err := runBatched(ctx, s, gen, c.Transfers, c.Batch)
		if err != nil {
			return res, fmt.Errorf("batched: %w", err)
		}
		res.Modes = append(res.Modes, m)
	}
	if c.Single > 0 {
		gen := newGen("s", wallets, rng, res.Mix)
		m, err := runSingle(ctx, s, gen, c.Single)
		if err != nil {
			return res, fmt.Errorf("single: %w", err)
		}
		res.Modes = append(res.Modes, m)
	}
	if c.Concurrent > 0 {
		m, err := runConcurrent(ctx, s, wallets, rng, res.Mix, c.Concurrent, c.Workers)
		if err != nil {
			return res, fmt.Errorf("concurrent: %w", err)
		}
		res.Modes = append(res.Modes, m)
	}
	_, res.Journal, err = s.Transfers(ctx, store.TransferFilter{Limit: 1})
	if err != nil {
		return res, err
	}
	if err := s.CheckLedger(ctx); err != nil {
		res.LedgerErr = err.Error()
	} else {
		res.LedgerOK = true
	}
	return res, nil
}

func openAccounts(ctx context.Context, s *sqlstore.Store, n int) ([]*wallet, error) {
	if err := s.EnsureSystemAccounts(ctx); err != nil {
		return nil, err
	}
	ws := make([]*wallet, n)
	for i := range ws {
		org := "bench" + strconv.Itoa(i)
		ws[i] = &wallet{id: ledger.WalletID(org)}
		if err := s.OpenAccount(ctx, ledger.Account{ID: ws[i].id, Code: ledger.CodeTenantWallet, OrgID: org,
			Flags: ledger.DebitsMustNotExceedCredits}); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

func runBatched(ctx context.Context, s *sqlstore.Store, gen *gen, n, size int) (Mode, error) {
	var lat []time.Duration
	start := time.Now()
	for done := 0; done < n; done += size {
		batches := make([][]ledger.Transfer, 0, min(size, n-done))
		for range cap(batches) {
			batches = append(batches, []ledger.Transfer{gen.next()})
		}
		t0 := time.Now()
		results, err := s.ApplyTransferBatches(ctx, batches)
		lat = append(lat, time.Since(t0))
		if err = errors.Join(err, errors.Join(results...)); err != nil {
			return Mode{}, err
		}
	}
	return mode("batched", n, len(lat), time.Since(start), lat), nil
}

func runSingle(ctx context.Context, s *sqlstore.Store, gen *gen, n int) (Mode, error) {
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for range n {
		t := gen.next()
		t0 := time.Now()
		err := s.ApplyTransfers(ctx, []ledger.Transfer{t})
		lat = append(lat, time.Since(t0))
		if err != nil {
			return Mode{}, err
		}
	}
	return mode("single", n, n, time.Since(start), lat), nil
}

// runConcurrent gives each worker its own slice of the wallets, so a worker
// only ever resolves holds that it saw committed.
func runConcurrent(ctx context.Context, s *sqlstore.Store, wallets []*wallet, rng *rand.Rand, mix map[string]int,
	n, workers int) (Mode, error) {
	gens := make([]*gen, workers)
	for i := range gens {
		var mine []*wallet
		for j := i; j < len(wallets); j += workers {
			mine = append(mine, wallets[j])
		}
		gens[i] = newGen("c"+strconv.Itoa(i)+"-", mine, rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), map[string]int{})
	}
	w, err := s.NewLedgerWriter(ctx)
	if err != nil {
		return Mode{}, err
	}
	defer w.Close()
	lats := make([][]time.Duration, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		count := n / workers
		if i < n%workers {
			count++
		}
		wg.Go(func() {
			for range count {
				t := gens[i].next()
				t0 := time.Now()
				err := w.Apply(ctx, []ledger.Transfer{t})
				lats[i] = append(lats[i], time.Since(t0))
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Mode{}, err
	}
	for _, g := range gens {
		for k, v := range g.mix {
			mix[k] += v
		}
	}
	return mode("concurrent", n, int(w.Stats().Transactions), elapsed, slices.Concat(lats...)), nil
}

func mode(name string, transfers, txns int, elapsed time.Duration, lat []time.Duration) Mode {
	slices.Sort(lat)
	m := Mode{Name: name, Transfers: transfers, Transactions: txns, Elapsed: elapsed,
		PerSecond: float64(transfers) / elapsed.Seconds()}
	if len(lat) > 0 {
		m.P50, m.P99, m.Max = pct(lat, 50), pct(lat, 99), lat[len(lat)-1]
	}
	return m
}

// pct is the nearest-rank percentile of sorted lat.
func pct(lat []time.Duration, p int) time.Duration {
	i := (len(lat)*p + 99) / 100
	return lat[max(i-1, 0)]
}
