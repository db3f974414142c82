-- +goose Up
-- PostgreSQL: the same schema as ../00005_run_lock.sql, in PostgreSQL's types (see
-- README.md here).
-- The run lock: at most one sync or evaluation writes at a time. A row is
-- held by a process ("host:pid:run") until a lease that it renews; a
-- lease that ran out, or a holder that no longer exists, is taken over.
CREATE TABLE run_lock (
    name    TEXT COLLATE "C" PRIMARY KEY,
    holder  TEXT COLLATE "C" NOT NULL,
    actor   TEXT COLLATE "C" NOT NULL,
    what    TEXT COLLATE "C" NOT NULL,
    since   TEXT COLLATE "C" NOT NULL,
    until   TEXT COLLATE "C" NOT NULL
);
-- Who ran each run, so that a run left 'running' by a killed process can be
-- recognised as interrupted.
ALTER TABLE runs ADD COLUMN holder TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE runs DROP COLUMN holder;
DROP TABLE run_lock;
