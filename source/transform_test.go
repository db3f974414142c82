package source_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTransforms(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "apps.ndjson"), []byte(strings.Join([]string{
		`{"host":"HOST-1.corp.acme.com","name":"Notion.app","path":"/Applications/Notion.app","macs":"a4:83:e7:00:00:01, a4:83:e7:00:00:02","ver":"v2.1.0-beta","user":"ACME\\jdoe"}`,
		`{"host":"host-2","name":"Slack.app","path":"/Applications/Slack.app","macs":"","ver":"4.41","user":"bob"}`,
	}, "\n")+"\n"), 0o644)
	src := parseSource(t, `
name: osq
kind: device
from: { file: apps.ndjson }
map:
  id: path | trim_prefix("/Applications/") | lower
  name: name | trim_suffix(".app")
  keys:
    mac: macs | split(",")
    hostname: host | split(".", 0) | upper
  fields:
    app: name | trim_suffix('.app') | lower
    version: ver | replace("^v([0-9.]+).*$", "$1")
    login: user | split("\\", -1)
    macs: macs | split(",")
`)
	res := mustRead(t, dir, src)
	recs := res.Snapshot.Records.All()
	if len(recs) != 2 {
		t.Fatalf("records = %d: %v", len(recs), res.Problems)
	}
	r := recs[0]
	if r.ID != "notion.app" || r.Name != "Notion" {
		t.Errorf("id, name = %q, %q", r.ID, r.Name)
	}
	var keys []string
	for _, k := range r.Keys {
		keys = append(keys, k.Name+"="+k.Value)
	}
	if got := strings.Join(keys, " "); got != "hostname=host-1 mac=a4:83:e7:00:00:01 mac=a4:83:e7:00:00:02" {
		t.Errorf("keys = %s", got)
	}
	attrs := map[string]any{}
	for i, f := range res.Snapshot.Schema.Fields {
		attrs[f] = r.Attrs[i]
	}
	if attrs["app"] != "notion" || attrs["version"] != "2.1.0" || attrs["login"] != "jdoe" {
		t.Errorf("attrs = %v", attrs)
	}
	if l, ok := attrs["macs"].([]any); !ok || len(l) != 2 {
		t.Errorf("macs = %#v", attrs["macs"])
	}
	// An empty value splits into nothing: no key, no field.
	if len(recs[1].Keys) != 1 || recs[1].Attrs[res.Snapshot.Schema.FieldIndex("macs")] != nil {
		t.Errorf("second record: keys %v, attrs %v", recs[1].Keys, recs[1].Attrs)
	}
}

func TestTransformErrors(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{`name | nope`, `unknown transform "nope"`},
		{`name | trim_suffix`, `trim_suffix takes [1] argument(s), not 0`},
		{`name | replace("(", "x")`, "error parsing regexp"},
		{`name | split(",", x)`, "is not a number"},
		{`name | trim_suffix(".app"`, "missing )"},
	} {
		src := parseSource(t, "name: s\nkind: device\nfrom: { file: x.ndjson }\nmap:\n  id: id\n  name: '"+strings.ReplaceAll(tt.path, "'", "''")+"'")
		_, err := read(t, t.TempDir(), src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.path, err, tt.want)
		}
	}
}
