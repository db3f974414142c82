-- +goose Up
-- The scheduler's jobs (sync:<source>, evaluate, nudge, deliver): when each
-- last ran, how long it took and how it ended. A job whose row says
-- running when the scheduler starts was cut short by a crash; one whose
-- next tick passed while no scheduler ran is run once at start.
CREATE TABLE jobs (
    name          TEXT PRIMARY KEY,
    running       INTEGER NOT NULL DEFAULT 0,
    started_at    TEXT NOT NULL,
    finished_at   TEXT NOT NULL DEFAULT '',
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',
    interrupted   INTEGER NOT NULL DEFAULT 0,
    trigger       TEXT NOT NULL DEFAULT '',
    runs          INTEGER NOT NULL DEFAULT 0,
    failures      INTEGER NOT NULL DEFAULT 0,
    last_ok_at    TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE jobs;
