package all_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	_ "github.com/onus-sec/onus/connector/all"
	"github.com/onus-sec/onus/connector/connectortest"
	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// org is the Acme example organisation in a temporary directory with a real
// SQLite store.
type org struct {
	t   *testing.T
	dir string
	db  *store.DB
}

func newOrg(t *testing.T) *org {
	t.Helper()
	dir := t.TempDir()
	if err := examples.CopyTo(examples.Acme(), dir); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &org{t: t, dir: dir, db: db}
}

func (o *org) run() (*monitor.SyncReport, *monitor.EvalReport) {
	o.t.Helper()
	cfg, err := config.Load(o.dir)
	if err != nil {
		o.t.Fatalf("config: %v", err)
	}
	m := &monitor.Monitor{Config: cfg, Store: o.db, Actor: "test"}
	ctx := context.Background()
	srep, err := m.Sync(ctx, monitor.SyncOptions{})
	if err != nil {
		o.t.Fatalf("sync: %v", err)
	}
	erep, err := m.Eval(ctx, orggen.AcmeNow, nil)
	if err != nil {
		o.t.Fatalf("eval: %v", err)
	}
	return srep, erep
}

// findings lists the open findings as "control entity owner".
func (o *org) findings() []string {
	o.t.Helper()
	fs, err := o.db.Findings(context.Background(), onus.FindingFilter{States: []onus.State{onus.StateOpen}})
	if err != nil {
		o.t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.Control+" "+f.Entity+" "+f.Responsible.Email)
	}
	sort.Strings(out)
	return out
}

// vendors serves the Acme exports through local Okta, Jamf, Graph and
// Falcon APIs, in small pages so that every pull takes many.
func vendors(t *testing.T, dir string) *connectortest.Server {
	t.Helper()
	load := func(file, path string) [][]byte {
		objs, err := connectortest.Load(filepath.Join(dir, "exports", file), path)
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	factors := map[string][]byte{}
	f, err := os.Open(filepath.Join(dir, "exports/okta/factors.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		id, _ := jsonparser.GetString(sc.Bytes(), "userId")
		arr, _, _, _ := jsonparser.Get(sc.Bytes(), "factors")
		factors[id] = bytes.Clone(arr)
	}
	s := connectortest.New()
	t.Cleanup(s.Close)
	s.Okta(load("okta/users.json", ""), factors, nil)
	s.Jamf(load("jamf/computers-inventory.json", "results"))
	s.Graph(load("intune/managedDevices.json", "value"), 10)
	s.Falcon(load("crowdstrike/devices.json", "resources"))
	return s
}

// useConnectors rewrites the example's onus.yaml so that Okta, Jamf,
// Intune and CrowdStrike are read from the local APIs instead of files,
// with the same map: and links:.
func useConnectors(t *testing.T, dir, url string) {
	t.Helper()
	t.Setenv("ACME_OKTA_TOKEN", "api-token")
	t.Setenv("ACME_CLIENT_ID", "onus-client")
	os.WriteFile(filepath.Join(dir, "client_secret"), []byte("s3cret\n"), 0o600)
	path := filepath.Join(dir, config.MainFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	creds := "credentials: { client_id: env:ACME_CLIENT_ID, client_secret: file:client_secret }"
	for from, conn := range map[string]string{
		"from: { file: exports/okta/users.json }":                                 "connector: okta\n    options: { domain: " + url + ", limit: \"30\" }\n    credentials: { token: env:ACME_OKTA_TOKEN }",
		"from: { file: exports/okta/factors.ndjson }":                             "connector: okta\n    options: { domain: " + url + ", resource: factors, limit: \"25\" }\n    credentials: { token: env:ACME_OKTA_TOKEN }",
		"from: { file: exports/jamf/computers-inventory.json, records: results }": "connector: jamf\n    options: { url: " + url + ", page_size: \"40\" }\n    " + creds,
		"from: { file: exports/intune/managedDevices.json, records: value }":      "connector: intune\n    options: { tenant: acme.onmicrosoft.com, graph_url: " + url + ", login_url: " + url + " }\n    " + creds,
		"from: { file: exports/crowdstrike/devices.json, records: resources }":    "connector: crowdstrike\n    options: { base_url: " + url + ", limit: \"60\", batch: \"25\" }\n    " + creds,
	} {
		if !bytes.Contains(b, []byte(from)) {
			t.Fatalf("onus.yaml has no %q", from)
		}
		b = bytes.Replace(b, []byte(from), []byte(conn), 1)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConnectorsMatchFiles reads five of the example's sources through
// their connectors and expects exactly the findings the export files give.
func TestConnectorsMatchFiles(t *testing.T) {
	files := newOrg(t)
	frep, _ := files.run()
	want := files.findings()
	if len(want) == 0 {
		t.Fatal("the example has no findings; the comparison would prove nothing")
	}

	live := newOrg(t)
	srv := vendors(t, live.dir)
	useConnectors(t, live.dir, srv.URL)
	okta := map[string]string{"source": "okta"}
	pages0, records0, requests0 := metric(t, "onus_connector_pages_total", okta), metric(t, "onus_connector_records_total", okta), metric(t, "onus_connector_requests_total", okta)
	pulls0 := metric(t, "onus_connector_pulls_total", map[string]string{"source": "okta", "kind": "full", "result": "ok"})
	lrep, erep := live.run()
	for i, s := range lrep.Sources {
		if s.Status != onus.SyncOK || s.Records != frep.Sources[i].Records {
			t.Errorf("source %s: %s with %d records (%s), want ok with %d", s.Source, s.Status, s.Records, s.Error, frep.Sources[i].Records)
		}
	}
	got := live.findings()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings differ:\n got %d: %v\nwant %d: %v", len(got), got, len(want), want)
	}
	if erep.Changes.Opened != len(want) {
		t.Errorf("opened %d, want %d", erep.Changes.Opened, len(want))
	}
	if n := srv.Requests.Load(); n < 20 {
		t.Errorf("only %d API requests: the pulls did not page", n)
	}
	// The pulls show in the metrics a scrape of /metrics reads.
	var oktaRecords int
	for _, s := range lrep.Sources {
		if s.Source == "okta" {
			oktaRecords = s.Records
		}
	}
	pulls := metric(t, "onus_connector_pulls_total", map[string]string{"source": "okta", "kind": "full", "result": "ok"}) - pulls0
	records := metric(t, "onus_connector_records_total", okta) - records0
	if pages := metric(t, "onus_connector_pages_total", okta) - pages0; pulls != 1 || pages < 2 || int(records) != oktaRecords ||
		metric(t, "onus_connector_requests_total", okta)-requests0 < pages {
		t.Errorf("okta metrics: %v pulls, %v pages, %v records (synced %d)", pulls, pages, records, oktaRecords)
	}
}

// TestBrokenPullChangesNothing breaks one page of a pull halfway through:
// the source fails, its last good snapshot stays in force and no finding
// opens, resolves or goes.
func TestBrokenPullChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, source string
		fault        connectortest.Fault
		wantErr      string
	}{
		{"jamf page cut in half", "jamf", connectortest.Fault{Path: "/api/v1/computers-inventory", At: 3, Truncate: true}, "not valid JSON"},
		{"okta refuses the token", "okta", connectortest.Fault{Path: "/api/v1/users", At: 4, Times: 100, Status: 403, Body: connectortest.OktaForbidden}, "You do not have permission to perform the requested action [E0000006]"},
		{"falcon details fail for good", "edr", connectortest.Fault{Path: "/devices/entities", At: 2, Times: 100, Status: 500, Body: `{"errors":[{"code":500,"message":"internal server error"}]}`}, "internal server error"},
		{"graph cut in half", "intune", connectortest.Fault{Path: "/v1.0/", At: 2, Truncate: true}, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrg(t)
			srv := vendors(t, o.dir)
			useConnectors(t, o.dir, srv.URL)
			o.run()
			before := o.findings()

			failed0 := metric(t, "onus_connector_pulls_total", map[string]string{"source": tc.source, "result": "failed"})
			srv.Inject(tc.fault)
			cfg, err := config.Load(o.dir)
			if err != nil {
				t.Fatal(err)
			}
			// One quick retry: the faults last longer than any retry policy.
			cfg.Source(tc.source).Options["retries"] = "1"
			m := &monitor.Monitor{Config: cfg, Store: o.db, Actor: "test"}
			srep, err := m.Sync(context.Background(), monitor.SyncOptions{Only: []string{tc.source}})
			if err != nil {
				t.Fatal(err)
			}
			sr := srep.Sources[0]
			t.Logf("error: %s", sr.Error)
			if sr.Status != onus.SyncFailed || !strings.Contains(sr.Error, tc.wantErr) {
				t.Fatalf("sync: %s %q, want failed with %q", sr.Status, sr.Error, tc.wantErr)
			}
			if n := metric(t, "onus_connector_pulls_total", map[string]string{"source": tc.source, "result": "failed"}) - failed0; n != 1 {
				t.Errorf("%v failed pulls counted for %s, want 1", n, tc.source)
			}
			erep, err := m.Eval(context.Background(), orggen.AcmeNow, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c := erep.Changes; c.Opened+c.Reopened+c.Resolved+c.Gone+c.Reassigned != 0 {
				t.Errorf("a failed pull changed findings: %+v", c)
			}
			if after := o.findings(); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("findings changed after a failed pull")
			}
			states, _ := o.db.SourceStates(context.Background())
			if st := states[tc.source]; st == nil || st.Healthy || st.Good == nil {
				t.Errorf("source state %+v: want unhealthy with its last good snapshot", st)
			}
		})
	}
}
