-- +goose Up
-- The run lock: at most one sync or evaluation writes at a time. A row is
-- held by a process ("host:pid:run") until a lease that it renews; a
-- lease that ran out, or a holder that no longer exists, is taken over.
CREATE TABLE run_lock (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    what    TEXT NOT NULL,
    since   TEXT NOT NULL,
    until   TEXT NOT NULL
);
-- Who ran each run, so that a run left 'running' by a killed process can be
-- recognised as interrupted.
ALTER TABLE runs ADD COLUMN holder TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE runs DROP COLUMN holder;
DROP TABLE run_lock;
