-- +goose Up
-- Times are stored as RFC 3339 text in UTC, second precision, so that they
-- sort as text and read well in the sqlite3 shell.

-- A run is one sync or one evaluation.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,            -- sync | eval
    actor       TEXT NOT NULL,            -- who started it
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    eval_now    TEXT,                     -- the time an evaluation ran as
    status      TEXT NOT NULL,            -- running | ok | failed
    summary     TEXT,                     -- JSON
    error       TEXT
);

-- A snapshot is every record one source returned at one sync. Records are
-- stored in chunks of a compact binary encoding (see codec.go).
CREATE TABLE snapshots (
    id        INTEGER PRIMARY KEY,
    source    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    synced_at TEXT NOT NULL,
    records   INTEGER NOT NULL,
    schema    TEXT NOT NULL              -- JSON: fields and links
);

CREATE TABLE snapshot_chunks (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (snapshot_id, seq)
) WITHOUT ROWID;

-- A sync is one attempt to read a source. A good sync points at the
-- snapshot that is in force; a failed or suspicious one keeps the last
-- good snapshot in force and makes the source unhealthy.
CREATE TABLE syncs (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    source      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status      TEXT NOT NULL,           -- ok | failed | suspicious
    records     INTEGER NOT NULL DEFAULT 0,
    bad         INTEGER NOT NULL DEFAULT 0,
    bytes       INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    problems    TEXT,                    -- JSON: skipped records
    warnings    TEXT,                    -- JSON
    snapshot_id INTEGER REFERENCES snapshots(id) ON DELETE SET NULL
);
CREATE INDEX syncs_source ON syncs(source, id);

-- The source's snapshot in force: the last good one.
CREATE TABLE source_state (
    source      TEXT PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    good_sync   INTEGER NOT NULL REFERENCES syncs(id),
    records     INTEGER NOT NULL
);

CREATE TABLE findings (
    id                 INTEGER PRIMARY KEY,
    control            TEXT NOT NULL,
    entity             TEXT NOT NULL,
    entity_kind        TEXT NOT NULL,
    entity_name        TEXT NOT NULL,
    severity           TEXT NOT NULL,
    state              TEXT NOT NULL,
    responsible_email  TEXT NOT NULL DEFAULT '',
    responsible_name   TEXT NOT NULL DEFAULT '',
    responsible_entity TEXT NOT NULL DEFAULT '',
    owner_reason       TEXT NOT NULL DEFAULT '',
    ownership_gap      INTEGER NOT NULL DEFAULT 0,
    first_failed       TEXT NOT NULL,
    last_failed        TEXT NOT NULL,
    due                TEXT NOT NULL,
    resolved_at        TEXT,
    evidence           TEXT NOT NULL DEFAULT '[]',
    updated_at         TEXT NOT NULL,
    UNIQUE (control, entity)
);
CREATE INDEX findings_state ON findings(state);
CREATE INDEX findings_responsible ON findings(responsible_email, state);
CREATE INDEX findings_entity ON findings(entity);

-- The history of every finding: every state change, reassignment and
-- re-identification, with the run that made it.
CREATE TABLE finding_events (
    id         INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    run_id     INTEGER REFERENCES runs(id),
    at         TEXT NOT NULL,
    type       TEXT NOT NULL,
    from_value TEXT NOT NULL DEFAULT '',
    to_value   TEXT NOT NULL DEFAULT '',
    note       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX finding_events_finding ON finding_events(finding_id, id);

-- Per control, what the last evaluation found, including the results that
-- could not be evaluated.
CREATE TABLE control_stats (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    control TEXT NOT NULL,
    pass    INTEGER NOT NULL,
    fail    INTEGER NOT NULL,
    unknown INTEGER NOT NULL,
    reasons TEXT NOT NULL DEFAULT '[]',  -- JSON: the commonest unknown reasons
    PRIMARY KEY (run_id, control)
);

CREATE TABLE unknowns (
    control TEXT NOT NULL,
    entity  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    PRIMARY KEY (control, entity)
) WITHOUT ROWID;

-- Every change of state, by whom. Finding events say what changed in a
-- finding; the audit log says who did what to onus.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE unknowns;
DROP TABLE control_stats;
DROP TABLE finding_events;
DROP TABLE findings;
DROP TABLE source_state;
DROP TABLE syncs;
DROP TABLE snapshot_chunks;
DROP TABLE snapshots;
DROP TABLE runs;
