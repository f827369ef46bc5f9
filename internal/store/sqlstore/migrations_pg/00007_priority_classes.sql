-- +goose Up
-- Priority classes name priority values (as Kubernetes' PriorityClass or
-- Slurm's QOS): a job that names one gets its value as its priority at
-- submission. The job keeps the resolved number in its spec, so changing
-- or removing a class changes no job already submitted; nothing refers
-- to this table by key.
CREATE TABLE priority_classes (
  -- COLLATE "C": byte order, as Go's and SQLite's, so the list's order
  -- is the same on both engines whatever the database's locale.
  name        TEXT COLLATE "C" PRIMARY KEY,
  value       BIGINT NOT NULL CHECK (value BETWEEN -1000 AND 1000),
  description TEXT NOT NULL,
  updated_by  TEXT NOT NULL,
  updated_at  BIGINT NOT NULL -- unix ms
);

-- +goose Down
DROP TABLE priority_classes;
