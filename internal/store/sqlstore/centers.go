package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/suanli/suanli/internal/core"
)

// CreateCenter registers a center with its nodes and prices in one
// transaction.
func (s *Store) CreateCenter(ctx context.Context, c core.Center, nodes []core.Node) (core.Center, error) {
	if !c.Kind.Valid() {
		return c, core.FieldErrorf("kind", "must be ai, hpc or general")
	}
	if c.Name == "" {
		return c, core.FieldErrorf("name", "is required")
	}
	if len(nodes) > core.NodesPerCenterMax {
		return c, core.FieldErrorf("nodes", "at most %d", core.NodesPerCenterMax)
	}
	if !core.ValidExecutor(c.Executor) {
		return c, core.FieldErrorf("executor", "must be local, simulated or agent")
	}
	if c.Status == "" {
		c.Status = core.CenterAvailable
	}
	c.ID = newID("ctr-")
	err := s.update(ctx, func(t *tx) error {
		c.CreatedAt = t.now
		if _, err := t.ExecContext(ctx, `INSERT INTO centers(id, name, display_name, kind, region, pue_milli, green_percent,
			domestic, provider_org_id, executor, status, core_hour, mem_gib_hour, nominal_pflops, source, created_at,
			storage_gib_hour, egress_gib) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			c.ID, c.Name, c.DisplayName, string(c.Kind), c.Region, c.PUEMilli, c.GreenPercent, b2i(c.Domestic),
			c.ProviderOrgID, c.Executor, c.Status, int64(c.Prices.CoreHour), int64(c.Prices.MemGiBHour),
			c.NominalPFLOPS, c.Source, ms(t.now), int64(c.Prices.StorageGiBHour), int64(c.Prices.EgressGiB)); err != nil {
			if isUnique(err) {
				return core.Errorf(core.EConflict, "center %q exists", c.Name)
			}
			return err
		}
		for model, price := range c.Prices.CardHour {
			if _, err := t.ExecContext(ctx, `INSERT INTO center_prices(center_id, accel_model, card_hour) VALUES (?,?,?)`,
				c.ID, model, int64(price)); err != nil {
				return err
			}
		}
		if err := t.bumpTopology(ctx); err != nil {
			return err
		}
		st, err := t.PrepareContext(ctx, `INSERT INTO nodes(id, center_id, name, cpu_milli, mem_mib, accel_model,
			accel_count, cpu_model, status) VALUES (?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range nodes {
			n := &nodes[i]
			n.ID, n.CenterID = fmt.Sprintf("%s-n%05d", c.ID, i), c.ID
			if n.Status == "" {
				n.Status = core.NodeReady
			}
			if _, err := st.ExecContext(ctx, n.ID, n.CenterID, n.Name, n.CPUMilli, n.MemMiB, n.AccelModel,
				n.AccelCount, n.CPUModel, n.Status); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
		return nil
	})
	return c, err
}

const centerCols = `id, name, display_name, kind, region, pue_milli, green_percent, domestic, provider_org_id,
	executor, status, core_hour, mem_gib_hour, nominal_pflops, source, created_at, storage_gib_hour, egress_gib,
	status_reason, agent_seen_at`

// scanCenters reads every row (centerCols) and closes rows.
func scanCenters(rows *sql.Rows) ([]core.Center, error) {
	defer rows.Close()
	var out []core.Center
	for rows.Next() {
		c, err := scanCenter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanCenter(sc interface{ Scan(...any) error }) (core.Center, error) {
	var c core.Center
	var kind string
	var dom int
	var coreHour, memHour, created, storage, egress int64
	var seen sql.NullInt64
	err := sc.Scan(&c.ID, &c.Name, &c.DisplayName, &kind, &c.Region, &c.PUEMilli, &c.GreenPercent, &dom,
		&c.ProviderOrgID, &c.Executor, &c.Status, &coreHour, &memHour, &c.NominalPFLOPS, &c.Source, &created, &storage, &egress,
		&c.StatusReason, &seen)
	c.AgentSeenAt = fromNullMs(seen)
	c.Kind, c.Domestic = core.CenterKind(kind), dom == 1
	c.Prices = core.PriceBook{CardHour: map[string]core.Micros{}, CoreHour: core.Micros(coreHour), MemGiBHour: core.Micros(memHour),
		StorageGiBHour: core.Micros(storage), EgressGiB: core.Micros(egress)}
	c.CreatedAt = fromMs(created)
	return c, err
}

func (s *Store) loadPrices(ctx context.Context, centers map[string]*core.Center) error {
	rows, err := s.r.QueryContext(ctx, `SELECT center_id, accel_model, card_hour FROM center_prices`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, model string
		var price int64
		if err := rows.Scan(&id, &model, &price); err != nil {
			return err
		}
		if c := centers[id]; c != nil {
			c.Prices.CardHour[model] = core.Micros(price)
		}
	}
	return rows.Err()
}

// Centers lists all centers by name, with prices.
func (s *Store) Centers(ctx context.Context) ([]core.Center, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+centerCols+` FROM centers ORDER BY name`)
	if err != nil {
		return nil, err
	}
	out, err := scanCenters(rows)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*core.Center, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	return out, s.loadPrices(ctx, byID)
}

// Center returns a center by ID or name.
func (s *Store) Center(ctx context.Context, idOrName string) (core.Center, error) {
	c, err := scanCenter(s.r.QueryRowContext(ctx, `SELECT `+centerCols+` FROM centers WHERE id = ? OR name = ?`, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("center", idOrName)
	}
	if err != nil {
		return c, err
	}
	return c, s.loadPrices(ctx, map[string]*core.Center{c.ID: &c})
}

// SetCenterStatus marks a center available or unavailable.
func (s *Store) SetCenterStatus(ctx context.Context, id, status string) error {
	if status != core.CenterAvailable && status != core.CenterUnavailable {
		return core.FieldErrorf("status", "must be available or unavailable")
	}
	return s.update(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, `UPDATE centers SET status = ?, status_reason = '' WHERE id = ?`, status, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("center", id)
		}
		return t.bumpTopology(ctx)
	})
}

// bumpTopology records that centers or nodes changed, in the same
// transaction as the change, so readers that cache the topology (the
// scheduler's snapshot) know to reload it.
func (t *tx) bumpTopology(ctx context.Context) error {
	_, err := t.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('topology_version', '1')
		ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(settings.value AS INTEGER) + 1 AS TEXT)`)
	return err
}

// TopologyVersion returns a number that changes whenever centers or nodes
// change.
func (s *Store) TopologyVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.readRow(ctx, `SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'topology_version'), 0)`).Scan(&v)
	return v, err
}

// Nodes lists a center's nodes (all centers when centerID is empty).
func (s *Store) Nodes(ctx context.Context, centerID string) ([]core.Node, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, center_id, name, cpu_milli, mem_mib, accel_model, accel_count,
		cpu_model, status FROM nodes WHERE ? = '' OR center_id = ? ORDER BY id`, centerID, centerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Node
	for rows.Next() {
		var n core.Node
		if err := rows.Scan(&n.ID, &n.CenterID, &n.Name, &n.CPUMilli, &n.MemMiB, &n.AccelModel, &n.AccelCount,
			&n.CPUModel, &n.Status); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// CenterStats computes capacity and allocation per center ID.
func (s *Store) CenterStats(ctx context.Context) (map[string]*core.CenterStats, error) {
	centers, err := s.Centers(ctx)
	if err != nil {
		return nil, err
	}
	kind := map[string]core.CenterKind{}
	avail := map[string]bool{}
	out := map[string]*core.CenterStats{}
	for _, c := range centers {
		kind[c.ID], avail[c.ID] = c.Kind, c.Status == core.CenterAvailable
		out[c.ID] = &core.CenterStats{Accelerators: map[string]int64{}}
	}
	rows, err := s.r.QueryContext(ctx, `SELECT center_id, accel_model, accel_count, cpu_model, status,
		COUNT(*), SUM(cpu_milli), SUM(mem_mib) FROM nodes GROUP BY center_id, accel_model, accel_count, cpu_model, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var cid, model, cpuModel, status string
		var count, n int64
		var cpu, mem int64
		if err := rows.Scan(&cid, &model, &count, &cpuModel, &status, &n, &cpu, &mem); err != nil {
			return nil, err
		}
		st := out[cid]
		if st == nil {
			continue
		}
		node := core.Node{AccelModel: model, AccelCount: count, CPUModel: cpuModel}
		p := node.CapacityTFLOPS(kind[cid]) * float64(n) / 1000
		st.Nodes += int(n)
		st.CapacityPFLOPS += p
		if status == core.NodeReady {
			st.ReadyNodes += int(n)
			st.CPUMilli += cpu
			st.MemMiB += mem
			if model != "" {
				st.Accelerators[model] += count * n
			}
			if avail[cid] {
				st.SchedulablePFLOPS += p
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.addAllocations(ctx, out, kind)
}

func (s *Store) addAllocations(ctx context.Context, out map[string]*core.CenterStats, kind map[string]core.CenterKind) error {
	rows, err := s.r.QueryContext(ctx, `SELECT j.id, p.idx, n.center_id, n.accel_model, n.accel_count, n.cpu_model, n.cpu_milli, j.spec
		FROM placements p JOIN jobs j ON j.id = p.job_id JOIN nodes n ON n.id = p.node_id
		WHERE j.state IN ('scheduled','running')`)
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var jobID, cid, model, cpuModel, spec string
		var idx int
		var count, nodeCPU int64
		if err := rows.Scan(&jobID, &idx, &cid, &model, &count, &cpuModel, &nodeCPU, &spec); err != nil {
			return err
		}
		st := out[cid]
		sp, err := decodeSpec(spec)
		if err != nil || st == nil || idx >= len(sp.Replicas) {
			continue
		}
		r := sp.Replicas[idx]
		st.UsedCPUMilli += r.CPUMilli
		st.UsedMemMiB += r.MemMiB
		st.UsedAccelerators += r.AccelCount
		if !seen[jobID] {
			seen[jobID] = true
			st.RunningJobs++
		}
		// Allocated capacity: the accelerators' share for accelerator
		// jobs; the CPU share of the node's FP64 for CPU jobs.
		node := core.Node{AccelModel: model, AccelCount: r.AccelCount}
		if r.AccelCount == 0 && nodeCPU > 0 {
			full := core.Node{CPUModel: cpuModel}.CapacityTFLOPS(kind[cid])
			st.AllocatedPFLOPS += full * float64(r.CPUMilli) / float64(nodeCPU) / 1000
			continue
		}
		st.AllocatedPFLOPS += node.CapacityTFLOPS(kind[cid]) / 1000
	}
	return rows.Err()
}
