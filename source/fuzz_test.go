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

// fuzzSource reads data through a source of the given format. Whatever the
// bytes, the read must not panic, and a failure must be an application
// error a user can read (or the malformed-records limit), never a crash.
func fuzzSource(t *testing.T, format, file, records string, data []byte) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
		t.Fatal(err)
	}
	y := `sources:
  - name: s
    kind: thing
    from: { file: ` + file + `, format: ` + format + records + ` }
    map:
      id: "{id}{columns.name}{Employee ID}"
      name: name
      seen: { }
      keys: { serial: serial, mac: [mac_address, hardware.macAddress], hostname: hostIdentifier }
      fields:
        t: { path: last_seen, type: time }
        n: { path: count, type: int }
        b: { path: flag, type: bool }
        l: { path: factors, type: list }
        v: columns.version
`
	y = strings.Replace(y, "      seen: { }\n", "", 1)
	cfg, err := config.ParseMain("onus.yaml", strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	// The fast paths and the general code agree on every input.
	readBoth(t, dir, cfg.Sources[0], 0.5)
	res, err := source.Read(context.Background(), cfg.Sources[0], source.Options{
		Dir: dir, Normalizer: identity.New(identity.Options{}), MaxBad: 0.5, Now: time.Unix(0, 0),
	})
	if err != nil {
		if !errors.Is(err, source.ErrTooManyBad) && onus.ErrorCode(err) != onus.EINVALID {
			t.Fatalf("not a user error: %v", err)
		}
		return
	}
	for _, r := range res.Snapshot.Records.All() {
		if r.ID == "" {
			t.Fatalf("a record without an id was kept: %+v", r)
		}
	}
	for _, p := range res.Problems {
		if p.File == "" || p.Message == "" {
			t.Fatalf("a problem without a file or message: %+v", p)
		}
	}
}

func seed(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(samples, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzJSON(f *testing.F) {
	seed(f, "okta/users_list.json", "okta/user_factors_list.json")
	f.Add([]byte(`[{"id":"a","last_seen":"2026-01-01","count":3,"flag":"yes","factors":[]}]`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSource(t, "json", "d.json", "", data) })
}

func FuzzJSONRecords(f *testing.F) {
	seed(f, "crowdstrike/hostgroup_members_devices_trimmed.json")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSource(t, "json", "d.json", ", records: resources", data) })
}

func FuzzNDJSON(f *testing.F) {
	f.Add([]byte("{\"id\":\"a\"}\n{\"id\":\"b\",\"count\":\"x\"}\n{bad\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSource(t, "ndjson", "d.ndjson", "", data) })
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("Employee ID,serial,last_seen,count,flag\n1,S1,2026-01-01,3,yes\n2,\"S2,x\n"))
	f.Add([]byte("\xef\xbb\xbfEmployee ID\n\n1\n1\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSource(t, "csv", "d.csv", "", data) })
}

func FuzzOsquery(f *testing.F) {
	seed(f, "osquery/results_batch.json", "osquery/results_snapshot.json", "osquery/results_event_added.json")
	b, err := os.ReadFile(filepath.Join(samples, "osquery/osqueryd.snapshots.log"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4000])
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSource(t, "osquery", "o.log", "", data) })
}
