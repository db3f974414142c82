-- +goose Up
-- An evaluation writes only the findings that changed (issue 13). A
-- finding that still fails, with the same owners, evidence and due date,
-- is not written again: its last failure is the instant of the latest
-- evaluation of its control, kept once per control here.
--
-- findings.failing is 1 when the finding failed at every evaluation of
-- its control since its row was written; its last failure (and its last
-- update, if later) is then control_evaluations.at of its control, which
-- the store reads in place of last_failed. A finding that stops failing,
-- or whose outcome becomes unknown, is written with failing = 0 and its
-- last failure as it was.
ALTER TABLE findings ADD COLUMN failing INTEGER NOT NULL DEFAULT 0;

CREATE TABLE control_evaluations (
    control TEXT PRIMARY KEY,
    at      TEXT NOT NULL,
    run_id  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- +goose Down
DROP TABLE control_evaluations;
ALTER TABLE findings DROP COLUMN failing;
