package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/raci"
)

// The queries of the web application give the same answers on both
// engines: filters, teams, claims, the dashboard and the counts.
func TestWebQueries(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	people := []*raci.Person{
		{Email: "boss@acme.com", Name: "Boss", Status: "active", Team: "Eng"},
		{Email: "jane@acme.com", Name: "Jane", Status: "active", Manager: "boss@acme.com", Team: "Eng"},
		{Email: "bob@acme.com", Name: "Bob", Status: "active", Manager: "jane@acme.com", Team: "Sales"},
	}
	if err := db.ReplaceDirectory(ctx, people, []onus.Asset{{Person: "jane@acme.com", Entity: "d1", Kind: "device", Name: "MBP-Jane", Link: "owner"}}); err != nil {
		t.Fatal(err)
	}
	run, _ := db.BeginRun(ctx, "eval", "test", now)
	mk := func(control, entity, name, owner string, sev onus.Severity, due time.Duration) onus.FindingChange {
		return onus.FindingChange{New: true, Finding: onus.Finding{Control: control, Entity: entity, EntityKind: "device", EntityName: name,
			Severity: sev, State: onus.StateOpen, Responsible: onus.Person{Email: owner}, FirstFailed: now, LastFailed: now,
			Due: now.Add(due), UpdatedAt: now, Evidence: []onus.Evidence{{Path: "sources.jamf.disk", Value: "v"}}},
			Events: []onus.Event{{At: now, Type: onus.EventOpened}}}
	}
	changes := []onus.FindingChange{
		mk("edr", "d1", "MBP-Jane", "jane@acme.com", onus.High, -time.Hour),
		mk("edr", "d2", "MBP-Bob", "bob@acme.com", onus.High, 24*time.Hour),
		mk("patch", "d1", "MBP-Jane", "jane@acme.com", onus.Low, 48*time.Hour),
		mk("mfa", "a1", "okta-app", "", onus.Critical, time.Hour),
	}
	if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
		t.Fatal(err)
	}
	ids := func(fs []onus.Finding) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Control+"/"+f.Entity)
		}
		return strings.Join(out, " ")
	}
	// On PostgreSQL a chain is read first and given as a list when it is
	// short, and stays a subquery when long: both ways give the same pages.
	for _, short := range []int{shortChainMax, 1} {
		shortChainMax = short
		for _, c := range []struct {
			q    FindingQuery
			want string
			n    int
		}{
			{FindingQuery{Visibility: Visibility{All: true}}, "edr/d1 mfa/a1 edr/d2 patch/d1", 4},
			{FindingQuery{Visibility: Visibility{Email: "jane@acme.com"}}, "edr/d1 edr/d2 patch/d1", 3},
			{FindingQuery{Visibility: Visibility{}}, "", 0},
			{FindingQuery{Visibility: Visibility{All: true}, Text: "mbp-JANE"}, "edr/d1 patch/d1", 2},
			{FindingQuery{Visibility: Visibility{All: true}, Severity: "high", Limit: 1}, "edr/d1", 2},
			{FindingQuery{Visibility: Visibility{All: true}, Under: "boss@acme.com"}, "edr/d1 edr/d2 patch/d1", 3},
			{FindingQuery{Visibility: Visibility{All: true}, Team: "Sales"}, "edr/d2", 1},
			{FindingQuery{Visibility: Visibility{All: true}, Source: "jamf", OverdueAt: now}, "edr/d1", 1},
			{FindingQuery{Visibility: Visibility{All: true}, Control: "edr", NotOwner: "jane@acme.com"}, "edr/d2", 1},
			{FindingQuery{Visibility: Visibility{Email: "jane@acme.com"}, Under: "jane@acme.com", NotOwner: "jane@acme.com",
				States: []onus.State{onus.StateOpen}, Limit: 500}, "edr/d2", 1},
		} {
			p, err := db.FindingsPage(ctx, c.q)
			if err != nil {
				t.Errorf("%+v: %v", c.q, err)
				continue
			}
			if ids(p.Findings) != c.want || p.Counted && p.Total != c.n {
				t.Errorf("%+v: %q (%d, counted %v); want %q (%d)", c.q, ids(p.Findings), p.Total, p.Counted, c.want, c.n)
			}
		}
	}
	shortChainMax = 2000
	chain, err := db.Chain(ctx, "Boss@acme.com")
	if err != nil || strings.Join(chain, " ") != "jane@acme.com bob@acme.com" && strings.Join(chain, " ") != "bob@acme.com jane@acme.com" {
		t.Errorf("chain %v, %v", chain, err)
	}
	if below, err := db.IsBelow(ctx, "bob@acme.com", "boss@acme.com"); err != nil || !below {
		t.Errorf("bob below boss: %v %v", below, err)
	}
	if below, err := db.IsBelow(ctx, "boss@acme.com", "bob@acme.com"); err != nil || below {
		t.Errorf("boss below bob: %v %v", below, err)
	}
	if _, err := db.VisibleFinding(ctx, Visibility{Email: "bob@acme.com"}, 1); onus.ErrorCode(err) != onus.ENOTFOUND {
		t.Errorf("bob sees jane's finding: %v", err)
	}
	if err := db.ClaimFix(ctx, 1, "jane@acme.com", "encrypted it"); err != nil {
		t.Fatal(err)
	}
	page, err := db.FindingsPage(ctx, FindingQuery{Visibility: Visibility{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	all := page.Findings
	claims, err := db.Claims(ctx, all)
	if err != nil || len(claims) != 1 || claims[1].By != "jane@acme.com" || claims[1].Status != "pending" {
		t.Errorf("claims %+v, %v", claims, err)
	}
	if _, err := db.LastTold(ctx, all); err != nil {
		t.Error(err)
	}
	if _, err := db.MessagesAbout(ctx, 1); err != nil {
		t.Error(err)
	}
	counts, err := db.FindingCounts(ctx)
	if err != nil || fmt.Sprint(counts) != "[{open critical 1} {open high 2} {open low 1}]" {
		t.Errorf("counts %v, %v", counts, err)
	}
	if _, err := db.OutboxCounts(ctx); err != nil {
		t.Error(err)
	}
	for _, v := range []Visibility{{All: true}, {Email: "boss@acme.com"}} {
		d, err := db.DashboardOf(ctx, v, now, 4)
		if err != nil {
			t.Fatalf("dashboard of %+v: %v", v, err)
		}
		if v.All && (d.Open != 4 || d.Overdue != 1 || len(d.ByTeam) == 0 || len(d.ByControl) == 0) {
			t.Errorf("dashboard %+v", d)
		}
	}
	ps, err := db.PeopleByEmail(ctx, []string{"Jane@acme.com", "bob@acme.com", "nobody@acme.com"})
	if err != nil || len(ps) != 2 || ps["jane@acme.com"].Team != "Eng" {
		t.Errorf("people %v, %v", ps, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Error(err)
	}
	if err := db.Optimize(ctx); err != nil {
		t.Error(err)
	}
}
