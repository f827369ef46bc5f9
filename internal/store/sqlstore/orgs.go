package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
)

// OrgNameLenMax bounds organization names.
const OrgNameLenMax = 200

// CreateOrg registers an organization and opens its ledger accounts.
func (s *Store) CreateOrg(ctx context.Context, name, creditCode string, role core.Role) (core.Org, error) {
	if name == "" || len(name) > OrgNameLenMax {
		return core.Org{}, core.FieldErrorf("name", "must be 1..%d bytes", OrgNameLenMax)
	}
	if err := core.ValidateCreditCode(creditCode); err != nil {
		return core.Org{}, err
	}
	if !role.Valid() {
		return core.Org{}, core.FieldErrorf("role", "must be operator, provider or tenant")
	}
	o := core.Org{ID: newID("org-"), Name: name, CreditCode: creditCode, Role: role}
	err := s.update(ctx, func(t *tx) error {
		o.CreatedAt = t.now
		if _, err := t.ExecContext(ctx, `INSERT INTO orgs(id, name, credit_code, role, created_at) VALUES (?,?,?,?,?)`,
			o.ID, o.Name, o.CreditCode, string(o.Role), ms(t.now)); err != nil {
			if isUnique(err) {
				return core.Errorf(core.EConflict, "an organization with credit code %s exists", creditCode)
			}
			return err
		}
		return t.openOrgAccounts(ctx, o)
	})
	return o, err
}

func (t *tx) openOrgAccounts(ctx context.Context, o core.Org) error {
	switch o.Role {
	case core.RoleTenant:
		return t.openAccount(ctx, ledger.WalletID(o.ID), ledger.CodeTenantWallet, o.ID, ledger.DebitsMustNotExceedCredits)
	case core.RoleProvider:
		return t.openAccount(ctx, ledger.PayableID(o.ID), ledger.CodeProviderPayable, o.ID, ledger.DebitsMustNotExceedCredits)
	}
	return nil
}

func (t *tx) openAccount(ctx context.Context, id, code, orgID string, flags ledger.AccountFlags) error {
	_, err := t.ExecContext(ctx, `INSERT INTO accounts(id, code, org_id, flags) VALUES (?,?,?,?) ON CONFLICT(id) DO NOTHING`,
		id, code, orgID, int64(flags))
	return err
}

// EnsureSystemAccounts opens the platform's own accounts.
func (s *Store) EnsureSystemAccounts(ctx context.Context) error {
	return s.update(ctx, func(t *tx) error {
		for _, a := range []struct{ id, code string }{
			{ledger.EscrowID, ledger.CodeEscrow},
			{ledger.CommissionID, ledger.CodeCommission},
			{ledger.BankClearingID, ledger.CodeBankClearing},
			{VATPayableID, CodeVAT},
			{PayoutsID, CodePayouts},
			{AdjustmentsID, CodeAdjustments},
		} {
			if err := t.openAccount(ctx, a.id, a.code, "", 0); err != nil {
				return err
			}
		}
		return nil
	})
}

// Org returns one organization.
func (s *Store) Org(ctx context.Context, id string) (core.Org, error) {
	var o core.Org
	var role string
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, credit_code, role, created_at FROM orgs WHERE id = ?`, id).
		Scan(&o.ID, &o.Name, &o.CreditCode, &role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound("organization", id)
	}
	o.Role, o.CreatedAt = core.Role(role), fromMs(created)
	return o, err
}

// Orgs lists organizations, optionally of one role.
func (s *Store) Orgs(ctx context.Context, role core.Role) ([]core.Org, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, credit_code, role, created_at FROM orgs
		WHERE ? = '' OR role = ? ORDER BY name`, string(role), string(role))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Org
	for rows.Next() {
		var o core.Org
		var r string
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &o.CreditCode, &r, &created); err != nil {
			return nil, err
		}
		o.Role, o.CreatedAt = core.Role(r), fromMs(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// tokenPrefix marks suanli tokens so they are recognizable in logs and
// secret scanners.
const tokenPrefix = "sl_"

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CreateToken mints a bearer token for an org. Only its hash is stored; the
// token is returned once.
func (s *Store) CreateToken(ctx context.Context, orgID, name string) (string, error) {
	o, err := s.Org(ctx, orgID)
	if err != nil {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	err = s.update(ctx, func(t *tx) error {
		_, err := t.ExecContext(ctx, `INSERT INTO tokens(hash, org_id, role, name, created_at) VALUES (?,?,?,?,?)`,
			hashToken(token), o.ID, string(o.Role), name, ms(t.now))
		return err
	})
	return token, err
}

// Authenticate resolves a bearer token to its principal.
func (s *Store) Authenticate(ctx context.Context, token string) (core.Principal, error) {
	h := hashToken(token)
	if p, ok := s.auth.get(h); ok {
		return p, nil
	}
	var p core.Principal
	var role string
	err := s.readRow(ctx, `SELECT org_id, role FROM tokens WHERE hash = ?`, h).Scan(&p.OrgID, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return p, core.Errorf(core.EUnauthorized, "unknown token")
	}
	p.Role = core.Role(role)
	if err == nil {
		s.auth.put(h, p)
	}
	return p, err
}

// authCache remembers recently checked tokens for AuthCacheTTL: every API
// request authenticates, and a token's org and role never change (tokens
// are only created). Bounded; unknown tokens are never cached.
type authCache struct {
	mu sync.Mutex
	m  map[string]authEntry
}

type authEntry struct {
	p  core.Principal
	at time.Time
}

// Limits of the token cache.
const (
	AuthCacheTTL = 5 * time.Second
	authCacheMax = 10_000
)

func (c *authCache) get(h string) (core.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok || time.Since(e.at) > AuthCacheTTL {
		return core.Principal{}, false
	}
	return e.p, true
}

func (c *authCache) put(h string, p core.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= authCacheMax {
		c.m = map[string]authEntry{}
	}
	c.m[h] = authEntry{p: p, at: time.Now()}
}
