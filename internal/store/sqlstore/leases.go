package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// Lease is a named lease and its holder.
type Lease struct {
	Name      string    `json:"name"`
	Holder    string    `json:"holder"`
	Token     int64     `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AcquireLease takes or renews the lease for holder for ttl. A holder
// renewing an unexpired lease keeps its token; taking an expired lease (or
// a first one) raises the token. ok is false when another holder's lease is
// still valid; lease is then that holder's. Clocks of the replicas must
// agree to well within ttl; correctness does not depend on them (the token
// does), only how soon a dead leader is replaced.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (lease Lease, ok bool, err error) {
	if name == "" || holder == "" || ttl <= 0 {
		return lease, false, core.FieldErrorf("lease", "name, holder and a positive ttl are required")
	}
	err = s.update(ctx, func(t *tx) error {
		var cur Lease
		var exp int64
		err := t.QueryRowContext(ctx, `SELECT holder, token, expires_at FROM leases WHERE name = ?`, name).
			Scan(&cur.Holder, &cur.Token, &exp)
		now := t.now
		until := now.Add(ttl)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			lease, ok = Lease{Name: name, Holder: holder, Token: 1, ExpiresAt: fromMs(ms(until))}, true
			_, err = t.ExecContext(ctx, `INSERT INTO leases(name, holder, token, expires_at) VALUES (?,?,?,?)`,
				name, holder, lease.Token, ms(until))
			return err
		case err != nil:
			return err
		}
		cur.Name, cur.ExpiresAt = name, fromMs(exp)
		live := exp >= ms(now)
		switch {
		case live && cur.Holder == holder:
			lease, ok = Lease{Name: name, Holder: holder, Token: cur.Token, ExpiresAt: fromMs(ms(until))}, true
		case !live:
			lease, ok = Lease{Name: name, Holder: holder, Token: cur.Token + 1, ExpiresAt: fromMs(ms(until))}, true
		default:
			lease, ok = cur, false
			return nil
		}
		_, err = t.ExecContext(ctx, `UPDATE leases SET holder = ?, token = ?, expires_at = ? WHERE name = ?`,
			holder, lease.Token, ms(until), name)
		return err
	})
	return lease, ok, err
}

// ReleaseLease ends holder's lease now (a clean shutdown), so another
// replica takes over without waiting for it to expire.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
}

// GetLease returns a lease as stored.
func (s *Store) GetLease(ctx context.Context, name string) (Lease, error) {
	l := Lease{Name: name}
	var exp int64
	err := s.r.QueryRowContext(ctx, `SELECT holder, token, expires_at FROM leases WHERE name = ?`, name).Scan(&l.Holder, &l.Token, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return l, notFound("lease", name)
	}
	l.ExpiresAt = fromMs(exp)
	return l, err
}

// ErrFenced is returned by a write made under a lease token that is no
// longer current: the writer lost the lease and must stop.
var ErrFenced = errors.New("fenced: the lease was taken over")

type fenceKey struct{}

type fence struct {
	name  string
	token int64
}

// WithFence makes every write the store does with ctx check, in the same
// transaction, that the lease still has token; otherwise the write is
// refused with ErrFenced and changes nothing.
func WithFence(ctx context.Context, name string, token int64) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence{name: name, token: token})
}

// checkFence runs inside a write transaction, after the write lock.
func (t *tx) checkFence(ctx context.Context) error {
	f, ok := ctx.Value(fenceKey{}).(fence)
	if !ok {
		return nil
	}
	var token int64
	err := t.QueryRowContext(ctx, `SELECT token FROM leases WHERE name = ?`, f.name).Scan(&token)
	if errors.Is(err, sql.ErrNoRows) || err == nil && token != f.token {
		return fmt.Errorf("%w (lease %s token %d, current %d)", ErrFenced, f.name, f.token, token)
	}
	return err
}
