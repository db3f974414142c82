package evaluate_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/source"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// evaluateDir reads a configuration directory and its exports, and
// evaluates its controls: the pure part of the loop, without a store.
func evaluateDir(t *testing.T, dir string) *evaluate.Results {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	norm := identity.New(identity.Options{})
	var in inventory.Input
	in.Correlate = cfg.Correlate
	for _, src := range cfg.Sources {
		res, err := source.Read(context.Background(), src, source.Options{Dir: cfg.Dir, Normalizer: norm, MaxBad: 0, Now: now})
		if err != nil {
			t.Fatalf("read %s: %v", src.Name, err)
		}
		in.Sources = append(in.Sources, inventory.SourceInput{Name: src.Name, Kind: src.Kind, Creates: src.Creates(), Healthy: true, Snapshot: res.Snapshot})
	}
	inv, err := inventory.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := evaluate.Compile(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	return evaluate.Evaluate(inv, c, now, evaluate.Options{})
}

// Owner resolution, rule by rule (evaluate/owner.go): the owner
// expression; a departed owner's manager, up the chain; the team lead
// when the chain ends; an owner given as text; the matrix's Responsible
// when there is no owner expression; the fallback contact for a gap.
// Each failing laptop is one rule, with the person and the reason a
// reader sees.
func TestOwnerResolution(t *testing.T) {
	res := evaluateDir(t, "testdata/owners")
	type got struct{ owner, reason, accountable string }
	owners := map[string]got{}
	for _, cr := range res.Controls {
		for _, f := range cr.Failures {
			owners[cr.Control.ID+" "+f.Name] = got{f.Owner.Person.Email, f.Owner.Reason, f.Owner.Accountable.Email}
		}
		for _, u := range cr.Unknowns {
			t.Errorf("%s %s is unknown: %s", cr.Control.ID, u.Name, u.Reason)
		}
	}
	const gap = "ownership gap, sent to the fallback contact: "
	want := map[string]got{
		"disk-owner MBP-JANE":   {"jane@acme.com", "owner (entity.owner)", "ciso@acme.com"},
		"disk-owner MBP-LEFT":   {"boss@acme.com", "manager of left@acme.com (who left on 1 Oct 2026)", "ciso@acme.com"},
		"disk-owner MBP-GONE":   {"boss@acme.com", "manager 2 levels up from gone@acme.com (who left on 1 Sep 2026; so did left@acme.com)", "ciso@acme.com"},
		"disk-owner MBP-SOLO":   {"lead@acme.com", "lead of Design, the team of solo@acme.com (who left on 1 Aug 2026, with no working manager)", "ciso@acme.com"},
		"disk-owner MBP-KIOSK":  {"security@acme.com", gap + "owner expression: missing data: owner; no asset owner on record", "ciso@acme.com"},
		"disk-owner MBP-TEXT":   {"security@acme.com", gap + "owner expression: missing data: owner; no asset owner on record", "ciso@acme.com"},
		"disk-text MBP-TEXT":    {"jane@acme.com", "owner (entity.owner_text)", "ciso@acme.com"},
		"disk-matrix MBP-JANE":  {"jane@acme.com", "Responsible for disk: asset owner", "ciso@acme.com"},
		"disk-matrix MBP-LEFT":  {"boss@acme.com", "Responsible for disk: manager of left@acme.com (who left on 1 Oct 2026)", "ciso@acme.com"},
		"disk-matrix MBP-GONE":  {"boss@acme.com", "Responsible for disk: manager 2 levels up from gone@acme.com (who left on 1 Sep 2026; so did left@acme.com)", "ciso@acme.com"},
		"disk-matrix MBP-SOLO":  {"lead@acme.com", "Responsible for disk: lead of Design, the team of solo@acme.com (who left on 1 Aug 2026, with no working manager)", "ciso@acme.com"},
		"disk-matrix MBP-TEXT":  {"security@acme.com", gap + "no asset owner on record", "ciso@acme.com"},
		"disk-matrix MBP-KIOSK": {"security@acme.com", gap + "no asset owner on record", "ciso@acme.com"},
		"disk-nobody MBP-KIOSK": {"security@acme.com", gap + "no asset owner on record", ""},
		"disk-nobody MBP-TEXT":  {"security@acme.com", gap + "no asset owner on record", ""},
	}
	var keys []string
	for k := range owners {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, w := owners[k], want[k]
		if _, ok := want[k]; !ok {
			t.Errorf("%s fails, to %s (%s); want it to pass", k, g.owner, g.reason)
			continue
		}
		if g != w {
			t.Errorf("%s: owner %s (%q), accountable %s; want %s (%q), %s", k, g.owner, g.reason, g.accountable, w.owner, w.reason, w.accountable)
		}
	}
	for k := range want {
		if _, ok := owners[k]; !ok {
			t.Errorf("%s passes; want it to fail", k)
		}
	}
}
