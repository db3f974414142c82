-- +goose Up
-- PostgreSQL: the same schema as ../00006_jobs.sql, in PostgreSQL's types (see
-- README.md here).
-- The scheduler's jobs (sync:<source>, evaluate, nudge, deliver): when each
-- last ran, how long it took and how it ended. A job whose row says
-- running when the scheduler starts was cut short by a crash; one whose
-- next tick passed while no scheduler ran is run once at start.
CREATE TABLE jobs (
    name          TEXT COLLATE "C" PRIMARY KEY,
    running       BIGINT NOT NULL DEFAULT 0,
    started_at    TEXT COLLATE "C" NOT NULL,
    finished_at   TEXT COLLATE "C" NOT NULL DEFAULT '',
    duration_ms   BIGINT NOT NULL DEFAULT 0,
    error         TEXT COLLATE "C" NOT NULL DEFAULT '',
    interrupted   BIGINT NOT NULL DEFAULT 0,
    trigger       TEXT COLLATE "C" NOT NULL DEFAULT '',
    runs          BIGINT NOT NULL DEFAULT 0,
    failures      BIGINT NOT NULL DEFAULT 0,
    last_ok_at    TEXT COLLATE "C" NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE jobs;
