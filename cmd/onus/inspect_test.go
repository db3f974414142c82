package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The inspecting commands build the inventory as an evaluation does: a
// source added to the configuration but never synced is shown as such by
// onus explain, in text and JSON, instead of silently knowing nothing.
func TestExplainShowsANeverSyncedSource(t *testing.T) {
	dir := demo(t)
	out, _, code := cli(t, "findings", "--config", dir, "--control", "edr-agent-missing", "-o", "json")
	var rows []struct {
		Entity string `json:"entity"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != 0 || len(rows) == 0 {
		t.Fatalf("findings (exit %d): %v\n%s", code, err, out)
	}
	device := rows[0].Entity

	// A second EDR source, declared after the demo's run, has never synced.
	main := filepath.Join(dir, "onus.yaml")
	b, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "  # Okta: GET /api/v1/users."
	if !strings.Contains(string(b), anchor) {
		t.Fatalf("onus.yaml has no %q to add a source before", anchor)
	}
	extra := `  - name: edr_eu
    kind: device
    from: { file: exports/crowdstrike/devices.json, records: resources }
    map:
      id: device_id
      name: hostname
      keys: { serial: serial_number, hostname: hostname }

`
	if err := os.WriteFile(main, []byte(strings.Replace(string(b), anchor, extra+anchor, 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errs, code := cli(t, "explain", "--config", dir, device)
	if code != 0 {
		t.Fatalf("explain exited %d: %s%s", code, out, errs)
	}
	if !strings.Contains(out, "Sources not in force") || !strings.Contains(out, "  edr_eu: never synced\n") {
		t.Errorf("explain does not say edr_eu was never synced:\n%s", out)
	}
	out, _, code = cli(t, "explain", "--config", dir, device, "-o", "json")
	var xs []struct {
		Unhealthy []struct{ Source, Reason string } `json:"unhealthy_sources"`
	}
	if err := json.Unmarshal([]byte(out), &xs); err != nil || code != 0 || len(xs) != 1 {
		t.Fatalf("explain -o json (exit %d): %v\n%s", code, err, out)
	}
	if got := xs[0].Unhealthy; len(got) != 1 || got[0].Source != "edr_eu" || got[0].Reason != "never synced" {
		t.Errorf("unhealthy_sources = %+v, want edr_eu: never synced", got)
	}
}
