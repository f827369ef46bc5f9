-- +goose Up
-- Priority classes name priority values (as Kubernetes' PriorityClass or
-- Slurm's QOS): a job that names one gets its value as its priority at
-- submission. The job keeps the resolved number in its spec, so changing
-- or removing a class changes no job already submitted; nothing refers
-- to this table by key.
CREATE TABLE priority_classes (
  name        TEXT PRIMARY KEY,
  value       INTEGER NOT NULL CHECK (value BETWEEN -1000 AND 1000),
  description TEXT NOT NULL,
  updated_by  TEXT NOT NULL,
  updated_at  INTEGER NOT NULL -- unix ms
);

-- +goose Down
DROP TABLE priority_classes;
