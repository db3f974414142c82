package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// moreFindings adds 90 findings of every control, severity, state and
// source to the fixture, due from 20 days ago to 20 days ahead (several
// on the same second, so that pages split ties), and a few exempted
// through approved exceptions.
func moreFindings(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	owners := []string{"emp@acme.test", "emp2@acme.test", "mgr@acme.test", outsider, "acct@acme.test", "gone@acme.test"}
	var changes []onus.FindingChange
	for i := range 90 {
		ctl := []string{"patch", "disk"}[i%2]
		src := []string{"mdm", "hr"}[i%3%2]
		due := testNow.Add(time.Duration(i%41-20) * 24 * time.Hour)
		if i%7 == 0 {
			due = testNow.Add(-time.Hour) // ties, overdue since this morning
		}
		fd := onus.Finding{Control: ctl, Entity: fmt.Sprintf("device:x%d", i), EntityKind: "device", EntityName: fmt.Sprintf("X-%02d", i),
			Severity: onus.Severities[i%4], State: onus.StateOpen, Responsible: onus.Person{Email: owners[i%len(owners)]},
			Accountable: onus.Person{Email: []string{"acct@acme.test", "mgr@acme.test", "otheracct@acme.test"}[i%3]},
			FirstFailed: testNow.Add(-30 * 24 * time.Hour), LastFailed: testNow, Due: due, UpdatedAt: testNow,
			Evidence: []onus.Evidence{{Path: "sources." + src + ".x", Value: "false"}}}
		switch i % 10 {
		case 3:
			fd.State = onus.StateResolved
			at := testNow.Add(-time.Duration(i) * time.Hour)
			fd.ResolvedAt = &at
		case 6:
			fd.State = onus.StateGone
		}
		changes = append(changes, onus.FindingChange{New: true, Finding: fd})
	}
	run, err := f.db.BeginRun(ctx, "eval", "test", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
		t.Fatal(err)
	}
	if err := f.db.FinishRun(ctx, run, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i, c := range changes {
		if i%10 != 9 {
			continue
		}
		x := &onus.Exception{Control: c.Finding.Control, Finding: c.Finding.ID, Entity: c.Finding.Entity, Severity: c.Finding.Severity,
			Reason: "r", Requester: c.Finding.Responsible.Email, RequestedAt: testNow, Expires: testNow.Add(10 * 24 * time.Hour)}
		if err := f.db.CreateException(ctx, x); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.Decide(ctx, onus.Decision{ID: x.ID, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionApproved,
			Actor: "acct@acme.test", Approver: "acct@acme.test"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFindingsFilters: every filter of the findings list, alone and
// combined, as an administrator and as a manager, read a page of 7 at a
// time by following next, gives exactly the findings an independent
// reading of the whole table selects, soonest due first, each once; the
// total, when given, is right.
func TestFindingsFilters(t *testing.T) {
	f := newFixture(t)
	moreFindings(t, f)
	ctx := context.Background()
	all, err := f.db.Findings(ctx, onus.FindingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	team := map[string]string{}
	for _, p := range f.people {
		team[p.Email] = p.Team
	}
	// What each role may see, by the rule, not by the store's query.
	below := map[string]bool{"mgr@acme.test": true, "emp@acme.test": true, "emp2@acme.test": true, "gone@acme.test": true}
	sees := map[string]func(onus.Finding) bool{
		"admin@acme.test": func(onus.Finding) bool { return true },
		"mgr@acme.test": func(x onus.Finding) bool {
			return below[x.Responsible.Email] || x.Accountable.Email == "mgr@acme.test"
		},
	}
	type filter struct {
		q    string
		keep func(onus.Finding) bool
	}
	open := func(x onus.Finding) bool { return x.State == onus.StateOpen }
	overdue := func(x onus.Finding) bool { return x.State == onus.StateOpen && x.Due.Before(testNow) }
	source := func(s string) func(onus.Finding) bool {
		return func(x onus.Finding) bool {
			return slices.ContainsFunc(x.Evidence, func(e onus.Evidence) bool { return strings.HasPrefix(e.Path, "sources."+s+".") })
		}
	}
	and := func(fs ...func(onus.Finding) bool) func(onus.Finding) bool {
		return func(x onus.Finding) bool {
			for _, f := range fs {
				if !f(x) {
					return false
				}
			}
			return true
		}
	}
	filters := []filter{
		{"", open},
		{"state=all", func(onus.Finding) bool { return true }},
		{"state=exempted", func(x onus.Finding) bool { return x.State == onus.StateExempted }},
		{"state=resolved", func(x onus.Finding) bool { return x.State == onus.StateResolved }},
		{"state=gone", func(x onus.Finding) bool { return x.State == onus.StateGone }},
		{"control=disk", and(open, func(x onus.Finding) bool { return x.Control == "disk" })},
		{"severity=critical", and(open, func(x onus.Finding) bool { return x.Severity == onus.Critical })},
		{"severity=low&state=all", func(x onus.Finding) bool { return x.Severity == onus.Low }},
		{"owner=EMP@acme.test", and(open, func(x onus.Finding) bool { return x.Responsible.Email == "emp@acme.test" })},
		{"team=Engineering", and(open, func(x onus.Finding) bool { return team[x.Responsible.Email] == "Engineering" })},
		{"team=Sales&state=all", func(x onus.Finding) bool { return team[x.Responsible.Email] == "Sales" }},
		{"source=hr", and(open, source("hr"))},
		{"source=mdm&state=all", source("mdm")},
		{"overdue=1", overdue},
		{"overdue=1&state=all", overdue},
		{"overdue=1&state=resolved", func(onus.Finding) bool { return false }},
		{"overdue=1&control=patch&severity=high", and(overdue, func(x onus.Finding) bool { return x.Control == "patch" && x.Severity == onus.High })},
		{"control=patch&team=Engineering&source=hr", and(open, func(x onus.Finding) bool {
			return x.Control == "patch" && team[x.Responsible.Email] == "Engineering"
		}, source("hr"))},
		{"state=exempted&severity=medium", func(x onus.Finding) bool { return x.State == onus.StateExempted && x.Severity == onus.Medium }},
		{"q=X-1", and(open, func(x onus.Finding) bool { return strings.Contains(x.EntityName, "X-1") })},
	}
	for who, may := range sees {
		c := f.as(who)
		for _, flt := range filters {
			var want []int64
			for _, x := range all {
				if may(x) && flt.keep(x) {
					want = append(want, x.ID)
				}
			}
			// Soonest due first, then by id.
			byID := map[int64]onus.Finding{}
			for _, x := range all {
				byID[x.ID] = x
			}
			slices.SortFunc(want, func(a, b int64) int {
				if c := byID[a].Due.Compare(byID[b].Due); c != 0 {
					return c
				}
				return int(a - b)
			})
			var got []int64
			after := ""
			for pages := 0; ; pages++ {
				if pages > 50 {
					t.Fatalf("%s %s: the pages never end", who, flt.q)
				}
				path := "/api/v1/findings?limit=7&" + flt.q
				if after != "" {
					path += "&after=" + url.QueryEscape(after)
				}
				w := c.get(path)
				mustStatus(t, w, 200, who+" "+path)
				var page struct {
					Total    *int `json:"total"`
					Next     string
					Findings []struct {
						ID int64 `json:"id"`
					} `json:"findings"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
					t.Fatal(err)
				}
				if page.Total != nil && *page.Total != len(want) {
					t.Errorf("%s %s: total %d, want %d", who, flt.q, *page.Total, len(want))
				}
				if len(page.Findings) > 7 {
					t.Fatalf("%s %s: a page of %d", who, flt.q, len(page.Findings))
				}
				for _, x := range page.Findings {
					got = append(got, x.ID)
				}
				if page.Next == "" {
					break
				}
				after = page.Next
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %s:\n got %v\nwant %v", who, flt.q, got, want)
			}
		}
	}
	// The administrator's broad filters are counted from the summaries.
	var page struct {
		Total *int `json:"total"`
	}
	if err := json.Unmarshal(f.as("admin@acme.test").get("/api/v1/findings?limit=2&severity=high&overdue=1").Body.Bytes(), &page); err != nil || page.Total == nil {
		t.Errorf("no total for a summarised filter: %v", err)
	}
	mustStatus(t, f.as("admin@acme.test").get("/findings?offset=10"), 400, "offset")
	mustStatus(t, f.as("admin@acme.test").get("/findings?after=yesterday"), 400, "a bad cursor")
	if err := f.db.CheckSummaries(ctx); err != nil {
		t.Error(err)
	}
}

// TestTeamPage: the team view lists everyone below the manager with open
// or exempted items and their counts, most overdue first, details the
// page's people, and refuses a person who is not below.
func TestTeamPage(t *testing.T) {
	f := newFixture(t)
	moreFindings(t, f)
	ctx := context.Background()
	all, err := f.db.Findings(ctx, onus.FindingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	type counts struct{ Open, Overdue, Exempted int }
	want := map[string]counts{}
	for _, x := range all {
		e := x.Responsible.Email
		if e != "emp@acme.test" && e != "emp2@acme.test" && e != "gone@acme.test" {
			continue
		}
		c := want[e]
		switch x.State {
		case onus.StateOpen:
			c.Open++
			if x.Due.Before(testNow) {
				c.Overdue++
			}
		case onus.StateExempted:
			c.Exempted++
		default:
			continue
		}
		want[e] = c
	}
	mgr := f.as("mgr@acme.test")
	w := mgr.get("/api/v1/team")
	mustStatus(t, w, 200, "team")
	var tp struct {
		People []struct {
			Email string
			counts
		} `json:"people"`
		Members []struct {
			Person struct{ Email string } `json:"person"`
			Items  []struct {
				ID      int64 `json:"id"`
				Overdue bool  `json:"overdue"`
			} `json:"items"`
		} `json:"members"`
		TotalOpen    int `json:"total_open"`
		TotalOverdue int `json:"total_overdue"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tp); err != nil {
		t.Fatal(err)
	}
	got := map[string]counts{}
	prev := 1 << 30
	open, over := 0, 0
	for _, p := range tp.People {
		got[p.Email] = p.counts
		if p.Overdue > prev {
			t.Errorf("not most overdue first: %+v", tp.People)
		}
		prev = p.Overdue
		open += p.Open
		over += p.Overdue
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || tp.TotalOpen != open || tp.TotalOverdue != over {
		t.Errorf("team counts %v (total %d/%d), want %v", got, tp.TotalOpen, tp.TotalOverdue, want)
	}
	for i, m := range tp.Members {
		if m.Person.Email != tp.People[i].Email || len(m.Items) != tp.People[i].Open {
			t.Errorf("member %d: %s with %d items, want %s with %d", i, m.Person.Email, len(m.Items), tp.People[i].Email, tp.People[i].Open)
		}
	}
	w = mgr.get("/api/v1/team?person=emp2@acme.test")
	mustStatus(t, w, 200, "one person")
	mustStatus(t, mgr.get("/team?person="+outsider), 404, "someone not below")
	mustStatus(t, mgr.get("/team?page=0"), 400, "page 0")
	if w := mgr.get("/team"); !strings.Contains(w.Body.String(), "Emma Ployee") || strings.Contains(w.Body.String(), canaryTeammate) {
		t.Errorf("team page:\n%s", clipBody(w.Body.String()))
	}
}
