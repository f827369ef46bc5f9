package bench

import (
	"context"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	c := Config{Accounts: 20, Transfers: 600, Batch: 50, Single: 100, Concurrent: 300, Workers: 4, Seed: 7}
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.LedgerOK {
		t.Fatalf("ledger check failed: %s", res.LedgerErr)
	}
	if len(res.Modes) != 3 {
		t.Fatalf("got %d modes, want 3", len(res.Modes))
	}
	want := map[string][2]int{"batched": {600, 12}, "single": {100, 100}, "concurrent": {300, -1}}
	total := 0
	for _, m := range res.Modes {
		w, ok := want[m.Name]
		if !ok {
			t.Fatalf("unexpected mode %q", m.Name)
		}
		if m.Transfers != w[0] || (w[1] >= 0 && m.Transactions != w[1]) {
			t.Errorf("%s: got %d transfers in %d transactions, want %d in %d", m.Name, m.Transfers, m.Transactions, w[0], w[1])
		}
		if m.Transactions < 1 || m.Transactions > m.Transfers {
			t.Errorf("%s: %d transactions for %d transfers", m.Name, m.Transactions, m.Transfers)
		}
		if m.PerSecond <= 0 || m.P50 <= 0 || m.P50 > m.P99 || m.P99 > m.Max {
			t.Errorf("%s: rate %.0f/s, latency p50 %v p99 %v max %v", m.Name, m.PerSecond, m.P50, m.P99, m.Max)
		}
		total += m.Transfers
	}
	mixed := 0
	for _, kind := range []string{"topup", "hold", "post", "void"} {
		if res.Mix[kind] == 0 {
			t.Errorf("no %s in the mix %v", kind, res.Mix)
		}
		mixed += res.Mix[kind]
	}
	if mixed != total || res.Journal != total {
		t.Errorf("mix %v adds up to %d and the journal holds %d, want %d", res.Mix, mixed, res.Journal, total)
	}
	if res.Fsync != Fsync || res.GOMAXPROCS < 1 || res.GoVersion == "" {
		t.Errorf("machine fields: %+v", res)
	}
}

func TestConfigBounds(t *testing.T) {
	for _, c := range []Config{
		{Accounts: 0, Transfers: 10, Batch: 1},
		{Accounts: 1, Transfers: 10, Batch: 0},
		{Accounts: 1, Transfers: 10, Batch: 11},
		{Accounts: 2, Concurrent: 10, Workers: 3},
		{Accounts: 1, Single: -1},
	} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v) = nil error, want one", c)
		}
	}
}

func TestPercentile(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i + 1)
	}
	if p50, p99 := pct(lat, 50), pct(lat, 99); p50 != 50 || p99 != 99 {
		t.Errorf("p50 %d p99 %d, want 50 and 99", p50, p99)
	}
	if p := pct(lat[:1], 99); p != 1 {
		t.Errorf("p99 of one = %d, want 1", p)
	}
}
