package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// findingCols are the columns scanFinding reads, from the table findings
// (unaliased). A finding still failing (failing = 1, migration 00012) was
// not written by the evaluations that found it failing again: its last
// failure is the latest evaluation of its control, and so is its last
// update unless the row was written since.
const findingCols = `id, control, entity, entity_kind, entity_name, severity, state,
	responsible_email, responsible_name, responsible_entity, owner_reason, ownership_gap,
	first_failed, ` + lastFailedCol + `, due, COALESCE(resolved_at, ''), evidence, ` + updatedAtCol + `,
	accountable_email, accountable_name, consulted, informed, COALESCE(exception_id, 0), subject, failing`

const (
	controlEvaluated = `(SELECT ce.at FROM control_evaluations ce WHERE ce.control = findings.control)`
	lastFailedCol    = `CASE WHEN failing = 1 THEN COALESCE(` + controlEvaluated + `, last_failed) ELSE last_failed END`
	updatedAtCol     = `CASE WHEN failing = 1 AND ` + controlEvaluated + ` > updated_at THEN ` + controlEvaluated + ` ELSE updated_at END`
)

func scanFinding(sc interface{ Scan(...any) error }) (onus.Finding, error) {
	var f onus.Finding
	var sev, state, first, last, due, resolved, evidence, updated, consulted, informed, subject string
	var gap, failing int
	err := sc.Scan(&f.ID, &f.Control, &f.Entity, &f.EntityKind, &f.EntityName, &sev, &state,
		&f.Responsible.Email, &f.Responsible.Name, &f.Responsible.Entity, &f.OwnerReason, &gap,
		&first, &last, &due, &resolved, &evidence, &updated,
		&f.Accountable.Email, &f.Accountable.Name, &consulted, &informed, &f.Exception, &subject, &failing)
	if err != nil {
		return f, err
	}
	f.StillFailing = failing != 0
	f.Stored = rowDigest(f.Control, f.Entity, f.EntityKind, f.EntityName, sev, state,
		f.Responsible.Email, f.Responsible.Name, f.Responsible.Entity, f.OwnerReason, gap,
		first, due, resolved, evidence,
		f.Accountable.Email, f.Accountable.Name, consulted, informed, f.Exception, subject, failing)
	f.Severity, f.State, f.OwnershipGap = onus.Severity(sev), onus.State(state), gap != 0
	f.FirstFailed, f.LastFailed, f.Due, f.UpdatedAt = parseTime(first), parseTime(last), parseTime(due), parseTime(updated)
	if resolved != "" {
		t := parseTime(resolved)
		f.ResolvedAt = &t
	}
	if err := json.Unmarshal([]byte(evidence), &f.Evidence); err != nil {
		return f, fmt.Errorf("finding %d: evidence: %w", f.ID, err)
	}
	_ = json.Unmarshal([]byte(consulted), &f.Consulted)
	_ = json.Unmarshal([]byte(informed), &f.Informed)
	var sub findingSubject
	if err := json.Unmarshal([]byte(subject), &sub); err != nil {
		return f, fmt.Errorf("finding %d: subject: %w", f.ID, err)
	}
	f.Person, f.Device = sub.Person, sub.Device
	return f, nil
}

// findingSubject is how a finding's subject is stored.
type findingSubject struct {
	Person *onus.Subject `json:"person,omitempty"`
	Device *onus.Subject `json:"device,omitempty"`
}

// Findings returns the findings matching f, most urgent first: severity,
// then due date.
func (s *DB) Findings(ctx context.Context, f onus.FindingFilter) ([]onus.Finding, error) {
	var where []string
	var args []any
	if f.Owner != "" {
		where = append(where, "responsible_email = ?")
		args = append(args, strings.ToLower(f.Owner))
	}
	if f.Accountable != "" {
		where = append(where, "accountable_email = ?")
		args = append(args, strings.ToLower(f.Accountable))
	}
	if f.Control != "" {
		where = append(where, "control = ?")
		args = append(args, f.Control)
	}
	if len(f.NotControls) > 0 {
		where = append(where, "control NOT IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.NotControls)), ",")+")")
		for _, c := range f.NotControls {
			args = append(args, c)
		}
	}
	if f.Kind != "" {
		where = append(where, "entity_kind = ?")
		args = append(args, f.Kind)
	}
	if f.Entity != "" {
		where = append(where, "entity = ?")
		args = append(args, f.Entity)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.States)), ",")+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if !f.OverdueAt.IsZero() {
		where = append(where, "state = 'open' AND due < ?")
		args = append(args, fmtTime(f.OverdueAt))
	}
	if !f.ResolvedSince.IsZero() {
		where = append(where, "resolved_at >= ?")
		args = append(args, fmtTime(f.ResolvedSince))
	}
	q := `SELECT ` + findingCols + ` FROM findings`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += ` ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, due, control, entity`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	defer rows.Close()
	var out []onus.Finding
	for rows.Next() {
		fd, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("store: findings: %w", err)
		}
		out = append(out, fd)
	}
	return out, rows.Err()
}

// Finding returns one finding by id.
func (s *DB) Finding(ctx context.Context, id int64) (onus.Finding, error) {
	f, err := scanFinding(s.db.QueryRowContext(ctx, `SELECT `+findingCols+` FROM findings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return f, onus.Errorf(onus.ENOTFOUND, "no finding %d", id)
	}
	return f, err
}

// ActiveFindings returns the open and exempted findings.
func (s *DB) ActiveFindings(ctx context.Context) ([]onus.Finding, error) {
	return s.ActiveFindingsExcept(ctx, nil)
}

// ActiveFindingsExcept returns the open and exempted findings but those
// of the controls in except.
func (s *DB) ActiveFindingsExcept(ctx context.Context, except []string) ([]onus.Finding, error) {
	return s.Findings(ctx, onus.FindingFilter{States: []onus.State{onus.StateOpen, onus.StateExempted}, NotControls: except})
}

// ActiveCounts counts the open and exempted findings of some controls:
// still is those that failed at every evaluation of their control since
// they were written (onus.Finding.StillFailing), other the rest.
func (s *DB) ActiveCounts(ctx context.Context, controls []string) (still, other int, err error) {
	if len(controls) == 0 {
		return 0, 0, nil
	}
	args := make([]any, len(controls))
	for i, c := range controls {
		args[i] = c
	}
	rows, err := s.db.QueryContext(ctx, `SELECT failing, COUNT(*) FROM findings WHERE state IN ('open', 'exempted') AND control IN (?`+strings.Repeat(", ?", len(controls)-1)+`) GROUP BY failing`, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("store: active counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var failing, n int
		if err := rows.Scan(&failing, &n); err != nil {
			return 0, 0, fmt.Errorf("store: active counts: %w", err)
		}
		if failing != 0 {
			still += n
		} else {
			other += n
		}
	}
	return still, other, rows.Err()
}

// FindingsByKey returns the findings on record for the given keys, in the
// keys' order. Keys are looked up a control and up to 500 entities per
// query: an evaluation that opens 50,000 findings asks for them all, and a
// query per key was seconds of CPU.
func (s *DB) FindingsByKey(ctx context.Context, keys []onus.FindingKey) ([]onus.Finding, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	const batch = 500
	byControl := map[string][]string{}
	var controls []string
	for _, k := range keys {
		if _, ok := byControl[k.Control]; !ok {
			controls = append(controls, k.Control)
		}
		byControl[k.Control] = append(byControl[k.Control], k.Entity)
	}
	found := map[onus.FindingKey]onus.Finding{}
	for _, c := range controls {
		ents := byControl[c]
		for len(ents) > 0 {
			n := min(len(ents), batch)
			args := make([]any, 0, n+1)
			args = append(args, c)
			for _, e := range ents[:n] {
				args = append(args, e)
			}
			q := `SELECT ` + findingCols + ` FROM findings WHERE control = ? AND entity IN (?` + strings.Repeat(", ?", n-1) + `)`
			rows, err := s.db.QueryContext(ctx, q, args...)
			if err != nil {
				return nil, fmt.Errorf("store: finding by key: %w", err)
			}
			for rows.Next() {
				f, err := scanFinding(rows)
				if err != nil {
					rows.Close()
					return nil, fmt.Errorf("store: finding by key: %w", err)
				}
				found[onus.FindingKey{Control: f.Control, Entity: f.Entity}] = f
			}
			if err := rows.Close(); err != nil {
				return nil, err
			}
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("store: finding by key: %w", err)
			}
			ents = ents[n:]
		}
	}
	var out []onus.Finding
	for _, k := range keys {
		if f, ok := found[k]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// ApplyChanges stores a diff's changes and their history, and the run's
// per-control statistics, in one transaction: an evaluation is recorded
// entirely or not at all.
//
// mark, unless negative, is the DecisionMark read before the evaluation
// read the exceptions in force. ApplyChanges fails with a conflict error
// wrapping onus.ErrChanged, and writes nothing, when an exception was decided
// since then or a finding is no longer in the state the diff read: the
// caller evaluates again.
func (s *DB) ApplyChanges(ctx context.Context, run int64, changes []onus.FindingChange, stats []onus.ControlStat, mark int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if mark >= 0 {
			var now int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM exception_events`).Scan(&now); err != nil {
				return fmt.Errorf("store: decision mark: %w", err)
			}
			if now != mark {
				return &onus.Error{Code: onus.ECONFLICT, Err: onus.ErrChanged, Message: "an exception was decided during the evaluation"}
			}
		}
		news := 0
		for i := range changes {
			if changes[i].New {
				news++
			}
		}
		reindex, err := s.bulkIndexes(ctx, tx, news, "findings", "finding_events")
		if err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO findings (control, entity, entity_kind, entity_name, severity, state,
			responsible_email, responsible_name, responsible_entity, owner_reason, ownership_gap,
			first_failed, last_failed, due, resolved_at, evidence, updated_at,
			accountable_email, accountable_name, consulted, informed, exception_id, subject, failing)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("store: apply changes: %w", err)
		}
		defer ins.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE findings SET control = ?, entity = ?, entity_kind = ?, entity_name = ?, severity = ?, state = ?,
			responsible_email = ?, responsible_name = ?, responsible_entity = ?, owner_reason = ?, ownership_gap = ?,
			first_failed = ?, last_failed = ?, due = ?, resolved_at = ?, evidence = ?, updated_at = ?,
			accountable_email = ?, accountable_name = ?, consulted = ?, informed = ?, exception_id = ?, subject = ?, failing = ?
			WHERE id = ? AND state = ? AND COALESCE(exception_id, 0) = ?`)
		if err != nil {
			return fmt.Errorf("store: apply changes: %w", err)
		}
		defer upd.Close()
		ev, err := tx.PrepareContext(ctx, `INSERT INTO finding_events (finding_id, run_id, at, type, from_value, to_value, note) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("store: apply changes: %w", err)
		}
		defer ev.Close()
		// PostgreSQL: new findings and all events go in batches (rowBatch),
		// the events once every new finding has its id.
		var newF, evs *rowBatch
		if s.pg {
			byKey := map[[2]string]int{}
			newF = &rowBatch{tx: tx, what: "findings", cols: 24, per: pgBatchRows,
				head: `INSERT INTO findings (control, entity, entity_kind, entity_name, severity, state,
			responsible_email, responsible_name, responsible_entity, owner_reason, ownership_gap,
			first_failed, last_failed, due, resolved_at, evidence, updated_at,
			accountable_email, accountable_name, consulted, informed, exception_id, subject, failing) VALUES `,
				tail: `RETURNING id, control, entity`,
				scan: func(rows *sql.Rows) error {
					var id int64
					var k [2]string
					if err := rows.Scan(&id, &k[0], &k[1]); err != nil {
						return err
					}
					changes[byKey[k]].Finding.ID = id
					return nil
				}}
			for i := range changes {
				if changes[i].New {
					byKey[[2]string{changes[i].Finding.Control, changes[i].Finding.Entity}] = i
				}
			}
			if evs, err = s.newBatch(ctx, tx, "finding_events", []string{"finding_id", "run_id", "at", "type", "from_value", "to_value", "note"}, ""); err != nil {
				return err
			}
		}
		newFinding := func(err error, f *onus.Finding) error {
			if isUniqueViolation(err) {
				return &onus.Error{Code: onus.ECONFLICT, Err: onus.ErrChanged, Message: fmt.Sprintf("finding %s on %s was recorded by another run during the evaluation", f.Control, f.Entity)}
			}
			return fmt.Errorf("store: insert finding %s/%s: %w", f.Control, f.Entity, err)
		}
		for i := range changes {
			c := &changes[i]
			f := &c.Finding
			evidence, _ := json.Marshal(f.Evidence)
			if f.Evidence == nil {
				evidence = []byte("[]")
			}
			args := []any{f.Control, f.Entity, f.EntityKind, f.EntityName, string(f.Severity), string(f.State),
				f.Responsible.Email, f.Responsible.Name, f.Responsible.Entity, f.OwnerReason, boolInt(f.OwnershipGap),
				fmtTime(f.FirstFailed), fmtTime(f.LastFailed), fmtTime(f.Due), nullTime(f.ResolvedAt), string(evidence), fmtTime(f.UpdatedAt),
				f.Accountable.Email, f.Accountable.Name, jsonList(f.Consulted), jsonList(f.Informed), nullID(f.Exception)}
			subject, _ := json.Marshal(findingSubject{Person: f.Person, Device: f.Device})
			failing := boolInt(f.StillFailing)
			args = append(args, string(subject), failing)
			// A finding that fails again as it was (same owners, evidence,
			// due date, state) is not written: its last failure is its
			// control's evaluation, stamped below.
			if !c.New && len(c.Events) == 0 && f.Stored != "" && f.Stored == rowDigest(f.Control, f.Entity, f.EntityKind, f.EntityName, string(f.Severity), string(f.State),
				f.Responsible.Email, f.Responsible.Name, f.Responsible.Entity, f.OwnerReason, boolInt(f.OwnershipGap),
				fmtTime(f.FirstFailed), fmtTime(f.Due), timeOrEmpty(f.ResolvedAt), string(evidence),
				f.Accountable.Email, f.Accountable.Name, jsonList(f.Consulted), jsonList(f.Informed), f.Exception, string(subject), failing) {
				continue
			}
			if c.New && s.pg {
				if err := newF.add(ctx, args...); err != nil {
					return newFinding(err, f)
				}
				continue // its events below, once it has its id
			} else if c.New {
				res, err := ins.ExecContext(ctx, args...)
				if err != nil {
					return newFinding(err, f)
				}
				f.ID, _ = res.LastInsertId()
			} else {
				res, err := upd.ExecContext(ctx, append(args, f.ID, string(c.Prior), c.PriorException)...)
				if err != nil {
					return fmt.Errorf("store: update finding %d: %w", f.ID, err)
				}
				if n, _ := res.RowsAffected(); n == 0 {
					return &onus.Error{Code: onus.ECONFLICT, Err: onus.ErrChanged, Message: fmt.Sprintf("finding %d changed during the evaluation", f.ID)}
				}
			}
			if s.pg {
				continue // its events below, with the new findings'
			}
			for _, e := range c.Events {
				if _, err := ev.ExecContext(ctx, f.ID, run, fmtTime(e.At), string(e.Type), e.From, e.To, e.Note); err != nil {
					return fmt.Errorf("store: finding event: %w", err)
				}
			}
		}
		if s.pg {
			if err := newF.flush(ctx); err != nil {
				return newFinding(err, &onus.Finding{Control: "(one of the new findings)", Entity: "(its entity)"})
			}
			for i := range changes {
				c := &changes[i]
				if c.Finding.ID == 0 {
					return fmt.Errorf("store: insert finding %s/%s: no id returned", c.Finding.Control, c.Finding.Entity)
				}
				for _, e := range c.Events {
					if err := evs.add(ctx, c.Finding.ID, run, fmtTime(e.At), string(e.Type), e.From, e.To, e.Note); err != nil {
						return fmt.Errorf("store: finding event: %w", err)
					}
				}
			}
			if err := evs.flush(ctx); err != nil {
				return fmt.Errorf("store: finding event: %w", err)
			}
		}
		for _, st := range stats {
			if !st.Evaluated.IsZero() {
				if _, err := tx.ExecContext(ctx, `INSERT INTO control_evaluations (control, at, run_id, inputs, ages) VALUES (?, ?, ?, ?, ?)
					ON CONFLICT (control) DO UPDATE SET at = excluded.at, run_id = excluded.run_id, inputs = excluded.inputs, ages = excluded.ages`,
					st.Control, fmtTime(st.Evaluated), run, st.Inputs, boolInt(st.Ages)); err != nil {
					return fmt.Errorf("store: control evaluation: %w", err)
				}
			}
			reasons, _ := json.Marshal(st.Reasons)
			if _, err := tx.ExecContext(ctx, `INSERT INTO control_stats (run_id, control, pass, fail, unknown, reasons) VALUES (?, ?, ?, ?, ?, ?)`,
				run, st.Control, st.Pass, st.Fail, st.Unknown, string(reasons)); err != nil {
				return fmt.Errorf("store: control stats: %w", err)
			}
		}
		return reindex()
	})
}

// rowDigest identifies a finding row by the columns an evaluation writes,
// but its last failure and last update: two rows with the same digest
// differ in nothing else.
func rowDigest(cols ...any) string {
	h := sha256.New()
	var b []byte
	for _, c := range cols {
		b = b[:0]
		switch v := c.(type) {
		case string:
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ':')
			b = append(b, v...)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		default:
			panic(fmt.Sprintf("store: row digest of %T", c))
		}
		b = append(b, 0)
		h.Write(b)
	}
	return string(h.Sum(nil))
}

func timeOrEmpty(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return fmtTime(*t)
}

func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Events returns a finding's history, oldest first.
func (s *DB) Events(ctx context.Context, finding int64) ([]onus.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT finding_id, COALESCE(run_id, 0), at, type, from_value, to_value, note FROM finding_events WHERE finding_id = ? ORDER BY id`, finding)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []onus.Event
	for rows.Next() {
		var e onus.Event
		var at string
		if err := rows.Scan(&e.FindingID, &e.Run, &at, &e.Type, &e.From, &e.To, &e.Note); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.At = parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastControlStats returns the statistics of the latest successful evaluation.
func (s *DB) LastControlStats(ctx context.Context) ([]onus.ControlStat, error) {
	return s.controlStats(ctx, `SELECT control, pass, fail, unknown, reasons FROM control_stats
		WHERE run_id = (SELECT MAX(id) FROM runs WHERE kind = 'eval' AND status = 'ok') ORDER BY control`)
}

// ControlInputs returns each control's latest evaluation stamp, with the
// digests of what that evaluation read, by control.
func (s *DB) ControlInputs(ctx context.Context) (map[string]onus.ControlInputs, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT control, at, run_id, inputs, ages FROM control_evaluations`)
	if err != nil {
		return nil, fmt.Errorf("store: control inputs: %w", err)
	}
	defer rows.Close()
	out := map[string]onus.ControlInputs{}
	for rows.Next() {
		var ci onus.ControlInputs
		var at string
		var ages int
		if err := rows.Scan(&ci.Control, &at, &ci.Run, &ci.Inputs, &ages); err != nil {
			return nil, fmt.Errorf("store: control inputs: %w", err)
		}
		ci.At, ci.Ages = parseTime(at), ages != 0
		out[ci.Control] = ci
	}
	return out, rows.Err()
}

// ControlStats returns the per-control statistics of one run.
func (s *DB) ControlStats(ctx context.Context, run int64) ([]onus.ControlStat, error) {
	return s.controlStats(ctx, `SELECT control, pass, fail, unknown, reasons FROM control_stats WHERE run_id = ? ORDER BY control`, run)
}

// controlStats reads per-control statistics: query selects control,
// pass, fail, unknown and reasons.
func (s *DB) controlStats(ctx context.Context, query string, args ...any) ([]onus.ControlStat, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: control stats: %w", err)
	}
	defer rows.Close()
	var out []onus.ControlStat
	for rows.Next() {
		var st onus.ControlStat
		var reasons string
		if err := rows.Scan(&st.Control, &st.Pass, &st.Fail, &st.Unknown, &reasons); err != nil {
			return nil, fmt.Errorf("store: control stats: %w", err)
		}
		_ = json.Unmarshal([]byte(reasons), &st.Reasons)
		out = append(out, st)
	}
	return out, rows.Err()
}

// ReplaceUnknowns stores the results that could not be evaluated in the
// latest evaluation, replacing the previous ones. The unknowns of the
// controls in keep (carried over without being evaluated) stay as they
// are.
func (s *DB) ReplaceUnknowns(ctx context.Context, rows []onus.UnknownResult, keep ...string) error {
	kept := make(map[string]bool, len(keep))
	for _, c := range keep {
		kept[c] = true
	}
	want := make(map[[2]string]string, len(rows))
	for _, r := range rows {
		want[[2]string{r.Control, r.Entity}] = r.Reason
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		// Only the difference is written: most unknowns stay from one
		// evaluation to the next.
		cur, err := tx.QueryContext(ctx, `SELECT control, entity, reason FROM unknowns`)
		if err != nil {
			return fmt.Errorf("store: unknowns: %w", err)
		}
		var gone [][2]string
		for cur.Next() {
			var k [2]string
			var reason string
			if err := cur.Scan(&k[0], &k[1], &reason); err != nil {
				cur.Close()
				return fmt.Errorf("store: unknowns: %w", err)
			}
			if kept[k[0]] {
				continue
			}
			if w, ok := want[k]; !ok {
				gone = append(gone, k)
			} else if w == reason {
				delete(want, k)
			}
		}
		cur.Close()
		if err := cur.Err(); err != nil {
			return fmt.Errorf("store: unknowns: %w", err)
		}
		for _, k := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM unknowns WHERE control = ? AND entity = ?`, k[0], k[1]); err != nil {
				return fmt.Errorf("store: unknowns: %w", err)
			}
		}
		b, err := s.newBatch(ctx, tx, "unknowns", []string{"control", "entity", "reason"},
			`ON CONFLICT (control, entity) DO UPDATE SET reason = excluded.reason`)
		if err != nil {
			return fmt.Errorf("store: replace unknowns: %w", err)
		}
		defer b.close()
		for k, reason := range want {
			if err := b.add(ctx, k[0], k[1], reason); err != nil {
				return fmt.Errorf("store: unknowns: %w", err)
			}
		}
		if err := b.flush(ctx); err != nil {
			return fmt.Errorf("store: unknowns: %w", err)
		}
		return nil
	})
}

// Unknowns returns the latest evaluation's unknown results.
func (s *DB) Unknowns(ctx context.Context, control string) ([]onus.UnknownResult, error) {
	q := `SELECT control, entity, reason FROM unknowns`
	var args []any
	if control != "" {
		q += ` WHERE control = ?`
		args = append(args, control)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY control, entity`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: unknowns: %w", err)
	}
	defer rows.Close()
	var out []onus.UnknownResult
	for rows.Next() {
		var u onus.UnknownResult
		if err := rows.Scan(&u.Control, &u.Entity, &u.Reason); err != nil {
			return nil, fmt.Errorf("store: unknowns: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Stats counts findings by state, control and owner as of now.
func (s *DB) Stats(ctx context.Context, now time.Time) (*onus.LedgerStats, error) {
	st := &onus.LedgerStats{ByControl: map[string]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM findings GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			rows.Close()
			return nil, err
		}
		switch onus.State(state) {
		case onus.StateOpen:
			st.Open = n
		case onus.StateExempted:
			st.Exempted = n
		case onus.StateResolved:
			st.Resolved = n
		case onus.StateGone:
			st.Gone = n
		}
	}
	rows.Close()
	at := fmtTime(now)
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(ownership_gap), 0) FROM findings WHERE state = 'open' AND due < ?`, at).Scan(&st.Overdue, new(int)); err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(ownership_gap), 0) FROM findings WHERE state = 'open'`).Scan(&st.Gaps); err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT control, COUNT(*) FROM findings WHERE state = 'open' GROUP BY control`)
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	for rows.Next() {
		var c string
		var n int
		rows.Scan(&c, &n)
		st.ByControl[c] = n
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT responsible_email, MAX(responsible_name), COUNT(*), SUM(CASE WHEN due < ? THEN 1 ELSE 0 END) FROM findings
		WHERE state = 'open' GROUP BY responsible_email ORDER BY COUNT(*) DESC, SUM(CASE WHEN due < ? THEN 1 ELSE 0 END) DESC, responsible_email`, at, at)
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o onus.OwnerCount
		if err := rows.Scan(&o.Email, &o.Name, &o.Open, &o.Overdue); err != nil {
			return nil, fmt.Errorf("store: stats: %w", err)
		}
		st.Owners = append(st.Owners, o)
	}
	return st, rows.Err()
}
