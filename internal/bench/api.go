package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make the bench database

	"github.com/suanli/suanli/internal/server"
)

// APIConfig configures `suanli bench api`.
type APIConfig struct {
	// Stores to measure: "sqlite" (a temp dir) and/or a PostgreSQL DSN, in
	// which a fresh database is made for the run and dropped after.
	Stores   []string
	Clients  int           // concurrent HTTP clients
	Duration time.Duration // measured time per store
	Warmup   time.Duration
}

// Limits of the API bench.
const (
	APIClientsMax  = 1024
	APIDurationMax = 10 * time.Minute
	apiLatencyMax  = 10_000_000 // latencies kept per run
)

// DefaultAPIConfig measures SQLite with 64 clients for 10 s.
func DefaultAPIConfig() APIConfig {
	return APIConfig{Stores: []string{"sqlite"}, Clients: 64, Duration: 10 * time.Second, Warmup: 2 * time.Second}
}

// APIResult is one store's figures.
type APIResult struct {
	Store       string        `json:"store"`
	Clients     int           `json:"clients"`
	Submissions int           `json:"submissions"`
	Errors      int           `json:"errors"`
	PerSecond   float64       `json:"submissions_per_s"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
	LedgerOK    bool          `json:"ledger_ok"`
}

func (c APIConfig) validate() error {
	switch {
	case len(c.Stores) == 0:
		return fmt.Errorf("no store to measure")
	case c.Clients < 1 || c.Clients > APIClientsMax:
		return fmt.Errorf("--clients must be between 1 and %d", APIClientsMax)
	case c.Duration <= 0 || c.Duration > APIDurationMax:
		return fmt.Errorf("--duration must be positive and at most %s", APIDurationMax)
	case c.Warmup < 0 || c.Warmup > APIDurationMax:
		return fmt.Errorf("--warmup must be between 0 and %s", APIDurationMax)
	}
	return nil
}

// RunAPI starts a server on each store in this process (HTTP on
// loopback, the control loop placing and running the jobs meanwhile) and
// drives job submissions at it from many clients.
func RunAPI(ctx context.Context, c APIConfig) ([]APIResult, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	var out []APIResult
	for _, st := range c.Stores {
		r, err := runAPIStore(ctx, c, st)
		if err != nil {
			return out, fmt.Errorf("%s: %w", redactDSN(st), err)
		}
		out = append(out, r)
	}
	return out, nil
}

func runAPIStore(ctx context.Context, c APIConfig, storeName string) (APIResult, error) {
	res := APIResult{Store: storeName, Clients: c.Clients}
	dir, err := os.MkdirTemp("", "suanli-bench-api-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	db := ""
	if storeName != "sqlite" {
		res.Store = "postgres"
		var drop func()
		if db, drop, err = freshDatabase(ctx, storeName); err != nil {
			return res, err
		}
		defer drop()
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.Open(ctx, server.Config{DataDir: dir, Addr: "127.0.0.1:0", DB: db, Log: quiet})
	if err != nil {
		return res, err
	}
	defer s.Close()

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.Clients, MaxConnsPerHost: c.Clients}}
	token := s.Credentials.Tenant.Token
	var mu sync.Mutex
	var lat []time.Duration
	var n, errs int
	start := time.Now()
	measureFrom := start.Add(c.Warmup)
	end := measureFrom.Add(c.Duration)
	var wg sync.WaitGroup
	for w := 0; w < c.Clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine []time.Duration
			var ok, bad int
			for i := 0; ; i++ {
				t0 := time.Now()
				if t0.After(end) || ctx.Err() != nil {
					break
				}
				body, _ := json.Marshal(map[string]any{ // plain maps: cannot fail
					"name": fmt.Sprintf("bench-%d-%d", w, i), "duration_s": 1, "max_duration_s": 60,
					"replicas": []map[string]any{{"cpu_milli": 1000, "mem_mib": 1024}},
				})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/jobs", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				good := err == nil && resp.StatusCode/100 == 2
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				if t0.Before(measureFrom) {
					continue
				}
				if good {
					ok++
					mine = append(mine, d)
				} else {
					bad++
				}
			}
			mu.Lock()
			n, errs = n+ok, errs+bad
			if len(lat)+len(mine) <= apiLatencyMax {
				lat = append(lat, mine...)
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.Submissions, res.Errors = n, errs
	res.PerSecond = float64(n) / elapsed.Seconds()
	if len(lat) > 0 {
		res.P50, res.P99, res.Max = pct(lat, 50), pct(lat, 99), lat[len(lat)-1]
	}
	res.LedgerOK = s.Store.CheckLedger(ctx) == nil
	return res, nil
}

// freshDatabase makes an empty database on the server dsn points at.
func freshDatabase(ctx context.Context, dsn string) (string, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "suanli_bench_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create the bench database: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") // best effort
		admin.Close()
	}
	return u.String(), drop, nil
}

func redactDSN(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return s
}
