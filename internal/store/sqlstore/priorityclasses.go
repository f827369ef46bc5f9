package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/suanli/suanli/internal/core"
)

// SetPriorityClass creates or replaces a priority class. A new class past
// core.PriorityClassesMax is refused as a conflict: classes are a short
// list the operator curates and tenants read whole to pick from. Jobs
// already submitted keep the value they were given.
func (s *Store) SetPriorityClass(ctx context.Context, c core.PriorityClass, actor string) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.update(ctx, func(t *tx) error {
		var exists, n int64
		if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM priority_classes WHERE name = ?`, c.Name).
			Scan(&exists); err != nil {
			return fmt.Errorf("set priority class %s: %w", c.Name, err)
		}
		if exists == 0 {
			if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM priority_classes`).Scan(&n); err != nil {
				return fmt.Errorf("set priority class %s: count: %w", c.Name, err)
			}
			if n >= core.PriorityClassesMax {
				return core.Errorf(core.EConflict, "there are already %d priority classes, the most there may be; remove one first", n)
			}
		}
		_, err := t.ExecContext(ctx, `INSERT INTO priority_classes(name, value, description, updated_by, updated_at)
			VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET value = excluded.value,
			description = excluded.description, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			c.Name, c.Value, c.Description, actor, ms(t.now))
		if err != nil {
			return fmt.Errorf("set priority class %s: %w", c.Name, err)
		}
		return nil
	})
}

// DeletePriorityClass removes a priority class; ENotFound when there is
// none. Jobs that named it keep their priority and the name.
func (s *Store) DeletePriorityClass(ctx context.Context, name, actor string) error {
	// As for links, no audit log holds the actor of a delete yet; it is
	// taken so callers need not change when one is added.
	_ = actor
	return s.update(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, `DELETE FROM priority_classes WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("delete priority class %s: %w", name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete priority class %s: %w", name, err)
		}
		if n == 0 {
			return notFound("priority class", name)
		}
		return nil
	})
}

// PriorityClasses returns the priority classes, at most
// core.PriorityClassesMax, highest value first, then by name.
func (s *Store) PriorityClasses(ctx context.Context) ([]core.PriorityClass, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, value, description FROM priority_classes
		ORDER BY value DESC, name LIMIT ?`, core.PriorityClassesMax)
	if err != nil {
		return nil, fmt.Errorf("priority classes: %w", err)
	}
	defer rows.Close()
	out := make([]core.PriorityClass, 0, 8)
	for rows.Next() {
		var c core.PriorityClass
		if err := rows.Scan(&c.Name, &c.Value, &c.Description); err != nil {
			return nil, fmt.Errorf("priority classes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("priority classes: %w", err)
	}
	return out, nil
}

// PriorityClass returns one priority class; ENotFound when there is none.
func (s *Store) PriorityClass(ctx context.Context, name string) (core.PriorityClass, error) {
	c := core.PriorityClass{Name: name}
	err := s.r.QueryRowContext(ctx, `SELECT value, description FROM priority_classes WHERE name = ?`, name).
		Scan(&c.Value, &c.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return core.PriorityClass{}, notFound("priority class", name)
	}
	if err != nil {
		return core.PriorityClass{}, fmt.Errorf("priority class %s: %w", name, err)
	}
	return c, nil
}
