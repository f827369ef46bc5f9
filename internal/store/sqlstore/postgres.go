package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// pgConnsMax bounds the PostgreSQL pool of one server replica.
const pgConnsMax = 16

// writeLockKey is the advisory lock every PostgreSQL write transaction
// takes first. Writes are serialized as they are on SQLite: the ledger's
// hash chain, job sequence numbers and balance checks assume one writer at
// a time, and a transaction-scoped lock releases itself on commit, rollback
// or a dropped connection.
const writeLockKey = 0x5375616e6c69 // "Suanli"

// OpenPostgres opens a PostgreSQL store at dsn (postgres://…) and migrates
// it.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	db := sql.OpenDB(qmarkConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(pgConnsMax)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{w: db, r: db, dialect: dialectPostgres, Now: func() time.Time { return time.Now().UTC() }, Billing: DefaultBilling,
		reads: map[string]*sql.Stmt{}}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect %s: %w", redact(dsn), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migratePostgres(ctx context.Context) error {
	p, err := goose.NewProvider(goose.DialectPostgres, s.w, mustSub(migrationsPG, "migrations_pg"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// redact drops the password from a DSN for messages.
func redact(dsn string) string {
	if at := strings.LastIndexByte(dsn, '@'); at > 0 {
		if c := strings.Index(dsn, "://"); c > 0 && c < at {
			return dsn[:c+3] + "…" + dsn[at:]
		}
	}
	return dsn
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE")
}

// Retryable reports whether err is a transient database failure (the
// connection dropped, the server is restarting, a serialization failure):
// the operation changed nothing and may be retried.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 40: transaction rollback; 57P:
		// operator intervention (shutdown, restart).
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "40") || strings.HasPrefix(pe.Code, "57P")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}

// qmarkConnector lets the store's SQL, written with SQLite's "?"
// placeholders, run on PostgreSQL: every statement is rewritten to "$n"
// on its way to the driver. The SQL itself is the common subset of both.
type qmarkConnector struct{ base driver.Connector }

func (c qmarkConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &qmarkConn{conn}, nil
}

func (c qmarkConnector) Driver() driver.Driver { return c.base.Driver() }

type qmarkConn struct{ driver.Conn }

// The interfaces the pgx stdlib connection implements and database/sql
// looks for.
var (
	_ driver.ConnPrepareContext = (*qmarkConn)(nil)
	_ driver.QueryerContext     = (*qmarkConn)(nil)
	_ driver.ExecerContext      = (*qmarkConn)(nil)
	_ driver.ConnBeginTx        = (*qmarkConn)(nil)
	_ driver.NamedValueChecker  = (*qmarkConn)(nil)
	_ driver.Pinger             = (*qmarkConn)(nil)
	_ driver.SessionResetter    = (*qmarkConn)(nil)
	_ driver.Validator          = (*qmarkConn)(nil)
)

func (c *qmarkConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, rebind(q))
}

func (c *qmarkConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, rebind(q), args)
}

func (c *qmarkConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, rebind(q), args)
}

func (c *qmarkConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// The optional interfaces pass through when the driver has them and fall
// back to database/sql's defaults when it does not.

func (c *qmarkConn) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *qmarkConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *qmarkConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *qmarkConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// rebind turns "?" placeholders into "$1", "$2", … outside quoted
// literals and identifiers.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		ch := q[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}
