package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/control"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/executor"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

// Leadership. Every replica serves the API; exactly one at a time, the
// holder of the "control" lease, runs the scheduler and the control loop.
// Its writes carry the lease token (sqlstore.WithFence), so once another
// replica has taken the lease the old leader's writes are refused even if
// it was paused and does not know yet.
const (
	LeaderLease     = "control"
	DefaultLeaseTTL = 5 * time.Second
)

// leadership is the replica's election state.
type leadership struct {
	id    string
	ttl   time.Duration
	renew time.Duration

	mu     sync.Mutex
	term   *term // nil when not leading
	lastOK time.Time
}

// term is one stretch of leadership: its own loop and executors.
type term struct {
	token  int64
	loop   *control.Loop
	local  *executor.Local
	sim    *executor.Simulated
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *leadership) init(cfg Config) {
	l.id = cfg.LeaderID
	if l.id == "" {
		host, _ := os.Hostname() // for display only
		var b [4]byte
		_, _ = rand.Read(b[:])
		l.id = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	l.ttl = cfg.LeaseTTL
	if l.ttl <= 0 {
		l.ttl = DefaultLeaseTTL
	}
	l.renew = max(l.ttl/5, 50*time.Millisecond)
}

// LeaderID is this replica's name in the lease.
func (s *Server) LeaderID() string { return s.leader.id }

// Leading reports whether this replica runs the control loop now.
func (s *Server) Leading() bool {
	s.leader.mu.Lock()
	defer s.leader.mu.Unlock()
	return s.leader.term != nil
}

// wake nudges the current term's loop, if this replica leads.
func (s *Server) wake() {
	s.leader.mu.Lock()
	t := s.leader.term
	s.leader.mu.Unlock()
	if t != nil {
		t.loop.Wake()
	}
}

// lead renews or seeks the lease until ctx ends.
func (s *Server) lead(ctx context.Context) {
	t := time.NewTicker(s.leader.renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.elect(ctx)
	}
}

// elect makes one attempt to take or renew the lease and starts or ends a
// term accordingly. A leader that cannot reach the database steps down
// once its lease has run out: by then another replica may lead.
func (s *Server) elect(ctx context.Context) {
	l := &s.leader
	lease, ok, err := s.Store.AcquireLease(ctx, LeaderLease, l.id, l.ttl)
	l.mu.Lock()
	cur := l.term
	if err == nil && ok {
		l.lastOK = time.Now()
	}
	expired := time.Since(l.lastOK) > l.ttl
	l.mu.Unlock()
	if cur != nil {
		select {
		case <-cur.done: // the loop ended by itself (fenced)
			s.endTerm(cur, "its writes were fenced")
			cur = nil
		default:
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		s.cfg.Log.Warn("leader election", "err", err)
		if cur != nil && expired {
			s.endTerm(cur, "the lease expired while the database was unreachable")
		}
	case !ok:
		if cur != nil {
			s.endTerm(cur, "another replica holds the lease: "+lease.Holder)
		}
	case cur != nil && cur.token != lease.Token:
		s.endTerm(cur, "the lease was lost and retaken")
		s.startTerm(ctx, lease.Token)
	case cur == nil:
		s.startTerm(ctx, lease.Token)
	}
}

// startTerm recovers what the previous leader (or this process before a
// crash) left and starts the control loop under the lease token.
func (s *Server) startTerm(ctx context.Context, token int64) {
	cfg, st := s.cfg, s.Store
	fenced := sqlstore.WithFence(ctx, LeaderLease, token)
	if n, err := executor.ReapOrphans(cfg.DataDir); err != nil {
		cfg.Log.Warn("reap orphans", "err", err)
	} else if n > 0 {
		cfg.Log.Warn("killed processes left by the last run", "count", n)
	}
	// Real runs on `local` died with the process (or the replica) that ran
	// them; simulated runs resume from their recorded start.
	requeued, failed, err := st.RecoverLost(fenced, core.ExecutorLocal, s.bps)
	if err != nil {
		cfg.Log.Error("recover lost jobs; not leading", "err", err)
		return
	}
	if requeued+failed > 0 {
		cfg.Log.Warn("jobs lost in the last stop", "requeued", requeued, "failed", failed)
	}
	outcomes := make(chan executor.Outcome, executor.OutcomeQueueMax)
	t := &term{token: token, local: executor.NewLocal(cfg.DataDir, outcomes), sim: executor.NewSimulated(cfg.DataDir, outcomes),
		done: make(chan struct{})}
	t.loop = control.New(st, map[string]control.Runner{core.ExecutorLocal: t.local, core.ExecutorSimulated: t.sim},
		outcomes, s.bps, cfg.Log)
	t.loop.Topology = s.Topology
	t.loop.Lost = s.Hub.Reap
	if cfg.LoopInterval > 0 {
		t.loop.Interval = cfg.LoopInterval
	}
	if cfg.MeterInterval > 0 {
		t.loop.MeterInterval = cfg.MeterInterval
	}
	m := s.metrics
	t.loop.OnCycle = func(d time.Duration, placed int) {
		m.cycle.Observe(d.Seconds())
		m.placed.Add(float64(placed))
	}
	t.loop.OnFinish = func(j core.Job) { m.finished.WithLabelValues(string(j.State)).Inc() }
	t.loop.OnError = func(err error) {
		if errors.Is(err, sqlstore.ErrFenced) {
			t.cancel() // another replica leads: stop at once, not at the next renewal
		}
	}
	loopCtx, cancel := context.WithCancel(fenced)
	t.cancel = cancel
	go func() {
		defer close(t.done)
		_ = t.loop.Run(loopCtx) // returns nil when loopCtx ends
	}()
	s.leader.mu.Lock()
	s.leader.term = t
	s.leader.mu.Unlock()
	m.leader.Set(1)
	cfg.Log.Info("leading: running the scheduler and control loop", "replica", s.leader.id, "token", token)
}

// stop ends the term's loop and then its executors (without reporting
// their runs' outcomes: the next term recovers them from the store).
func (t *term) stop() {
	t.cancel()
	<-t.done
	t.local.Stop()
	t.sim.Stop()
}

// endTerm stops the term's loop and executors. Runs in flight are not
// lost: the next leader recovers them from the store.
func (s *Server) endTerm(t *term, why string) {
	t.stop()
	s.leader.mu.Lock()
	if s.leader.term == t {
		s.leader.term = nil
	}
	s.leader.mu.Unlock()
	s.metrics.leader.Set(0)
	s.cfg.Log.Warn("no longer leading", "replica", s.leader.id, "why", why)
}

// resign ends the term at shutdown and frees the lease so another replica
// takes over at once.
func (s *Server) resign(ctx context.Context) {
	s.leader.mu.Lock()
	t := s.leader.term
	s.leader.mu.Unlock()
	if t == nil {
		return
	}
	t.stop()
	if err := s.Store.ReleaseLease(ctx, LeaderLease, s.leader.id); err != nil {
		s.cfg.Log.Warn("release the leader lease", "err", err)
	}
}

// OpenStore opens the database a Config names: "" or a plain path means
// SQLite in that data dir; "sqlite://DIR"; "postgres://…".
func OpenStore(ctx context.Context, db, dataDir string) (*sqlstore.Store, error) {
	if db == "" {
		return sqlstore.Open(ctx, dataDir)
	}
	dsn, dir, plain := sqlstore.Locate(db)
	switch {
	case plain:
		return nil, fmt.Errorf("--db %q: want postgres://…, sqlite://DIR or empty", db)
	case dsn != "":
		return sqlstore.OpenPostgres(ctx, dsn)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sqlite dir: %w", err)
	}
	return sqlstore.Open(ctx, dir)
}

// leaderz answers who leads, for operators and failover tests: this
// replica's ID, whether it leads, and the lease as stored.
func (s *Server) leaderz(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Replica string          `json:"replica"`
		Leading bool            `json:"leading"`
		Lease   *sqlstore.Lease `json:"lease,omitempty"`
		Error   string          `json:"error,omitempty"`
	}{Replica: s.leader.id, Leading: s.Leading()}
	if l, err := s.Store.GetLease(r.Context(), LeaderLease); err == nil {
		out.Lease = &l
	} else {
		out.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out) // the client gone is not our error
}
