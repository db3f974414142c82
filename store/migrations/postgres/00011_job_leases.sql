-- +goose Up
-- The PostgreSQL translation of ../00011_job_leases.sql.
-- Each running job is held by one scheduler (an onus serve replica) under
-- a lease it renews while the job runs: a scheduler starting next to
-- others resumes a job cut short only when no live scheduler holds it
-- (store/jobs.go, ClaimResume). holder is "host:pid:random"; lease_until
-- is operational time to the millisecond, '' for runs recorded before.
ALTER TABLE jobs ADD COLUMN holder TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_until TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN lease_until;
ALTER TABLE jobs DROP COLUMN holder;
