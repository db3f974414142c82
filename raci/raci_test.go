package raci_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/raci"
	_ "github.com/onus-sec/onus/source" // the readers register the file formats config validates
)

var update = flag.Bool("update", false, "rewrite golden files")

// people is a small organisation: Ada runs it; Grace runs Engineering with
// Bob and Carol; Dan (IT) manages Erin; Frank left; Gina is on leave; Hal
// left and so did his manager Ivan, in a team with no lead.
func people() *raci.Directory {
	left := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	return raci.NewDirectory([]*raci.Person{
		{Email: "ada@x.com", Name: "Ada", Status: raci.Active},
		{Email: "grace@x.com", Name: "Grace", Status: raci.Active, Manager: "ada@x.com", Team: "Engineering"},
		{Email: "bob@x.com", Name: "Bob", Status: raci.Active, Manager: "grace@x.com", Team: "Engineering"},
		{Email: "carol@x.com", Name: "Carol", Status: raci.Active, Manager: "bob@x.com", Team: "Engineering"},
		{Email: "dan@x.com", Name: "Dan", Status: raci.Active, Manager: "ada@x.com", Team: "IT"},
		{Email: "erin@x.com", Name: "Erin", Status: raci.Active, Manager: "dan@x.com", Team: "IT"},
		{Email: "frank@x.com", Name: "Frank", Status: raci.Departed, LeftOn: left, Manager: "grace@x.com", Team: "Engineering"},
		{Email: "gina@x.com", Name: "Gina", Status: raci.OnLeave, Manager: "dan@x.com", Team: "IT"},
		{Email: "hal@x.com", Name: "Hal", Status: raci.Departed, LeftOn: left, Manager: "ivan@x.com", Team: "Ops"},
		{Email: "ivan@x.com", Name: "Ivan", Status: raci.Departed, Team: "Ops"},
	})
}

func parse(t *testing.T, yml string) *config.RACI {
	t.Helper()
	r, err := config.ParseRACI("raci.yaml", strings.NewReader(yml))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	m := raci.New(parse(t, `
teams:
  it: { lead: dan@x.com, department: IT }
  noboss: { name: No Boss }
  gone: { lead: frank@x.com }
`), people())
	tests := []struct {
		role  string
		owner string
		want  string // "email | reason fragment", or "error fragment"
	}{
		{"bob@x.com", "", "bob@x.com | named in the matrix"},
		{"frank@x.com", "", "grace@x.com | manager of frank@x.com (who left on 3 Nov 2026)"},
		{"gina@x.com", "", "gina@x.com | named"}, // on leave is still working
		{"stranger@y.com", "", "stranger@y.com | not in any people source"},
		{"it", "", "dan@x.com | lead of it"},
		{"gone", "", "grace@x.com | manager of frank@x.com"},
		{"noboss", "", "error: team No Boss has no lead"},
		{"Engineering", "", "grace@x.com | lead of Engineering"}, // an HR department; its lead is derived
		{"engineering", "", "grace@x.com | lead of Engineering"},
		{"Ops", "", "error: team Ops has no lead"},
		{raci.AssetOwner, "carol@x.com", "carol@x.com | asset owner"},
		{raci.AssetOwner, "frank@x.com", "grace@x.com | manager of frank@x.com"},
		{raci.AssetOwner, "", "error: no asset owner on record"},
		{raci.Manager, "carol@x.com", "bob@x.com | manager of carol@x.com"},
		{raci.Manager, "ada@x.com", "error: no manager of the asset owner on record"},
		{raci.TeamLead, "erin@x.com", "dan@x.com | lead of"}, // the declared team "it" names the IT department
		{raci.TeamLead, "carol@x.com", "grace@x.com | lead of Engineering"},
		// Hal left, so did his manager Ivan, and Ops has no lead: nobody.
		{raci.AssetOwner, "hal@x.com", "error: hal@x.com left and nobody above them or in their team can take over"},
		{"nonsense", "", "error: role nonsense is not a team, a person or a relative role"},
	}
	for _, tt := range tests {
		t.Run(tt.role+"/"+tt.owner, func(t *testing.T) {
			r, err := m.Resolve(tt.role, raci.Subject{AssetOwner: tt.owner}, 3)
			got := ""
			if err != nil {
				got = "error: " + err.Error()
			} else {
				got = r.Person.Email + " | " + r.Reason
			}
			if !strings.HasPrefix(got, tt.want) && !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Consulted and Informed resolve to leads, skipping roles that end in nobody.
	if got := m.People([]string{"it", "noboss", "bob@x.com", "it"}, raci.Subject{}, 3); strings.Join(got, ",") != "dan@x.com,bob@x.com" {
		t.Errorf("people = %v", got)
	}
}

// A team moves: people change department and the derived lead follows.
func TestTeamMove(t *testing.T) {
	dir := people()
	dir.People["bob@x.com"].Team = "IT"
	dir.People["bob@x.com"].Manager = "dan@x.com"
	dir.People["carol@x.com"].Manager = "grace@x.com"
	m := raci.New(nil, dir)
	r, err := m.Resolve(raci.TeamLead, raci.Subject{AssetOwner: "bob@x.com"}, 3)
	if err != nil || r.Person.Email != "dan@x.com" {
		t.Errorf("bob's team lead after the move = %v, %v", r.Person.Email, err)
	}
	if eng := m.Team("Engineering"); len(eng.Members) != 2 {
		t.Errorf("engineering members = %v", eng.Members)
	}
}

func codes(ps []raci.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Severity+" "+p.Code+" "+p.Activity)
	}
	sort.Strings(out)
	return out
}

// Every validation rule, each on its own.
func TestCheck(t *testing.T) {
	controls := func(acts ...string) *config.Config {
		cfg := &config.Config{File: "onus.yaml"}
		for _, a := range acts {
			cfg.Controls = append(cfg.Controls, &config.Control{ID: "c-" + a, Activity: a, File: "controls/c.yaml", Line: 1})
		}
		return cfg
	}
	tests := []struct {
		name string
		yml  string
		cfg  *config.Config
		dir  *raci.Directory
		want []string
	}{
		{"clean", `activities: [{id: a, R: [bob@x.com], A: [grace@x.com]}]`, controls("a"), people(), nil},
		{"no accountable", `activities: [{id: a, R: [bob@x.com]}]`, controls("a"), people(), []string{"error no-accountable a"}},
		{"many accountable", `activities: [{id: a, R: [bob@x.com], A: [grace@x.com, dan@x.com]}]`, controls("a"), people(),
			[]string{"error many-accountable a"}},
		{"no responsible", `activities: [{id: a, A: [grace@x.com]}]`, controls("a"), people(), []string{"error no-responsible a"}},
		{"accountable is responsible, by option", `{options: {accountable_is_responsible: true}, activities: [{id: a, A: [grace@x.com]}]}`, controls("a"), people(), nil},
		{"unknown role", `activities: [{id: a, R: [ghosts], A: [grace@x.com]}]`, controls("a"), people(), []string{"error unknown-role a"}},
		{"team without lead", `{teams: {t: {members: [bob@x.com]}}, activities: [{id: a, R: [t], A: [grace@x.com]}]}`, controls("a"), people(),
			[]string{"error team-no-lead ", "error unresolvable a"}},
		{"team without members", `{teams: {t: {lead: bob@x.com, department: Marketing}}, activities: [{id: a, R: [t], A: [grace@x.com]}]}`, controls("a"), people(),
			[]string{"warning team-no-members "}},
		{"team lead left", `{teams: {t: {lead: frank@x.com}}, activities: [{id: a, R: [t], A: [grace@x.com]}]}`, controls("a"), people(),
			[]string{"error person-departed "}},
		{"named person left", `activities: [{id: a, R: [frank@x.com], A: [grace@x.com], I: [hal@x.com]}]`, controls("a"), people(),
			[]string{"error person-departed a", "warning person-departed a"}},
		{"named person on leave", `activities: [{id: a, R: [gina@x.com], A: [grace@x.com]}]`, controls("a"), people(),
			[]string{"warning person-on-leave a"}},
		{"control names a missing activity", `activities: [{id: a, R: [bob@x.com], A: [grace@x.com]}]`, controls("a", "b"), people(),
			[]string{"error control-activity-missing b"}},
		{"activity no control checks", `activities: [{id: a, R: [bob@x.com], A: [grace@x.com]}, {id: b, R: [bob@x.com], A: [grace@x.com]}]`, controls("a"), people(),
			[]string{"warning activity-unmonitored b"}},
		{"mixed letters", `activities: [{id: a, R: [bob@x.com], A: [grace@x.com], C: [dan@x.com], I: [dan@x.com]}]`, controls("a"), people(),
			[]string{"error mixed-letters a"}},
		{"A with R is allowed", `activities: [{id: a, R: [grace@x.com], A: [grace@x.com]}]`, controls("a"), people(), nil},
		{"A that ends in nobody", `{teams: {ops: {department: Ops}}, activities: [{id: a, R: [bob@x.com], A: [Ops]}]}`, controls("a"), people(),
			[]string{"error unresolvable a", "error team-no-lead ", "warning team-no-members "}},
		{"relative roles are judged per finding", `activities: [{id: a, R: [asset-owner], A: [grace@x.com]}]`, controls("a"), people(), nil},
		{"accountable for too much", `activities: [{id: a, R: [bob@x.com], A: [grace@x.com]}, {id: b, R: [bob@x.com], A: [grace@x.com]}, {id: c, R: [bob@x.com], A: [grace@x.com]}, {id: d, R: [bob@x.com], A: [dan@x.com]}]`,
			controls("a", "b", "c", "d"), people(), []string{"warning accountable-overload "}},
		{"consulting and informing everyone", `{options: {warn_consulted: 1, warn_informed: 1}, activities: [{id: a, R: [bob@x.com], A: [grace@x.com], C: [dan@x.com, erin@x.com], I: [ada@x.com, carol@x.com]}]}`,
			controls("a"), people(), []string{"warning many-consulted a", "warning many-informed a"}},
		{"without people data the people checks are skipped", `activities: [{id: a, R: [frank@x.com], A: [grace@x.com]}]`, controls("a"), nil,
			[]string{"warning people-checks-skipped "}},
		{"unknown approver team", `activities: [{id: a, R: [bob@x.com], A: [grace@x.com]}]`,
			&config.Config{File: "onus.yaml", Controls: controls("a").Controls, Exceptions: config.Exceptions{Approvers: []string{"secops"}}}, people(),
			[]string{"error unknown-approver-team "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := raci.New(parse(t, tt.yml), tt.dir)
			got := codes(m.Check(tt.cfg))
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, p := range m.Check(tt.cfg) {
				if p.Hint == "" || p.File == "" {
					t.Errorf("problem without a hint or file: %+v", p)
				}
			}
		})
	}
}

func TestProblemPositions(t *testing.T) {
	m := raci.New(parse(t, "activities:\n  - id: a\n    R: [bob@x.com]\n  - id: b\n    R: [bob@x.com]\n    A: [grace@x.com]\n"), people())
	ps := m.Check(&config.Config{Controls: []*config.Control{{ID: "x", Activity: "a"}, {ID: "y", Activity: "b"}}})
	if len(ps) != 1 || ps[0].Line != 2 || ps[0].File != "raci.yaml" || !strings.Contains(ps[0].String(), "raci.yaml:2: error [no-accountable]") {
		t.Errorf("problems = %v", ps)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	r, err := config.ParseRACI("raci.yaml", mustOpen(t, "../examples/acme/raci.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	if err := raci.WriteCSV(&csv, r); err != nil {
		t.Fatal(err)
	}
	back, err := raci.ReadCSV("m.csv", &csv)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	raci.WriteYAML(&a, r, r)
	raci.WriteYAML(&b, back, r)
	if a.String() != b.String() {
		t.Errorf("round trip changed the matrix:\n%s\nvs\n%s", a.String(), b.String())
	}
	// The YAML written is a matrix onus reads back the same.
	again, err := config.ParseRACI("raci.yaml", &b)
	if err != nil {
		t.Fatalf("written YAML does not parse: %v", err)
	}
	if len(again.Activities) != len(r.Activities) || len(again.Teams) != len(r.Teams) {
		t.Errorf("re-read %d activities and %d teams", len(again.Activities), len(again.Teams))
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "m.csv: the file is empty"},
		{"name,it\nx,R\n", "m.csv:1: no activity column (columns: name, it)"},
		{"activity,it\nx,R\nx,A\n", "m.csv:3: activity x is also on line 2"},
		{"activity,it,sec\nx,R,Q\n", `m.csv:2:3: "Q" is not R, A, C or I (role sec, activity x)`},
		{"activity,\nx,R\n", "m.csv:1:2: a column with letters has no role name"},
		{"activity,it\n,R\n", "m.csv:2: the row has no activity id"},
	}
	for _, tt := range tests {
		_, err := raci.ReadCSV("m.csv", strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadCSV(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
	r, err := raci.ReadCSV("m.csv", strings.NewReader("\ufeffActivity,Title,it-ops,security\npatch,Patch laptops,A/R,c\n"))
	if err != nil || len(r.Activities) != 1 || strings.Join(r.Activities[0].R, ",") != "it-ops" || strings.Join(r.Activities[0].A, ",") != "it-ops" || r.Activities[0].C[0] != "security" {
		t.Errorf("ReadCSV = %+v, %v", r, err)
	}
}

// The example's matrix, rendered in every format, against golden files.
func TestRenderGolden(t *testing.T) {
	r, err := config.ParseRACI("raci.yaml", mustOpen(t, "../examples/acme/raci.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load("../examples/acme")
	if err != nil {
		t.Fatal(err)
	}
	m := raci.New(r, nil)
	for _, format := range raci.Formats {
		var b bytes.Buffer
		if err := m.Render(&b, format, m.Check(cfg)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "acme."+format+".golden")
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(path, b.Bytes(), 0o644)
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./raci -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s differs:\n%s", path, b.String())
		}
	}
	if err := m.Render(&bytes.Buffer{}, "pdf", nil); err == nil {
		t.Error("an unknown format rendered")
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
