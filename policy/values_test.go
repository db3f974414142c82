package policy_test

import (
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/policy"
)

// The CEL values of entities, their sources and records, through the
// operations CEL calls on maps: size, membership, iteration, equality,
// type conversion.
func TestEntityValues(t *testing.T) {
	inv, env := fixture(t)
	jane, _ := inv.Lookup("device", "serial", "S1")
	spare, _ := inv.Lookup("device", "serial", "S2")
	tests := []struct {
		expr   string
		entity int32
		want   any // bool, or "error"
	}{
		// EntityVal: the reserved fields and those present.
		// The five reserved fields, then those present, sorted.
		{`entity.size() == 11`, jane, true},
		{`entity.map(k, k) == ["id", "kind", "name", "keys", "sources", "last_contact", "last_seen", "os_version", "owner", "serial", "tags"]`, jane, true},
		{`entity.map(k, k) == ["id", "kind", "name", "keys", "sources", "last_contact", "serial"]`, spare, true},
		{`entity.size()`, spare, "int"},
		{`"os_version" in entity`, jane, true},
		{`"os_version" in entity`, spare, false},
		{`"no_such_field" in entity`, jane, false},
		{`entity.exists(k, k == "owner")`, jane, true},
		{`entity.exists(k, k == "owner")`, spare, false},
		{`entity.all(k, k != "")`, jane, true},
		{`entity.filter(k, k in ["id", "kind", "name", "keys", "sources"]).size() == 5`, spare, true},
		{`entity == entity`, jane, true},
		{`entity.owner == entity.owner`, jane, true},
		{`entity.owner.manager == entity.owner`, jane, false},
		{`type(entity) == map`, jane, true},
		// sourcesVal: the sources the entity has a record in.
		{`entity.sources.size() == 2`, jane, true},
		{`entity.sources.size() == 1`, spare, true},
		{`entity.sources.all(s, s in ["mdm", "edr"])`, jane, true},
		{`entity.sources.exists(s, s == "edr")`, spare, false},
		{`entity.sources.exists(s, s == "hr")`, jane, false},
		{`entity.sources.map(s, s) == ["mdm", "edr"]`, jane, true},
		{`type(entity.sources) == map`, jane, true},
		{`entity.sources.edr.id == "e1"`, spare, "error"}, // no record in edr: unknown
		// recordVal: one record's attributes.
		{`"os_version" in entity.sources.mdm`, jane, true},
		{`"tags" in entity.sources.mdm`, jane, false},
		{`entity.sources.mdm.exists(k, k == "last_contact")`, jane, true},
		{`entity.sources.edr.all(k, k != "os_version")`, jane, true},
		{`type(entity.sources.mdm) == map`, jane, true},
		{`entity.sources.mdm.map(k, k).size() == entity.sources.mdm.size()`, jane, true},
	}
	sess := env.NewSession(inv)
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if tt.want == "int" {
				p, err := env.Compile("c.yaml", config.Expr{Src: tt.expr, Line: 1, Col: 1}, "device", policy.Any)
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				v, err := sess.Eval(p, tt.entity)
				if err != nil || v.Value() != int64(7) { // the five reserved, last_contact and serial
					t.Errorf("got %v (%v), want 7", v, err)
				}
				return
			}
			p, err := env.Compile("c.yaml", config.Expr{Src: tt.expr, Line: 1, Col: 1}, "device", policy.Bool)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, err := sess.EvalBool(p, tt.entity)
			if tt.want == "error" {
				if err == nil {
					t.Errorf("got %v, want an error", got)
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

// Values as evidence shows them to people.
func TestFormatValue(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v       any
		present bool
		want    string
	}{
		{"x", false, "absent"},
		{nil, true, "absent"},
		{"Active", true, `"Active"`},
		{true, true, "true"},
		{false, true, "false"},
		{int64(3), true, "3"},
		{at.Add(-5 * 24 * time.Hour), true, "2026-11-25T12:00:00Z (5 days ago)"},
		{[]any{}, true, "an empty list"},
		{[]any{"a", "b"}, true, "2: [a, b]"},
		{[]any{map[string]any{"id": "f1", "factorType": "sms", "status": "ACTIVE", "created": "2026-01-01T00:00:00Z"}, "x", "y", "z"}, true,
			"4: [{factorType: sms, status: ACTIVE}, x, y, … 1 more]"},
		{map[string]any{"b": 1, "a": 2}, true, "{a, b}"},
	}
	for _, tt := range tests {
		if got := policy.FormatValue(tt.v, tt.present, at); got != tt.want {
			t.Errorf("FormatValue(%v, %v) = %q, want %q", tt.v, tt.present, got, tt.want)
		}
	}
	for d, want := range map[time.Duration]string{
		30 * time.Second: "now", -30 * time.Second: "now", 5 * time.Minute: "5 minutes ago", 90 * time.Minute: "90 minutes ago",
		3 * time.Hour: "3 hours ago", 30 * time.Hour: "1 day ago", 50 * time.Hour: "2 days ago", -72 * time.Hour: "in 3 days",
	} {
		if got := policy.Ago(at.Add(-d), at); got != want {
			t.Errorf("Ago(%v before) = %q, want %q", d, got, want)
		}
	}
}
