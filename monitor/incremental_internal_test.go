package monitor

import (
	"maps"
	"slices"
	"testing"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/policy"
)

// The kinds a control reads: its own, what links reach (transitively),
// the kinds whose sources create entities of a reached kind, and always
// the people and what they reach.
func TestKindClosure(t *testing.T) {
	dir := t.TempDir()
	if err := orggen.WriteAcme(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := newKindGraph(cfg)
	for _, tt := range []struct {
		kind string
		want []string
	}{
		{"software", []string{"app", "device", "person", "software", "team"}},
		{"device", []string{"device", "person", "team"}},
		{"account", []string{"account", "person", "team"}},
		{"person", []string{"person", "team"}},
		{"app", []string{"app", "person", "team"}},
		// A control over every kind reads every kind.
		{"", []string{"account", "app", "device", "person", "software", "team"}},
	} {
		got := slices.Sorted(maps.Keys(g.closure(tt.kind)))
		if !slices.Equal(got, tt.want) {
			t.Errorf("closure(%q) = %v, want %v", tt.kind, got, tt.want)
		}
	}

	// Which expressions read the clock, and what they name.
	compiled, err := evaluate.Compile(cfg, orggen.AcmeNow)
	if err != nil {
		t.Fatal(err)
	}
	readsNow := map[string]bool{}
	names := map[string]map[string]bool{}
	for _, ctl := range compiled.Controls {
		names[ctl.ID] = map[string]bool{}
		for _, p := range []*policy.Program{ctl.Scope, ctl.Check, ctl.Owner} {
			readsNow[ctl.ID] = exprFacts(p, names[ctl.ID]) || readsNow[ctl.ID]
		}
	}
	for id, want := range map[string]bool{"edr-agent-missing": true, "edr-agent-stale": true, "background-check-complete": true,
		"disk-encryption": false, "app-outdated": false, "mfa-strong-factor": false, "terminated-account-active": false, "departed-device-checking-in": false} {
		if readsNow[id] != want {
			t.Errorf("%s reads now: %v, want %v", id, readsNow[id], want)
		}
	}
	if !names["edr-agent-missing"]["jamf"] || !names["edr-agent-missing"]["edr"] {
		t.Errorf("edr-agent-missing names %v, want jamf and edr among them", names["edr-agent-missing"])
	}
	// age() and days_since() measure from now.
	env := compiled.Env
	for src, want := range map[string]bool{
		`age(entity.last_contact) > duration("1h")`:               true,
		`days_since(entity.last_contact) > 3`:                     true,
		`entity.last_contact > timestamp("2026-01-01T00:00:00Z")`: false,
	} {
		p, err := env.Compile("test", config.Expr{Src: src}, "device", policy.Bool)
		if err != nil {
			t.Fatal(err)
		}
		if got := exprFacts(p, map[string]bool{}); got != want {
			t.Errorf("%s reads now: %v, want %v", src, got, want)
		}
	}
}
