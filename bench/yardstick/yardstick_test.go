package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestAgreesWithOnus is the quick check of the yardstick: it builds onus
// from this repository, generates a 1,000-person bench organisation, runs
// onus on it and the DuckDB script, and wants the same (control, entity)
// pairs, with gaps for every bench control so that agreement means
// something.
//
//	cd bench/yardstick && go test ./...
func TestAgreesWithOnus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds onus and runs it on a generated organisation")
	}
	ctx := context.Background()
	tmp := t.TempDir()
	onus := filepath.Join(tmp, "onus")
	build := exec.Command("go", "build", "-o", onus, "./cmd/onus")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build onus: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "org")
	run := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.Command(onus, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("onus %v: %v\n%s", args, err, errb.String())
		}
		return out.Bytes()
	}
	run("bench", "--generate-only", "--people", "1000", "--dir", dir, "-q")
	db := filepath.Join(tmp, "onus.db")
	run("run", "--config", dir, "--db", db, "--now", benchNow, "-q")
	onusGaps, err := readFindingsCSV(bytes.NewReader(run("findings", "--config", dir, "--db", db, "-o", "csv")))
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, benchNow)
	yard, err := Gaps(ctx, dir, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	onlyOnus, onlyYard := Diff(onusGaps, yard)
	for _, g := range onlyOnus {
		t.Errorf("only onus: %s", g)
	}
	for _, g := range onlyYard {
		t.Errorf("only the yardstick: %s", g)
	}
	per := map[string]int{}
	for _, g := range yard {
		per[g.Control]++
	}
	for _, c := range []string{"app-outdated", "background-check-complete", "departed-device-checking-in", "disk-encryption",
		"edr-agent-missing", "edr-agent-stale", "mfa-strong-factor", "terminated-account-active"} {
		if per[c] == 0 {
			t.Errorf("no gap for %s: agreement on it would prove nothing", c)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "exports", "osquery", "osqueryd.results.log")); err != nil {
		t.Fatal(err)
	}
}

func TestDiff(t *testing.T) {
	a := []Gap{{"c1", "e1"}, {"c1", "e2"}, {"c2", "e1"}}
	b := []Gap{{"c1", "e2"}, {"c2", "e1"}, {"c2", "e2"}}
	onlyA, onlyB := Diff(a, b)
	if !reflect.DeepEqual(onlyA, []Gap{{"c1", "e1"}}) || !reflect.DeepEqual(onlyB, []Gap{{"c2", "e2"}}) {
		t.Errorf("Diff = %v, %v", onlyA, onlyB)
	}
	if x, y := Diff(a, a); len(x)+len(y) != 0 {
		t.Errorf("Diff of a list with itself = %v, %v", x, y)
	}
}

// The osquery log's differential rows replace what the host's snapshot
// said: a removed row goes, an added row comes.
func TestOsqueryDifferentials(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, s string) {
		t.Helper()
		p := filepath.Join(dir, "exports", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hr/people.csv", "Employee ID,First Name,Last Name,Work Email,Department,Job Title,Manager Email,Hire Date,Termination Date,Employment Status,Location,Time Zone\n"+
		"001000,Ada,Lovelace,ada.lovelace@acme.com,Executive,CEO,,2020-01-01,,Active,London,Europe/London\n")
	write("jamf/computers-inventory.json", `{"totalCount": 1, "results": [{"id": "1", "udid": "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
		"general": {"name": "MBP-ADA", "lastContactTime": "2026-11-30T08:00:00Z"},
		"hardware": {"serialNumber": "C02ABC", "macAddress": "A4:83:E7:00:00:01", "altMacAddress": "3C:22:FB:00:00:01"},
		"userAndLocation": {"username": "alovelace", "email": "ada.lovelace@acme.com"},
		"operatingSystem": {"fileVault2Status": "ALL_ENCRYPTED"}}]}`)
	write("intune/managedDevices.json", `{"value": []}`)
	write("crowdstrike/devices.json", `{"resources": [{"device_id": "x", "serial_number": "C02ABC", "mac_address": "a4-83-e7-00-00-01", "hostname": "MBP-ADA", "last_seen": "2026-11-30T08:00:00Z"}]}`)
	write("okta/users.json", `[]`)
	write("okta/factors.ndjson", "")
	write("checkr/candidates.json", `{"data": [{"id": "cand1", "custom_id": "001000"}]}`)
	write("checkr/reports.json", `{"data": [{"id": "r1", "candidate_id": "cand1", "status": "complete", "result": "clear"}]}`)
	write("catalog/latest-versions.csv", "name,bundle_id,windows_name,latest_version,released\nSlack,com.tinyspeck.slackmacgap,Slack,4.41.105,2026-11-12\n")
	host := `"hostIdentifier":"MBP-ADA","unixTime":%d,"decorations":{"host_uuid":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}`
	line := func(unix int, rest string) string {
		return `{"name":"pack_acme_software_inventory",` + sprintf(host, unix) + `,` + rest + "}\n"
	}
	old := `{"name":"Slack.app","version":"4.39.95","identifier":"com.tinyspeck.slackmacgap","path":"/Applications/Slack.app"}`
	newer := `{"name":"Slack.app","version":"4.41.105","identifier":"com.tinyspeck.slackmacgap","path":"/Applications/Slack.app"}`
	write("osquery/osqueryd.results.log", line(100, `"snapshot":[`+old+`],"action":"snapshot"`)+
		line(200, `"columns":`+old+`,"action":"removed"`)+line(200, `"columns":`+newer+`,"action":"added"`))
	now, _ := time.Parse(time.RFC3339, benchNow)
	gaps, err := Gaps(context.Background(), dir, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 0 {
		t.Errorf("gaps = %v, want none: Slack was updated after the snapshot", gaps)
	}
	// Without the update, the old Slack is a gap.
	write("osquery/osqueryd.results.log", line(100, `"snapshot":[`+old+`],"action":"snapshot"`))
	gaps, err = Gaps(context.Background(), dir, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Gap{{"app-outdated", "software:osquery:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee//Applications/Slack.app"}}
	if !reflect.DeepEqual(gaps, want) {
		t.Errorf("gaps = %v, want %v", gaps, want)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
