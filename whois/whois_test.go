package whois_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/internal/bench"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
	"github.com/onus-sec/onus/whois"
)

// acme syncs and evaluates the example organisation into a real database.
func acme(t testing.TB) (*store.DB, *config.Config) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := orggen.WriteAcme(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "test"}
	if _, err := m.Sync(ctx, monitor.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Eval(ctx, orggen.AcmeNow, nil); err != nil {
		t.Fatal(err)
	}
	return db, cfg
}

func roles(p *whois.Profile) string {
	var out []string
	for _, r := range p.Roles {
		out = append(out, r.Letter+" "+r.Activity+" "+r.Via)
	}
	return strings.Join(out, "\n")
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	db, cfg := acme(t)
	svc, err := whois.New(ctx, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The IT lead: Accountable for the endpoint activities, for others' findings.
	p, err := svc.Lookup(ctx, "Frances.Allen@acme.com", orggen.AcmeNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"A endpoint-protection as the lead of IT Operations", "R offboarding as the lead of IT Operations", "I patch-servers as the lead of IT Operations"} {
		if !strings.Contains(roles(p), want) {
			t.Errorf("frances lacks %q in:\n%s", want, roles(p))
		}
	}
	acc := map[string]int{}
	for _, a := range p.Accountable {
		acc[a.Control] = a.Open
	}
	if acc["edr-agent-missing"] != 3 || acc["app-outdated"] != 6 {
		t.Errorf("accountable for %v", acc)
	}
	// A manager who inherited gaps: her own laptop and account, four open findings with fix steps.
	p, err = svc.Lookup(ctx, "barbara.liskov@acme.com", orggen.AcmeNow)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, a := range p.Assets {
		kinds[a.Kind]++
	}
	if kinds["device"] != 1 || kinds["account"] != 1 {
		t.Errorf("assets = %+v", p.Assets)
	}
	if len(p.Open) != 4 || p.Open[0].Fix == "" || p.Open[0].Severity != onus.Critical {
		t.Errorf("open = %+v", p.Open)
	}
	if !strings.Contains(roles(p), "R screen-new-hires as the manager of") {
		t.Errorf("roles:\n%s", roles(p))
	}
	// A pending request shows up for whoever may decide it, not for others.
	f := p.Open[0]
	x := &onus.Exception{Finding: f.ID, Control: f.Control, Entity: f.Entity, Severity: f.Severity, Reason: "r", Requester: "barbara.liskov@acme.com",
		RequestedAt: orggen.AcmeNow, Expires: orggen.AcmeNow.Add(7 * 24 * time.Hour)}
	if err := db.CreateException(ctx, x); err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]int{f.Accountable.Email: 1, "whitfield.diffie@acme.com": 1, "grace.hopper@acme.com": 0} {
		p, _ := svc.Lookup(ctx, who, orggen.AcmeNow)
		if len(p.Approvals) != want {
			t.Errorf("%s sees %d pending approvals, want %d", who, len(p.Approvals), want)
		}
	}
	if p, _ := svc.Lookup(ctx, "barbara.liskov@acme.com", orggen.AcmeNow); len(p.Exceptions) != 1 || len(p.Approvals) != 0 {
		t.Errorf("the requester sees %d own requests and %d approvals", len(p.Exceptions), len(p.Approvals))
	}
	if _, err := svc.Lookup(ctx, "nobody@acme.com", orggen.AcmeNow); onus.ErrorCode(err) != onus.ENOTFOUND {
		t.Errorf("unknown person: %v", err)
	}
}

var people = flag.Int("people", 10000, "people in the organisation for BenchmarkLookup")

// BenchmarkLookup measures one whois lookup on a generated organisation
// (10,000 people by default; -people 100000 for the full size).
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("onus-whois-bench-%d", *people))
	if _, err := bench.Run(ctx, bench.Options{People: *people, Dir: dir}); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc, err := whois.New(ctx, db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	dirPeople, _ := db.Directory(ctx)
	var emails []string
	for e := range dirPeople.People {
		emails = append(emails, e)
		if len(emails) == 1000 {
			break
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Lookup(ctx, emails[i%len(emails)], orggen.AcmeNow); err != nil {
			b.Fatal(err)
		}
	}
}
