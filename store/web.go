package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// Session is a sign-in to "onus serve".
type Session struct {
	ID        string // hex SHA-256 of the cookie value
	Email     string
	Method    string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string
	UserAgent string
}

// CreateSession stores a new session and audits the sign-in.
func (s *DB) CreateSession(ctx context.Context, se *Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO web_sessions (id, email, method, csrf, created_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			se.ID, se.Email, se.Method, se.CSRF, fmtTime(se.CreatedAt), fmtTime(se.ExpiresAt), se.IP, se.UserAgent); err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		return s.audit(ctx, tx, se.Email, "signin."+se.Method, "", "from "+se.IP)
	})
}

// ActiveSession returns the session with an id that is neither revoked nor
// expired at now, or a not-found error.
func (s *DB) ActiveSession(ctx context.Context, id string, now time.Time) (*Session, error) {
	var se Session
	var created, expires string
	err := s.db.QueryRowContext(ctx, `SELECT id, email, method, csrf, created_at, expires_at, ip, user_agent FROM web_sessions
		WHERE id = ? AND revoked_at IS NULL AND expires_at > ?`, id, fmtTime(now)).
		Scan(&se.ID, &se.Email, &se.Method, &se.CSRF, &created, &expires, &se.IP, &se.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onus.Errorf(onus.ENOTFOUND, "no session")
	}
	if err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt = parseTime(created), parseTime(expires)
	return &se, nil
}

// RevokeSession ends a session (sign-out), audited as actor.
func (s *DB) RevokeSession(ctx context.Context, id, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE web_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, fmtTime(s.now()), id); err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		return s.audit(ctx, tx, actor, "signout", "", "")
	})
}

// RevokeSessionsOf ends every session of a person and returns how many.
func (s *DB) RevokeSessionsOf(ctx context.Context, email, actor string) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE web_sessions SET revoked_at = ? WHERE email = ? AND revoked_at IS NULL`, fmtTime(s.now()), strings.ToLower(email))
		if err != nil {
			return fmt.Errorf("store: revoke sessions: %w", err)
		}
		n, _ = res.RowsAffected()
		return s.audit(ctx, tx, actor, "sessions.revoke", email, fmt.Sprintf("%d session(s)", n))
	})
	return int(n), err
}

// Token is an API token. Only its hash is stored.
type Token struct {
	ID        int64      `json:"id"`
	Hash      string     `json:"-"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	Role      string     `json:"role,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// HasScope reports whether the token carries a scope.
func (t *Token) HasScope(scope string) bool {
	for _, s := range t.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// CreateToken stores a token and audits it.
func (s *DB) CreateToken(ctx context.Context, t *Token, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (hash, email, name, scopes, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.Hash, t.Email, t.Name, strings.Join(t.Scopes, " "), t.Role, fmtTime(t.CreatedAt), fmtTime(t.ExpiresAt))
		if err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
		t.ID, _ = res.LastInsertId()
		return s.audit(ctx, tx, actor, "token.create", fmt.Sprintf("token %d", t.ID), fmt.Sprintf("%s for %s, scopes %s, until %s", t.Name, t.Email, strings.Join(t.Scopes, " "), t.ExpiresAt.Format("2006-01-02")))
	})
}

const tokenCols = `id, hash, email, name, scopes, role, created_at, expires_at, COALESCE(revoked_at, '')`

func scanToken(sc interface{ Scan(...any) error }) (*Token, error) {
	var t Token
	var scopes, created, expires, revoked string
	if err := sc.Scan(&t.ID, &t.Hash, &t.Email, &t.Name, &scopes, &t.Role, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.ExpiresAt = parseTime(created), parseTime(expires)
	if revoked != "" {
		r := parseTime(revoked)
		t.RevokedAt = &r
	}
	return &t, nil
}

// ActiveToken returns the unrevoked, unexpired token with a hash and
// records its use, or a not-found error.
func (s *DB) ActiveToken(ctx context.Context, hash string, now time.Time) (*Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ? AND revoked_at IS NULL AND expires_at > ?`, hash, fmtTime(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onus.Errorf(onus.ENOTFOUND, "no such token, or it expired or was revoked")
	}
	if err != nil {
		return nil, fmt.Errorf("store: token: %w", err)
	}
	_, _ = s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, fmtTime(now), t.ID)
	return t, nil
}

// Tokens lists the tokens of an owner (all owners when email is "").
func (s *DB) Tokens(ctx context.Context, email string) ([]*Token, error) {
	q, args := `SELECT `+tokenCols+` FROM api_tokens`, []any{}
	if email != "" {
		q += ` WHERE email = ?`
		args = append(args, strings.ToLower(email))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token of owner (any owner when owner is "").
func (s *DB) RevokeToken(ctx context.Context, id int64, owner, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		q, args := `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, []any{fmtTime(s.now()), id}
		if owner != "" {
			q += ` AND email = ?`
			args = append(args, strings.ToLower(owner))
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return onus.Errorf(onus.ENOTFOUND, "no active token %d", id)
		}
		return s.audit(ctx, tx, actor, "token.revoke", fmt.Sprintf("token %d", id), "")
	})
}

// Visibility restricts what a query returns to what one person may see:
// the findings they are Responsible for, those of the people who report
// to them down the management chain, and those they are Accountable for.
// All lifts the restriction (security administrators and auditors).
type Visibility struct {
	All   bool
	Email string
}

// chainSQL selects a person and everyone below them in the management
// chain; UNION stops at a cycle.
// The first term takes the e-mail column's collation (byte order on
// PostgreSQL, whose recursive queries want one collation throughout).
const chainSQL = `WITH RECURSIVE chain(e) AS (SELECT e FROM (SELECT email AS e FROM people WHERE 1 = 0 UNION ALL SELECT ?) AS m UNION SELECT p.email FROM people p JOIN chain c ON p.manager = c.e) SELECT e FROM chain`

func (v Visibility) findingClause() (string, []any) {
	if v.All {
		return "", nil
	}
	if v.Email == "" {
		return "1 = 0", nil
	}
	e := strings.ToLower(v.Email)
	return "(responsible_email IN (" + chainSQL + ") OR accountable_email = ?)", []any{e, e}
}

// FindingQuery selects a page of findings for the web application.
type FindingQuery struct {
	Visibility Visibility
	States     []onus.State
	Severity   string
	Control    string
	Owner      string // responsible e-mail
	// Owners keeps the findings of these Responsible people.
	Owners []string
	// Under keeps the findings of a person and everyone below them.
	Under string
	// NotOwner drops the findings of this Responsible person.
	NotOwner string
	Team     string // the responsible person's HR team
	// Source keeps findings whose evidence reads this source.
	Source    string
	OverdueAt time.Time
	// Text matches the entity's name or id.
	Text string
	// After is where the page starts; Limit its length (0: everything).
	After *Cursor
	Limit int

	// visChain and underChain, when set, are the people of the
	// Visibility's and Under's chains, read before the query (PostgreSQL:
	// see FindingsPage).
	visChain, underChain []string
}

func (q *FindingQuery) where() (string, []any) {
	var where []string
	var args []any
	// The findings under a person are all visible to that person: the
	// chain need not be walked twice.
	if c, a := q.Visibility.findingClause(); c != "" && !(q.Under != "" && strings.EqualFold(q.Under, q.Visibility.Email)) {
		if q.visChain != nil {
			c, a = "(responsible_email = ANY(?) OR accountable_email = ?)", []any{q.visChain, strings.ToLower(q.Visibility.Email)}
		}
		where, args = append(where, c), append(args, a...)
	}
	if len(q.States) > 0 {
		// With a person or a team, their index is the selective one: an
		// expression keeps SQLite from walking every open finding by due
		// date instead ("state || ''" rather than "+state", which
		// PostgreSQL refuses on text).
		col := "state"
		if q.Under != "" || q.Owner != "" || q.Team != "" || len(q.Owners) > 0 {
			col = "state || ''"
		}
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.States)), ",")+")")
		for _, st := range q.States {
			args = append(args, string(st))
		}
	}
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if q.Severity != "" {
		add("severity = ?", q.Severity)
	}
	if q.Control != "" {
		add("control = ?", q.Control)
	}
	if q.Owner != "" {
		add("responsible_email = ?", strings.ToLower(q.Owner))
	}
	if len(q.Owners) > 0 {
		where = append(where, "responsible_email IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.Owners)), ",")+")")
		for _, o := range q.Owners {
			args = append(args, strings.ToLower(o))
		}
	}
	if q.Under != "" && q.underChain != nil {
		add("responsible_email = ANY(?)", q.underChain)
	} else if q.Under != "" {
		add("responsible_email IN ("+chainSQL+")", strings.ToLower(q.Under))
	}
	if q.NotOwner != "" {
		add("responsible_email != ?", strings.ToLower(q.NotOwner))
	}
	if q.Team != "" {
		add("responsible_email IN (SELECT email FROM people WHERE team = ?)", q.Team)
	}
	if q.Source != "" {
		add("evidence LIKE ?", `%"sources.`+strings.NewReplacer("%", "", "_", "").Replace(q.Source)+`.%`)
	}
	if !q.OverdueAt.IsZero() {
		add("state = 'open' AND due < ?", fmtTime(q.OverdueAt))
	}
	if q.Text != "" {
		t := "%" + strings.NewReplacer("%", "", "_", "").Replace(q.Text) + "%"
		where = append(where, "(entity_name LIKE ? OR entity LIKE ?)")
		args = append(args, t, t)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Cursor is where a page of the findings list ends: the list is ordered
// by due date, then id, and the next page starts after the cursor (keyset
// pagination: no page costs more than the first).
type Cursor struct {
	Due time.Time
	ID  int64
}

// String is the cursor as the after= parameter carries it.
func (c Cursor) String() string { return fmtTime(c.Due) + "_" + strconv.FormatInt(c.ID, 10) }

// ParseCursor reads an after= parameter.
func ParseCursor(s string) (*Cursor, error) {
	due, id, ok := strings.Cut(s, "_")
	t, err := time.Parse(timeFormat, due)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || err2 != nil {
		return nil, onus.Errorf(onus.EINVALID, "after must be a cursor from a page's next link (due date _ id), not %q", s)
	}
	return &Cursor{Due: t, ID: n}, nil
}

// Page is one page of the findings list.
type Page struct {
	Findings []onus.Finding
	// Next is where the next page starts, nil on the last page.
	Next *Cursor
	// Total is how many findings match, when Counted: counted from the
	// summaries when the filter allows it, or known because the first
	// page is the last. Broad filters are not counted otherwise.
	Total   int
	Counted bool
}

// FindingsPage returns one page of the findings matching q, soonest due
// first (then by id), starting after q.After.
func (s *DB) FindingsPage(ctx context.Context, q FindingQuery) (*Page, error) {
	if s.pg {
		// PostgreSQL cannot estimate a recursive chain: it took a line
		// manager's 100 people for 9,051 and read every open finding of a
		// severity in due order (seconds at 100,000 people) rather than
		// the team's by owner. A chain read first goes in as a list; a
		// long one (near the top of the company) stays a subquery, where
		// walking the findings in due order is the right plan anyway.
		var err error
		if !q.Visibility.All && q.Visibility.Email != "" {
			if q.visChain, err = s.shortChain(ctx, q.Visibility.Email); err != nil {
				return nil, err
			}
		}
		if q.Under != "" {
			if q.underChain, err = s.shortChain(ctx, q.Under); err != nil {
				return nil, err
			}
		}
	}
	where, args := q.where()
	if q.After != nil {
		if where == "" {
			where = " WHERE "
		} else {
			where += " AND "
		}
		where += "(due, id) > (?, ?)"
		args = append(args, fmtTime(q.After.Due), q.After.ID)
	}
	sqlq := `SELECT ` + findingCols + ` FROM findings` + where + ` ORDER BY due, id`
	if q.Limit > 0 {
		sqlq += fmt.Sprintf(" LIMIT %d", q.Limit+1)
	}
	rows, err := s.db.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	defer rows.Close()
	p := &Page{}
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("store: findings: %w", err)
		}
		p.Findings = append(p.Findings, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if q.Limit > 0 && len(p.Findings) > q.Limit {
		p.Findings = p.Findings[:q.Limit]
		last := p.Findings[q.Limit-1]
		p.Next = &Cursor{Due: last.Due, ID: last.ID}
	}
	if q.After == nil && p.Next == nil {
		p.Total, p.Counted = len(p.Findings), true
	} else if n, ok, err := s.summaryCount(ctx, q); err != nil {
		return nil, err
	} else if ok {
		p.Total, p.Counted = n, true
	}
	return p, nil
}

// summaryCount counts the matches of q from the summaries, when q filters
// only what they keep (control, severity, state, overdue) over every
// finding.
func (s *DB) summaryCount(ctx context.Context, q FindingQuery) (int, bool, error) {
	if !q.Visibility.All || q.Owner != "" || len(q.Owners) > 0 || q.Under != "" || q.NotOwner != "" || q.Team != "" || q.Source != "" || q.Text != "" {
		return 0, false, nil
	}
	var where []string
	var args []any
	if len(q.States) > 0 {
		where = append(where, "state IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.States)), ",")+")")
		for _, st := range q.States {
			args = append(args, string(st))
		}
	}
	if q.Control != "" {
		where, args = append(where, "control = ?"), append(args, q.Control)
	}
	if q.Severity != "" {
		where, args = append(where, "severity = ?"), append(args, q.Severity)
	}
	today := dayOf(q.OverdueAt)
	if !q.OverdueAt.IsZero() {
		where, args = append(where, "state = 'open' AND due_day < ?"), append(args, today)
	}
	sq := `SELECT COALESCE(SUM(n), 0) FROM summary_control`
	if len(where) > 0 {
		sq += " WHERE " + strings.Join(where, " AND ")
	}
	var n int
	if err := s.db.QueryRowContext(ctx, sq, args...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("store: count findings: %w", err)
	}
	if !q.OverdueAt.IsZero() {
		// Today's findings already overdue, from the findings.
		var m int
		cq := `SELECT COUNT(*) FROM findings` + s.indexedBy("findings_state_due") + ` WHERE state = 'open' AND due >= ? AND due < ?`
		cargs := []any{fmtTime(dayStart(today)), fmtTime(q.OverdueAt)}
		if q.Control != "" {
			cq, cargs = cq+" AND control = ?", append(cargs, q.Control)
		}
		if q.Severity != "" {
			cq, cargs = cq+" AND severity = ?", append(cargs, q.Severity)
		}
		if len(q.States) > 0 && !slices.Contains(q.States, onus.StateOpen) {
			cq += " AND 0"
		}
		if err := s.db.QueryRowContext(ctx, cq, cargs...).Scan(&m); err != nil {
			return 0, false, fmt.Errorf("store: count findings: %w", err)
		}
		n += m
	}
	return n, true, nil
}

// VisibleFinding returns a finding if v may see it, or a not-found error:
// someone who may not see a finding cannot learn that it exists.
func (s *DB) VisibleFinding(ctx context.Context, v Visibility, id int64) (onus.Finding, error) {
	c, args := v.findingClause()
	q := `SELECT ` + findingCols + ` FROM findings WHERE id = ?`
	if c != "" {
		q += " AND " + c
	}
	f, err := scanFinding(s.db.QueryRowContext(ctx, q, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return f, onus.Errorf(onus.ENOTFOUND, "no finding %d", id)
	}
	return f, err
}

// shortChainMax is the longest chain FindingsPage gives PostgreSQL as a
// list (a variable for tests).
var shortChainMax = 2000

// shortChain returns a person and everyone below them, or nil when they
// are more than shortChainMax.
func (s *DB) shortChain(ctx context.Context, person string) ([]string, error) {
	out, err := s.chainOf(ctx, person, shortChainMax+1)
	if err != nil || len(out) > shortChainMax {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// Chain returns the people below a manager, all the way down, without
// the manager.
func (s *DB) Chain(ctx context.Context, manager string) ([]string, error) {
	out, err := s.chainOf(ctx, manager, 0)
	return slices.DeleteFunc(out, func(e string) bool { return e == strings.ToLower(manager) }), err
}

// chainOf reads a person and everyone below them, all the way down: at
// most limit addresses when limit > 0.
func (s *DB) chainOf(ctx context.Context, person string, limit int) ([]string, error) {
	q, args := chainSQL, []any{strings.ToLower(person)}
	if limit > 0 {
		q, args = `SELECT e FROM (`+chainSQL+`) AS chain LIMIT ?`, append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: chain: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("store: chain: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: chain: %w", err)
	}
	return out, nil
}

// IsBelow reports whether person is in manager's chain (or is the manager).
func (s *DB) IsBelow(ctx context.Context, person, manager string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+chainSQL+`) AS chain WHERE e = ?`, strings.ToLower(manager), strings.ToLower(person)).Scan(&n)
	return n > 0, err
}

// ClaimFix records that the Responsible person says a finding is fixed.
// The claim is in the finding's history and the audit log; the next
// evaluation confirms it (the finding resolves) or refutes it.
func (s *DB) ClaimFix(ctx context.Context, id int64, actor, note string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM findings WHERE id = ?`, id).Scan(&state); errors.Is(err, sql.ErrNoRows) {
			return onus.Errorf(onus.ENOTFOUND, "no finding %d", id)
		} else if err != nil {
			return err
		}
		if onus.State(state) != onus.StateOpen {
			return onus.Errorf(onus.ECONFLICT, "finding %d is %s: only an open finding can be claimed fixed", id, state)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO finding_events (finding_id, at, type, from_value, to_value, note) VALUES (?, ?, 'fix_claimed', '', ?, ?)`,
			id, fmtTime(s.now()), actor, note); err != nil {
			return fmt.Errorf("store: claim fix: %w", err)
		}
		return s.audit(ctx, tx, actor, "finding.claim_fix", fmt.Sprintf("finding %d", id), note)
	})
}

// Claim is the latest fix claim of a finding.
type Claim struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Status string    `json:"status"` // pending, confirmed, refuted
	// CheckedAt is when the evaluation that confirmed or refuted it ended.
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Claims returns the latest fix claim of each of the given findings that
// has one, judged against the evaluations that ended since.
func (s *DB) Claims(ctx context.Context, findings []onus.Finding) (map[int64]Claim, error) {
	out := map[int64]Claim{}
	if len(findings) == 0 {
		return out, nil
	}
	ids := make([]any, len(findings))
	for i, f := range findings {
		ids[i] = f.ID
	}
	rows, err := s.db.QueryContext(ctx, `SELECT finding_id, at, to_value FROM finding_events WHERE id IN (SELECT MAX(id) FROM finding_events WHERE type = 'fix_claimed' AND finding_id IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`) GROUP BY finding_id)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("store: claims: %w", err)
	}
	for rows.Next() {
		var id int64
		var at, by string
		if err := rows.Scan(&id, &at, &by); err != nil {
			rows.Close()
			return nil, err
		}
		out[id] = Claim{At: parseTime(at), By: by, Status: "pending"}
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	var last string
	_ = s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(finished_at), '') FROM runs WHERE kind = 'eval' AND status = 'ok'`).Scan(&last)
	lastEval := parseTime(last)
	for _, f := range findings {
		c, ok := out[f.ID]
		if !ok || last == "" || !lastEval.After(c.At) {
			continue
		}
		c.CheckedAt = lastEval
		if f.State == onus.StateResolved {
			c.Status = "confirmed"
		} else if f.State == onus.StateOpen {
			c.Status = "refuted"
		}
		out[f.ID] = c
	}
	return out, nil
}

// Sent is a message that told someone about a finding.
type Sent struct {
	OutboxID  int64     `json:"outbox_id"`
	Recipient string    `json:"recipient"`
	Stage     string    `json:"stage"`
	At        time.Time `json:"at"`
	Channel   string    `json:"channel"`
	Status    string    `json:"status"`
	Subject   string    `json:"subject"`
}

// MessagesAbout returns what was planned or sent about a finding, newest
// first.
func (s *DB) MessagesAbout(ctx context.Context, finding int64) ([]Sent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.id, n.recipient, n.stage, n.at, o.channel, o.status, o.subject FROM nudge_log n
		JOIN outbox o ON o.id = n.outbox_id WHERE n.finding_id = ? ORDER BY n.at DESC, o.id DESC`, finding)
	if err != nil {
		return nil, fmt.Errorf("store: messages about: %w", err)
	}
	defer rows.Close()
	var out []Sent
	for rows.Next() {
		var m Sent
		var at string
		if err := rows.Scan(&m.OutboxID, &m.Recipient, &m.Stage, &at, &m.Channel, &m.Status, &m.Subject); err != nil {
			return nil, err
		}
		m.At = parseTime(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// LastTold returns, for each finding, the last message about it: what the
// Responsible person was told and when.
func (s *DB) LastTold(ctx context.Context, findings []onus.Finding) (map[int64]Sent, error) {
	out := map[int64]Sent{}
	if len(findings) == 0 {
		return out, nil
	}
	ids := make([]any, len(findings))
	for i, f := range findings {
		ids[i] = f.ID
	}
	rows, err := s.db.QueryContext(ctx, `SELECT n.finding_id, n.outbox_id, n.recipient, n.stage, n.at, o.channel, o.status, o.subject FROM nudge_log n
		JOIN outbox o ON o.id = n.outbox_id WHERE n.finding_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`) ORDER BY n.at, n.outbox_id`, ids...)
	if err != nil {
		return nil, fmt.Errorf("store: last told: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var m Sent
		var at string
		if err := rows.Scan(&id, &m.OutboxID, &m.Recipient, &m.Stage, &at, &m.Channel, &m.Status, &m.Subject); err != nil {
			return nil, err
		}
		m.At = parseTime(at)
		out[id] = m // later rows are newer
	}
	return out, rows.Err()
}

// Count is a number under a label.
type Count struct {
	Key   string `json:"key"`
	Key2  string `json:"key2,omitempty"`
	Count int    `json:"count"`
}

// FindingCounts counts findings by state and severity, for metrics.
func (s *DB) FindingCounts(ctx context.Context) ([]Count, error) {
	return s.counts(ctx, `SELECT state, severity, COUNT(*) FROM findings GROUP BY state, severity ORDER BY 1, 2`)
}

// OutboxCounts counts the outbox by status, for metrics.
func (s *DB) OutboxCounts(ctx context.Context) ([]Count, error) {
	return s.counts(ctx, `SELECT status, '', COUNT(*) FROM outbox GROUP BY status ORDER BY 1`)
}

func (s *DB) counts(ctx context.Context, q string, args ...any) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Key, &c.Key2, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Week is one week of the dashboard.
type Week struct {
	Start    time.Time `json:"start"`
	Opened   int       `json:"opened"`
	Fixed    int       `json:"fixed"`
	Open     int       `json:"open_at_end"`
	Overdue  int       `json:"overdue_at_end"`
	FixHours float64   `json:"median_fix_hours"`
}

// Dashboard is the trend of the findings a person may see.
type Dashboard struct {
	Weeks     []Week  `json:"weeks"`
	ByTeam    []Count `json:"open_by_team"`    // key team, key2 "open"/"overdue"
	ByControl []Count `json:"open_by_control"` // key control, key2 "open"/"overdue"
	Open      int     `json:"open"`
	Overdue   int     `json:"overdue"`
	Exempted  int     `json:"exempted"`
	Fixed     int     `json:"fixed"`
	// MedianFixDays is the median time from first failure to resolution.
	MedianFixDays float64 `json:"median_fix_days"`
}

// DashboardOf computes the dashboard of the findings v may see, for the
// weeks calendar weeks (Monday, UTC) ending with the week in progress,
// whose figures are those at now. SummaryDashboard computes the same from
// the summaries, for everyone's findings.
func (s *DB) DashboardOf(ctx context.Context, v Visibility, now time.Time, weeks int) (*Dashboard, error) {
	c, args := v.findingClause()
	and := ""
	if c != "" {
		and = " AND " + c
	}
	d := &Dashboard{}
	at := fmtTime(now)
	start := weekStart(weekOfDay(dayOf(now)) - int64(weeks) + 1)
	// One pass over the findings that matter in the window, grouped in Go:
	// SQLite would scan the table once per week otherwise.
	rows, err := s.db.QueryContext(ctx, `SELECT state, first_failed, COALESCE(resolved_at, ''), due FROM findings
		WHERE (state IN ('open', 'exempted') OR resolved_at >= ?)`+and, append([]any{fmtTime(start)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: dashboard: %w", err)
	}
	d.Weeks = make([]Week, weeks)
	// Week boundaries as stored text: times are stored in one UTC format
	// that sorts as text, so most rows need no parsing. The week in
	// progress ends now.
	ends := make([]string, weeks)
	for i := range d.Weeks {
		d.Weeks[i].Start = start.AddDate(0, 0, 7*i)
		ends[i] = fmtTime(d.Weeks[i].Start.AddDate(0, 0, 7))
	}
	if weeks > 0 {
		ends[weeks-1] = at
	}
	startS := fmtTime(start)
	// firstEnd is the first week that ends after t.
	firstEnd := func(t string) int { return sort.Search(weeks, func(i int) bool { return ends[i] > t }) }
	// weekOf is the week a time falls in, -1 before the window.
	weekOf := func(t string) int {
		if t < startS {
			return -1
		}
		return min(firstEnd(t), weeks-1)
	}
	var fixes []float64
	weekFixes := make([][]float64, weeks)
	// Open and overdue at each week's end, as differences between weeks.
	openDiff := make([]int, weeks+1)
	overDiff := make([]int, weeks+1)
	for rows.Next() {
		var state, first, resolved, due string
		if err := rows.Scan(&state, &first, &resolved, &due); err != nil {
			rows.Close()
			return nil, err
		}
		switch onus.State(state) {
		case onus.StateOpen:
			d.Open++
			if due < at {
				d.Overdue++
			}
		case onus.StateExempted:
			d.Exempted++
		case onus.StateGone:
			continue
		}
		if w := weekOf(first); w >= 0 {
			d.Weeks[w].Opened++
		}
		if resolved != "" {
			if w := weekOf(resolved); w >= 0 {
				d.Weeks[w].Fixed++
				d.Fixed++
				h := parseTime(resolved).Sub(parseTime(first)).Hours()
				weekFixes[w] = append(weekFixes[w], h)
				fixes = append(fixes, h)
			}
		}
		if state == string(onus.StateExempted) {
			continue
		}
		// Open from the first week ending after it failed, until the
		// week in which it was resolved (exclusive of weeks ending after).
		from, to := firstEnd(first), weeks
		if resolved != "" {
			to = firstEnd(resolved)
		}
		if from < to {
			openDiff[from]++
			openDiff[to]--
			// Overdue from the first week ending after its due date.
			of := max(from, firstEnd(due))
			if of < to {
				overDiff[of]++
				overDiff[to]--
			}
		}
	}
	rows.Close()
	open, over := 0, 0
	for i := range d.Weeks {
		open += openDiff[i]
		over += overDiff[i]
		d.Weeks[i].Open, d.Weeks[i].Overdue = open, over
		d.Weeks[i].FixHours = median(weekFixes[i])
	}
	// The week in progress shows the figures at now.
	if weeks > 0 {
		d.Weeks[weeks-1].Open, d.Weeks[weeks-1].Overdue = d.Open, d.Overdue
	}
	d.MedianFixDays = median(fixes) / 24
	// Count per owner first (from an index), then per team: joining every
	// open finding with the people table costs twice as much.
	if d.ByTeam, err = s.counts(ctx, `SELECT COALESCE(p.team, ''), CASE WHEN x.over THEN 'overdue' ELSE 'open' END, SUM(x.n)
		FROM (SELECT responsible_email AS e, due < ? AS over, COUNT(*) AS n FROM findings WHERE state = 'open'`+and+` GROUP BY 1, 2) x
		LEFT JOIN people p ON p.email = x.e GROUP BY 1, 2 ORDER BY SUM(x.n) DESC`, append([]any{at}, args...)...); err != nil {
		return nil, err
	}
	if d.ByControl, err = s.counts(ctx, `SELECT control, CASE WHEN due < ? THEN 'overdue' ELSE 'open' END, COUNT(*)
		FROM findings WHERE state = 'open'`+and+` GROUP BY 1, 2 ORDER BY COUNT(*) DESC`, append([]any{at}, args...)...); err != nil {
		return nil, err
	}
	return d, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// VisibleOutbox lists outbox messages to the people v may see (everything
// with All), newest first.
func (s *DB) VisibleOutbox(ctx context.Context, v Visibility, statuses []string, limit int) ([]*onus.OutboxMessage, error) {
	if v.All {
		return s.OutboxMessages(ctx, statuses, "", limit)
	}
	return s.OutboxMessages(ctx, statuses, v.Email, limit)
}

// Ping checks that the store answers and its schema is current. It does
// not wait for an unreachable PostgreSQL (retry.go): a readiness probe
// says at once that the store is gone.
func (s *DB) Ping(ctx context.Context) error {
	ctx = WithoutRetry(ctx)
	if err := s.db.PingContext(ctx); err != nil {
		return err
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	var latest int64
	entries, _ := migrations.ReadDir("migrations")
	for _, e := range entries {
		var n int64
		fmt.Sscanf(e.Name(), "%d", &n)
		latest = max(latest, n)
	}
	if v != latest {
		return fmt.Errorf("schema version %d, want %d", v, latest)
	}
	return nil
}

// SetPool keeps up to n connections open and idle. A server with many
// concurrent readers needs it: database/sql keeps 2 idle connections by
// default, and each new SQLite connection starts with a cold page cache.
func (s *DB) SetPool(n int) {
	s.db.SetMaxOpenConns(n)
	s.db.SetMaxIdleConns(n)
}

// PeopleByEmail returns the people of the directory with these e-mails.
func (s *DB) PeopleByEmail(ctx context.Context, emails []string) (map[string]*onus.Member, error) {
	out := map[string]*onus.Member{}
	seen := map[string]bool{}
	var args []any
	for _, e := range emails {
		e = strings.ToLower(e)
		if !seen[e] {
			seen[e] = true
			args = append(args, e)
		}
	}
	for len(args) > 0 {
		n := min(len(args), 500)
		chunk := args[:n]
		args = args[n:]
		rows, err := s.db.QueryContext(ctx, `SELECT email, name, entity, status, manager, team, time_zone, channel FROM people WHERE email IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`)`, chunk...)
		if err != nil {
			return nil, fmt.Errorf("store: people: %w", err)
		}
		for rows.Next() {
			var p onus.Member
			if err := rows.Scan(&p.Email, &p.Name, &p.Entity, &p.Status, &p.Manager, &p.Team, &p.TimeZone, &p.Channel); err != nil {
				rows.Close()
				return nil, err
			}
			out[p.Email] = &p
		}
		rows.Close()
	}
	return out, nil
}

// indexedBy names the index SQLite must use for a table, where its
// planner would pick a worse one; PostgreSQL has no such clause (its
// planner weighs the statistics autovacuum keeps).
func (s *DB) indexedBy(index string) string {
	if s.pg {
		return ""
	}
	return " INDEXED BY " + index
}

// Optimize lets the database gather the statistics its query planner
// needs; a server runs it at start. SQLite analyzes what changed a lot
// since the last time, and every table the first time. PostgreSQL's
// autovacuum keeps them afterwards, but only a minute or more after a
// bulk load (`onus store copy`, a first run): ANALYZE samples each table
// (a few seconds at a million people) so that the first pages do not run
// on plans made for empty tables.
func (s *DB) Optimize(ctx context.Context) error {
	if s.pg {
		_, err := s.db.ExecContext(ctx, `ANALYZE`)
		return err
	}
	_, err := s.db.ExecContext(ctx, `PRAGMA optimize=0x10002`)
	return err
}
