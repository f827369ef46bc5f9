// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster
// started by scripts/pg-up.sh (Debian's PostgreSQL 15) once per test
// binary, and a fresh database per test. Set SUANLI_PG_DSN to use a running
// server instead. Without PostgreSQL installed the tests skip, unless
// SUANLI_REQUIRE_REAL=1 (CI), where that is a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// PGBin is where Debian's PostgreSQL 15 lives.
const PGBin = "/usr/lib/postgresql/15/bin"

var (
	once    sync.Once
	baseDSN string
	dir     string
	err     error
)

// Available reports whether a server can be had.
func Available() bool {
	if os.Getenv("SUANLI_PG_DSN") != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(PGBin, "initdb"))
	return err == nil
}

// DSN returns the server's DSN, starting the cluster on first use.
func DSN(t testing.TB) string {
	t.Helper()
	if !Available() {
		if os.Getenv("SUANLI_REQUIRE_REAL") == "1" {
			t.Fatalf("PostgreSQL is not installed (%s/initdb) and SUANLI_REQUIRE_REAL=1", PGBin)
		}
		t.Skip("PostgreSQL is not installed; apt-get install postgresql")
	}
	once.Do(start)
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	return baseDSN
}

func start() {
	if dsn := os.Getenv("SUANLI_PG_DSN"); dsn != "" {
		baseDSN = dsn
		return
	}
	script, e := findScript("pg-up.sh")
	if e != nil {
		err = e
		return
	}
	port, e := freePort()
	if e != nil {
		err = e
		return
	}
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "PGPORT="+strconv.Itoa(port), "PG_FAST=1")
	out, e := cmd.Output()
	if e != nil {
		if ee, ok := e.(*exec.ExitError); ok {
			e = fmt.Errorf("%w: %s", e, ee.Stderr)
		}
		err = fmt.Errorf("pg-up.sh: %w", e)
		return
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		err = fmt.Errorf("pg-up.sh printed %q", out)
		return
	}
	dir, baseDSN = lines[0], lines[1]
}

// Stop stops the cluster this process started (call from TestMain).
func Stop() {
	if dir == "" {
		return
	}
	if script, err := findScript("pg-down.sh"); err == nil {
		_ = exec.Command("bash", script, dir).Run() // best effort at exit
	}
	dir = ""
}

// Dir is the cluster's directory ("" for an external server).
func Dir() string { return dir }

// Database creates a fresh database for the test and returns its DSN; it
// is dropped when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	db, e := sql.Open("pgx", base)
	if e != nil {
		t.Fatal(e)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, e := db.ExecContext(ctx, "CREATE DATABASE "+name); e != nil {
		t.Fatalf("create database: %v", e)
	}
	t.Cleanup(func() {
		db, e := sql.Open("pgx", base)
		if e != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, e := url.Parse(base)
	if e != nil {
		t.Fatal(e)
	}
	u.Path = "/" + name
	return u.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findScript finds scripts/NAME in the module root above the working dir.
func findScript(name string) (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for i := 0; i < 10; i++ {
		p := filepath.Join(d, "scripts", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("scripts/%s not found above the working directory", name)
}

// Restart restarts the cluster this process started (fast shutdown, then
// start with the same options), for outage tests.
func Restart(t testing.TB) {
	t.Helper()
	if dir == "" {
		t.Skip("restart needs a cluster started by this process (SUANLI_PG_DSN is external)")
	}
	args := []string{filepath.Join(PGBin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "pg.log"), "-m", "fast", "-w", "-t", "60", "restart"}
	if os.Geteuid() == 0 {
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "PGDATA="+filepath.Join(dir, "data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl restart: %v\n%s", err, out)
	}
}
