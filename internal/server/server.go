// Package server assembles one suanli process: the SQLite store, the demo
// seed, the executors, the control loop, the REST API, the console, metrics
// and health. `suanli up` and the end-to-end tests both use it.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/suanli/suanli/internal/agenthub"
	"github.com/suanli/suanli/internal/agentproto"
	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/control"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/executor"
	"github.com/suanli/suanli/internal/seed"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

// Defaults.
const (
	DefaultAddr          = "127.0.0.1:8080"
	DefaultDataDir       = ".suanli"
	DefaultCommissionBPS = 1000 // 10 % of every captured charge
	shutdownTimeout      = 10 * time.Second
	CredentialsFile      = "demo-credentials.json"
	settingSeeded        = "seeded"
	settingCommission    = "commission_bps"
)

// Config configures a server.
type Config struct {
	DataDir       string
	Addr          string // host:port; port 0 picks a free one
	CommissionBPS *int64 // nil keeps the stored value (DefaultCommissionBPS on first start)
	Log           *slog.Logger
	LoopInterval  time.Duration
	MeterInterval time.Duration     // 0 = control.DefaultMeterInterval
	Billing       *sqlstore.Billing // nil = sqlstore.DefaultBilling (VAT 6 %, 10 min windows, 2 min grace)
	// DB is the database: empty for SQLite in DataDir, "sqlite://DIR", or
	// "postgres://…" (several replicas may share it).
	DB string
	// SkipSeed leaves the demo network out (`serve`); the store must have
	// been set up by `suanli migrate`.
	SkipSeed bool
	// LeaderID names this replica in the leader lease; empty picks a unique
	// one. A fixed ID (the embedded `up`) takes its own lease back at once
	// after a crash.
	LeaderID string
	// LeaseTTL is how long the leader lease lasts without renewal: a dead
	// leader is replaced within about this long. 0 = DefaultLeaseTTL.
	LeaseTTL time.Duration
}

// Server is a running suanli process.
type Server struct {
	Store *sqlstore.Store
	// Topology caches centers and nodes for quotes and every term's loop.
	Topology    *control.Topology
	Hub         *agenthub.Hub // agent centers
	URL         string        // http://host:port
	Credentials seed.Credentials

	cfg     Config
	http    *http.Server
	bps     int64
	metrics *metrics
	leader  leadership
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
}

// Open starts a server: it opens (and on first start seeds) the store,
// recovers jobs lost in the last stop, listens, and starts serving and the
// control loop. The listen error surfaces here, synchronously.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := OpenStore(ctx, cfg.DB, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.Billing != nil {
		st.Billing = *cfg.Billing
	}
	s := &Server{Store: st, cfg: cfg}
	if err := s.open(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) open(ctx context.Context) error {
	cfg, st := s.cfg, s.Store
	bps, err := s.commission(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	s.URL = "http://" + ln.Addr().String()
	if !cfg.SkipSeed {
		if err := s.seed(ctx); err != nil {
			ln.Close()
			return err
		}
	}
	s.bps = bps
	s.Topology = control.NewTopology(st)
	meterEvery := control.DefaultMeterInterval
	if cfg.MeterInterval > 0 {
		meterEvery = cfg.MeterInterval
	}
	s.Hub = agenthub.New(st, bps, meterEvery, cfg.Log)
	m := newMetrics(func(ctx context.Context) (map[core.JobState]int, error) { return st.JobCounts(ctx, "") })
	s.metrics = m
	s.Hub.OnFinish = func(j core.Job) { m.finished.WithLabelValues(string(j.State)).Inc() }
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	// The first election runs before Open returns, so that a single
	// server has recovered its lost jobs and leads when it is "up".
	s.leader.init(cfg)
	s.elect(loopCtx)

	mux := http.NewServeMux()
	apiSrv := &api.Server{Store: st, Money: st, CommissionBPS: bps, Log: cfg.Log, Now: st.Now, Wake: s.wake, Observe: m.observeAPI,
		Settlement: st,
		Quote: func(ctx context.Context, spec core.JobSpec) (int64, error) {
			return control.Quote(ctx, st, s.Topology, spec)
		},
		Logs: func(ctx context.Context, j core.Job) (string, error) {
			if j.CenterID != "" {
				c, err := st.Center(ctx, j.CenterID)
				switch {
				case err == nil && c.Executor == core.ExecutorAgent:
					return s.Hub.Logs(ctx, j)
				case err == nil && c.Executor == core.ExecutorSimulated:
					return executor.SimulatedLogs(j), nil
				}
			}
			return executor.ReadLogs(cfg.DataDir, j.ID, len(j.Spec.Replicas))
		},
		Agents: s.Hub, Centers: st, Network: st, PriorityClasses: st, Retryable: sqlstore.Retryable,
	}
	apiSrv.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := st.Setting(r.Context(), settingSeeded); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /leaderz", s.leaderz)
	mountConsole(mux, s, cfg)

	s.http = &http.Server{Handler: limitBody(mux), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("http serve", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.lead(loopCtx) // returns when loopCtx ends
	}()
	return nil
}

// limitBody caps every request body (the API also caps per operation, with
// a 413 in its own error format). A 413 closes the connection: the unread
// rest of the body must not be parsed as the next request.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(api.BodyBytesMax + 2)
		if strings.HasPrefix(r.URL.Path, "/api/v1/agent/") {
			limit = agentproto.BodyBytesMax + 2 // node lists of large centers
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(closeOnTooLarge{w}, r)
	})
}

type closeOnTooLarge struct{ http.ResponseWriter }

func (c closeOnTooLarge) WriteHeader(status int) {
	if status == http.StatusRequestEntityTooLarge {
		c.Header().Set("Connection", "close")
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c closeOnTooLarge) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (s *Server) commission(ctx context.Context) (int64, error) {
	stored, err := s.Store.Setting(ctx, settingCommission)
	if err != nil {
		return 0, err
	}
	var bps int64 = DefaultCommissionBPS
	switch {
	case s.cfg.CommissionBPS != nil:
		bps = *s.cfg.CommissionBPS
	case stored != "":
		return strconv.ParseInt(stored, 10, 64)
	}
	if bps < 0 || bps > core.CommissionBPSMax {
		return 0, core.FieldErrorf("commission", "must be 0..%d basis points", core.CommissionBPSMax)
	}
	return bps, s.Store.SetSetting(ctx, settingCommission, strconv.FormatInt(bps, 10))
}

// seed builds the demo network on first start and (re)writes the
// credentials file with this server's address.
func (s *Server) seed(ctx context.Context) error {
	cr, err := Seed(ctx, s.Store, s.cfg.DataDir, s.URL, s.cfg.Log)
	s.Credentials = cr
	return err
}

// Seed seeds the demo network into st on its first call and writes (or
// rewrites, with serverURL) DIR/demo-credentials.json; later calls read the
// credentials back. `up` calls it at every start, `migrate --demo` once for
// a shared database.
func Seed(ctx context.Context, st *sqlstore.Store, dataDir, serverURL string, log *slog.Logger) (seed.Credentials, error) {
	var cr seed.Credentials
	path := filepath.Join(dataDir, CredentialsFile)
	done, err := st.Setting(ctx, settingSeeded)
	if err != nil {
		return cr, err
	}
	if done != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cr, fmt.Errorf("seeded data dir without %s: %w", CredentialsFile, err)
		}
		if err := json.Unmarshal(raw, &cr); err != nil {
			return cr, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		t0 := time.Now()
		if cr, err = seed.Run(ctx, st); err != nil {
			return cr, fmt.Errorf("seed: %w", err)
		}
		log.Info("seeded demo network", "took", time.Since(t0).Round(time.Millisecond))
	}
	if serverURL != "" {
		cr.Server = serverURL
	}
	raw, err := json.MarshalIndent(cr, "", "  ")
	if err != nil {
		return cr, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return cr, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return cr, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return cr, err
	}
	if done == "" {
		return cr, st.SetSetting(ctx, settingSeeded, st.Now().Format(time.RFC3339))
	}
	return cr, nil
}

// Close stops serving, stops the loop and the executors (local processes
// are killed and requeued at the next start; simulated runs resume), and
// closes the store.
func (s *Server) Close() error {
	var err error
	s.closeMu.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err = s.http.Shutdown(ctx)
		s.cancel()
		s.wg.Wait()
		s.resign(ctx)
		err = errors.Join(err, s.Store.Close())
	})
	return err
}
