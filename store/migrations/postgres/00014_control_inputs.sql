-- +goose Up
-- The PostgreSQL translation of ../00014_control_inputs.sql.
-- Incremental evaluation (issue 13, docs/performance.md "Incremental
-- re-runs"): each control's evaluation stamp keeps what its evaluation
-- read. inputs is a JSON object of digests, one per input (the
-- evaluator's version, the control's definition, the correlation, people
-- and responsibility settings, the manual links, each source its kinds
-- depend on with its snapshot in force and health, the exceptions in
-- force for it). An evaluation whose digests for a control are those
-- stored, and which does not read the clock, carries the control's
-- results over instead of evaluating it. ages is 1 when a failure's
-- evidence showed a time with its age ("3 days ago"): such a control is
-- carried over only at the same instant. '' (a stamp from before this
-- migration) never matches: the first evaluation after it is full.
ALTER TABLE control_evaluations ADD COLUMN inputs TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE control_evaluations ADD COLUMN ages BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE control_evaluations DROP COLUMN ages;
ALTER TABLE control_evaluations DROP COLUMN inputs;
