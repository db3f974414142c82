package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/ledger"
	"github.com/onus-sec/onus/raci"
)

// summaryOrg is a small organisation with random findings around now:
// due dates earlier today, later today, in past and future weeks.
func summaryOrg(t *testing.T, db *DB, now time.Time, n int) []onus.FindingChange {
	t.Helper()
	ctx := context.Background()
	var people []*raci.Person
	for i := range 12 {
		m := ""
		if i > 0 {
			m = fmt.Sprintf("p%d@x.test", (i-1)/3)
		}
		people = append(people, &raci.Person{Email: fmt.Sprintf("p%d@x.test", i), Name: fmt.Sprintf("P%d", i), Entity: fmt.Sprint(i),
			Status: raci.Active, Manager: m, Team: fmt.Sprintf("team-%d", i%3)})
	}
	if err := db.ReplaceDirectory(ctx, people, nil); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(7, 9))
	var changes []onus.FindingChange
	for i := range n {
		first := now.Add(-time.Duration(rnd.IntN(100*24)) * time.Hour)
		// Due anywhere from 40 days before now to 40 days after, often today.
		due := now.Add(time.Duration(rnd.IntN(80*24)-40*24) * time.Hour)
		if i%5 == 0 {
			due = now.Add(time.Duration(rnd.IntN(17)-8) * time.Hour)
		}
		f := onus.Finding{Control: []string{"patch", "disk", "edr"}[i%3], Entity: fmt.Sprintf("d%d", i), EntityKind: "device", EntityName: fmt.Sprintf("D%d", i),
			Severity: onus.Severities[i%4], State: onus.StateOpen, Responsible: onus.Person{Email: fmt.Sprintf("p%d@x.test", rnd.IntN(14))},
			FirstFailed: first, LastFailed: now, Due: due, UpdatedAt: now}
		switch r := rnd.IntN(10); {
		case r < 3:
			f.State = onus.StateResolved
			at := first.Add(time.Duration(1+rnd.IntN(30*24*60)) * time.Minute)
			if at.After(now) {
				at = now
			}
			f.ResolvedAt = &at
		case r < 4:
			f.State = onus.StateGone
		}
		changes = append(changes, onus.FindingChange{New: true, Finding: f})
	}
	run, _ := db.BeginRun(ctx, "eval", "test", now)
	if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
		t.Fatal(err)
	}
	return changes
}

// TestSummariesFollowTheFindings: after an evaluation's inserts, a second
// evaluation's updates (resolved, reopened, reassigned, due moved, gone),
// a fix claim, exceptions approved, revoked and expired, and a directory
// change moving people between teams, every summary equals its
// recomputation from the findings.
func TestSummariesFollowTheFindings(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	check := func(step string) {
		t.Helper()
		if err := db.CheckSummaries(ctx); err != nil {
			t.Fatalf("after %s: %v", step, err)
		}
	}
	check("nothing")
	changes := summaryOrg(t, db, now, 400)
	check("the first evaluation")

	// A second evaluation: update a third of the findings.
	var upd []onus.FindingChange
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range changes {
		if i%3 != 0 {
			continue
		}
		f := changes[i].Finding
		c := onus.FindingChange{Finding: f, Prior: f.State}
		switch i % 4 {
		case 0:
			if f.State == onus.StateOpen {
				c.Finding.State = onus.StateResolved
				at := now.Add(-time.Hour)
				c.Finding.ResolvedAt = &at
			} else {
				c.Finding.State, c.Finding.ResolvedAt = onus.StateOpen, nil
			}
		case 1:
			c.Finding.Responsible.Email = fmt.Sprintf("p%d@x.test", rnd.IntN(12))
		case 2:
			c.Finding.Due = c.Finding.Due.Add(time.Duration(rnd.IntN(100)-50) * time.Hour)
		case 3:
			c.Finding.LastFailed = now.Add(time.Hour) // nothing summarised changes
		}
		upd = append(upd, c)
		changes[i].Finding = c.Finding
	}
	run, _ := db.BeginRun(ctx, "eval", "test", now)
	if err := db.ApplyChanges(ctx, run, upd, nil, -1); err != nil {
		t.Fatal(err)
	}
	check("the second evaluation")

	// A fix claim changes no count; exceptions move findings.
	fs, err := db.Findings(ctx, onus.FindingFilter{States: []onus.State{onus.StateOpen}})
	if err != nil {
		t.Fatal(err)
	}
	open := fs[:6]
	if err := db.ClaimFix(ctx, open[0].ID, open[0].Responsible.Email, "done"); err != nil {
		t.Fatal(err)
	}
	check("a fix claim")
	var ids []int64
	// A finding reopened by a revocation or an expiry is due 3 hours before
	// now: overdue, due today.
	moveAt := func(at time.Time) onus.FindingMove { return ledgerMove(at, now.Add(-3*time.Hour)) }
	for _, f := range open[1:] {
		x := &onus.Exception{Control: f.Control, Finding: f.ID, Entity: f.Entity, Severity: f.Severity, Reason: "r", Requester: "p1@x.test",
			RequestedAt: now, Expires: now.Add(48 * time.Hour)}
		if err := db.CreateException(ctx, x); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Decide(ctx, onus.Decision{ID: x.ID, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionApproved, Actor: "p0@x.test", Approver: "p0@x.test", Move: moveAt(now)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.ID)
	}
	check("exception approvals")
	if _, err := db.Decide(ctx, onus.Decision{ID: ids[0], From: []onus.ExceptionState{onus.ExceptionApproved}, To: onus.ExceptionRevoked, Actor: "p0@x.test", Move: moveAt(now)}); err != nil {
		t.Fatal(err)
	}
	check("a revocation")
	if _, err := db.ExpireExceptions(ctx, now.Add(72*time.Hour), moveAt(now.Add(72*time.Hour))); err != nil {
		t.Fatal(err)
	}
	check("expiries")

	// People move between teams.
	d, err := db.Directory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var moved []*raci.Person
	for _, p := range d.People {
		p.Team = strings.Replace(p.Team, "team-1", "team-2", 1)
		moved = append(moved, p)
	}
	if err := db.ReplaceDirectory(ctx, moved, nil); err != nil {
		t.Fatal(err)
	}
	check("a directory change")

	// The check can fail: a summary that drifts is caught.
	if _, err := db.db.ExecContext(ctx, `UPDATE summary_open_team SET n = n + 1 WHERE team = (SELECT MIN(team) FROM summary_open_team)`); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckSummaries(ctx); err == nil {
		t.Fatal("a drifted summary passed the check")
	}
}

// TestSummaryDashboardMatchesFindings: the dashboard's figures at now, and
// the team counts, equal those counted from the findings one by one.
func TestSummaryDashboardMatchesFindings(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	summaryOrg(t, db, now, 600)
	got, err := db.SummaryDashboard(ctx, now, 12)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := db.Findings(ctx, onus.FindingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	people, err := db.PeopleByEmail(ctx, []string{"p0@x.test", "p1@x.test", "p2@x.test", "p3@x.test", "p4@x.test", "p5@x.test", "p6@x.test", "p7@x.test", "p8@x.test", "p9@x.test", "p10@x.test", "p11@x.test"})
	if err != nil {
		t.Fatal(err)
	}
	open, over, exempted := 0, 0, 0
	byTeam, byControl := map[string]*[2]int{}, map[string]*[2]int{}
	add := func(m map[string]*[2]int, k string, overdue bool) {
		if m[k] == nil {
			m[k] = &[2]int{}
		}
		m[k][0]++
		if overdue {
			m[k][1]++
		}
	}
	curWeek := weekStart(weekOfDay(dayOf(now)))
	weekOpen := 0
	for _, f := range fs {
		switch f.State {
		case onus.StateOpen:
			open++
			o := f.Overdue(now)
			if o {
				over++
			}
			team := ""
			if p := people[f.Responsible.Email]; p != nil {
				team = p.Team
			}
			add(byTeam, team, o)
			add(byControl, f.Control, o)
		case onus.StateExempted:
			exempted++
		}
		// Opened in the week in progress.
		if f.State != onus.StateGone && !f.FirstFailed.Before(curWeek) {
			weekOpen++
		}
	}
	if got.Open != open || got.Overdue != over || got.Exempted != exempted {
		t.Errorf("open/overdue/exempted %d/%d/%d, want %d/%d/%d", got.Open, got.Overdue, got.Exempted, open, over, exempted)
	}
	if !reflect.DeepEqual(got.ByTeam, openOverdue(byTeam)) {
		t.Errorf("by team %v, want %v", got.ByTeam, openOverdue(byTeam))
	}
	if !reflect.DeepEqual(got.ByControl, openOverdue(byControl)) {
		t.Errorf("by control %v, want %v", got.ByControl, openOverdue(byControl))
	}
	last := got.Weeks[len(got.Weeks)-1]
	if !last.Start.Equal(curWeek) || last.Opened != weekOpen || last.Open != open || last.Overdue != over {
		t.Errorf("week in progress %+v, want start %s, %d opened, %d open, %d overdue", last, curWeek, weekOpen, open, over)
	}
	// A past week's open and overdue at its end, counted one by one.
	w := got.Weeks[5]
	end := w.Start.AddDate(0, 0, 7)
	wantOpen, wantOver := 0, 0
	for _, f := range fs {
		if f.State == onus.StateExempted || f.State == onus.StateGone || !f.FirstFailed.Before(end) {
			continue
		}
		if f.ResolvedAt != nil && f.ResolvedAt.Before(end) {
			continue
		}
		wantOpen++
		if f.Due.Before(end) {
			wantOver++
		}
	}
	if w.Open != wantOpen || w.Overdue != wantOver {
		t.Errorf("week of %s: %d open, %d overdue at its end, want %d, %d", w.Start.Format("2006-01-02"), w.Open, w.Overdue, wantOpen, wantOver)
	}

	// Team counts of p0 (everyone below): per person, from the findings.
	tc, err := db.TeamCounts(ctx, "p0@x.test", now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]PersonCount{}
	for _, f := range fs {
		e := f.Responsible.Email
		if e == "p0@x.test" || people[e] == nil || (f.State != onus.StateOpen && f.State != onus.StateExempted) {
			continue
		}
		c := want[e]
		c.Email, c.Name, c.Team = e, people[e].Name, people[e].Team
		if f.State == onus.StateOpen {
			c.Open++
			if f.Overdue(now) {
				c.Overdue++
			}
		} else {
			c.Exempted++
		}
		want[e] = c
	}
	var wantList []PersonCount
	for _, c := range want {
		wantList = append(wantList, c)
	}
	sort.Slice(wantList, func(i, j int) bool {
		a, b := wantList[i], wantList[j]
		if a.Overdue != b.Overdue {
			return a.Overdue > b.Overdue
		}
		if a.Open != b.Open {
			return a.Open > b.Open
		}
		return a.Email < b.Email
	})
	if !reflect.DeepEqual(tc, wantList) {
		t.Errorf("team counts\n got %+v\nwant %+v", tc, wantList)
	}
}

// TestSummaryDashboardEqualsDashboardOf: the dashboard from the summaries
// is the dashboard counted from the findings, week by week (times to fix
// in whole hours), after an evaluation and after exceptions.
func TestSummaryDashboardEqualsDashboardOf(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	summaryOrg(t, db, now, 800)
	compare := func(step string, at time.Time) {
		t.Helper()
		got, err := db.SummaryDashboard(ctx, at, 12)
		if err != nil {
			t.Fatal(err)
		}
		want, err := db.DashboardOf(ctx, Visibility{All: true}, at, 12)
		if err != nil {
			t.Fatal(err)
		}
		// The same counts; the order of equal ones may differ.
		for _, cs := range [][]Count{got.ByTeam, want.ByTeam, got.ByControl, want.ByControl} {
			sort.Slice(cs, func(i, j int) bool { return cs[i].Key+" "+cs[i].Key2 < cs[j].Key+" "+cs[j].Key2 })
		}
		for i := range want.Weeks {
			want.Weeks[i].FixHours = float64(int(want.Weeks[i].FixHours))
		}
		want.MedianFixDays = float64(int(want.MedianFixDays*24)) / 24
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: from the summaries\n%+v\nfrom the findings\n%+v", step, got, want)
		}
	}
	compare("an evaluation", now)
	compare("a week later", now.AddDate(0, 0, 7).Add(5*time.Hour))
	fs, err := db.Findings(ctx, onus.FindingFilter{States: []onus.State{onus.StateOpen}, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		x := &onus.Exception{Control: f.Control, Finding: f.ID, Entity: f.Entity, Severity: f.Severity, Reason: "r", Requester: "p1@x.test",
			RequestedAt: now, Expires: now.Add(48 * time.Hour)}
		if err := db.CreateException(ctx, x); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Decide(ctx, onus.Decision{ID: x.ID, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionApproved, Actor: "p0@x.test", Approver: "p0@x.test", Move: ledgerMove(now, now)}); err != nil {
			t.Fatal(err)
		}
	}
	compare("exceptions approved", now)

	// An evaluation at the very start of a week.
	db = open(t)
	monday := weekStart(weekOfDay(dayOf(now)))
	summaryOrg(t, db, monday, 500)
	compare("a Monday at midnight", monday)
}

// ledgerMove is the ledger's rule for a decision's finding at at; a
// finding it reopens is due at due.
func ledgerMove(at, due time.Time) onus.FindingMove {
	return func(f onus.Finding, x *onus.Exception) (onus.FindingChange, bool) {
		c, ok := ledger.Decided(f, x, at, 0, false)
		if ok && c.Finding.State == onus.StateOpen {
			c.Finding.Due = due
		}
		return c, ok
	}
}
