-- +goose Up
-- Cohorts: tenants of one cohort may borrow each other's idle quota. The
-- borrow limits cap what a tenant may hold beyond its own quota by
-- borrowing (0 = whatever the cohort has idle). weights is the JSON of
-- core.ScoreWeights that rank centers for the tenant's jobs ('' = the
-- platform default, kept in settings).
ALTER TABLE tenant_policies ADD COLUMN cohort TEXT NOT NULL DEFAULT '';
ALTER TABLE tenant_policies ADD COLUMN borrow_cpu BIGINT NOT NULL DEFAULT 0 CHECK (borrow_cpu >= 0);
ALTER TABLE tenant_policies ADD COLUMN borrow_mem BIGINT NOT NULL DEFAULT 0 CHECK (borrow_mem >= 0);
ALTER TABLE tenant_policies ADD COLUMN borrow_accel BIGINT NOT NULL DEFAULT 0 CHECK (borrow_accel >= 0);
ALTER TABLE tenant_policies ADD COLUMN weights TEXT NOT NULL DEFAULT '';

-- Links are the network between regions (运力). A link is the same both
-- ways, so it is stored once with region_a < region_b: one row per pair
-- and no way for the two directions to disagree.
CREATE TABLE links (
  -- COLLATE "C": byte order, as Go's and SQLite's, so the order the
  -- store normalizes to is the one the CHECK below and ORDER BY use
  -- whatever the database's locale.
  region_a       TEXT COLLATE "C" NOT NULL,
  region_b       TEXT COLLATE "C" NOT NULL,
  latency_ms     BIGINT NOT NULL CHECK (latency_ms >= 0),
  bandwidth_mbps BIGINT NOT NULL CHECK (bandwidth_mbps > 0),
  updated_by     TEXT NOT NULL,
  updated_at     BIGINT NOT NULL, -- unix ms
  PRIMARY KEY (region_a, region_b),
  CHECK (region_a < region_b)
);

-- +goose Down
DROP TABLE links;
ALTER TABLE tenant_policies DROP COLUMN weights;
ALTER TABLE tenant_policies DROP COLUMN borrow_accel;
ALTER TABLE tenant_policies DROP COLUMN borrow_mem;
ALTER TABLE tenant_policies DROP COLUMN borrow_cpu;
ALTER TABLE tenant_policies DROP COLUMN cohort;
