package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// Settings keys of the platform's default center-ranking weights.
const (
	settingSchedWeights   = "sched_weights"            // JSON of core.ScoreWeights
	settingSchedWeightsBy = "sched_weights_updated_by" // who set them, and when
)

// normalize orders a link's regions so that From < To: a link is the same
// both ways and is stored once.
func normalize(l core.Link) core.Link {
	if l.From > l.To {
		l.From, l.To = l.To, l.From
	}
	return l
}

// SetLink sets the network between two regions, either way round. A new
// link past core.LinksMax is refused as a conflict: the scheduler reads
// every link on every pass.
func (s *Store) SetLink(ctx context.Context, l core.Link, actor string) error {
	if err := l.Validate(); err != nil {
		return err
	}
	l = normalize(l)
	return s.update(ctx, func(t *tx) error {
		var exists, n int64
		if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM links WHERE region_a = ? AND region_b = ?`,
			l.From, l.To).Scan(&exists); err != nil {
			return fmt.Errorf("set link %s-%s: %w", l.From, l.To, err)
		}
		if exists == 0 {
			if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM links`).Scan(&n); err != nil {
				return fmt.Errorf("set link %s-%s: count: %w", l.From, l.To, err)
			}
			if n >= core.LinksMax {
				return core.Errorf(core.EConflict, "the network already has %d links, the most it may have; remove one first", n)
			}
		}
		_, err := t.ExecContext(ctx, `INSERT INTO links(region_a, region_b, latency_ms, bandwidth_mbps, updated_by, updated_at)
			VALUES (?,?,?,?,?,?) ON CONFLICT(region_a, region_b) DO UPDATE SET latency_ms = excluded.latency_ms,
			bandwidth_mbps = excluded.bandwidth_mbps, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			l.From, l.To, l.LatencyMs, l.BandwidthMbps, actor, ms(t.now))
		if err != nil {
			return fmt.Errorf("set link %s-%s: %w", l.From, l.To, err)
		}
		return nil
	})
}

// DeleteLink removes the link between two regions, either way round;
// ENotFound when there is none.
func (s *Store) DeleteLink(ctx context.Context, from, to string, actor string) error {
	if from == "" || to == "" {
		return core.FieldErrorf("from", "both regions are required")
	}
	l := normalize(core.Link{From: from, To: to})
	// The store keeps no audit log (policies and links record only their
	// last updated_by), so a deleted row leaves nowhere to put the actor;
	// it is taken so callers need not change when one is added.
	_ = actor
	return s.update(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, `DELETE FROM links WHERE region_a = ? AND region_b = ?`, l.From, l.To)
		if err != nil {
			return fmt.Errorf("delete link %s-%s: %w", l.From, l.To, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete link %s-%s: %w", l.From, l.To, err)
		}
		if n == 0 {
			return notFound("link", l.From+"-"+l.To)
		}
		return nil
	})
}

// Links returns the network, at most core.LinksMax links, ordered by
// their (normalized) regions, From < To.
func (s *Store) Links(ctx context.Context) ([]core.Link, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT region_a, region_b, latency_ms, bandwidth_mbps FROM links
		ORDER BY region_a, region_b LIMIT ?`, core.LinksMax)
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	defer rows.Close()
	var out []core.Link
	for rows.Next() {
		var l core.Link
		if err := rows.Scan(&l.From, &l.To, &l.LatencyMs, &l.BandwidthMbps); err != nil {
			return nil, fmt.Errorf("links: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	return out, nil
}

// SchedWeights returns the platform's default center-ranking weights,
// core.DefaultScoreWeights until an operator sets them.
func (s *Store) SchedWeights(ctx context.Context) (core.ScoreWeights, error) {
	v, err := s.Setting(ctx, settingSchedWeights)
	if err != nil {
		return core.ScoreWeights{}, fmt.Errorf("scheduler weights: %w", err)
	}
	if v == "" {
		return core.DefaultScoreWeights, nil
	}
	var w core.ScoreWeights
	if err := json.Unmarshal([]byte(v), &w); err != nil {
		return core.ScoreWeights{}, fmt.Errorf("scheduler weights %q: %w", v, err)
	}
	return w, nil
}

// SetSchedWeights sets the platform's default center-ranking weights.
func (s *Store) SetSchedWeights(ctx context.Context, w core.ScoreWeights, actor string) error {
	if err := w.Validate("weights"); err != nil {
		return err
	}
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("encode scheduler weights: %w", err)
	}
	return s.update(ctx, func(t *tx) error {
		for _, kv := range [][2]string{{settingSchedWeights, string(b)},
			{settingSchedWeightsBy, actor + " " + t.now.Format(time.RFC3339)}} {
			if _, err := t.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES (?, ?)
				ON CONFLICT(key) DO UPDATE SET value = excluded.value`, kv[0], kv[1]); err != nil {
				return fmt.Errorf("set scheduler weights: %w", err)
			}
		}
		return nil
	})
}
