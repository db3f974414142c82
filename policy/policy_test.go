package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/policy"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"120.0.6099.71", "120.0.6099.129", -1},
		{"131.0.6778.100", "131.0.6778.86", 1}, // newer, though it sorts first as text
		{"1.10", "1.9", 1},
		{"1.2", "1.2.0", 0},
		{"v2.0", "2", 0},
		{"1.2.3-beta", "1.2.3", -1},
		{"1.2.3-rc1", "1.2.3-rc2", -1},
		{"1.2.3b2", "1.2.3", -1},
		{"1.2.3+build.7", "1.2.3", 0},
		{"2.5.1-1ubuntu1", "2.5.1", 1},
		{"2.5.1-1ubuntu2", "2.5.1-1ubuntu10", -1},
		{"16.79.2 (23110819)", "16.79.2", 1},
		{"16.79.2 (23110819)", "16.80", -1},
		{"24277.3101.3142.1225", "24295.606.3238.6194", -1},
		{"4.41.105", "4.41.105", 0},
		{"1.0.0_1", "1.0.0", 1},
	}
	for _, tt := range tests {
		got, err := policy.CompareVersions(tt.a, tt.b)
		if err != nil {
			t.Errorf("CompareVersions(%q, %q): %v", tt.a, tt.b, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		// Antisymmetry.
		if back, _ := policy.CompareVersions(tt.b, tt.a); back != -tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, not the opposite of %d", tt.b, tt.a, back, tt.want)
		}
	}
	for _, bad := range []string{"", "latest", "beta-1.2"} {
		if _, err := policy.CompareVersions(bad, "1.0"); err == nil {
			t.Errorf("CompareVersions(%q) accepted a non-version", bad)
		}
	}
}

func FuzzCompareVersions(f *testing.F) {
	for _, s := range []string{"1.2.3", "120.0.6099.71", "1.2.3-beta", "16.79.2 (23110819)", "v2", "0"} {
		f.Add(s, "1.10")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		x, errA := policy.CompareVersions(a, b)
		y, errB := policy.CompareVersions(b, a)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("errors differ by argument order: %v / %v", errA, errB)
		}
		if errA == nil && x != -y {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, x, b, a, y)
		}
		if self, err := policy.CompareVersions(a, a); err == nil && self != 0 {
			t.Fatalf("Compare(%q, itself) = %d", a, self)
		}
	})
}

var now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// fixture is a small inventory: a laptop in MDM and EDR owned by Jane,
// whose manager is Bob, and a laptop only in MDM with no owner.
func fixture(t *testing.T) (*inventory.Inventory, *policy.Env) {
	t.Helper()
	cfg, err := config.ParseMain("onus.yaml", strings.NewReader(`
sources:
  - name: mdm
    kind: device
    from: { file: mdm.json }
    map:
      id: id
      keys: { serial: serial }
      fields:
        last_contact: { path: c, type: time }
        os_version: v
    links:
      owner: { to: person, by: email, path: user }
  - name: edr
    kind: device
    from: { file: edr.json }
    map:
      id: id
      keys: { serial: serial }
      fields:
        last_seen: { path: s, type: time }
        tags: { path: t, type: list }
  - name: hr
    kind: person
    from: { file: hr.csv }
    map:
      id: id
      keys: { email: email }
      fields: { status: status }
    links:
      manager: { to: person, by: email, path: manager }
`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := policy.NewEnv(policy.NewCatalog(cfg), now)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	inv, err := inventory.Build(inventory.Input{
		Correlate: map[string][]string{"device": {"serial"}, "person": {"email"}},
		Sources: []inventory.SourceInput{
			{Name: "mdm", Kind: "device", Creates: true, Healthy: true, Snapshot: &onus.Snapshot{
				Schema: onus.Schema{Fields: []string{"last_contact", "os_version"}, Links: []onus.LinkSpec{{Name: "owner", To: "person", Key: "email"}}},
				Records: onus.RecordsOf([]onus.Record{
					{ID: "m1", Name: "MBP-JANE", Keys: []onus.Key{{Name: "serial", Value: "S1"}}, Attrs: []any{now.Add(-day), "15.1"}, Links: []string{"jane@acme.com"}},
					{ID: "m2", Name: "MBP-SPARE", Keys: []onus.Key{{Name: "serial", Value: "S2"}}, Attrs: []any{now.Add(-40 * day), nil}, Links: []string{""}},
				})}},
			{Name: "edr", Kind: "device", Creates: true, Healthy: true, Snapshot: &onus.Snapshot{
				Schema: onus.Schema{Fields: []string{"last_seen", "tags"}},
				Records: onus.RecordsOf([]onus.Record{
					// Jane's laptop has an older, stale agent record too:
					// without seen, the one read last speaks.
					{ID: "e0", Keys: []onus.Key{{Name: "serial", Value: "S1"}}, Attrs: []any{now.Add(-30 * day), nil}},
					{ID: "e1", Keys: []onus.Key{{Name: "serial", Value: "S1"}}, Attrs: []any{now.Add(-5 * day), []any{"vip", "eng"}}},
				})}},
			{Name: "hr", Kind: "person", Creates: true, Healthy: true, Snapshot: &onus.Snapshot{
				Schema: onus.Schema{Fields: []string{"status"}, Links: []onus.LinkSpec{{Name: "manager", To: "person", Key: "email"}}},
				Records: onus.RecordsOf([]onus.Record{
					{ID: "1", Name: "Jane Doe", Keys: []onus.Key{{Name: "email", Value: "jane@acme.com"}}, Attrs: []any{"Active"}, Links: []string{"bob@acme.com"}},
					{ID: "2", Name: "Bob Roe", Keys: []onus.Key{{Name: "email", Value: "bob@acme.com"}}, Attrs: []any{"Active"}, Links: []string{""}},
				})}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv, env
}

func TestExpressions(t *testing.T) {
	inv, env := fixture(t)
	jane, _ := inv.Lookup("device", "serial", "S1")
	spare, _ := inv.Lookup("device", "serial", "S2")
	tests := []struct {
		expr   string
		entity int32
		want   any // bool, or "unknown"
	}{
		{`entity.kind == "device"`, jane, true},
		{`"edr" in entity.sources`, jane, true},
		{`"edr" in entity.sources`, spare, false},
		{`has(entity.sources.edr)`, spare, false},
		{`entity.sources.edr.last_seen > now - duration("72h")`, jane, false},
		{`entity.sources.edr.last_seen > now - days(7)`, jane, true},
		{`days_since(entity.sources.edr.last_seen) == 5`, jane, true},
		{`age(entity.last_contact) < duration("25h")`, jane, true},
		// The data a check needs is missing: unknown, not false.
		{`entity.sources.edr.last_seen > now - duration("72h")`, spare, "unknown"},
		{`entity.os_version == "15.1"`, spare, "unknown"},
		{`"edr" in entity.sources && entity.sources.edr.last_seen > now - duration("72h")`, spare, false},
		// Links, and links of links.
		{`entity.owner.name == "Jane Doe"`, jane, true},
		{`entity.owner.manager.email == "bob@acme.com"`, jane, true}, // identity keys read as fields
		{`entity.owner.manager.keys.email == ["bob@acme.com"]`, jane, true},
		{`entity.owner.manager.status == "Active"`, jane, true},
		{`has(entity.owner)`, spare, false},
		// Versions compare as numbers.
		{`version(entity.os_version) < version("15.10")`, jane, true},
		{`version(entity.os_version) >= version("15.1.0")`, jane, true},
		{`version("not a version") < version("1")`, jane, "unknown"},
		{`"vip" in entity.sources.edr.tags`, jane, true},
		{`entity.sources.mdm.id == "m1"`, jane, true},
		// Every record of a source, beside the one that speaks.
		{`entity.sources.edr.id == "e1"`, jane, true},
		{`entity.sources.edr.records.size() == 2`, jane, true},
		{`entity.sources.edr.records.map(r, r.id) == ["e0", "e1"]`, jane, true},
		{`entity.sources.edr.records.exists(r, r.last_seen < now - days(20))`, jane, true},
		{`entity.sources.edr.records.all(r, "vip" in r.tags)`, jane, "unknown"},
		{`entity.sources.edr.records.all(r, has(r.tags) && "vip" in r.tags)`, jane, false},
		{`entity.sources.mdm.records.size() == 1`, jane, true},
	}
	sess := env.NewSession(inv)
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := env.Compile("c.yaml", config.Expr{Src: tt.expr, Line: 1, Col: 1}, "device", policy.Bool)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, err := sess.EvalBool(p, tt.entity)
			if tt.want == "unknown" {
				if err == nil {
					t.Errorf("got %v, want unknown (an error)", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// Mistakes in expressions are errors at load time with the file, line and
// column, never a silent failure on every entity.
func TestCompileErrors(t *testing.T) {
	_, env := fixture(t)
	tests := []struct {
		expr config.Expr
		kind string
		want string
	}{
		{config.Expr{Src: `entity.sources.edr.last_seen >`, Line: 7, Col: 8}, "device", "c.yaml:7:38: CEL: Syntax error"},
		{config.Expr{Src: `"edr" in entity.sourcs`, Line: 3, Col: 10}, "device", "c.yaml:3:19: entity.sourcs: device entities have no field or link sourcs"},
		{config.Expr{Src: `"edrr" in entity.sources`, Line: 3, Col: 10}, "device", "c.yaml:3:10: entity.sources.edrr: no source called edrr provides device entities (sources of device: mdm, edr)"},
		{config.Expr{Src: `entity.sources.edr.lastseen > now`, Line: 4, Col: 8}, "device", "source edr maps no field lastseen (its fields: last_seen, tags)"},
		{config.Expr{Src: `entity.sources.hr.status == "x"`, Line: 4, Col: 8}, "device", "no source called hr provides device entities"},
		{config.Expr{Src: `entity.owner.managr.status == "x"`, Line: 5, Col: 8}, "device", "entity.owner.managr: person entities have no field or link managr (known: email (key), manager (link), status)"},
		{config.Expr{Src: "\"edr\" in entity.sources &&\n  entity.lst_contact > now", Line: 10}, "device", "c.yaml:11:3: entity.lst_contact"},
		{config.Expr{Src: `entity.last_contact`, Line: 2, Col: 8}, "device", ""}, // dyn: allowed, checked at run time
		{config.Expr{Src: `"yes"`, Line: 2, Col: 8}, "device", "c.yaml:2:8: the expression returns string; it must be true or false"},
		{config.Expr{Src: `version(entity.os_version) < "15"`, Line: 2, Col: 8}, "device", "no matching overload"},
	}
	for _, tt := range tests {
		t.Run(tt.expr.Src, func(t *testing.T) {
			_, err := env.Compile("c.yaml", tt.expr, tt.kind, policy.Bool)
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A tracked evaluation records every value read, with the source it came
// from: evidence for people, and the list of sources a result depends on.
func TestTracker(t *testing.T) {
	inv, env := fixture(t)
	jane, _ := inv.Lookup("device", "serial", "S1")
	p, err := env.Compile("c.yaml", config.Expr{Src: `"edr" in entity.sources && entity.sources.edr.last_seen > now - duration("72h")`}, "device", policy.Bool)
	if err != nil {
		t.Fatal(err)
	}
	sess := env.NewSession(inv)
	tr := &policy.Tracker{}
	sess.Track(tr)
	if ok, err := sess.EvalBool(p, jane); err != nil || ok {
		t.Fatalf("eval = %v, %v", ok, err)
	}
	ev := tr.Evidence(now)
	got := []string{}
	for _, e := range ev {
		got = append(got, e.Path+" = "+e.Value)
	}
	want := []string{`sources.edr = "present"`, `sources.edr.last_seen = 2026-11-25T09:00:00Z (5 days ago)`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("evidence:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !tr.Sources[inv.SourceIndex("edr")] || tr.Sources[inv.SourceIndex("mdm")] {
		t.Errorf("sources read = %v, want edr only", tr.Sources)
	}
}
