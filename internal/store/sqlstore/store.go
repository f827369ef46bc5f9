// Package sqlite is suanli's embedded store: one SQLite file in WAL mode,
// one writer connection (SQLite allows one writer; IMMEDIATE transactions
// take the write lock up front so two writers never deadlock on upgrade)
// and a small pool of readers.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/suanli/suanli/internal/core"
)

//go:embed migrations/*.sql
var migrations embed.FS

//go:embed migrations_pg/*.sql
var migrationsPG embed.FS

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// FileName is the database file Open keeps in a data dir.
const FileName = "suanli.db"

// Locate reads a --db value: a PostgreSQL DSN ("postgres://…",
// "postgresql://…") or a SQLite data dir ("sqlite://DIR"). Anything else
// is taken as a plain dir, which plain reports.
func Locate(db string) (dsn, dir string, plain bool) {
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return db, "", false
	case strings.HasPrefix(db, "sqlite://"):
		return "", strings.TrimPrefix(db, "sqlite://"), false
	}
	return "", db, true
}

// readersMax bounds the read pool.
const readersMax = 4

// Store is the SQLite store.
type Store struct {
	w       *sql.DB // the single writer (SQLite); the pool (PostgreSQL)
	r       *sql.DB // readers (the same pool on PostgreSQL)
	dialect dialect
	submits submitter
	stmts   *stmtCache // SQLite only
	auth    authCache
	readMu  sync.Mutex
	reads   map[string]*sql.Stmt // hot reads, a handful of fixed queries
	Now     func() time.Time
	Billing Billing
}

// Open opens (creating if needed) the database file in dir and migrates it.
func Open(ctx context.Context, dir string) (*Store, error) {
	// synchronous=FULL: a committed charge must survive a power cut.
	return open(ctx, dir, "FULL")
}

// open lets the package's own property tests trade durability for speed.
func open(ctx context.Context, dir, synchronous string) (*Store, error) {
	path := filepath.Join(dir, FileName)
	// foreign_keys: SQLite leaves them off unless asked.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + synchronous + ")" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=temp_store(memory)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readersMax)
	s := &Store{w: w, r: r, Now: func() time.Time { return time.Now().UTC() }, Billing: DefaultBilling, stmts: newStmtCache(w),
		reads: map[string]*sql.Stmt{}}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if s.dialect == dialectPostgres {
		return s.migratePostgres(ctx)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	if s.stmts != nil {
		s.stmts.close()
	}
	s.readMu.Lock()
	for _, st := range s.reads {
		st.Close()
	}
	s.readMu.Unlock()
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// tx is a write transaction that carries one fixed now, so every row a
// transaction writes has the same timestamp.
type tx struct {
	*sql.Tx
	now     time.Time
	dialect dialect
	stmts   *stmtCache           // nil: no statement cache
	local   map[string]*sql.Stmt // prepared for this transaction only
}

// stmtCache keeps SQLite write statements prepared on the writer
// connection across transactions: parsing SQL was a third of a submission's
// CPU. A statement first seen inside a transaction is prepared there for
// that transaction and, once the transaction has released the (only)
// writer connection, prepared on the pool for good. Bounded: SQL built
// with a variable number of placeholders stops being cached once the cache
// is full. PostgreSQL needs none: pgx caches statements per connection.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool
}

// stmtCacheMax bounds the statements kept.
const stmtCacheMax = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

func (t *tx) prepared(ctx context.Context, q string) *sql.Stmt {
	c := t.stmts
	if c == nil {
		return nil
	}
	if st, ok := t.local[q]; ok {
		return st
	}
	c.mu.Lock()
	st, ok := c.m[q]
	full := len(c.m)+len(c.pending) >= stmtCacheMax
	if !ok && !full {
		c.pending[q] = true
	}
	c.mu.Unlock()
	if ok {
		return t.Tx.StmtContext(ctx, st) // already prepared on this connection: no parsing
	}
	if full {
		return nil
	}
	local, err := t.Tx.PrepareContext(ctx, q)
	if err != nil {
		return nil // run unprepared: the error comes back from there
	}
	if t.local == nil {
		t.local = map[string]*sql.Stmt{}
	}
	t.local[q] = local
	return local
}

// flush prepares the statements first seen in a transaction that has
// ended, now that the writer connection is free.
func (c *stmtCache) flush(ctx context.Context) {
	c.mu.Lock()
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	c.mu.Unlock()
	for _, q := range qs {
		st, err := c.db.PrepareContext(ctx, q)
		c.mu.Lock()
		delete(c.pending, q)
		if err == nil && c.m[q] == nil {
			c.m[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// readRow runs a hot read (every request authenticates, every quote
// checks the topology version) through statements prepared on the reader
// pool once, instead of parsing the SQL each time.
func (s *Store) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	s.readMu.Lock()
	st, ok := s.reads[q]
	s.readMu.Unlock()
	if !ok {
		var err error
		if st, err = s.r.PrepareContext(ctx, q); err != nil {
			return s.r.QueryRowContext(ctx, q, args...) // the error comes back from there
		}
		s.readMu.Lock()
		if prev, dup := s.reads[q]; dup {
			st.Close()
			st = prev
		} else {
			s.reads[q] = st
		}
		s.readMu.Unlock()
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// ExecContext runs q in the transaction through the statement cache.
func (t *tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

// QueryContext runs q in the transaction through the statement cache.
func (t *tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q in the transaction through the statement cache.
func (t *tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

// update runs fn in one write transaction, committing if fn returns nil.
func (s *Store) update(ctx context.Context, fn func(*tx) error) error {
	t, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if s.dialect == dialectPostgres {
		if _, err := t.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(writeLockKey)); err != nil {
			_ = t.Rollback()
			return fmt.Errorf("write lock: %w", err)
		}
	}
	tt := &tx{Tx: t, now: s.Now(), dialect: s.dialect, stmts: s.stmts}
	if s.stmts != nil {
		defer func() {
			if len(tt.local) > 0 {
				s.stmts.flush(context.WithoutCancel(ctx))
			}
		}()
	}
	if err := tt.checkFence(ctx); err != nil {
		_ = t.Rollback()
		return err
	}
	if err := fn(tt); err != nil {
		_ = t.Rollback() // the fn error is the one that matters
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func newID(prefix string) string {
	id, err := uuid.NewV7()
	if err != nil {
		panic(err) // only fails if the system random source fails
	}
	return prefix + id.String()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMs(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMs(v.Int64)
	return &t
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func notFound(what, id string) error {
	return core.Errorf(core.ENotFound, "%s %q not found", what, id)
}

// Setting reads a key from the settings table ("" when missing).
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetSetting writes a key to the settings table.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	return s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES (?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}
