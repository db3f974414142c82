package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the command in-process, as a user would from a shell.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// demo runs onus demo into a temporary directory once per test.
func demo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	out, errs, code := cli(t, "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("demo exited %d: %s%s", code, out, errs)
	}
	for _, want := range []string{"Sources (sync run 1", "Controls", "edr-agent-missing", "Findings: 27 open", "ownership gaps", "Responsible people with the most open findings", "onus findings --config"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	return dir
}

func TestDemoThenRead(t *testing.T) {
	dir := demo(t)
	if _, err := os.Stat(filepath.Join(dir, "onus.db")); err != nil {
		t.Fatalf("demo left no database: %v", err)
	}
	// The database the demo left is read again.
	out, _, code := cli(t, "findings", "--config", dir, "--owner", "barbara.liskov@acme.com")
	if code != 0 || strings.Count(out, "barbara.liskov@acme.com") != 4 {
		t.Errorf("findings --owner (exit %d):\n%s", code, out)
	}
	out, _, _ = cli(t, "findings", "--config", dir, "--control", "edr-agent-missing", "-o", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("findings json: %v\n%s", err, out)
	}
	if rows[0]["state"] != "open" || rows[0]["responsible"].(map[string]any)["email"] == "" {
		t.Errorf("first row = %v", rows[0])
	}
	out, _, _ = cli(t, "findings", "--config", dir, "-o", "csv", "--state", "all")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 28 || recs[0][1] != "control" {
		t.Errorf("findings csv: %d rows, %v", len(recs), err)
	}
	out, _, code = cli(t, "findings", "--config", dir, "--state", "resolved")
	if code != 0 || !strings.Contains(out, "No findings match") {
		t.Errorf("no resolved findings expected: %s", out)
	}
	// One finding in full: evidence, fix steps, history.
	out, _, code = cli(t, "finding", "--config", dir, "13")
	if code != 0 || !strings.Contains(out, "evidence") || !strings.Contains(out, "history") || !strings.Contains(out, "opened") {
		t.Errorf("finding 13 (exit %d):\n%s", code, out)
	}
	// Explain by hostname: records, merges, near matches, attributes.
	out, _, code = cli(t, "explain", "--config", dir, "MBP-KIOSK-LOBBY")
	if code != 0 || !strings.Contains(out, "device MBP-KIOSK-LOBBY") || !strings.Contains(out, "Attributes") || !strings.Contains(out, "disk-encryption: open") {
		t.Errorf("explain (exit %d):\n%s", code, out)
	}
	out, _, _ = cli(t, "explain", "--config", dir, "-o", "json", "grace.hopper@acme.com")
	var x []map[string]any
	if err := json.Unmarshal([]byte(out), &x); err != nil || len(x) == 0 || x[0]["kind"] != "person" {
		t.Errorf("explain json: %v %s", err, out)
	}
	_, errs, code := cli(t, "explain", "--config", dir, "no-such-thing")
	if code != 1 || !strings.Contains(errs, `no entity matches "no-such-thing"`) {
		t.Errorf("explain unknown: %d %s", code, errs)
	}
	out, _, code = cli(t, "status", "--config", dir)
	if code != 0 || !strings.Contains(out, "healthy") || !strings.Contains(out, "last evaluation") {
		t.Errorf("status: %s", out)
	}
	// Running the demo again changes nothing.
	out, _, code = cli(t, "demo", "--dir", dir)
	if code != 0 || !strings.Contains(out, "This run: 0 opened, 0 reopened, 0 resolved, 0 gone, 0 reassigned") {
		t.Errorf("second demo (exit %d):\n%s", code, out)
	}
}

func TestValidate(t *testing.T) {
	dir := demo(t)
	out, _, code := cli(t, "validate", dir)
	if code != 0 || !strings.Contains(out, "is valid: 10 sources, 8 controls, 6 activities") {
		t.Errorf("validate (exit %d): %s", code, out)
	}
	bad := filepath.Join(dir, "controls", "endpoint.yaml")
	b, _ := os.ReadFile(bad)
	os.WriteFile(bad, bytes.Replace(b, []byte(`check: '"edr" in entity.sources'`), []byte(`check: '"edrr" in entity.sources'`), 1), 0o644)
	_, errs, code := cli(t, "validate", dir)
	if code != 1 || !strings.Contains(errs, "controls/endpoint.yaml:12:13:") || !strings.Contains(errs, "no source called edrr") {
		t.Errorf("validate bad (exit %d): %s", code, errs)
	}
	out, _, code = cli(t, "validate", dir, "-o", "json")
	var v struct {
		Valid    bool
		Problems []struct {
			File, Message string
			Line          int
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Valid || len(v.Problems) != 1 || v.Problems[0].Line != 12 || code != 1 {
		t.Errorf("validate json (exit %d): %v %s", code, err, out)
	}
	// sync refuses to run on a configuration with problems.
	_, errs, code = cli(t, "sync", "--config", dir)
	if code != 1 || !strings.Contains(errs, "problem(s)") {
		t.Errorf("sync with a bad config (exit %d): %s", code, errs)
	}
}

func TestUnhealthyExitCode(t *testing.T) {
	dir := demo(t)
	// HR suddenly returns 10 people instead of 200.
	path := filepath.Join(dir, "exports/hr/people.csv")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(strings.Join(lines[:11], "")), 0o644)
	out, _, code := cli(t, "run", "--config", dir, "--now", "2026-11-30T10:00:00Z")
	if code != 2 {
		t.Errorf("run with a shrunken HR export exited %d, want 2", code)
	}
	if !strings.Contains(out, "suspicious") || !strings.Contains(out, "Unhealthy sources") || !strings.Contains(out, "0 resolved, 0 gone") {
		t.Errorf("output:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"findings", "--db", "/nonexistent/onus.db"}, "no database at /nonexistent/onus.db"},
		{[]string{"findings", "--output", "yaml"}, `unknown output format "yaml"`},
		{[]string{"findings", "--state", "closed", "--db", "x"}, `unknown finding state "closed"`},
		{[]string{"eval", "--now", "yesterday", "--config", "."}, `--now: "yesterday" is not a time`},
		{[]string{"sync", "--config", "/nonexistent"}, "cannot read directory /nonexistent"},
		{[]string{"finding", "abc"}, `"abc" is not a finding id`},
		{[]string{"nonsense"}, `unknown command "nonsense"`},
		{[]string{"--log-level", "loud", "status"}, `unknown log level "loud"`},
		{[]string{"--memory-limit", "lots", "status"}, `--memory-limit: "lots" is not a size`},
	}
	for _, tt := range tests {
		_, errs, code := cli(t, tt.args...)
		if code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("onus %s: exit %d, stderr %q; want %q", strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
	out, _, code := cli(t, "--help")
	if code != 0 || !strings.Contains(out, "onus demo") {
		t.Errorf("--help: %s", out)
	}
}
