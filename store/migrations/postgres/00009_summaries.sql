-- +goose Up
-- The PostgreSQL translation of ../00009_summaries.sql: the same tables;
-- the triggers are one PL/pgSQL function that takes a row out (-1) or
-- puts it in (+1).
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
    email TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (email, state)
);

-- Per control, severity and state; due_day (days since 1970-01-01) for
-- open findings, 0 otherwise.
CREATE TABLE summary_control (
    control  TEXT COLLATE "C" NOT NULL,
    severity TEXT COLLATE "C" NOT NULL,
    state    TEXT COLLATE "C" NOT NULL,
    due_day  BIGINT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (control, severity, state, due_day)
);

-- Open findings per team of the Responsible person and due day.
CREATE TABLE summary_open_team (
    team    TEXT COLLATE "C" NOT NULL,
    due_day BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (team, due_day)
);

-- The weekly trend: per state, the week a finding first failed, was
-- resolved (-1: not resolved) and is due.
CREATE TABLE summary_trend (
    state         TEXT COLLATE "C" NOT NULL,
    first_week    BIGINT NOT NULL,
    resolved_week BIGINT NOT NULL,
    due_week      BIGINT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (state, first_week, resolved_week, due_week)
);

-- Time to fix: per week of resolution, whole hours from the first failure.
CREATE TABLE summary_fix (
    resolved_week BIGINT NOT NULL,
    hours         BIGINT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (resolved_week, hours)
);

-- +goose StatementBegin
CREATE FUNCTION findings_summary_add(f findings, k BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_person (email, state, n) VALUES (f.responsible_email, f.state, k)
        ON CONFLICT (email, state) DO UPDATE SET n = summary_person.n + excluded.n;
    IF k < 0 THEN
        DELETE FROM summary_person WHERE email = f.responsible_email AND state = f.state AND n = 0;
    END IF;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        VALUES (f.control, f.severity, f.state, CASE WHEN f.state = 'open' THEN (CAST(substr(f.due, 1, 10) AS date) - DATE '1970-01-01') ELSE 0 END, k)
        ON CONFLICT (control, severity, state, due_day) DO UPDATE SET n = summary_control.n + excluded.n;
    IF f.state = 'open' THEN
        INSERT INTO summary_open_team (team, due_day, n)
            VALUES (COALESCE((SELECT team FROM people WHERE email = f.responsible_email), ''), (CAST(substr(f.due, 1, 10) AS date) - DATE '1970-01-01'), k)
            ON CONFLICT (team, due_day) DO UPDATE SET n = summary_open_team.n + excluded.n;
    END IF;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        VALUES (f.state, ((CAST(substr(f.first_failed, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
            CASE WHEN f.resolved_at IS NULL OR f.resolved_at = '' THEN -1 ELSE ((CAST(substr(f.resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7 END,
            ((CAST(substr(f.due, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7, k)
        ON CONFLICT (state, first_week, resolved_week, due_week) DO UPDATE SET n = summary_trend.n + excluded.n;
    IF f.resolved_at IS NOT NULL AND f.resolved_at != '' THEN
        INSERT INTO summary_fix (resolved_week, hours, n)
            VALUES (((CAST(substr(f.resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7, (CAST(floor(extract(epoch FROM CAST(f.resolved_at AS timestamptz))) AS BIGINT) - CAST(floor(extract(epoch FROM CAST(f.first_failed AS timestamptz))) AS BIGINT)) / 3600, k)
            ON CONFLICT (resolved_week, hours) DO UPDATE SET n = summary_fix.n + excluded.n;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION findings_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM findings_summary_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM findings_summary_add(NEW, 1);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER findings_summary_insert AFTER INSERT ON findings FOR EACH ROW EXECUTE FUNCTION findings_summary();
CREATE TRIGGER findings_summary_delete AFTER DELETE ON findings FOR EACH ROW EXECUTE FUNCTION findings_summary();
-- An update is the old row taken out and the new one put in; updates that
-- change none of the summarised columns (most of an evaluation's: last
-- seen, evidence) do nothing.
CREATE TRIGGER findings_summary_update AFTER UPDATE ON findings FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.responsible_email IS DISTINCT FROM NEW.responsible_email
        OR OLD.control IS DISTINCT FROM NEW.control OR OLD.severity IS DISTINCT FROM NEW.severity
        OR OLD.due IS DISTINCT FROM NEW.due OR OLD.first_failed IS DISTINCT FROM NEW.first_failed
        OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at)
    EXECUTE FUNCTION findings_summary();

-- The summaries of the findings already recorded.
INSERT INTO summary_person (email, state, n)
    SELECT responsible_email, state, COUNT(*) FROM findings GROUP BY 1, 2;
INSERT INTO summary_control (control, severity, state, due_day, n)
    SELECT control, severity, state, CASE WHEN state = 'open' THEN (CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') ELSE 0 END, COUNT(*)
    FROM findings GROUP BY 1, 2, 3, 4;
INSERT INTO summary_open_team (team, due_day, n)
    SELECT COALESCE(p.team, ''), (CAST(substr(f.due, 1, 10) AS date) - DATE '1970-01-01'), COUNT(*)
    FROM findings f LEFT JOIN people p ON p.email = f.responsible_email WHERE f.state = 'open' GROUP BY 1, 2;
INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
    SELECT state, ((CAST(substr(first_failed, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
        CASE WHEN resolved_at IS NULL OR resolved_at = '' THEN -1 ELSE ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7 END,
        ((CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7, COUNT(*)
    FROM findings GROUP BY 1, 2, 3, 4;
INSERT INTO summary_fix (resolved_week, hours, n)
    SELECT ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7, (CAST(floor(extract(epoch FROM CAST(resolved_at AS timestamptz))) AS BIGINT) - CAST(floor(extract(epoch FROM CAST(first_failed AS timestamptz))) AS BIGINT)) / 3600, COUNT(*)
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
DROP TRIGGER findings_summary_update ON findings;
DROP TRIGGER findings_summary_delete ON findings;
DROP TRIGGER findings_summary_insert ON findings;
DROP FUNCTION findings_summary();
DROP FUNCTION findings_summary_add(findings, BIGINT);
DROP TABLE summary_fix;
DROP TABLE summary_trend;
DROP TABLE summary_open_team;
DROP TABLE summary_control;
DROP TABLE summary_person;
