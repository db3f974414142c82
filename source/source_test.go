package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/source"
)

const samples = "../testdata/samples"

// parseSource parses one source entry written as YAML, the way users write it.
func parseSource(t *testing.T, yml string) *config.Source {
	t.Helper()
	cfg, err := config.ParseMain("onus.yaml", strings.NewReader("sources:\n"+indent(yml)))
	if err != nil {
		t.Fatalf("parse source: %v", err)
	}
	return cfg.Sources[0]
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = "  - " + l
		} else {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func read(t *testing.T, dir string, src *config.Source) (*source.Result, error) {
	t.Helper()
	return readMax(t, dir, src, 1)
}

func readMax(t *testing.T, dir string, src *config.Source, maxBad float64) (*source.Result, error) {
	t.Helper()
	return source.Read(context.Background(), src, source.Options{
		Dir:        dir,
		Normalizer: identity.New(identity.Options{}),
		MaxBad:     maxBad,
		Now:        time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC),
	})
}

func mustRead(t *testing.T, dir string, src *config.Source) *source.Result {
	t.Helper()
	res, err := read(t, dir, src)
	if err != nil {
		t.Fatalf("read %s: %v", src.Name, err)
	}
	return res
}

func attr(t *testing.T, res *source.Result, rec onus.Record, name string) any {
	t.Helper()
	i := res.Snapshot.Schema.FieldIndex(name)
	if i < 0 {
		t.Fatalf("no field %s in schema %v", name, res.Snapshot.Schema.Fields)
	}
	return rec.Attrs[i]
}

func key(rec onus.Record, name string) []string {
	var out []string
	for _, k := range rec.Keys {
		if k.Name == name {
			out = append(out, k.Value)
		}
	}
	return out
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCrowdStrikeDevices(t *testing.T) {
	src := parseSource(t, `
name: edr
kind: device
from: { file: crowdstrike/hostgroup_members_devices_trimmed.json, records: resources }
map:
  id: device_id
  name: hostname
  seen: last_seen
  keys: { serial: serial_number, mac: mac_address, hostname: hostname }
  fields:
    last_seen: { path: last_seen, type: time }
    agent_version: agent_version
    prevention_applied: { path: device_policies.prevention.applied, type: bool }
    platform: platform_name`)
	res := mustRead(t, samples, src)
	if got := res.Snapshot.Records.Len(); got != 1 {
		t.Fatalf("records = %d, want 1", got)
	}
	rec := res.Snapshot.Records.At(0)
	if rec.ID != "75b2dba7ba8d450da481ed6830cc9d9d" || rec.Name != "FALCON-CROWDSTR" {
		t.Errorf("id, name = %q, %q", rec.ID, rec.Name)
	}
	if got := key(rec, "mac"); len(got) != 1 || got[0] != "42:01:0a:80:00:15" {
		t.Errorf("mac = %v, want the Falcon dash notation normalised", got)
	}
	if got := key(rec, "hostname"); len(got) != 1 || got[0] != "falcon-crowdstr" {
		t.Errorf("hostname = %v", got)
	}
	want := time.Date(2021, 8, 23, 4, 59, 48, 0, time.UTC)
	if got := attr(t, res, rec, "last_seen"); got != want {
		t.Errorf("last_seen = %v, want %v", got, want)
	}
	if rec.Seen != want.Unix() {
		t.Errorf("seen = %d, want %d", rec.Seen, want.Unix())
	}
	if got := attr(t, res, rec, "prevention_applied"); got != true {
		t.Errorf("prevention_applied = %v", got)
	}
	if got := attr(t, res, rec, "agent_version"); got != "6.26.14003.0" {
		t.Errorf("agent_version = %v", got)
	}
}

func TestJamfInventory(t *testing.T) {
	// The sample is one computer; the API's list response wraps such
	// objects in {"totalCount": n, "results": [...]}.
	one, err := os.ReadFile(filepath.Join(samples, "jamf/computers_inventory_detail_payload_complex.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "computers.json", `{"totalCount": 2, "results": [`+string(one)+`,`+string(one)+`]}`)
	src := parseSource(t, `
name: mdm
kind: device
from: { file: computers.json, records: results }
map:
  id: udid
  name: general.name
  keys: { serial: hardware.serialNumber, mac: [hardware.macAddress, hardware.altMacAddress], uuid: udid }
  fields:
    last_contact: { path: general.lastContactTime, type: time }
    os_version: operatingSystem.version
    filevault: operatingSystem.fileVault2Status
    ram_mb: { path: hardware.totalRamMegabytes, type: int }
    email: userAndLocation.email`)
	res := mustRead(t, dir, src)
	// The same record twice: the second is a duplicate id, reported with its line.
	if got := res.Snapshot.Records.Len(); got != 1 {
		t.Fatalf("records = %d, want 1 (the duplicate dropped)", got)
	}
	if res.Bad != 1 || !strings.Contains(res.Problems[0].Error(), "duplicate id") {
		t.Errorf("problems = %v, want one duplicate id", res.Problems)
	}
	rec := res.Snapshot.Records.At(0)
	if got := key(rec, "mac"); len(got) != 2 || got[0] != "6a:2c:4b:b7:65:b5" || got[1] != "82:45:58:44:dc:01" {
		t.Errorf("macs = %v", got)
	}
	if got := key(rec, "serial"); len(got) != 1 || got[0] != "C02ZC2QYLVDL" {
		t.Errorf("serial = %v", got)
	}
	// "123" is not a UUID, so no uuid key: junk never correlates.
	if got := key(rec, "uuid"); got != nil {
		t.Errorf("uuid = %v, want none", got)
	}
	if got := attr(t, res, rec, "ram_mb"); got != int64(4096) {
		t.Errorf("ram_mb = %#v", got)
	}
	if got := attr(t, res, rec, "filevault"); got != "ALL_ENCRYPTED" {
		t.Errorf("filevault = %#v", got)
	}
	// userAndLocation is empty in the sample: the field is absent, and a
	// warning says no record had it.
	if got := attr(t, res, rec, "email"); got != nil {
		t.Errorf("email = %#v, want absent", got)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "userAndLocation.email") {
		t.Errorf("warnings = %v", res.Warnings)
	}
}

func TestOktaUsersAndFactors(t *testing.T) {
	src := parseSource(t, `
name: okta
kind: account
from: { file: okta/users_list.json }
map:
  id: id
  keys: { email: profile.email, okta_id: id }
  fields:
    status: status
    last_login: { path: lastLogin, type: time }
    activated: { path: activated, type: time }`)
	res := mustRead(t, samples, src)
	rec := res.Snapshot.Records.At(0)
	if got := key(rec, "email"); len(got) != 1 || got[0] != "alice.smith@example.com" {
		t.Errorf("email = %v", got)
	}
	if got := attr(t, res, rec, "activated"); got != nil {
		t.Errorf("activated = %v, want absent (null in the payload)", got)
	}

	// The factors list keeps its objects for CEL to inspect.
	dir := t.TempDir()
	factors, err := os.ReadFile(filepath.Join(samples, "okta/user_factors_list.json"))
	if err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(string(factors)), "")
	writeFile(t, dir, "factors.ndjson", `{"userId":"00u15s1KDETTQMQYABRL","factors":`+compact+"}\n")
	fsrc := parseSource(t, `
name: okta_factors
kind: account
from: { file: factors.ndjson }
map:
  id: userId
  keys: { okta_id: userId }
  fields: { factors: { path: factors, type: list } }`)
	fres := mustRead(t, dir, fsrc)
	list, ok := attr(t, fres, fres.Snapshot.Records.At(0), "factors").([]any)
	if !ok || len(list) != 3 {
		t.Fatalf("factors = %#v", attr(t, fres, fres.Snapshot.Records.At(0), "factors"))
	}
	if ft := list[2].(map[string]any)["factorType"]; ft != "sms" {
		t.Errorf("third factor type = %v", ft)
	}
}

func osquerySource(t *testing.T, file, query string) *config.Source {
	t.Helper()
	q := ", format: osquery"
	if query != "" {
		q += ", query: '" + query + "'"
	}
	return parseSource(t, `
name: osq
kind: process
from: { file: `+file+q+` }
map:
  id: "{hostIdentifier}/{columns.pid}/{columns.path}"
  keys: { uuid: decorations.host_uuid, hostname: hostIdentifier }
  fields:
    path: columns.path
    pid: { path: columns.pid, type: int }
    at: { path: unixTime, type: time }`)
}

func TestOsqueryReplay(t *testing.T) {
	tests := []struct {
		name, file, query string
		want              int
	}{
		// Real differential logs: 14 added and 7 removed rows, some removals
		// for rows added before the log starts; 12 rows are live at its end
		// (counted independently of onus).
		{"event format diff", "osquery/osqueryd.results.log", "pack_osquery-custom-pack_processes", 12},
		// A real snapshot log written in event format: 40 rows of one snapshot.
		{"event format snapshot", "osquery/osqueryd.snapshots.log", "pack_osquery-snapshots-pack_python*", 40},
		// The documented formats, pretty-printed as in the docs.
		{"batch format", "osquery/results_batch.json", "", 1},
		{"snapshot format", "osquery/results_snapshot.json", "", 4},
		{"event added", "osquery/results_event_added.json", "", 1},
		{"event removed", "osquery/results_event_removed.json", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := osquerySource(t, tt.file, tt.query)
			if strings.Contains(tt.file, "python") || strings.Contains(tt.query, "python") {
				src.Map.ID = "{hostIdentifier}/{columns.name}/{columns.path}"
				delete(src.Map.Fields, "pid")
			}
			res, err := read(t, samples, src)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Snapshot.Records.Len(); got != tt.want {
				t.Errorf("live rows = %d, want %d (problems: %v)", got, tt.want, res.Problems)
			}
			if res.Bad != 0 {
				t.Errorf("problems: %v", res.Problems)
			}
		})
	}
}

func TestOsqueryHostFields(t *testing.T) {
	src := osquerySource(t, "osquery/osqueryd.results.log", "pack_osquery-custom-pack_processes")
	res := mustRead(t, samples, src)
	rec := res.Snapshot.Records.At(0)
	if got := key(rec, "uuid"); len(got) != 1 || got[0] != "40443dd9-5b21-a345-8f89-aadde84c3719" {
		t.Errorf("uuid = %v", got)
	}
	if got := key(rec, "hostname"); len(got) != 1 || got[0] != "jumpvm" {
		t.Errorf("hostname = %v", got)
	}
	at, ok := attr(t, res, rec, "at").(time.Time)
	if !ok || at.Year() != 2023 {
		t.Errorf("at = %v, want a 2023 time from unixTime", attr(t, res, rec, "at"))
	}
}

// A later snapshot replaces an earlier one; a removed row is gone; an
// older snapshot logged late is ignored.
func TestOsquerySnapshotReplacement(t *testing.T) {
	dir := t.TempDir()
	lines := []string{
		`{"name":"apps","hostIdentifier":"h1","unixTime":100,"action":"snapshot","snapshot":[{"name":"A","version":"1"},{"name":"B","version":"1"}]}`,
		`{"name":"apps","hostIdentifier":"h2","unixTime":100,"action":"snapshot","snapshot":[{"name":"A","version":"1"}]}`,
		`{"name":"apps","hostIdentifier":"h1","unixTime":200,"action":"snapshot","snapshot":[{"name":"A","version":"2"}]}`,
		`{"name":"apps","hostIdentifier":"h1","unixTime":150,"action":"snapshot","snapshot":[{"name":"C","version":"9"}]}`,
		`{"name":"apps","hostIdentifier":"h2","unixTime":300,"action":"removed","columns":{"name":"A","version":"1"}}`,
		`{"name":"apps","hostIdentifier":"h2","unixTime":300,"action":"added","columns":{"name":"D","version":"4"}}`,
		`{"name":"other","hostIdentifier":"h2","unixTime":300,"action":"added","columns":{"name":"E","version":"4"}}`,
	}
	writeFile(t, dir, "osq.log", strings.Join(lines, "\n")+"\n")
	src := parseSource(t, `
name: sw
kind: software
from: { file: osq.log, query: apps }
map:
  id: "{hostIdentifier}/{columns.name}"
  fields: { version: columns.version }`)
	res := mustRead(t, dir, src)
	var got []string
	for _, r := range res.Snapshot.Records.All() {
		got = append(got, r.ID+"@"+attr(t, res, r, "version").(string))
	}
	want := "h1/A@2 h2/D@4"
	if strings.Join(got, " ") != want {
		t.Errorf("rows = %v, want %s", got, want)
	}
}

func TestCSV(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "people.csv", "\xef\xbb\xbfEmployee ID,Work Email,Status,Hire Date,Salary Band\n"+
		"000187,Isaac.Brock@Example.com,Active,2024-03-01,3\n"+
		"000188,dade@example.com,Terminated,2025-01-15,\n")
	src := parseSource(t, `
name: hr
kind: person
from: { file: people.csv }
map:
  id: Employee ID
  keys: { employee_id: Employee ID, email: work email }
  fields:
    status: Status
    hired: { path: Hire Date, type: time }
    band: { path: Salary Band, type: int }`)
	res := mustRead(t, dir, src)
	if res.Snapshot.Records.Len() != 2 {
		t.Fatalf("records = %d", res.Snapshot.Records.Len())
	}
	r0 := res.Snapshot.Records.At(0)
	if got := key(r0, "employee_id"); got[0] != "187" {
		t.Errorf("employee_id = %v, want zero padding dropped", got)
	}
	if got := key(r0, "email"); got[0] != "isaac.brock@example.com" {
		t.Errorf("email = %v (the header was matched ignoring case)", got)
	}
	if r0.Loc != 2 || res.Snapshot.Records.At(1).Loc != 3 {
		t.Errorf("lines = %d, %d", r0.Loc, res.Snapshot.Records.At(1).Loc)
	}
	if got := attr(t, res, res.Snapshot.Records.At(1), "band"); got != nil {
		t.Errorf("empty cell = %#v, want absent", got)
	}
}

// Bad input: every malformed file gives a clear error naming the file and
// line or record, and every malformed record is skipped and named while
// the rest are kept.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		source  string
		wantErr string   // the whole read fails with this
		probs   []string // or these records are skipped
		kept    int
	}{
		{
			name: "csv wrong field count", file: "p.csv",
			content: "id,email\n1,a@x.com\n2,b@x.com,extra\n",
			source:  `{name: hr, kind: person, from: {file: p.csv}, map: {id: id, keys: {email: email}}}`,
			probs:   []string{"p.csv:3: the row has 3 fields but the header has 2"}, kept: 1,
		},
		{
			// A quote that never closes would swallow the rows after it.
			name: "csv unterminated quote", file: "p.csv",
			content: "id,email\n1,a@x.com\n3,\"c@x.com\n4,d@x.com\n",
			source:  `{name: hr, kind: person, from: {file: p.csv}, map: {id: id, keys: {email: email}}}`,
			wantErr: "p.csv:3: a quoted value opens on this line and is not closed",
		},
		{
			name: "csv missing column", file: "p.csv", content: "id,mail\n1,a@x.com\n",
			source:  `{name: hr, kind: person, from: {file: p.csv}, map: {id: id, keys: {email: email}}}`,
			wantErr: `p.csv:1: the header has no column "email" (columns: id, mail)`,
		},
		{
			name: "csv empty", file: "p.csv", content: "",
			source:  `{name: hr, kind: person, from: {file: p.csv}, map: {id: id}}`,
			wantErr: "p.csv: the file is empty",
		},
		{
			// A JSON document is all or nothing: a broken record fails the
			// source, naming where.
			name: "json broken record", file: "d.json", content: "[\n {\"id\": \"a\"},\n {\"id\": \"b\",}\n]\n",
			source:  `{name: edr, kind: device, from: {file: d.json}, map: {id: id}}`,
			wantErr: "d.json:3:14: malformed JSON: invalid character '}' looking for beginning of object key string",
		},
		{
			// A document cut short is unusable as a whole.
			name: "json truncated", file: "d.json", content: "{\"resources\": [\n {\"id\": \"a\"},\n {\"id\": \"b\"",
			source:  `{name: edr, kind: device, from: {file: d.json, records: resources}, map: {id: id}}`,
			wantErr: "d.json:3:12: malformed JSON: unexpected end of JSON input",
		},
		{
			name: "json object without records path", file: "d.json", content: `{"meta": {}, "resources": []}`,
			source:  `{name: edr, kind: device, from: {file: d.json}, map: {id: id}}`,
			wantErr: "set from.records to the path of the record list (top-level keys: meta (object), resources (array))",
		},
		{
			name: "json wrong records path", file: "d.json", content: `{"results": []}`,
			source:  `{name: edr, kind: device, from: {file: d.json, records: resources}, map: {id: id}}`,
			wantErr: `no "resources" in the document (top-level keys: results (array))`,
		},
		{
			name: "json wrong types and missing fields", file: "d.json",
			content: "[\n{\"id\": \"a\", \"seen\": \"2026-11-01T00:00:00Z\", \"n\": 3},\n" +
				"{\"id\": \"b\", \"seen\": \"yesterday\", \"n\": 3},\n" +
				"{\"id\": \"c\", \"seen\": \"2026-11-01\", \"n\": \"three\"},\n" +
				"{\"seen\": \"2026-11-01\", \"n\": 1},\n" +
				"{\"id\": {\"x\": 1}},\n" +
				"\"just a string\",\n" +
				"{\"id\": \"d\", \"seen\": \"2026-11-01\"}\n]",
			source: `{name: edr, kind: device, from: {file: d.json}, map: {id: id, fields: {seen: {path: seen, type: time}, n: {path: n, type: int, required: true}}}}`,
			probs: []string{
				`d.json:3: record 2 (id b): field seen: "yesterday" is not a time`,
				`d.json:4: record 3 (id c): field n: "three" is not a number`,
				`d.json:5: record 4: field id: no id at id`,
				`d.json:6: record 5: id is an object, not a value`,
				`d.json:7: record 6: record is a string, not an object`,
				`d.json:8: record 7 (id d): field n: required field is empty or missing (path n)`,
			},
			kept: 1,
		},
		{
			name: "ndjson bad lines", file: "f.ndjson",
			content: "{\"id\": \"a\"}\n{\"id\": \"b\"\n\n{\"id\": \"c\", \"x\": tru}\n{\"id\": \"a\"}\n{\"id\": \"d\"}\n",
			source:  `{name: f, kind: account, from: {file: f.ndjson}, map: {id: id}}`,
			probs: []string{
				"f.ndjson:2: malformed JSON",
				"f.ndjson:4: malformed JSON",
				"f.ndjson:5 (id a): field id: duplicate id: the record at line 1 has the same id",
			},
			kept: 2,
		},
		{
			name: "osquery line without host", file: "o.log",
			content: "{\"name\":\"q\",\"action\":\"added\",\"columns\":{\"a\":\"1\"}}\n{\"name\":\"q\",\"hostIdentifier\":\"h\",\"action\":\"added\",\"columns\":{\"a\":\"2\"}}\n",
			source:  `{name: o, kind: thing, from: {file: o.log}, map: {id: "{hostIdentifier}/{columns.a}"}}`,
			probs:   []string{"o.log:1: no hostIdentifier"}, kept: 1,
		},
		{
			name: "missing file", file: "", content: "",
			source:  `{name: hr, kind: person, from: {file: nope.csv}, map: {id: id}}`,
			wantErr: "nope.csv does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				writeFile(t, dir, tt.file, tt.content)
			}
			cfg, err := config.ParseMain("onus.yaml", strings.NewReader("sources:\n  - "+tt.source+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			res, err := read(t, dir, cfg.Sources[0])
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if onus.ErrorCode(err) != onus.EINVALID {
					t.Errorf("code = %s, want invalid", onus.ErrorCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if len(res.Problems) != len(tt.probs) {
				t.Fatalf("problems = %d, want %d:\n%v", len(res.Problems), len(tt.probs), res.Problems)
			}
			for i, want := range tt.probs {
				if got := res.Problems[i].Error(); !strings.Contains(got, want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, want)
				}
			}
			got := 0
			for _, r := range res.Snapshot.Records.All() {
				if !r.Skipped {
					got++
				}
			}
			if got != tt.kept {
				t.Errorf("kept %d records, want %d", got, tt.kept)
			}
		})
	}
}

// A source with more malformed records than its limit fails as a whole,
// and the result still says which records were bad.
func TestTooManyBad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.ndjson", "{\"id\":\"a\"}\n{bad\n{bad\n")
	cfg, err := config.ParseMain("onus.yaml", strings.NewReader("sources:\n  - {name: f, kind: account, from: {file: f.ndjson}, map: {id: id}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := readMax(t, dir, cfg.Sources[0], 0.5)
	if !errors.Is(err, source.ErrTooManyBad) {
		t.Fatalf("err = %v, want ErrTooManyBad", err)
	}
	if !strings.Contains(err.Error(), "2 of 3 records could not be read") {
		t.Errorf("err = %v", err)
	}
	if res == nil || res.Bad != 2 {
		t.Errorf("result = %+v, want the two bad records described", res)
	}
}

// The count of records in that message is the file's: a skipped record
// whose id could be read (kept as a stub to join its entity) is counted
// once, as a bad record.
func TestTooManyBadCountsEachRecordOnce(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "people.csv", "id,started\n1,2026-01-01\n2,2026-01-02\n3,yesterday\n4,2026-01-04\n5\n")
	cfg, err := config.ParseMain("onus.yaml", strings.NewReader("sources:\n  - {name: hr, kind: person, from: {file: people.csv}, map: {id: id, fields: {started: {path: started, type: time}}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = readMax(t, dir, cfg.Sources[0], 0.05)
	if !errors.Is(err, source.ErrTooManyBad) || !strings.Contains(err.Error(), "2 of 5 records could not be read") {
		t.Errorf("err = %v, want 2 of the 5 rows named bad", err)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z"},
		{"2026-11-02T10:00:00.123456+01:00", "2026-11-02T09:00:00.123456Z"},
		{"2026-11-02", "2026-11-02T00:00:00Z"},
		{"2026-11-02 10:00:00", "2026-11-02T10:00:00Z"},
		{"Thu Mar 16 03:08:58 2023 UTC", "2023-03-16T03:08:58Z"},
		{"1678936138", "2023-03-16T03:08:58Z"},
		{"1678936138000", "2023-03-16T03:08:58Z"},
	}
	for _, tt := range tests {
		got, err := source.ParseTime(tt.in, "")
		if err != nil {
			t.Errorf("ParseTime(%q): %v", tt.in, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tt.want {
			t.Errorf("ParseTime(%q) = %s, want %s", tt.in, s, tt.want)
		}
	}
	if _, err := source.ParseTime("last tuesday", ""); err == nil {
		t.Error("ParseTime accepted nonsense")
	}
}
