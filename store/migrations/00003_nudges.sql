-- +goose Up
ALTER TABLE people ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE people ADD COLUMN channel TEXT NOT NULL DEFAULT '';

-- The outbox: each planned message is written once, under its idempotency
-- key, then claimed, sent and recorded by the dispatcher.
--   pending   planned, waiting for its time (not_before) or its retry
--   claimed   taken by a dispatcher; nothing left this machine yet
--   sending   handed to the channel; a crash here is ambiguous
--   sent      the channel accepted it (provider_id)
--   failed    a permanent error, or too many attempts
--   uncertain a crash while sending on a channel that cannot deduplicate:
--             never resent automatically (onus outbox resend)
--   cancelled re-planning dropped it (its findings were fixed or moved)
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL DEFAULT '',
    items           TEXT NOT NULL DEFAULT '[]',
    reason          TEXT NOT NULL DEFAULT '',
    not_before      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    provider_id     TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox(recipient, status);

-- What each person was told about each finding, and when: the planner
-- reads it to know which stage comes next.
CREATE TABLE nudge_log (
    finding_id INTEGER NOT NULL,
    recipient  TEXT NOT NULL,
    stage      TEXT NOT NULL,
    at         TEXT NOT NULL,
    outbox_id  INTEGER NOT NULL REFERENCES outbox(id)
);
CREATE INDEX nudge_log_finding ON nudge_log(finding_id, recipient, stage);
CREATE INDEX nudge_log_recipient ON nudge_log(recipient, at);

-- +goose Down
DROP TABLE nudge_log;
DROP TABLE outbox;
ALTER TABLE people DROP COLUMN channel;
ALTER TABLE people DROP COLUMN time_zone;
