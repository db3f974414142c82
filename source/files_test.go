package source_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const osqLine = `{"name":"pack_acme_software_inventory","hostIdentifier":"mbp-jane","calendarTime":"Mon Nov 30 03:00:00 2026 UTC","unixTime":1795921200,"decorations":{"host_uuid":"40443DD9-5B21-A345-8F89-AADDE84C3719"},"columns":{"name":"Notion.app","version":"3.1"},"action":"added"}`

// A file whose content does not fit its format is read the way its content
// says when the format was only guessed from the extension, and refused
// with a clear message when the format was set.
func TestFormatsAreDetected(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "results.ndjson", osqLine+"\n"+strings.Replace(osqLine, "Notion", "Slack", 1)+"\n")
	writeFile(t, dir, "doc.ndjson", "{\n  \"value\": [\n    {\"id\": \"1\"}\n  ]\n}\n")
	writeFile(t, dir, "lines.json", "{\"id\": \"1\"}\n{\"id\": \"2\"}\n")

	// An osquery results log named .ndjson: read as osquery.
	res := mustRead(t, dir, parseSource(t, `
name: osq
kind: software
from: { file: results.ndjson }
map: { id: "{decorations.host_uuid}/{columns.name}", name: columns.name }`))
	if res.Snapshot.Records.Len() != 2 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "holds an osquery results log") {
		t.Errorf("records %d, warnings %q", res.Snapshot.Records.Len(), res.Warnings)
	}
	// The same file, declared NDJSON on purpose: read so, with a warning.
	res = mustRead(t, dir, parseSource(t, `
name: osq
kind: software
from: { file: results.ndjson, format: ndjson }
map: { id: "{hostIdentifier}/{columns.name}" }`))
	if res.Snapshot.Records.Len() != 2 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "read as plain NDJSON") {
		t.Errorf("declared ndjson: records %d, warnings %q", res.Snapshot.Records.Len(), res.Warnings)
	}
	for _, tt := range []struct{ source, want string }{
		{`{name: s, kind: k, from: {file: doc.ndjson, format: ndjson}, map: {id: id}}`, "doc.ndjson holds a JSON document (its first line is not a whole JSON object), not NDJSON (one JSON object per line); set from.format: json"},
		{`{name: s, kind: k, from: {file: lines.json, format: json}, map: {id: id}}`, "lines.json holds NDJSON (one JSON object per line) (it holds one JSON object per line), not a JSON document; set from.format: ndjson"},
		{`{name: s, kind: k, from: {file: results.ndjson, format: csv}, map: {id: id}}`, "holds an osquery results log"},
	} {
		_, err := read(t, dir, parseSource(t, tt.source))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.source, err, tt.want)
		}
	}
	// Guessed from the extension: the content wins.
	res = mustRead(t, dir, parseSource(t, `{name: s, kind: k, from: {file: doc.ndjson, records: value}, map: {id: id}}`))
	if res.Snapshot.Records.Len() != 1 || len(res.Warnings) != 1 {
		t.Errorf("doc.ndjson: records %d, warnings %q", res.Snapshot.Records.Len(), res.Warnings)
	}
}

// A source reads the pages of an export (a glob, or a directory) as one
// snapshot, and where: keeps only some of the records.
func TestSeveralFilesAndWhere(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "defender"), 0o755)
	writeFile(t, dir, "defender/machines-1.json", `{"@odata.context":"x","value":[
 {"id":"m1","computerDnsName":"mbp-a","onboardingStatus":"Onboarded","lastSeen":"2026-11-29T10:00:00Z"},
 {"id":"m2","computerDnsName":"mbp-b","onboardingStatus":"CanBeOnboarded","lastSeen":"2026-11-29T11:00:00Z"}],
 "@odata.nextLink":"https://api.securitycenter.microsoft.com/api/machines?$skiptoken=2"}`)
	writeFile(t, dir, "defender/machines-2.json", `{"@odata.context":"x","value":[
 {"id":"m3","computerDnsName":"mbp-c","onboardingStatus":"Onboarded","lastSeen":"2026-11-20T10:00:00Z"}]}`)
	writeFile(t, dir, "defender/.DS_Store", "junk")
	for _, file := range []string{"defender/machines-*.json", "defender"} {
		res := mustRead(t, dir, parseSource(t, `
name: defender
kind: device
from: { file: `+file+`, format: json, records: value }
where: record.status == "Onboarded" && record.last_seen > timestamp("2026-11-25T00:00:00Z")
map:
  id: id
  keys: { hostname: computerDnsName }
  fields:
    status: onboardingStatus
    last_seen: { path: lastSeen, type: time }`))
		var ids []string
		for _, r := range res.Snapshot.Records.All() {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, ",") != "m1" {
			t.Errorf("%s: kept %v, want m1 (m2 is not onboarded, m3 is old)", file, ids)
		}
	}
	_, err := read(t, dir, parseSource(t, `{name: s, kind: k, from: {file: "defender/nope-*.json"}, map: {id: id}}`))
	if err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Errorf("empty glob: %v", err)
	}
	_, err = read(t, dir, parseSource(t, `{name: s, kind: k, from: {file: "defender/machines-*.json", records: value}, where: "record.status +", map: {id: id, fields: {status: onboardingStatus}}}`))
	if err == nil || !strings.Contains(err.Error(), "where") {
		t.Errorf("bad where: %v", err)
	}
}
