-- +goose Up
-- How often a job was preempted: its attempts count preemptions too (each
-- new attempt is a new run in the center's system), but max_attempts bounds
-- only the runs lost with their center, so preemptions are subtracted.
ALTER TABLE jobs ADD COLUMN preemptions BIGINT NOT NULL DEFAULT 0 CHECK (preemptions >= 0);

-- +goose Down
ALTER TABLE jobs DROP COLUMN preemptions;
