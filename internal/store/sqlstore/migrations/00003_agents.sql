-- +goose Up
-- Agent centers: the last heartbeat and how long the server waits for the
-- next before it gives the center's work to others.
ALTER TABLE centers ADD COLUMN agent_seen_at INTEGER;
ALTER TABLE centers ADD COLUMN agent_timeout_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE centers ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
-- Where the run is in the center's own system (Slurm job id, Kubernetes Job).
ALTER TABLE jobs ADD COLUMN backend_id TEXT NOT NULL DEFAULT '';
-- Logs uploaded by agents (the tail, bounded by the API).
CREATE TABLE job_logs (
  job_id     TEXT PRIMARY KEY REFERENCES jobs(id),
  attempt    INTEGER NOT NULL,
  text       TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE job_logs;
ALTER TABLE jobs DROP COLUMN backend_id;
ALTER TABLE centers DROP COLUMN status_reason;
ALTER TABLE centers DROP COLUMN agent_timeout_ms;
ALTER TABLE centers DROP COLUMN agent_seen_at;
