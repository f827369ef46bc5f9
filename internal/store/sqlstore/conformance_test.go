package sqlstore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/suanli/suanli/internal/store/pgtest"
)

// storeEnv selects the store the package's tests run on.
const storeEnv = "SUANLI_TEST_STORE"

// TestMain runs the package's whole suite on SQLite and then, as the
// conformance suite, again on PostgreSQL in a child process: every store
// method, money movement, idempotency and concurrency test must pass on
// both.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if code == 0 && os.Getenv(storeEnv) == "" && (pgtest.Available() || os.Getenv("SUANLI_REQUIRE_REAL") == "1") {
		fmt.Println("=== the same suite on PostgreSQL")
		// Fewer property-test cases: each opens a database of its own.
		cmd := exec.Command(os.Args[0], append(os.Args[1:], "-rapid.checks=25")...)
		cmd.Env = append(os.Environ(), storeEnv+"=postgres")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Println("FAIL on PostgreSQL:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func onPostgres() bool { return os.Getenv(storeEnv) == "postgres" }

// testStore opens an empty store for one test: SQLite in a temp dir (with
// the given synchronous pragma), or a fresh PostgreSQL database.
func testStore(tb testing.TB, synchronous string) *Store {
	tb.Helper()
	ctx := context.Background()
	var s *Store
	var err error
	if onPostgres() {
		s, err = OpenPostgres(ctx, pgtest.Database(tb))
	} else {
		s, err = open(ctx, tb.TempDir(), synchronous)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
