-- +goose Up
ALTER TABLE centers ADD COLUMN storage_gib_hour INTEGER NOT NULL DEFAULT 0;
ALTER TABLE centers ADD COLUMN egress_gib INTEGER NOT NULL DEFAULT 0;

-- Billing state of a job: the current hold (rolling holds are numbered),
-- and what has been charged so far, cumulatively, with its split.
ALTER TABLE jobs ADD COLUMN tier TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE jobs ADD COLUMN hold_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN capture_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN voucher_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN voucher_scheme_id TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN vat_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN commission_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN provider_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN arrears_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN funds_short_since INTEGER;
ALTER TABLE jobs ADD COLUMN next_capture_at INTEGER; -- rolling holds: when the next window is captured

-- A client's idempotency key makes a retried submission return the job it
-- created the first time.
ALTER TABLE jobs ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX jobs_idempotency ON jobs(tenant_org_id, idempotency_key) WHERE idempotency_key <> '';

-- Usage events: one row per (job, attempt, replica, sequence number); the
-- id is deterministic, so a repeated report is recognized and ignored.
-- rate_scaled is the replica's rate when the usage happened.
CREATE TABLE usage_events (
  id             TEXT PRIMARY KEY,
  job_id         TEXT NOT NULL REFERENCES jobs(id),
  attempt        INTEGER NOT NULL,
  replica        INTEGER NOT NULL,
  seq            INTEGER NOT NULL,
  wall_ms        INTEGER NOT NULL CHECK (wall_ms >= 0),
  storage_mib_ms INTEGER NOT NULL DEFAULT 0 CHECK (storage_mib_ms >= 0),
  egress_mib     INTEGER NOT NULL DEFAULT 0 CHECK (egress_mib >= 0),
  rate_scaled    INTEGER NOT NULL,
  accel_model    TEXT NOT NULL DEFAULT '',   -- the replica's accelerator model and count, for 资源包 coverage
  cards          INTEGER NOT NULL DEFAULT 0,
  late           INTEGER NOT NULL DEFAULT 0, -- arrived after the job was settled
  source         TEXT NOT NULL,
  received_at    INTEGER NOT NULL
);
CREATE INDEX usage_events_job ON usage_events(job_id, attempt, replica);

-- 算力券 schemes, grants and the related-party registry.
CREATE TABLE voucher_schemes (
  id                  TEXT PRIMARY KEY,
  name                TEXT NOT NULL UNIQUE,
  issuer              TEXT NOT NULL,
  share_bps           INTEGER NOT NULL CHECK (share_bps BETWEEN 0 AND 10000),
  domestic_share_bps  INTEGER NOT NULL CHECK (domestic_share_bps BETWEEN 0 AND 10000),
  cap_per_tenant_year INTEGER NOT NULL CHECK (cap_per_tenant_year > 0),
  budget              INTEGER NOT NULL CHECK (budget > 0),
  valid_from          INTEGER NOT NULL,
  valid_until         INTEGER NOT NULL,
  eligible_kinds      TEXT NOT NULL DEFAULT '',   -- comma-separated; empty = all
  eligible_centers    TEXT NOT NULL DEFAULT '',   -- comma-separated names; empty = all
  created_by          TEXT NOT NULL,
  created_at          INTEGER NOT NULL
);

CREATE TABLE voucher_grants (
  id            TEXT PRIMARY KEY,
  scheme_id     TEXT NOT NULL REFERENCES voucher_schemes(id),
  tenant_org_id TEXT NOT NULL REFERENCES orgs(id),
  year          INTEGER NOT NULL,
  amount        INTEGER NOT NULL CHECK (amount > 0),
  created_by    TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX voucher_grants_tenant ON voucher_grants(scheme_id, tenant_org_id, year);

CREATE TABLE related_parties (
  org_a      TEXT NOT NULL REFERENCES orgs(id),
  org_b      TEXT NOT NULL REFERENCES orgs(id),
  note       TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_a, org_b),
  CHECK (org_a < org_b)
);

-- 资源包: prepaid card-hours of one accelerator model. units are card-ms.
CREATE TABLE bundles (
  id            TEXT PRIMARY KEY,
  tenant_org_id TEXT NOT NULL REFERENCES orgs(id),
  accel_model   TEXT NOT NULL,
  units         INTEGER NOT NULL CHECK (units > 0),
  price         INTEGER NOT NULL CHECK (price > 0),
  valid_until   INTEGER NOT NULL,
  expired       INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL
);
CREATE INDEX bundles_tenant ON bundles(tenant_org_id, accel_model, valid_until);

-- Per job and replica key (attempt x replicas + replica): billed time seen
-- at the last capture, and how much of it bundles paid.
CREATE TABLE job_bundle_keys (
  job_id     TEXT NOT NULL REFERENCES jobs(id),
  key        INTEGER NOT NULL,
  seen_ms    INTEGER NOT NULL,
  covered_ms INTEGER NOT NULL,
  PRIMARY KEY (job_id, key)
);

-- What each bundle gave each job: card-ms and the revenue recognized.
CREATE TABLE bundle_usage (
  job_id    TEXT NOT NULL REFERENCES jobs(id),
  bundle_id TEXT NOT NULL REFERENCES bundles(id),
  units     INTEGER NOT NULL,
  value     INTEGER NOT NULL,
  PRIMARY KEY (job_id, bundle_id)
);

-- Tenants' fair-share weight and quotas (0 = no limit in that dimension).
CREATE TABLE tenant_policies (
  org_id      TEXT PRIMARY KEY REFERENCES orgs(id),
  weight      INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 1000),
  quota_cpu   INTEGER NOT NULL DEFAULT 0 CHECK (quota_cpu >= 0),
  quota_mem   INTEGER NOT NULL DEFAULT 0 CHECK (quota_mem >= 0),
  quota_accel INTEGER NOT NULL DEFAULT 0 CHECK (quota_accel >= 0),
  updated_by  TEXT NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE payouts (
  id              TEXT PRIMARY KEY,
  provider_org_id TEXT NOT NULL REFERENCES orgs(id),
  period_start    INTEGER NOT NULL,
  period_end      INTEGER NOT NULL,
  amount          INTEGER NOT NULL CHECK (amount > 0),
  reference       TEXT NOT NULL,
  created_by      TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  UNIQUE (provider_org_id, period_start, period_end)
);

-- +goose Down
DROP TABLE payouts;
DROP TABLE related_parties;
DROP TABLE voucher_grants;
DROP TABLE voucher_schemes;
DROP TABLE usage_events;
