-- +goose Up
-- How often a job was preempted: its attempts count preemptions too (each
-- new attempt is a new run in the center's system), but max_attempts bounds
-- only the runs lost with their center, so preemptions are subtracted.
ALTER TABLE jobs ADD COLUMN preemptions BIGINT NOT NULL DEFAULT 0 CHECK (preemptions >= 0);
-- A preempted job waits for the job that preempted it to start (at most
-- until waits_until, unix ms), so it cannot take its capacity straight back.
ALTER TABLE jobs ADD COLUMN waits_for TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN waits_until BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE jobs DROP COLUMN waits_until;
ALTER TABLE jobs DROP COLUMN waits_for;
ALTER TABLE jobs DROP COLUMN preemptions;
