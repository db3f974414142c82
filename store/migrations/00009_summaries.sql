-- +goose Up
-- Summaries of the findings for "onus serve": the team page and the
-- dashboard read a few hundred of these rows instead of hundreds of
-- thousands of findings.
--
-- They are kept by triggers on the findings table, so every write of a
-- finding (an evaluation's changes, an exception approved, revoked or
-- expired, whatever writes findings next) updates them in the same
-- transaction, and there is one home for each rule: the summary is the
-- findings, counted. Overdue depends on the clock, so the summaries keep
-- due dates by day, and the readers count the day in progress from the
-- findings themselves (store/summary.go). Days and weeks are UTC; a week
-- starts on Monday (day 0, 1970-01-01, was a Thursday).
--
-- The owner's team is looked up when a finding is written; replacing the
-- directory rebuilds summary_open_team (ReplaceDirectory).

-- Per person (the Responsible one) and state.
CREATE TABLE summary_person (
    email TEXT NOT NULL,
    state TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (email, state)
) WITHOUT ROWID;

-- Per control, severity and state; due_day (days since 1970-01-01) for
-- open findings, 0 otherwise.
CREATE TABLE summary_control (
    control  TEXT NOT NULL,
    severity TEXT NOT NULL,
    state    TEXT NOT NULL,
    due_day  INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (control, severity, state, due_day)
) WITHOUT ROWID;

-- Open findings per team of the Responsible person and due day.
CREATE TABLE summary_open_team (
    team    TEXT NOT NULL,
    due_day INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (team, due_day)
) WITHOUT ROWID;

-- The weekly trend: per state, the week a finding first failed, was
-- resolved (-1: not resolved) and is due.
CREATE TABLE summary_trend (
    state         TEXT NOT NULL,
    first_week    INTEGER NOT NULL,
    resolved_week INTEGER NOT NULL,
    due_week      INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (state, first_week, resolved_week, due_week)
) WITHOUT ROWID;

-- Time to fix: per week of resolution, whole hours from the first failure.
CREATE TABLE summary_fix (
    resolved_week INTEGER NOT NULL,
    hours         INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (resolved_week, hours)
) WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER findings_summary_insert AFTER INSERT ON findings BEGIN
    INSERT INTO summary_person (email, state, n) VALUES (NEW.responsible_email, NEW.state, 1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        VALUES (NEW.control, NEW.severity, NEW.state, CASE WHEN NEW.state = 'open' THEN CAST(julianday(substr(NEW.due, 1, 10)) - 2440587.5 AS INTEGER) ELSE 0 END, 1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_open_team (team, due_day, n)
        SELECT COALESCE((SELECT team FROM people WHERE email = NEW.responsible_email), ''), CAST(julianday(substr(NEW.due, 1, 10)) - 2440587.5 AS INTEGER), 1
        WHERE NEW.state = 'open'
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        VALUES (NEW.state, (CAST(julianday(substr(NEW.first_failed, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            CASE WHEN NEW.resolved_at IS NULL OR NEW.resolved_at = '' THEN -1 ELSE (CAST(julianday(substr(NEW.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7 END,
            (CAST(julianday(substr(NEW.due, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7, 1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_fix (resolved_week, hours, n)
        SELECT (CAST(julianday(substr(NEW.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            (CAST(strftime('%s', NEW.resolved_at) AS INTEGER) - CAST(strftime('%s', NEW.first_failed) AS INTEGER)) / 3600, 1
        WHERE NEW.resolved_at IS NOT NULL AND NEW.resolved_at != ''
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER findings_summary_delete AFTER DELETE ON findings BEGIN
    INSERT INTO summary_person (email, state, n) VALUES (OLD.responsible_email, OLD.state, -1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    DELETE FROM summary_person WHERE email = OLD.responsible_email AND state = OLD.state AND n = 0;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        VALUES (OLD.control, OLD.severity, OLD.state, CASE WHEN OLD.state = 'open' THEN CAST(julianday(substr(OLD.due, 1, 10)) - 2440587.5 AS INTEGER) ELSE 0 END, -1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_open_team (team, due_day, n)
        SELECT COALESCE((SELECT team FROM people WHERE email = OLD.responsible_email), ''), CAST(julianday(substr(OLD.due, 1, 10)) - 2440587.5 AS INTEGER), -1
        WHERE OLD.state = 'open'
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        VALUES (OLD.state, (CAST(julianday(substr(OLD.first_failed, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            CASE WHEN OLD.resolved_at IS NULL OR OLD.resolved_at = '' THEN -1 ELSE (CAST(julianday(substr(OLD.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7 END,
            (CAST(julianday(substr(OLD.due, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7, -1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_fix (resolved_week, hours, n)
        SELECT (CAST(julianday(substr(OLD.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            (CAST(strftime('%s', OLD.resolved_at) AS INTEGER) - CAST(strftime('%s', OLD.first_failed) AS INTEGER)) / 3600, -1
        WHERE OLD.resolved_at IS NOT NULL AND OLD.resolved_at != ''
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd

-- An update is the old row taken out and the new one put in; updates that
-- change none of the summarised columns (most of an evaluation's: last
-- seen, evidence) do nothing.
-- +goose StatementBegin
CREATE TRIGGER findings_summary_update AFTER UPDATE ON findings
WHEN OLD.state IS NOT NEW.state OR OLD.responsible_email IS NOT NEW.responsible_email OR OLD.control IS NOT NEW.control
    OR OLD.severity IS NOT NEW.severity
    OR OLD.due IS NOT NEW.due OR OLD.first_failed IS NOT NEW.first_failed OR OLD.resolved_at IS NOT NEW.resolved_at
BEGIN
    INSERT INTO summary_person (email, state, n) VALUES (OLD.responsible_email, OLD.state, -1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    DELETE FROM summary_person WHERE email = OLD.responsible_email AND state = OLD.state AND n = 0;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        VALUES (OLD.control, OLD.severity, OLD.state, CASE WHEN OLD.state = 'open' THEN CAST(julianday(substr(OLD.due, 1, 10)) - 2440587.5 AS INTEGER) ELSE 0 END, -1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_open_team (team, due_day, n)
        SELECT COALESCE((SELECT team FROM people WHERE email = OLD.responsible_email), ''), CAST(julianday(substr(OLD.due, 1, 10)) - 2440587.5 AS INTEGER), -1
        WHERE OLD.state = 'open'
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        VALUES (OLD.state, (CAST(julianday(substr(OLD.first_failed, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            CASE WHEN OLD.resolved_at IS NULL OR OLD.resolved_at = '' THEN -1 ELSE (CAST(julianday(substr(OLD.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7 END,
            (CAST(julianday(substr(OLD.due, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7, -1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_fix (resolved_week, hours, n)
        SELECT (CAST(julianday(substr(OLD.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            (CAST(strftime('%s', OLD.resolved_at) AS INTEGER) - CAST(strftime('%s', OLD.first_failed) AS INTEGER)) / 3600, -1
        WHERE OLD.resolved_at IS NOT NULL AND OLD.resolved_at != ''
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_person (email, state, n) VALUES (NEW.responsible_email, NEW.state, 1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        VALUES (NEW.control, NEW.severity, NEW.state, CASE WHEN NEW.state = 'open' THEN CAST(julianday(substr(NEW.due, 1, 10)) - 2440587.5 AS INTEGER) ELSE 0 END, 1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_open_team (team, due_day, n)
        SELECT COALESCE((SELECT team FROM people WHERE email = NEW.responsible_email), ''), CAST(julianday(substr(NEW.due, 1, 10)) - 2440587.5 AS INTEGER), 1
        WHERE NEW.state = 'open'
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        VALUES (NEW.state, (CAST(julianday(substr(NEW.first_failed, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            CASE WHEN NEW.resolved_at IS NULL OR NEW.resolved_at = '' THEN -1 ELSE (CAST(julianday(substr(NEW.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7 END,
            (CAST(julianday(substr(NEW.due, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7, 1)
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO summary_fix (resolved_week, hours, n)
        SELECT (CAST(julianday(substr(NEW.resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
            (CAST(strftime('%s', NEW.resolved_at) AS INTEGER) - CAST(strftime('%s', NEW.first_failed) AS INTEGER)) / 3600, 1
        WHERE NEW.resolved_at IS NOT NULL AND NEW.resolved_at != ''
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd

-- The summaries of the findings already recorded.
INSERT INTO summary_person (email, state, n)
    SELECT responsible_email, state, COUNT(*) FROM findings WHERE true GROUP BY 1, 2;
INSERT INTO summary_control (control, severity, state, due_day, n)
    SELECT control, severity, state, CASE WHEN state = 'open' THEN CAST(julianday(substr(due, 1, 10)) - 2440587.5 AS INTEGER) ELSE 0 END, COUNT(*)
    FROM findings WHERE true GROUP BY 1, 2, 3, 4;
INSERT INTO summary_open_team (team, due_day, n)
    SELECT COALESCE(p.team, ''), CAST(julianday(substr(f.due, 1, 10)) - 2440587.5 AS INTEGER), COUNT(*)
    FROM findings f LEFT JOIN people p ON p.email = f.responsible_email WHERE f.state = 'open' GROUP BY 1, 2;
INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
    SELECT state, (CAST(julianday(substr(first_failed, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
        CASE WHEN resolved_at IS NULL OR resolved_at = '' THEN -1 ELSE (CAST(julianday(substr(resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7 END,
        (CAST(julianday(substr(due, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7, COUNT(*)
    FROM findings WHERE true GROUP BY 1, 2, 3, 4;
INSERT INTO summary_fix (resolved_week, hours, n)
    SELECT (CAST(julianday(substr(resolved_at, 1, 10)) - 2440587.5 AS INTEGER) + 3) / 7,
        (CAST(strftime('%s', resolved_at) AS INTEGER) - CAST(strftime('%s', first_failed) AS INTEGER)) / 3600, COUNT(*)
    FROM findings WHERE resolved_at IS NOT NULL AND resolved_at != '' GROUP BY 1, 2;

-- The team page counts each person's overdue findings from this index
-- alone, and the findings of a team and control are found without
-- reading the others' rows; it replaces findings_responsible, which is
-- its prefix.
CREATE INDEX findings_owner_state_due ON findings(responsible_email, state, control, due);
DROP INDEX findings_responsible;
-- +goose Down
CREATE INDEX findings_responsible ON findings(responsible_email, state);
DROP INDEX findings_owner_state_due;
DROP TRIGGER findings_summary_update;
DROP TRIGGER findings_summary_delete;
DROP TRIGGER findings_summary_insert;
DROP TABLE summary_fix;
DROP TABLE summary_trend;
DROP TABLE summary_open_team;
DROP TABLE summary_control;
DROP TABLE summary_person;
