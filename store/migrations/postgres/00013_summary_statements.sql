-- +goose Up
-- PostgreSQL translation of ../00013_summary_statements.sql: the summaries
-- of migration 00009 are kept by statement-level triggers that add up the
-- rows of a whole statement (its transition tables) and write each
-- summary row once, instead of row-level triggers that wrote it once per
-- finding. Within one transaction every write of a row leaves a version
-- that later writes of the same row must step over, so the first
-- evaluation at 100,000 people (about 50,000 new findings, a few hundred
-- summary rows) spent minutes of PostgreSQL's CPU in the summaries
-- (docs/scaling.md). An UPDATE counts its old rows out and its new rows
-- in; one that changes no summarised column adds up to nothing and writes
-- nothing, as the row-level trigger's WHEN did.
DROP TRIGGER findings_summary_update ON findings;
DROP TRIGGER findings_summary_delete ON findings;
DROP TRIGGER findings_summary_insert ON findings;

-- +goose StatementBegin
CREATE FUNCTION findings_summary_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_person (email, state, n)
        SELECT responsible_email, state, SUM(k) FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows) AS d GROUP BY 1, 2 HAVING SUM(k) <> 0
        ON CONFLICT (email, state) DO UPDATE SET n = summary_person.n + excluded.n;
    DELETE FROM summary_person s USING (SELECT DISTINCT responsible_email, state FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows) AS d WHERE k < 0) o
        WHERE s.email = o.responsible_email AND s.state = o.state AND s.n = 0;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        SELECT control, severity, state, CASE WHEN state = 'open' THEN (CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') ELSE 0 END, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows) AS d GROUP BY 1, 2, 3, 4 HAVING SUM(k) <> 0
        ON CONFLICT (control, severity, state, due_day) DO UPDATE SET n = summary_control.n + excluded.n;
    INSERT INTO summary_open_team (team, due_day, n)
        SELECT COALESCE(p.team, ''), (CAST(substr(f.due, 1, 10) AS date) - DATE '1970-01-01'), SUM(f.k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows) AS f LEFT JOIN people p ON p.email = f.responsible_email
        WHERE f.state = 'open' GROUP BY 1, 2 HAVING SUM(f.k) <> 0
        ON CONFLICT (team, due_day) DO UPDATE SET n = summary_open_team.n + excluded.n;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        SELECT state, ((CAST(substr(first_failed, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
            CASE WHEN resolved_at IS NULL OR resolved_at = '' THEN -1 ELSE ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7 END,
            ((CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows) AS d GROUP BY 1, 2, 3, 4 HAVING SUM(k) <> 0
        ON CONFLICT (state, first_week, resolved_week, due_week) DO UPDATE SET n = summary_trend.n + excluded.n;
    INSERT INTO summary_fix (resolved_week, hours, n)
        SELECT ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
            (CAST(floor(extract(epoch FROM CAST(resolved_at AS timestamptz))) AS BIGINT) - CAST(floor(extract(epoch FROM CAST(first_failed AS timestamptz))) AS BIGINT)) / 3600, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows) AS d WHERE resolved_at IS NOT NULL AND resolved_at != '' GROUP BY 1, 2 HAVING SUM(k) <> 0
        ON CONFLICT (resolved_week, hours) DO UPDATE SET n = summary_fix.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION findings_summary_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_person (email, state, n)
        SELECT responsible_email, state, SUM(k) FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d GROUP BY 1, 2 HAVING SUM(k) <> 0
        ON CONFLICT (email, state) DO UPDATE SET n = summary_person.n + excluded.n;
    DELETE FROM summary_person s USING (SELECT DISTINCT responsible_email, state FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d WHERE k < 0) o
        WHERE s.email = o.responsible_email AND s.state = o.state AND s.n = 0;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        SELECT control, severity, state, CASE WHEN state = 'open' THEN (CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') ELSE 0 END, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d GROUP BY 1, 2, 3, 4 HAVING SUM(k) <> 0
        ON CONFLICT (control, severity, state, due_day) DO UPDATE SET n = summary_control.n + excluded.n;
    INSERT INTO summary_open_team (team, due_day, n)
        SELECT COALESCE(p.team, ''), (CAST(substr(f.due, 1, 10) AS date) - DATE '1970-01-01'), SUM(f.k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS f LEFT JOIN people p ON p.email = f.responsible_email
        WHERE f.state = 'open' GROUP BY 1, 2 HAVING SUM(f.k) <> 0
        ON CONFLICT (team, due_day) DO UPDATE SET n = summary_open_team.n + excluded.n;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        SELECT state, ((CAST(substr(first_failed, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
            CASE WHEN resolved_at IS NULL OR resolved_at = '' THEN -1 ELSE ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7 END,
            ((CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d GROUP BY 1, 2, 3, 4 HAVING SUM(k) <> 0
        ON CONFLICT (state, first_week, resolved_week, due_week) DO UPDATE SET n = summary_trend.n + excluded.n;
    INSERT INTO summary_fix (resolved_week, hours, n)
        SELECT ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
            (CAST(floor(extract(epoch FROM CAST(resolved_at AS timestamptz))) AS BIGINT) - CAST(floor(extract(epoch FROM CAST(first_failed AS timestamptz))) AS BIGINT)) / 3600, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d WHERE resolved_at IS NOT NULL AND resolved_at != '' GROUP BY 1, 2 HAVING SUM(k) <> 0
        ON CONFLICT (resolved_week, hours) DO UPDATE SET n = summary_fix.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION findings_summary_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_person (email, state, n)
        SELECT responsible_email, state, SUM(k) FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows UNION ALL SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d GROUP BY 1, 2 HAVING SUM(k) <> 0
        ON CONFLICT (email, state) DO UPDATE SET n = summary_person.n + excluded.n;
    DELETE FROM summary_person s USING (SELECT DISTINCT responsible_email, state FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows UNION ALL SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d WHERE k < 0) o
        WHERE s.email = o.responsible_email AND s.state = o.state AND s.n = 0;
    INSERT INTO summary_control (control, severity, state, due_day, n)
        SELECT control, severity, state, CASE WHEN state = 'open' THEN (CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') ELSE 0 END, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows UNION ALL SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d GROUP BY 1, 2, 3, 4 HAVING SUM(k) <> 0
        ON CONFLICT (control, severity, state, due_day) DO UPDATE SET n = summary_control.n + excluded.n;
    INSERT INTO summary_open_team (team, due_day, n)
        SELECT COALESCE(p.team, ''), (CAST(substr(f.due, 1, 10) AS date) - DATE '1970-01-01'), SUM(f.k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows UNION ALL SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS f LEFT JOIN people p ON p.email = f.responsible_email
        WHERE f.state = 'open' GROUP BY 1, 2 HAVING SUM(f.k) <> 0
        ON CONFLICT (team, due_day) DO UPDATE SET n = summary_open_team.n + excluded.n;
    INSERT INTO summary_trend (state, first_week, resolved_week, due_week, n)
        SELECT state, ((CAST(substr(first_failed, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
            CASE WHEN resolved_at IS NULL OR resolved_at = '' THEN -1 ELSE ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7 END,
            ((CAST(substr(due, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows UNION ALL SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d GROUP BY 1, 2, 3, 4 HAVING SUM(k) <> 0
        ON CONFLICT (state, first_week, resolved_week, due_week) DO UPDATE SET n = summary_trend.n + excluded.n;
    INSERT INTO summary_fix (resolved_week, hours, n)
        SELECT ((CAST(substr(resolved_at, 1, 10) AS date) - DATE '1970-01-01') + 3) / 7,
            (CAST(floor(extract(epoch FROM CAST(resolved_at AS timestamptz))) AS BIGINT) - CAST(floor(extract(epoch FROM CAST(first_failed AS timestamptz))) AS BIGINT)) / 3600, SUM(k)
        FROM (SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, 1 AS k FROM new_rows UNION ALL SELECT responsible_email, state, control, severity, due, first_failed, resolved_at, -1 AS k FROM old_rows) AS d WHERE resolved_at IS NOT NULL AND resolved_at != '' GROUP BY 1, 2 HAVING SUM(k) <> 0
        ON CONFLICT (resolved_week, hours) DO UPDATE SET n = summary_fix.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER findings_summary_insert AFTER INSERT ON findings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION findings_summary_inserted();
CREATE TRIGGER findings_summary_delete AFTER DELETE ON findings REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION findings_summary_deleted();
CREATE TRIGGER findings_summary_update AFTER UPDATE ON findings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION findings_summary_updated();

-- +goose Down
DROP TRIGGER findings_summary_update ON findings;
DROP TRIGGER findings_summary_delete ON findings;
DROP TRIGGER findings_summary_insert ON findings;
DROP FUNCTION findings_summary_updated();
DROP FUNCTION findings_summary_deleted();
DROP FUNCTION findings_summary_inserted();
CREATE TRIGGER findings_summary_insert AFTER INSERT ON findings FOR EACH ROW EXECUTE FUNCTION findings_summary();
CREATE TRIGGER findings_summary_delete AFTER DELETE ON findings FOR EACH ROW EXECUTE FUNCTION findings_summary();
CREATE TRIGGER findings_summary_update AFTER UPDATE ON findings FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.responsible_email IS DISTINCT FROM NEW.responsible_email
        OR OLD.control IS DISTINCT FROM NEW.control OR OLD.severity IS DISTINCT FROM NEW.severity
        OR OLD.due IS DISTINCT FROM NEW.due OR OLD.first_failed IS DISTINCT FROM NEW.first_failed
        OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at)
    EXECUTE FUNCTION findings_summary();
