-- +goose Up
-- Leases elect one server replica to run the scheduler and control loops.
-- The token rises with every change of holder; the leader's writes carry
-- it and are refused once it is stale (fencing), so a paused old leader
-- cannot write after losing the lease.
CREATE TABLE leases (
  name       TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  token      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL -- unix ms
);

-- +goose Down
DROP TABLE leases;
