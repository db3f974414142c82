package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

const exceptionCols = `id, control, COALESCE(finding_id, 0), entity, scope, severity, reason, requester, requested_at,
	expires_at, state, approver, COALESCE(decided_at, ''), COALESCE(replaces, 0)`

func scanException(sc interface{ Scan(...any) error }) (*onus.Exception, error) {
	var x onus.Exception
	var sev, requested, expires, state, decided string
	if err := sc.Scan(&x.ID, &x.Control, &x.Finding, &x.Entity, &x.Scope, &sev, &x.Reason, &x.Requester, &requested,
		&expires, &state, &x.Approver, &decided, &x.Replaces); err != nil {
		return nil, fmt.Errorf("store: scan exception: %w", err)
	}
	x.Severity, x.State = onus.Severity(sev), onus.ExceptionState(state)
	x.RequestedAt, x.Expires = parseTime(requested), parseTime(expires)
	if decided != "" {
		t := parseTime(decided)
		x.DecidedAt = &t
	}
	return &x, nil
}

// CreateException stores a requested exception, with its first event and
// an audit entry.
func (s *DB) CreateException(ctx context.Context, x *onus.Exception) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var finding any
		if x.Finding != 0 {
			finding = x.Finding
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO exceptions (control, finding_id, entity, scope, severity, reason, requester, requested_at, expires_at, state, replaces)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			x.Control, finding, x.Entity, x.Scope, string(x.Severity), x.Reason, x.Requester, fmtTime(x.RequestedAt), fmtTime(x.Expires),
			string(onus.ExceptionRequested), nullID(x.Replaces))
		if err != nil {
			return fmt.Errorf("store: create exception: %w", err)
		}
		x.ID, _ = res.LastInsertId()
		x.State = onus.ExceptionRequested
		note := fmt.Sprintf("until %s: %s", x.Expires.Format("2006-01-02"), x.Reason)
		if x.Replaces != 0 {
			note = fmt.Sprintf("extends #%d %s", x.Replaces, note)
		}
		return s.event(ctx, tx, x.ID, x.Requester, "requested", note)
	})
}

func (s *DB) event(ctx context.Context, tx *sql.Tx, id int64, actor, action, note string) error {
	now := fmtTime(s.now())
	if _, err := tx.ExecContext(ctx, `INSERT INTO exception_events (exception_id, at, actor, action, note) VALUES (?, ?, ?, ?, ?)`,
		id, now, actor, action, note); err != nil {
		return fmt.Errorf("store: exception event: %w", err)
	}
	return s.audit(ctx, tx, actor, "exception."+action, fmt.Sprintf("exception %d", id), note)
}

// Exception returns one exception.
func (s *DB) Exception(ctx context.Context, id int64) (*onus.Exception, error) {
	x, err := scanException(s.db.QueryRowContext(ctx, `SELECT `+exceptionCols+` FROM exceptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onus.Errorf(onus.ENOTFOUND, "no exception %d", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: exception: %w", err)
	}
	return x, nil
}

// Exceptions returns exceptions, soonest to expire first.
func (s *DB) Exceptions(ctx context.Context, f onus.ExceptionFilter) ([]*onus.Exception, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		where = append(where, "state IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.States)), ",")+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.Control != "" {
		where = append(where, "control = ?")
		args = append(args, f.Control)
	}
	if f.Finding != 0 {
		where = append(where, "finding_id = ?")
		args = append(args, f.Finding)
	}
	if !f.ExpiringBefore.IsZero() {
		where = append(where, "state = 'approved' AND expires_at < ?")
		args = append(args, fmtTime(f.ExpiringBefore))
	}
	q := `SELECT ` + exceptionCols + ` FROM exceptions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY expires_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	defer rows.Close()
	var out []*onus.Exception
	for rows.Next() {
		x, err := scanException(rows)
		if err != nil {
			return nil, fmt.Errorf("store: exceptions: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// ExceptionEvents returns an exception's history, oldest first.
func (s *DB) ExceptionEvents(ctx context.Context, id int64) ([]onus.ExceptionEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, actor, action, note FROM exception_events WHERE exception_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: exception events: %w", err)
	}
	defer rows.Close()
	var out []onus.ExceptionEvent
	for rows.Next() {
		var e onus.ExceptionEvent
		var at string
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Note); err != nil {
			return nil, fmt.Errorf("store: exception events: %w", err)
		}
		e.At = parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Decide applies a decision in one transaction: the exception's new state,
// its event, the audit entry, the revocation of the exception an approved
// extension replaces, and for an exception for one finding, the finding's
// move as d.Move (the ledger's rule) says. It fails with ENOTFOUND when
// there is no such exception, and with ECONFLICT when the exception is no
// longer in a state the decision applies to.
func (s *DB) Decide(ctx context.Context, d onus.Decision) (*onus.Exception, error) {
	var out *onus.Exception
	err := s.tx(ctx, func(tx *sql.Tx) error {
		x, err := scanException(tx.QueryRowContext(ctx, `SELECT `+exceptionCols+` FROM exceptions WHERE id = ?`, d.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return onus.Errorf(onus.ENOTFOUND, "no exception %d", d.ID)
		}
		if err != nil {
			return fmt.Errorf("store: decide: %w", err)
		}
		ok := false
		for _, st := range d.From {
			if x.State == st {
				ok = true
			}
		}
		if !ok {
			return onus.Errorf(onus.ECONFLICT, "exception %d is %s; it cannot become %s", d.ID, x.State, d.To)
		}
		now := s.now()
		approver := x.Approver
		if d.Approver != "" {
			approver = d.Approver
		}
		if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET state = ?, approver = ?, decided_at = COALESCE(decided_at, ?) WHERE id = ?`,
			string(d.To), approver, fmtTime(now), d.ID); err != nil {
			return fmt.Errorf("store: decide exception: %w", err)
		}
		if err := s.event(ctx, tx, d.ID, d.Actor, string(d.To), d.Note); err != nil {
			return fmt.Errorf("store: decide: %w", err)
		}
		x.State, x.Approver = d.To, approver
		// An approved extension replaces the exception it extends.
		if d.To == onus.ExceptionApproved && x.Replaces != 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET state = ? WHERE id = ? AND state = ?`,
				string(onus.ExceptionRevoked), x.Replaces, string(onus.ExceptionApproved)); err != nil {
				return fmt.Errorf("store: revoke exception %d: %w", x.Replaces, err)
			}
			if err := s.event(ctx, tx, x.Replaces, d.Actor, string(onus.ExceptionRevoked), fmt.Sprintf("replaced by #%d", x.ID)); err != nil {
				return fmt.Errorf("store: decide: %w", err)
			}
		}
		if x.Finding != 0 {
			if err := s.moveFinding(ctx, tx, x, d); err != nil {
				return fmt.Errorf("store: decide: %w", err)
			}
		}
		out = x
		return nil
	})
	return out, err
}

// moveFinding writes what d.Move, the ledger's rule, says the decision
// does to the exception's finding, in the decision's transaction.
func (s *DB) moveFinding(ctx context.Context, tx *sql.Tx, x *onus.Exception, d onus.Decision) error {
	if d.Move == nil {
		return nil
	}
	f, err := scanFinding(tx.QueryRowContext(ctx, `SELECT `+findingCols+` FROM findings WHERE id = ?`, x.Finding))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: finding %d of exception %d: %w", x.Finding, x.ID, err)
	}
	c, ok := d.Move(f, x)
	if !ok {
		return nil
	}
	nf := &c.Finding
	// The finding is written only if it is still as the rule read it: a
	// store whose transactions do not serialise (PostgreSQL's read
	// committed) could see an evaluation write it in between.
	res, err := tx.ExecContext(ctx, `UPDATE findings SET state = ?, exception_id = ?, due = ?, updated_at = ? WHERE id = ? AND state = ? AND COALESCE(exception_id, 0) = ?`,
		string(nf.State), nullID(nf.Exception), fmtTime(nf.Due), fmtTime(nf.UpdatedAt), nf.ID, string(c.Prior), c.PriorException)
	if err != nil {
		return fmt.Errorf("store: move finding %d: %w", nf.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return &onus.Error{Code: onus.ECONFLICT, Err: onus.ErrChanged, Message: fmt.Sprintf("finding %d changed during the decision; decide again", nf.ID)}
	}
	for _, e := range c.Events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO finding_events (finding_id, at, type, from_value, to_value, note) VALUES (?, ?, ?, ?, ?, ?)`,
			nf.ID, fmtTime(e.At), string(e.Type), e.From, e.To, e.Note); err != nil {
			return fmt.Errorf("store: finding %d event: %w", nf.ID, err)
		}
	}
	return nil
}

// ExpireExceptions marks every approved exception that has reached its
// expiry as expired, reopening the findings they exempted, and returns
// them.
func (s *DB) ExpireExceptions(ctx context.Context, now time.Time, move onus.FindingMove) ([]*onus.Exception, error) {
	due, err := s.Exceptions(ctx, onus.ExceptionFilter{States: []onus.ExceptionState{onus.ExceptionApproved}})
	if err != nil {
		return nil, fmt.Errorf("store: expire exceptions: %w", err)
	}
	var out []*onus.Exception
	for _, x := range due {
		if x.Active(now) {
			continue
		}
		ex, err := s.Decide(ctx, onus.Decision{ID: x.ID, From: []onus.ExceptionState{onus.ExceptionApproved}, To: onus.ExceptionExpired,
			Actor: "onus", Note: "expired on " + x.Expires.Format("2006-01-02"), Move: move})
		if err != nil {
			return out, fmt.Errorf("store: expire exceptions: %w", err)
		}
		out = append(out, ex)
	}
	return out, nil
}
