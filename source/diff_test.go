package source_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/source"
)

// readBoth reads src with the readers' fast paths and with the general
// code, and fails unless both give the same records, problems, warnings
// and error.
func readBoth(t *testing.T, dir string, src *config.Source, maxBad float64) {
	t.Helper()
	read := func(fast bool) (*source.Result, error) {
		prev := source.SetFastPaths(fast)
		defer source.SetFastPaths(prev)
		return source.Read(context.Background(), src, source.Options{
			Dir: dir, Normalizer: identity.New(identity.Options{}), MaxBad: maxBad, Now: time.Unix(0, 0),
		})
	}
	fast, ferr := read(true)
	slow, serr := read(false)
	if fmt.Sprint(ferr) != fmt.Sprint(serr) {
		t.Fatalf("source %s: error %v, the general code: %v", src.Name, ferr, serr)
	}
	if (fast == nil) != (slow == nil) {
		t.Fatalf("source %s: result %v, the general code: %v", src.Name, fast, slow)
	}
	if fast == nil {
		return
	}
	if !reflect.DeepEqual(fast.Snapshot, slow.Snapshot) {
		n := min(fast.Snapshot.Records.Len(), slow.Snapshot.Records.Len())
		for i := 0; i < n; i++ {
			if !reflect.DeepEqual(fast.Snapshot.Records.At(i), slow.Snapshot.Records.At(i)) {
				t.Fatalf("source %s: record %d is %+v, the general code: %+v", src.Name, i, fast.Snapshot.Records.At(i), slow.Snapshot.Records.At(i))
			}
		}
		t.Fatalf("source %s: %d records, the general code: %d", src.Name, fast.Snapshot.Records.Len(), slow.Snapshot.Records.Len())
	}
	if !reflect.DeepEqual(fast.Problems, slow.Problems) || fast.Bad != slow.Bad {
		t.Fatalf("source %s: problems %v, the general code: %v", src.Name, fast.Problems, slow.Problems)
	}
	if !reflect.DeepEqual(fast.Warnings, slow.Warnings) || fast.Bytes != slow.Bytes {
		t.Fatalf("source %s: warnings %q, the general code: %q", src.Name, fast.Warnings, slow.Warnings)
	}
}

// TestReadersAgainstGeneralCode reads a generated organisation's exports,
// every source of the example configuration, both ways.
func TestReadersAgainstGeneralCode(t *testing.T) {
	dir := t.TempDir()
	if err := orggen.New(orggen.Large(300)).Write(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../examples/acme/onus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := config.ParseMain("onus.yaml", f)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range cfg.Sources {
		src.From.File = filepath.Join(dir, strings.TrimPrefix(src.From.File, "exports/"))
		readBoth(t, dir, src, 0.05)
	}
}

// TestSamplesAgainstGeneralCode reads the vendors' real payloads both
// ways, mapping the paths their records hold.
func TestSamplesAgainstGeneralCode(t *testing.T) {
	cases := []struct{ file, format, records, mapping string }{
		{"okta/users_list.json", "json", "", "id: id\nname: profile.login\nkeys: { email: [profile.email, profile.secondEmail] }\nfields: { status: status, created: { path: created, type: time }, profile: { path: profile, type: object }, links: _links }"},
		{"okta/user_factors_list.json", "json", "", "id: id\nname: factorType\nfields: { provider: provider, profile: { path: profile, type: object }, embedded: _embedded }"},
		{"okta/users_search.json", "json", "", "id: id\nfields: { login: profile.login, last: { path: lastLogin, type: time } }"},
		{"okta/devices_list_expand_userSummary.json", "json", "", "id: id\nname: profile.displayName\nkeys: { serial: profile.serialNumber }\nfields: { users: { path: _embedded.users, type: list }, status: status }"},
		{"crowdstrike/hostgroup_members_devices_trimmed.json", "json", ", records: resources", "id: device_id\nname: hostname\nkeys: { serial: serial_number, mac: mac_address, hostname: hostname }\nfields: { os: os_version, seen: { path: last_seen, type: time }, policies: device_policies, tags: tags }"},
		{"intune/managedDevices_list.json", "json", ", records: value", "id: id\nname: deviceName\nkeys: { serial: serialNumber }\nfields: { compliant: complianceState, encrypted: { path: isEncrypted, type: bool }, storage: { path: totalStorageSpaceInBytes, type: int }, synced: { path: lastSyncDateTime, type: time } }"},
		{"fleet/hosts_list.json", "json", ", records: hosts", "id: uuid\nname: hostname\nkeys: { serial: hardware_serial }\nfields: { mdm: mdm, issues: issues, memory: { path: memory, type: number }, os: os_version }"},
		{"fleet/policies_global_list.json", "json", ", records: policies", "id: id\nname: name\nfields: { query: query, critical: critical, passing: { path: passing_host_count, type: int } }"},
		{"google_workspace/mobiledevices_list_page1.json", "json", ", records: mobiledevices", "id: resourceId\nname: model\nkeys: { serial: serialNumber }\nfields: { email: email, os: os, status: status }"},
		{"cisa_kev/known_exploited_vulnerabilities_trimmed.json", "json", ", records: vulnerabilities", "id: cveID\nname: vulnerabilityName\nfields: { vendor: vendorProject, added: { path: dateAdded, type: time }, cwes: { path: cwes, type: list } }"},
		{"cisa_kev/known_exploited_vulnerabilities.csv", "csv", "", "id: cveID\nname: vulnerabilityName\nfields: { vendor: vendorProject, added: { path: dateAdded, type: time }, notes: notes }"},
		{"osquery/osqueryd.results.log", "osquery", "", "id: \"{hostIdentifier}/{columns.name}\"\nname: columns.name\nfields: { version: columns.version, host: decorations.host_uuid, path: columns.path }"},
		{"osquery/osqueryd.snapshots.log", "osquery", "", "id: \"{hostIdentifier}/{columns.name}/{columns.path}\"\nname: columns.name\nfields: { version: columns.version, path: columns.path }"},
		{"osquery/results_batch.json", "osquery", "", "id: \"{hostIdentifier}/{columns.name}\"\nfields: { all: columns }"},
		{"osquery/results_snapshot.json", "osquery", "", "id: \"{hostIdentifier}/{columns.name}\"\nfields: { all: columns }"},
	}
	for _, c := range cases {
		src := parseSource(t, "name: s\nkind: thing\nfrom: { file: "+c.file+", format: "+c.format+c.records+" }\nmap:\n"+indentBy(c.mapping, "  "))
		readBoth(t, samples, src, 1)
	}
}

func indentBy(s, by string) string {
	return by + strings.ReplaceAll(s, "\n", "\n"+by) + "\n"
}

// TestGeneratedAgainstGeneralCode writes random records in every format:
// escapes, unicode, nested objects, numbers in every JSON form, CSV
// quoting, CRLF line ends and byte-order marks, and some damage.
func TestGeneratedAgainstGeneralCode(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	mapping := "id: \"{id}{columns.name}\"\nname: name\nkeys: { serial: serial, mac: [mac, hw.mac], hostname: hostIdentifier }\nfields: { t: { path: seen, type: time }, n: { path: count, type: int }, f: { path: num, type: number }, b: { path: flag, type: bool }, l: { path: list, type: list }, o: { path: obj, type: object }, a: any, lk: { path: list, type: list, keep: [x, z] }, ok: { path: obj, keep: [x] }, ak: { path: any, keep: [\"y\"] }, v: columns.version, low: \"name | lower\" }"
	for round := 0; round < 60; round++ {
		dir := t.TempDir()
		var recs []string
		for i, n := 0, r.IntN(40); i < n; i++ {
			recs = append(recs, genRecord(r, i))
		}
		bom := ""
		if r.IntN(4) == 0 {
			bom = "\xef\xbb\xbf"
		}
		nl := []string{"\n", "\r\n"}[r.IntN(2)]
		write := func(name, data string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("d.json", bom+"["+strings.Join(recs, ","+nl)+"]")
		write("p.json", bom+`{"meta":{"count":1},"count":`+fmt.Sprint(len(recs))+`,"data":[`+strings.Join(recs, ","+nl)+"]}")
		write("d.ndjson", bom+strings.Join(recs, nl)+nl)
		var log []string
		for i := 0; i+1 < len(recs); i += 2 {
			log = append(log, `{"name":"q","hostIdentifier":"h`+fmt.Sprint(i%3)+`","unixTime":`+fmt.Sprint(i)+`,"decorations":{"host_uuid":"u\u00e9"},"snapshot":[`+recs[i]+`,`+recs[i+1]+`]}`)
			log = append(log, `{"name":"q","hostIdentifier":"h1","unixTime":`+fmt.Sprint(i)+`,"action":"added","columns":`+recs[i]+`}`)
		}
		write("o.log", strings.Join(log, nl)+nl)
		write("d.csv", bom+genCSV(r, nl))
		for _, f := range []struct{ file, format, records string }{
			{"d.json", "json", ""}, {"p.json", "json", ", records: data"}, {"d.ndjson", "ndjson", ""}, {"o.log", "osquery", ""}, {"d.csv", "csv", ""},
		} {
			m := mapping
			if f.format == "csv" {
				m = "id: id\nname: name\nkeys: { serial: serial, mac: mac }\nfields: { t: { path: seen, type: time }, n: { path: count, type: int }, b: { path: flag, type: bool }, low: \"name | lower\", a: any }"
			}
			src := parseSource(t, "name: s\nkind: thing\nfrom: { file: "+f.file+", format: "+f.format+f.records+" }\nmap:\n"+indentBy(m, "  "))
			readBoth(t, dir, src, 1)
		}
	}
}

func genRecord(r *rand.Rand, i int) string {
	strs := []string{`"plain"`, `"Ünïcödé 日本"`, `"\u00e9\ud83d\ude00"`, `"tab\there"`, `"q\"uote"`, `"back\\slash"`, `"C:\\Program Files\\X"`, `""`, `"  spaced  "`, `"\u0000"`, `"\ud800"`, `"AA:BB:CC:DD:EE:FF"`, `"2026-11-30T09:00:00Z"`, `"yes"`, `"12"`}
	nums := []string{"0", "-0", "12", "-7", "3.25", "1e3", "1E-3", "2.5e+10", "123456789012345678901234567890", "1e400", "1796007600", "1796007600000"}
	any := func() string {
		switch r.IntN(6) {
		case 0:
			return nums[r.IntN(len(nums))]
		case 1:
			return []string{"true", "false", "null"}[r.IntN(3)]
		case 2:
			return `{"x":` + strs[r.IntN(len(strs))] + `,"y":[1,{"z":null}]}`
		case 3:
			return `[` + strs[r.IntN(len(strs))] + `,` + nums[r.IntN(len(nums))] + `]`
		}
		return strs[r.IntN(len(strs))]
	}
	fields := []string{
		`"id":"r` + fmt.Sprint(i%30) + `"`,
		`"name":` + strs[r.IntN(len(strs))],
		`"serial":` + any(),
		`"mac":` + any(),
		`"hw":{"mac":` + any() + `,"other":[{"mac":1}]}`,
		`"seen":` + any(),
		`"count":` + any(),
		`"num":` + any(),
		`"flag":` + any(),
		`"list":` + any(),
		`"obj":` + any(),
		`"any":` + any(),
		`"columns":{"name":` + strs[r.IntN(len(strs))] + `,"version":` + any() + `}`,
		`"extra":{"deep":{"deeper":[` + any() + `]}}`,
	}
	r.Shuffle(len(fields), func(a, b int) { fields[a], fields[b] = fields[b], fields[a] })
	fields = fields[:4+r.IntN(len(fields)-3)]
	if r.IntN(10) == 0 {
		fields = append(fields, fields[0]) // a repeated key
	}
	sp := []string{"", " ", "\t"}[r.IntN(3)]
	return "{" + sp + strings.Join(fields, ","+sp) + sp + "}"
}

func genCSV(r *rand.Rand, nl string) string {
	cells := []string{"plain", "Ünïcödé", `"quoted, comma"`, `"say ""hi"""`, "", " spaced ", "2026-11-30", "yes", "12", "1e3", `"multi` + nl + `line"`, "AA:BB:CC:DD:EE:FF", "x\ty"}
	var b strings.Builder
	b.WriteString("id,name,serial,mac,seen,count,flag,any" + nl)
	for i, n := 0, r.IntN(40); i < n; i++ {
		row := []string{"r" + fmt.Sprint(i%30)}
		for j := 0; j < 7; j++ {
			row = append(row, cells[r.IntN(len(cells))])
		}
		if r.IntN(20) == 0 {
			row = row[:5] // a short row
		}
		b.WriteString(strings.Join(row, ",") + nl)
	}
	return b.String()
}

// TestRepeatedValuesAgainstGeneralCode reads files long enough for the
// value caches to be tried, kept or turned off: thousands of osquery rows
// drawn from a small set (the same software on many hosts, with escapes
// and damage among them) and NDJSON and CSV records where some columns
// repeat and others never do.
func TestRepeatedValuesAgainstGeneralCode(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var pool []string
	for i := 0; i < 80; i++ {
		pool = append(pool, genRecord(r, i))
	}
	hosts, rows := 150, 30
	dir := t.TempDir()
	var log, nd, csv strings.Builder
	for h := 0; h < hosts; h++ {
		fmt.Fprintf(&log, `{"name":"q","hostIdentifier":"h%d","unixTime":%d,"decorations":{"host_uuid":"u%d"},"snapshot":[`, h%97, h, h)
		for i := 0; i < rows; i++ {
			if i > 0 {
				log.WriteString(",")
			}
			log.WriteString(pool[r.IntN(len(pool))])
		}
		log.WriteString("]}\n")
		if h%5 == 0 {
			fmt.Fprintf(&log, `{"name":"q","hostIdentifier":"h%d","unixTime":%d,"action":"added","columns":%s}`+"\n", h%97, h+1, pool[r.IntN(len(pool))])
		}
	}
	csv.WriteString("id,name,serial,dept,seen\n")
	for i := 0; i < hosts*rows; i++ {
		dept := []string{"Sales", "Engineering", " Support ", "R&D \"x\"", ""}[r.IntN(5)]
		fmt.Fprintf(&nd, `{"id":"r%d","name":"n%d","serial":"S%08d","dept":%q,"hostIdentifier":"h%d","columns":{"version":"1.%d"}}`+"\n", i, r.IntN(300), i, dept, r.IntN(50), r.IntN(40))
		fmt.Fprintf(&csv, "r%d,n%d,S%08d,\"%s\",2026-11-%02d\n", i, r.IntN(300), i, strings.ReplaceAll(dept, `"`, `""`), 1+r.IntN(28))
	}
	for name, data := range map[string]string{"o.log": log.String(), "d.ndjson": nd.String(), "d.csv": csv.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ file, format, mapping, links string }{
		{"o.log", "osquery", "id: \"{decorations.host_uuid}/{columns.id}/{columns.name}\"\nname: columns.name\nkeys: { serial: columns.serial, hostname: hostIdentifier }\nfields: { v: columns.version, n: { path: columns.count, type: int }, low: \"columns.name | lower\" }", "links: { device: [{ to: device, by: uuid, path: decorations.host_uuid }, { to: device, by: hostname, path: hostIdentifier }], app: { to: app, by: name, path: columns.name } }"},
		{"d.ndjson", "ndjson", "id: id\nname: name\nkeys: { serial: serial, hostname: hostIdentifier }\nfields: { dept: dept, v: columns.version }", "links: { team: { to: team, by: name, path: dept } }"},
		{"d.csv", "csv", "id: id\nname: name\nkeys: { serial: serial }\nfields: { dept: dept, seen: { path: seen, type: time } }", "links: { team: { to: team, by: name, path: dept } }"},
	} {
		src := parseSource(t, "name: s\nkind: thing\nfrom: { file: "+c.file+", format: "+c.format+" }\nmap:\n"+indentBy(c.mapping, "  ")+c.links)
		readBoth(t, dir, src, 1)
	}
}
