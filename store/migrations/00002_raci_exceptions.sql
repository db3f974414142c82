-- +goose Up
-- Each finding knows all four letters of the matrix, and the exception
-- that exempts it.
ALTER TABLE findings ADD COLUMN accountable_email TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN accountable_name TEXT NOT NULL DEFAULT '';
ALTER TABLE findings ADD COLUMN consulted TEXT NOT NULL DEFAULT '[]';
ALTER TABLE findings ADD COLUMN informed TEXT NOT NULL DEFAULT '[]';
ALTER TABLE findings ADD COLUMN exception_id INTEGER;
CREATE INDEX findings_accountable ON findings(accountable_email, state);

-- An exception is an accepted risk. Its row holds its current state; every
-- decision is also an event, and rows are never deleted.
CREATE TABLE exceptions (
    id           INTEGER PRIMARY KEY,
    control      TEXT NOT NULL,
    finding_id   INTEGER REFERENCES findings(id),
    entity       TEXT NOT NULL DEFAULT '',
    scope        TEXT NOT NULL DEFAULT '',
    severity     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    requester    TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    state        TEXT NOT NULL,
    approver     TEXT NOT NULL DEFAULT '',
    decided_at   TEXT,
    replaces     INTEGER REFERENCES exceptions(id)
);
CREATE INDEX exceptions_state ON exceptions(state, expires_at);

CREATE TABLE exception_events (
    id           INTEGER PRIMARY KEY,
    exception_id INTEGER NOT NULL REFERENCES exceptions(id),
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX exception_events_exception ON exception_events(exception_id, id);

-- The people directory and who owns which asset, as of the last
-- evaluation: "whois" answers from these without loading the inventory.
CREATE TABLE people (
    email   TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    entity  TEXT NOT NULL,
    status  TEXT NOT NULL,
    left_on TEXT,
    manager TEXT NOT NULL DEFAULT '',
    team    TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX people_manager ON people(manager);
CREATE INDEX people_team ON people(team);

CREATE TABLE assets (
    person TEXT NOT NULL,
    entity TEXT NOT NULL,
    kind   TEXT NOT NULL,
    name   TEXT NOT NULL,
    link   TEXT NOT NULL,
    PRIMARY KEY (person, entity, link)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE assets;
DROP TABLE people;
DROP TABLE exception_events;
DROP TABLE exceptions;
DROP INDEX findings_accountable;
ALTER TABLE findings DROP COLUMN exception_id;
ALTER TABLE findings DROP COLUMN informed;
ALTER TABLE findings DROP COLUMN consulted;
ALTER TABLE findings DROP COLUMN accountable_name;
ALTER TABLE findings DROP COLUMN accountable_email;
