package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

const goodMain = `version: 1
sources:
  - name: hr
    kind: person
    from: { file: people.csv }
    map:
      id: employee_id
      keys: { email: work_email }
      fields:
        status: status
        hired: { path: hire_date, type: time }
    links:
      manager: { to: person, by: email, path: manager }
correlate:
  person: [email]
deadlines: { high: 7d }
`

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadGood(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"onus.yaml": goodMain,
		"controls/a.yaml": `id: check-a
severity: high
scope: entity.kind == "person"
check: has(entity.status)
`,
		"controls/b.yaml": `- id: check-b
  severity: low
  check: "true"
  due: { low: 3d }
- id: check-c
  severity: medium
  check: "true"
`,
		"raci.yaml": `activities: [{id: x, R: [a@b.c], A: [a@b.c]}]`,
	})
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Controls) != 3 || cfg.Controls[0].ID != "check-a" || cfg.Controls[0].Line != 1 || cfg.Controls[2].Line != 5 {
		t.Errorf("controls = %+v", cfg.Controls)
	}
	if got := cfg.Deadline(cfg.Control("check-b")).Hours(); got != 72 {
		t.Errorf("check-b deadline = %vh, want 72h (its own)", got)
	}
	if got := cfg.Deadline(cfg.Control("check-a")).Hours(); got != 7*24 {
		t.Errorf("check-a deadline = %vh, want 168h (onus.yaml)", got)
	}
	if got := cfg.Deadline(cfg.Control("check-c")).Hours(); got != 30*24 {
		t.Errorf("check-c deadline = %vh, want the default 720h", got)
	}
	if x := cfg.Control("check-a").Check; x.Line != 4 || x.Col != 8 {
		t.Errorf("check position = %d:%d, want 4:8", x.Line, x.Col)
	}
	if cfg.Sources[0].Line != 3 {
		t.Errorf("source line = %d", cfg.Sources[0].Line)
	}
}

// Every mistake is reported with its file and line, and all of them at once.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown key", map[string]string{"onus.yaml": strings.Replace(goodMain, "    kind: person", "    kind: person\n    kinds: typo", 1)},
			[]string{`onus.yaml:5:5: unknown field "kinds"`}},
		{"unknown key in a field", map[string]string{"onus.yaml": strings.Replace(goodMain, "type: time }", "type: time, typ: x }", 1)},
			[]string{`onus.yaml:11:47: unknown field "typ"`}},
		{"every unknown key, not only the first", map[string]string{"onus.yaml": strings.Replace(strings.Replace(goodMain, "    kind: person", "    kind: person\n    kinds: typo", 1), "type: time }", "type: time, typ: x }", 1) + "nudgez: {}\n"},
			[]string{`onus.yaml:5:5: unknown field "kinds"`, `onus.yaml:12:47: unknown field "typ"`, `unknown field "nudgez"`}},
		{"bad yaml", map[string]string{"onus.yaml": "sources:\n  - name: [\n"},
			[]string{"onus.yaml:"}},
		{"empty", map[string]string{"onus.yaml": ""},
			[]string{"onus.yaml:1: file is empty"}},
		{"newer version", map[string]string{"onus.yaml": "version: 9\nsources: []\n"},
			[]string{"onus.yaml:1: version 9 is newer than this onus understands (1); upgrade onus"}},
		{"source mistakes", map[string]string{"onus.yaml": `sources:
  - name: HR
    kind: person
    from: { file: people.xlsx }
    map: { keys: { email: mail } }
  - name: edr
    kind: device
    connector: crowdstrike
    from: { file: x.json }
    credentials: { client_secret: s3cr3t }
    map: { id: id, fields: { name: n, owner: o } }
    links: { owner: { to: person, by: email, path: o } }
  - name: edr
    kind: device
    from: { file: y.json, records: r, query: q }
    map: { id: id }
    links: { team: { to: team, by: name, path: dept } }
correlate:
  laptop: [serial]
deadlines: { urgent: 1d }
`},
			[]string{
				`onus.yaml:2: source "HR": name must be lower case`,
				`onus.yaml:4: source "HR": cannot tell the format of "people.xlsx"`,
				`onus.yaml:5: source "HR": map.id is required`,
				`onus.yaml:6: source "edr": has both from: and connector:`,
				`onus.yaml:10: source "edr": credential client_secret must be env:NAME or file:PATH`,
				`source "edr": field name "name" is reserved`,
				`onus.yaml:12: source "edr": "owner" is both a field and a link`,
				`onus.yaml:13: source "edr": declared twice (first at line 6)`,
				`onus.yaml:15: source "edr": from.query only applies to osquery logs`,
				`onus.yaml:17: source "edr": link team points at kind "team", which no source provides (set create: true`,
				`onus.yaml:19: correlate: no source has kind "laptop"`,
				`onus.yaml:20: deadlines: unknown severity "urgent"`,
			}},
		{"control mistakes", map[string]string{"onus.yaml": goodMain, "controls/c.yaml": `- id: Bad ID
  severity: high
  check: "true"
- id: dup
  severity: severe
- id: dup
  severity: low
  check: "true"
  kind: laptop
  fix: "{{ .Entity.Name "
- id: unknown-field
  severity: low
  check: "true"
  chek: "false"
`},
			[]string{
				`controls/c.yaml:14:3: unknown field "chek"`,
				`controls/c.yaml:1: control "Bad ID": id must be lower case`,
				`controls/c.yaml:4: control "dup": unknown severity "severe"`,
				`controls/c.yaml:4: control "dup": check is required`,
				`controls/c.yaml:6: control "dup": declared twice (also at`,
				`controls/c.yaml:6: control "dup": kind "laptop": no source provides it`,
				`controls/c.yaml:6: control "dup": fix template:`,
			}},
		{"raci mistakes", map[string]string{"onus.yaml": goodMain, "raci.yaml": `teams:
  ops: { lead: not-an-email }
activities:
  - id: a
  - id: a
  - title: no id
`},
			[]string{
				`raci.yaml:2: team "ops": lead must be an e-mail address`,
				`raci.yaml:5: activity "a": declared twice (first at line 4)`,
				`raci.yaml:6: activity: id is required`,
			}},
		{"serve mistakes", map[string]string{"onus.yaml": goodMain + `serve:
  url: onus.acme.com
  demo_signin: true
  oidc: { issuer: https://acme.okta.com, client_id: onus, client_secret: hunter2 }
  break_glass: { user: root }
  trusted_proxies: [10.0.0.0/8, proxy.local]
  rate_limits: { signin_per_minute: -1 }
`},
			[]string{
				`onus.yaml:18: serve.url: "onus.acme.com" is not an http(s) address`,
				`onus.yaml:19: serve.demo_signin lets anyone act as anyone: it cannot be on beside serve.oidc`,
				`onus.yaml:20: serve.oidc.client_secret must be env:NAME or file:PATH`,
				`onus.yaml:21: serve.break_glass needs user and password_hash`,
				`onus.yaml:22: serve.trusted_proxies[1]: "proxy.local" is not an address or CIDR prefix`,
				`onus.yaml:23: serve.rate_limits: a limit is a number of requests per minute, 0 for the default`,
			}},
		{"not a directory", nil, []string{"is not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dir string
			if tt.files == nil {
				dir = filepath.Join(writeDir(t, map[string]string{"f": "x"}), "f")
			} else {
				dir = writeDir(t, tt.files)
			}
			_, err := config.Load(dir)
			if err == nil {
				t.Fatal("Load accepted a bad configuration")
			}
			if onus.ErrorCode(err) != onus.EINVALID {
				t.Errorf("code = %s, want invalid", onus.ErrorCode(err))
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("missing %q in:\n%s", want, msg)
				}
			}
			var probs config.Problems
			if errors.As(err, &probs) && len(probs) < len(tt.want) {
				t.Errorf("%d problems, want at least %d", len(probs), len(tt.want))
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := map[string]float64{"7d": 168, "36h": 36, "2w": 336, "1d12h": 36, "90m": 1.5, "0.5d": 12}
	for in, want := range tests {
		d, err := onus.ParseDuration(in)
		if err != nil || d.Hours() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %vh", in, d, err, want)
		}
	}
	for _, bad := range []string{"", "7", "d", "7y", "-"} {
		if _, err := onus.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}
