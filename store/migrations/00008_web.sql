-- +goose Up
-- Sign-in sessions of "onus serve". The cookie carries a random value;
-- only its SHA-256 is stored, so a copy of the database signs nobody in.
CREATE TABLE web_sessions (
    id         TEXT PRIMARY KEY,      -- hex SHA-256 of the cookie value
    email      TEXT NOT NULL,         -- the person, or "break-glass:<user>"
    method     TEXT NOT NULL,         -- oidc | demo | break-glass
    csrf       TEXT NOT NULL,         -- the token every state change carries
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX web_sessions_email ON web_sessions(email);

-- Personal and service tokens for the API. Only the SHA-256 of a token is
-- stored; the token itself is shown once, when it is made.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL,        -- the person, or "service:<name>"
    name         TEXT NOT NULL,
    scopes       TEXT NOT NULL,        -- space separated: read, write
    role         TEXT NOT NULL DEFAULT '', -- service tokens: admin or auditor
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_email ON api_tokens(email);

-- Lists order open findings by due date. The two wider indexes answer
-- the common filters (severity, overdue, control) and their counts from
-- the index alone, without reading each finding's row.
CREATE INDEX findings_state_due ON findings(state, due);
CREATE INDEX findings_state_severity ON findings(state, severity, due, control, responsible_email);
CREATE INDEX findings_state_control ON findings(state, control, due, severity, responsible_email);
CREATE INDEX finding_events_type ON finding_events(type, finding_id);

-- +goose Down
DROP INDEX finding_events_type;
DROP INDEX findings_state_control;
DROP INDEX findings_state_severity;
DROP INDEX findings_state_due;
DROP TABLE api_tokens;
DROP TABLE web_sessions;
