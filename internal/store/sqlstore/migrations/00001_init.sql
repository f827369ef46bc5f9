-- +goose Up
-- Times are unix milliseconds (UTC); money is INTEGER micro-CNY.
CREATE TABLE orgs (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  credit_code TEXT NOT NULL UNIQUE,
  role        TEXT NOT NULL CHECK (role IN ('operator','provider','tenant')),
  created_at  INTEGER NOT NULL
);

CREATE TABLE tokens (
  hash       TEXT PRIMARY KEY, -- sha256 of the bearer token; the token itself is never stored
  org_id     TEXT NOT NULL REFERENCES orgs(id),
  role       TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE centers (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  display_name    TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('ai','hpc','general')),
  region          TEXT NOT NULL,
  pue_milli       INTEGER NOT NULL,
  green_percent   INTEGER NOT NULL,
  domestic        INTEGER NOT NULL,
  provider_org_id TEXT NOT NULL REFERENCES orgs(id),
  executor        TEXT NOT NULL CHECK (executor IN ('local','simulated','agent')),
  status          TEXT NOT NULL,
  core_hour       INTEGER NOT NULL,
  mem_gib_hour    INTEGER NOT NULL,
  nominal_pflops  REAL NOT NULL, -- the published figure, for display only; capacity is computed from nodes
  source          TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);

CREATE TABLE center_prices (
  center_id   TEXT NOT NULL REFERENCES centers(id),
  accel_model TEXT NOT NULL,
  card_hour   INTEGER NOT NULL CHECK (card_hour >= 0),
  PRIMARY KEY (center_id, accel_model)
);

CREATE TABLE nodes (
  id          TEXT PRIMARY KEY,
  center_id   TEXT NOT NULL REFERENCES centers(id),
  name        TEXT NOT NULL,
  cpu_milli   INTEGER NOT NULL,
  mem_mib     INTEGER NOT NULL,
  accel_model TEXT NOT NULL DEFAULT '',
  accel_count INTEGER NOT NULL DEFAULT 0,
  cpu_model   TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL,
  UNIQUE (center_id, name)
);
CREATE INDEX nodes_center ON nodes(center_id);

CREATE TABLE jobs (
  id            TEXT PRIMARY KEY,
  seq           INTEGER NOT NULL UNIQUE,
  tenant_org_id TEXT NOT NULL REFERENCES orgs(id),
  name          TEXT NOT NULL,
  spec          TEXT NOT NULL, -- core.JobSpec as JSON
  state         TEXT NOT NULL,
  priority      INTEGER NOT NULL,
  center_id     TEXT REFERENCES centers(id),
  attempt       INTEGER NOT NULL DEFAULT 0,
  hold_micros   INTEGER NOT NULL,
  cost_micros   INTEGER NOT NULL DEFAULT 0,
  usage_ms      INTEGER NOT NULL DEFAULT 0,
  exit_code     INTEGER,
  reason        TEXT NOT NULL DEFAULT '',
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  submitted_at  INTEGER NOT NULL,
  scheduled_at  INTEGER,
  started_at    INTEGER,
  finished_at   INTEGER
);
CREATE INDEX jobs_state ON jobs(state, priority, seq);
CREATE INDEX jobs_tenant ON jobs(tenant_org_id, seq);

CREATE TABLE placements (
  job_id      TEXT NOT NULL REFERENCES jobs(id),
  idx         INTEGER NOT NULL,
  node_id     TEXT NOT NULL REFERENCES nodes(id),
  accel_model TEXT NOT NULL DEFAULT '',
  rate_scaled INTEGER NOT NULL, -- price per hour x core.RateScale at placement time
  exit_code   INTEGER,
  usage_ms    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, idx)
);
CREATE INDEX placements_node ON placements(node_id);

CREATE TABLE job_events (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id  TEXT NOT NULL REFERENCES jobs(id),
  at      INTEGER NOT NULL,
  type    TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX job_events_job ON job_events(job_id, id);

CREATE TABLE accounts (
  id              TEXT PRIMARY KEY,
  ledger          TEXT NOT NULL DEFAULT 'CNY', -- CNY money, VOUCHER entitlements, UNITS bundle card-ms
  code            TEXT NOT NULL,
  org_id          TEXT NOT NULL DEFAULT '',
  flags           INTEGER NOT NULL,
  debits_pending  INTEGER NOT NULL DEFAULT 0,
  debits_posted   INTEGER NOT NULL DEFAULT 0,
  credits_pending INTEGER NOT NULL DEFAULT 0,
  credits_posted  INTEGER NOT NULL DEFAULT 0
);

-- Transfers are append-only: no UPDATE or DELETE is ever issued on this table.
CREATE TABLE transfers (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,
  id                TEXT NOT NULL UNIQUE,
  debit_account_id  TEXT NOT NULL REFERENCES accounts(id),
  credit_account_id TEXT NOT NULL REFERENCES accounts(id),
  amount            INTEGER NOT NULL CHECK (amount >= 0),
  pending_id        TEXT NOT NULL DEFAULT '',
  flags             INTEGER NOT NULL,
  code              TEXT NOT NULL,
  job_id            TEXT NOT NULL DEFAULT '',
  expires_at        INTEGER NOT NULL DEFAULT 0, -- pending only; 0 = never
  reason            TEXT NOT NULL DEFAULT '',
  actor             TEXT NOT NULL DEFAULT '',
  created_at        INTEGER NOT NULL,
  hash              TEXT NOT NULL -- sha256(previous hash, this transfer): the journal's hash chain
);
CREATE INDEX transfers_expiry ON transfers(expires_at) WHERE flags = 1 AND expires_at > 0;
-- A hold resolves at most once.
CREATE UNIQUE INDEX transfers_resolution ON transfers(pending_id) WHERE pending_id <> '';
CREATE INDEX transfers_job ON transfers(job_id);
CREATE INDEX transfers_created ON transfers(created_at);

CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;
CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers
BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE transfers;
DROP TABLE accounts;
DROP TABLE job_events;
DROP TABLE placements;
DROP TABLE jobs;
DROP TABLE nodes;
DROP TABLE center_prices;
DROP TABLE centers;
DROP TABLE tokens;
DROP TABLE orgs;
