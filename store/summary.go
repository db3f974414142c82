package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// The summaries (migration 00009) are kept by triggers on the findings
// table: whatever writes a finding updates them in its own transaction.
// This file reads them, rebuilds the one that depends on the directory,
// and checks them against a recomputation from the findings.

// dayOf is the UTC day of t, in days since 1970-01-01, as the triggers
// compute it.
func dayOf(t time.Time) int64 {
	u := t.UTC().Unix()
	d := u / 86400
	if u%86400 < 0 {
		d--
	}
	return d
}

// weekOfDay is the Monday-based week of a day, as the triggers compute it.
func weekOfDay(d int64) int64 { return (d + 3) / 7 }

// weekStart is the first moment (Monday 00:00 UTC) of a week.
func weekStart(w int64) time.Time { return time.Unix((7*w-3)*86400, 0).UTC() }

// dayStart is the first moment of a day.
func dayStart(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// The day and week expressions of the triggers, for the recomputation,
// in each dialect: days since 1970-01-01 of a stored time's date, and
// whole hours between two stored times.
const (
	sqlDay    = `CAST(julianday(substr(%s, 1, 10)) - 2440587.5 AS INTEGER)`
	pgDay     = `(CAST(substr(%s, 1, 10) AS date) - DATE '1970-01-01')`
	sqlHours  = `(CAST(strftime('%%s', %s) AS INTEGER) - CAST(strftime('%%s', %s) AS INTEGER)) / 3600`
	pgHours   = `(CAST(floor(extract(epoch FROM CAST(%s AS timestamptz))) AS BIGINT) - CAST(floor(extract(epoch FROM CAST(%s AS timestamptz))) AS BIGINT)) / 3600`
	sqlWeekOf = `(%s + 3) / 7`
)

func dayExpr(pg bool, col string) string {
	if pg {
		return fmt.Sprintf(pgDay, col)
	}
	return fmt.Sprintf(sqlDay, col)
}

func weekExpr(pg bool, col string) string { return fmt.Sprintf(sqlWeekOf, dayExpr(pg, col)) }

func hoursExpr(pg bool, to, from string) string {
	if pg {
		return fmt.Sprintf(pgHours, to, from)
	}
	return fmt.Sprintf(sqlHours, to, from)
}

// summaryQueries recompute each summary from the findings and the
// directory, as key columns then the count, ordered by the keys.
func summaryQueries(pg bool) []struct{ table, stored, recomputed string } {
	return []struct{ table, stored, recomputed string }{
		{"summary_person", `SELECT email, state, n FROM summary_person WHERE n != 0 ORDER BY 1, 2`,
			`SELECT responsible_email, state, COUNT(*) FROM findings GROUP BY 1, 2 ORDER BY 1, 2`},
		{"summary_control", `SELECT control, severity, state, due_day, n FROM summary_control WHERE n != 0 ORDER BY 1, 2, 3, 4`,
			`SELECT control, severity, state, CASE WHEN state = 'open' THEN ` + dayExpr(pg, "due") + ` ELSE 0 END, COUNT(*) FROM findings GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`},
		{"summary_open_team", `SELECT team, due_day, n FROM summary_open_team WHERE n != 0 ORDER BY 1, 2`,
			`SELECT COALESCE(p.team, ''), ` + dayExpr(pg, "f.due") + `, COUNT(*) FROM findings f LEFT JOIN people p ON p.email = f.responsible_email
			WHERE f.state = 'open' GROUP BY 1, 2 ORDER BY 1, 2`},
		{"summary_trend", `SELECT state, first_week, resolved_week, due_week, n FROM summary_trend WHERE n != 0 ORDER BY 1, 2, 3, 4`,
			`SELECT state, ` + weekExpr(pg, "first_failed") + `, CASE WHEN resolved_at IS NULL OR resolved_at = '' THEN -1 ELSE ` + weekExpr(pg, "resolved_at") + ` END, ` +
				weekExpr(pg, "due") + `, COUNT(*) FROM findings GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`},
		{"summary_fix", `SELECT resolved_week, hours, n FROM summary_fix WHERE n != 0 ORDER BY 1, 2`,
			`SELECT ` + weekExpr(pg, "resolved_at") + `, ` + hoursExpr(pg, "resolved_at", "first_failed") + `, COUNT(*) FROM findings
			WHERE resolved_at IS NOT NULL AND resolved_at != '' GROUP BY 1, 2 ORDER BY 1, 2`},
	}
}

// CheckSummaries recomputes every summary from the findings and returns
// an error naming the first row that differs.
func (s *DB) CheckSummaries(ctx context.Context) error {
	read := func(q string) ([]string, error) {
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out []string
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				parts[i] = fmt.Sprint(v)
			}
			out = append(out, strings.Join(parts, "|"))
		}
		return out, rows.Err()
	}
	for _, q := range summaryQueries(s.pg) {
		got, err := read(q.stored)
		if err != nil {
			return fmt.Errorf("store: %s: %w", q.table, err)
		}
		want, err := read(q.recomputed)
		if err != nil {
			return fmt.Errorf("store: recompute %s: %w", q.table, err)
		}
		for i := 0; i < max(len(got), len(want)); i++ {
			g, w := "(none)", "(none)"
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				return fmt.Errorf("store: %s row %d is %s, the findings say %s", q.table, i+1, g, w)
			}
		}
	}
	return nil
}

// rebuildTeamSummary recounts the open findings per team after the
// directory changed: a person's team is read when their findings are
// written, so a move between teams moves their counts here.
func rebuildTeamSummary(ctx context.Context, tx *sql.Tx, pg bool) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM summary_open_team`); err != nil {
		return fmt.Errorf("store: team summary: %w", err)
	}
	// Per person first, from the owner index, then per team.
	_, err := tx.ExecContext(ctx, `INSERT INTO summary_open_team (team, due_day, n)
		SELECT COALESCE(p.team, ''), x.d, SUM(x.n) FROM (SELECT responsible_email AS e, `+dayExpr(pg, "due")+` AS d, COUNT(*) AS n
			FROM findings WHERE state = 'open' GROUP BY 1, 2) x
		LEFT JOIN people p ON p.email = x.e GROUP BY 1, 2`)
	if err != nil {
		return fmt.Errorf("store: team summary: %w", err)
	}
	return nil
}

// PersonCount is what one person has, for the team page.
type PersonCount struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Team     string `json:"team,omitempty"`
	Open     int    `json:"open"`
	Overdue  int    `json:"overdue"`
	Exempted int    `json:"exempted"`
}

// TeamCounts returns the people below manager in the management chain
// (not the manager) who have open or exempted findings, with their counts
// at now, most overdue first, then most open, then by e-mail. It reads
// the person summary, and counts the overdue findings of those people
// from the owner index.
func (s *DB) TeamCounts(ctx context.Context, manager string, now time.Time) ([]PersonCount, error) {
	m := strings.ToLower(manager)
	// The chain first, then lookups by primary key in lists: joined, the
	// planner builds Bloom filters over whole tables first, which costs
	// more than the page.
	chain, err := s.Chain(ctx, m)
	if err != nil {
		return nil, err
	}
	by := map[string]*PersonCount{}
	var out []*PersonCount
	for rest := chain; len(rest) > 0; {
		chunk := make([]any, 0, 500)
		for _, e := range rest[:min(len(rest), 500)] {
			chunk = append(chunk, e)
		}
		rest = rest[len(chunk):]
		in := strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")
		rows, err := s.db.QueryContext(ctx, `SELECT email, state, n FROM summary_person WHERE email IN (`+in+`) AND state IN ('open', 'exempted') AND n > 0`, chunk...)
		if err != nil {
			return nil, fmt.Errorf("store: team counts: %w", err)
		}
		for rows.Next() {
			var e, state string
			var n int
			if err := rows.Scan(&e, &state, &n); err != nil {
				rows.Close()
				return nil, err
			}
			c := by[e]
			if c == nil {
				c = &PersonCount{Email: e}
				by[e] = c
				out = append(out, c)
			}
			if state == string(onus.StateOpen) {
				c.Open = n
			} else {
				c.Exempted = n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(out))
	for _, c := range out {
		names = append(names, c.Email)
	}
	people, err := s.PeopleByEmail(ctx, names)
	if err != nil {
		return nil, err
	}
	for _, c := range out {
		if p := people[c.Email]; p != nil {
			c.Name, c.Team = p.Name, p.Team
		}
	}
	// Overdue depends on the clock: count it from the index, for the
	// people with open findings only.
	var open []any
	for _, c := range out {
		if c.Open > 0 {
			open = append(open, c.Email)
		}
	}
	at := fmtTime(now)
	for len(open) > 0 {
		chunk := open[:min(len(open), 500)]
		open = open[len(chunk):]
		rows, err := s.db.QueryContext(ctx, `SELECT responsible_email, COUNT(*) FROM findings`+s.indexedBy("findings_owner_state_due")+`
			WHERE responsible_email IN (`+strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`) AND state = 'open' AND due < ? GROUP BY 1`,
			append(chunk, at)...)
		if err != nil {
			return nil, fmt.Errorf("store: team overdue: %w", err)
		}
		for rows.Next() {
			var e string
			var n int
			if err := rows.Scan(&e, &n); err != nil {
				rows.Close()
				return nil, err
			}
			by[e].Overdue = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Overdue != b.Overdue {
			return a.Overdue > b.Overdue
		}
		if a.Open != b.Open {
			return a.Open > b.Open
		}
		return a.Email < b.Email
	})
	res := make([]PersonCount, len(out))
	for i, c := range out {
		res[i] = *c
	}
	return res, nil
}

// SummaryDashboard computes the dashboard of every finding from the
// summaries: the weeks are calendar weeks (Monday, UTC), the last one the
// week in progress, whose open and overdue figures are those at now.
func (s *DB) SummaryDashboard(ctx context.Context, now time.Time, weeks int) (*Dashboard, error) {
	d := &Dashboard{Weeks: make([]Week, weeks)}
	today := dayOf(now)
	cur := weekOfDay(today)
	first := cur - int64(weeks) + 1
	for i := range d.Weeks {
		d.Weeks[i].Start = weekStart(first + int64(i))
	}
	in := func(w int64) (int, bool) { return int(w - first), w >= first && w <= cur }

	// Open and overdue now, per control and per team: whole days before
	// today from the summaries, today's findings due before now from the
	// findings (the state-and-due index).
	dueToday, err := s.dueToday(ctx, now)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT control, state, due_day, SUM(n) FROM summary_control GROUP BY 1, 2, 3 HAVING SUM(n) != 0`)
	if err != nil {
		return nil, fmt.Errorf("store: dashboard: %w", err)
	}
	byControl := map[string]*[2]int{}
	for rows.Next() {
		var ctl, state string
		var day int64
		var n int
		if err := rows.Scan(&ctl, &state, &day, &n); err != nil {
			rows.Close()
			return nil, err
		}
		switch onus.State(state) {
		case onus.StateOpen:
			c := byControl[ctl]
			if c == nil {
				c = &[2]int{}
				byControl[ctl] = c
			}
			c[0] += n
			d.Open += n
			if day < today {
				c[1] += n
				d.Overdue += n
			}
		case onus.StateExempted:
			d.Exempted += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, x := range dueToday {
		c := byControl[x.control]
		if c == nil { // cannot happen: the summary counts it as open
			continue
		}
		c[1] += x.n
		d.Overdue += x.n
	}
	d.ByControl = openOverdue(byControl)

	rows, err = s.db.QueryContext(ctx, `SELECT team, due_day, n FROM summary_open_team WHERE n != 0`)
	if err != nil {
		return nil, fmt.Errorf("store: dashboard: %w", err)
	}
	byTeam := map[string]*[2]int{}
	for rows.Next() {
		var team string
		var day int64
		var n int
		if err := rows.Scan(&team, &day, &n); err != nil {
			rows.Close()
			return nil, err
		}
		c := byTeam[team]
		if c == nil {
			c = &[2]int{}
			byTeam[team] = c
		}
		c[0] += n
		if day < today {
			c[1] += n
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, x := range dueToday {
		if c := byTeam[x.team]; c != nil {
			c[1] += x.n
		}
	}
	d.ByTeam = openOverdue(byTeam)

	// The trend. A finding is open at the end of week w when it first
	// failed in or before w and was not resolved by then; overdue when it
	// was also due before the end of w. Exempted and gone findings are
	// left out, as their history is not a fix.
	openDiff := make([]int, weeks+1)
	overDiff := make([]int, weeks+1)
	rows, err = s.db.QueryContext(ctx, `SELECT state, first_week, resolved_week, due_week, n FROM summary_trend WHERE n != 0 AND (resolved_week = -1 OR resolved_week >= ?)`, first)
	if err != nil {
		return nil, fmt.Errorf("store: dashboard trend: %w", err)
	}
	for rows.Next() {
		var state string
		var fw, rw, dw int64
		var n int
		if err := rows.Scan(&state, &fw, &rw, &dw, &n); err != nil {
			rows.Close()
			return nil, err
		}
		st := onus.State(state)
		if st == onus.StateGone {
			continue
		}
		if i, ok := in(fw); ok {
			d.Weeks[i].Opened += n
		}
		if rw >= 0 {
			if i, ok := in(rw); ok {
				d.Weeks[i].Fixed += n
				d.Fixed += n
			}
		}
		if st == onus.StateExempted {
			continue
		}
		// Weeks [from, to) of the window.
		from, to := max(fw-first, 0), int64(weeks)
		if rw >= 0 {
			to = min(to, rw-first)
		}
		if from < to {
			openDiff[from] += n
			openDiff[to] -= n
			if of := max(from, dw-first); of < to {
				overDiff[of] += n
				overDiff[to] -= n
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	open, over := 0, 0
	for i := range d.Weeks {
		open += openDiff[i]
		over += overDiff[i]
		d.Weeks[i].Open, d.Weeks[i].Overdue = open, over
	}
	// The week in progress ends in the future: show it as it is now.
	if weeks > 0 {
		d.Weeks[weeks-1].Open, d.Weeks[weeks-1].Overdue = d.Open, d.Overdue
	}

	// Time to fix: medians from the per-hour histogram.
	rows, err = s.db.QueryContext(ctx, `SELECT resolved_week, hours, n FROM summary_fix WHERE n != 0 AND resolved_week >= ? ORDER BY hours`, first)
	if err != nil {
		return nil, fmt.Errorf("store: dashboard fixes: %w", err)
	}
	type bucket struct{ hours, n int }
	weekFix := make([][]bucket, weeks)
	var all []bucket
	for rows.Next() {
		var w int64
		var b bucket
		if err := rows.Scan(&w, &b.hours, &b.n); err != nil {
			rows.Close()
			return nil, err
		}
		if i, ok := in(w); ok {
			weekFix[i] = append(weekFix[i], b)
			all = append(all, b)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	med := func(bs []bucket) float64 {
		total := 0
		for _, b := range bs {
			total += b.n
		}
		if total == 0 {
			return 0
		}
		sort.SliceStable(bs, func(i, j int) bool { return bs[i].hours < bs[j].hours })
		k := total / 2 // the same element median() picks
		for _, b := range bs {
			if k < b.n {
				return float64(b.hours)
			}
			k -= b.n
		}
		return 0
	}
	for i := range d.Weeks {
		d.Weeks[i].FixHours = med(weekFix[i])
	}
	d.MedianFixDays = med(all) / 24
	return d, nil
}

type dueTodayCount struct {
	control, team string
	n             int
}

// dueToday counts the open findings due today before now, per control and
// team: the part of today's summary rows that is already overdue.
func (s *DB) dueToday(ctx context.Context, now time.Time) ([]dueTodayCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT f.control, COALESCE(p.team, ''), COUNT(*) FROM findings f`+s.indexedBy("findings_state_due")+`
		LEFT JOIN people p ON p.email = f.responsible_email
		WHERE f.state = 'open' AND f.due >= ? AND f.due < ? GROUP BY 1, 2`, fmtTime(dayStart(dayOf(now))), fmtTime(now))
	if err != nil {
		return nil, fmt.Errorf("store: due today: %w", err)
	}
	defer rows.Close()
	var out []dueTodayCount
	for rows.Next() {
		var x dueTodayCount
		if err := rows.Scan(&x.control, &x.team, &x.n); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// openOverdue turns open and overdue counts per key into the dashboard's
// counts, largest first: key2 "overdue" for the overdue ones, "open" for
// the others.
func openOverdue(m map[string]*[2]int) []Count {
	keys := make([]string, 0, len(m))
	for k, c := range m {
		if c[0] > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]][0] != m[keys[j]][0] {
			return m[keys[i]][0] > m[keys[j]][0]
		}
		return keys[i] < keys[j]
	})
	var out []Count
	for _, k := range keys {
		c := m[k]
		if c[0]-c[1] > 0 {
			out = append(out, Count{Key: k, Key2: "open", Count: c[0] - c[1]})
		}
		if c[1] > 0 {
			out = append(out, Count{Key: k, Key2: "overdue", Count: c[1]})
		}
	}
	return out
}
