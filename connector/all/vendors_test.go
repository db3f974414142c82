package all_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector/connectortest"
	"github.com/onus-sec/onus/source"
)

func sample(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// first returns the first record of a sample: the document itself, the
// first of a top-level array, or the first at path.
func first(t testing.TB, file, path string) []byte {
	t.Helper()
	objs, err := connectortest.Load(filepath.Join("testdata", file), path)
	if err != nil || len(objs) == 0 {
		b := sample(t, file)
		if b[0] == '{' && path == "" {
			return compact(b)
		}
		t.Fatalf("%s: no records at %q: %v", file, path, err)
	}
	return objs[0]
}

// compact puts a JSON document on one line.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// The record generators give every copy its own id and identity keys.
func oktaUsers(t testing.TB, n int) [][]byte {
	return connectortest.Vary(first(t, "user_get.json", ""), n, func(i int) map[string]string {
		email := fmt.Sprintf("user%d@acme.example", i)
		return map[string]string{"id": fmt.Sprintf("00u%07d", i), "profile.login": email, "profile.email": email, "profile.employeeNumber": strconv.Itoa(1000 + i)}
	})
}

func jamfComputers(t testing.TB, n int) [][]byte {
	return connectortest.Vary(first(t, "computers_inventory_detail_payload_complex.json", ""), n, func(i int) map[string]string {
		return map[string]string{"id": strconv.Itoa(i + 1), "udid": fmt.Sprintf("UDID-%07d", i), "hardware.serialNumber": fmt.Sprintf("C02%07d", i), "general.name": fmt.Sprintf("mac-%d", i)}
	})
}

func falconDevices(t testing.TB, n int) [][]byte {
	return connectortest.Vary(first(t, "hostgroup_members_devices_trimmed.json", "resources"), n, func(i int) map[string]string {
		return map[string]string{"device_id": fmt.Sprintf("%032x", i+1), "serial_number": fmt.Sprintf("C02%07d", i), "hostname": fmt.Sprintf("host-%d", i)}
	})
}

func graphDevices(t testing.TB, n int) [][]byte {
	return connectortest.Vary(first(t, "managedDevices_list.json", "value"), n, func(i int) map[string]string {
		return map[string]string{"id": fmt.Sprintf("705c034c-0000-0000-0000-%012d", i), "serialNumber": fmt.Sprintf("C02%07d", i), "userPrincipalName": fmt.Sprintf("user%d@acme.example", i)}
	})
}

func oktaDevices(t testing.TB, n int) [][]byte {
	return connectortest.Vary(first(t, "devices_list_expand_userSummary.json", ""), n, func(i int) map[string]string {
		return map[string]string{"id": fmt.Sprintf("guo%07d", i), "profile.serialNumber": fmt.Sprintf("C02%07d", i)}
	})
}

// read reads a connector source through the source package, as sync does.
func read(t testing.TB, src *config.Source) (*source.Result, error) {
	t.Helper()
	src.Kind = "thing"
	return source.Read(context.Background(), src, source.Options{MaxBad: 0.05})
}

func TestVendors(t *testing.T) {
	t.Setenv("T_TOKEN", "api-token")
	t.Setenv("T_ID", "onus-client")
	t.Setenv("T_SECRET", "s3cret")
	oauth := map[string]string{"client_id": "env:T_ID", "client_secret": "env:T_SECRET"}
	for _, tc := range []struct {
		name   string
		serve  func(s *connectortest.Server)
		src    func(url string) *config.Source
		want   int
		fields map[string]string // field → value of the first record
	}{
		{
			name:  "okta users, 1001 in pages of 200",
			serve: func(s *connectortest.Server) { s.Okta(oktaUsers(t, 1001), nil, nil) },
			src: func(u string) *config.Source {
				return &config.Source{Name: "okta", Connector: "okta", Options: map[string]string{"domain": u}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "id", Fields: map[string]*config.Field{"email": {Path: "profile.email"}, "status": {Path: "status"}}}}
			},
			want: 1001, fields: map[string]string{"email": "user0@acme.example", "status": "ACTIVE"},
		},
		{
			name: "okta factors per user",
			serve: func(s *connectortest.Server) {
				users := oktaUsers(t, 45)
				factors := map[string][]byte{"00u0000000": compact(sample(t, "user_factors_list.json"))}
				s.Okta(users, factors, nil)
			},
			src: func(u string) *config.Source {
				return &config.Source{Name: "okta_factors", Connector: "okta", Options: map[string]string{"domain": u, "resource": "factors", "limit": "10", "concurrency": "3"}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "userId", Fields: map[string]*config.Field{"factors": {Path: "factors", Type: "list", Keep: []string{"factorType", "status"}}}}}
			},
			want: 45, fields: map[string]string{"factors": "[map[factorType:question status:ACTIVE] map[factorType:token:software:totp status:PENDING_ACTIVATION] map[factorType:sms status:ACTIVE]]"},
		},
		{
			name:  "okta devices with their users",
			serve: func(s *connectortest.Server) { s.Okta(nil, nil, oktaDevices(t, 450)) },
			src: func(u string) *config.Source {
				return &config.Source{Name: "okta_devices", Connector: "okta", Options: map[string]string{"domain": u, "resource": "devices"}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "id", Fields: map[string]*config.Field{"serial": {Path: "profile.serialNumber"}, "platform": {Path: "profile.platform"}}}}
			},
			want: 450, fields: map[string]string{"serial": "C020000000", "platform": "WINDOWS"},
		},
		{
			name:  "jamf computers-inventory, page/page-size",
			serve: func(s *connectortest.Server) { s.Jamf(jamfComputers(t, 1234)) },
			src: func(u string) *config.Source {
				return &config.Source{Name: "jamf", Connector: "jamf", Options: map[string]string{"url": u, "page_size": "500"}, Credentials: oauth,
					Map: config.Map{ID: "udid", Fields: map[string]*config.Field{"serial": {Path: "hardware.serialNumber"}, "filevault": {Path: "operatingSystem.fileVault2Status"}}}}
			},
			want: 1234, fields: map[string]string{"serial": "C020000000", "filevault": "ALL_ENCRYPTED"},
		},
		{
			name:  "crowdstrike ids then details in batches",
			serve: func(s *connectortest.Server) { s.Falcon(falconDevices(t, 7001)) },
			src: func(u string) *config.Source {
				return &config.Source{Name: "edr", Connector: "crowdstrike", Options: map[string]string{"base_url": u, "batch": "400"}, Credentials: oauth,
					Map: config.Map{ID: "device_id", Fields: map[string]*config.Field{"host": {Path: "hostname"}, "agent": {Path: "agent_version"}}}}
			},
			want: 7001, fields: map[string]string{"host": "host-0", "agent": "6.26.14003.0"},
		},
		{
			name: "intune with a 429 and a 503 mid-pull",
			serve: func(s *connectortest.Server) {
				s.Graph(graphDevices(t, 2500), 999)
				s.Inject(connectortest.Fault{Path: "/v1.0/", At: 2, Status: 429, Body: connectortest.GraphThrottled, Header: http.Header{"Retry-After": {"1"}}})
				s.Inject(connectortest.Fault{Path: "/v1.0/", At: 4, Status: 503, Body: `{"error":{"code":"ServiceUnavailable","message":"try later"}}`})
			},
			src: func(u string) *config.Source {
				return &config.Source{Name: "intune", Connector: "intune", Options: map[string]string{"tenant": "acme", "graph_url": u, "login_url": u}, Credentials: oauth,
					Map: config.Map{ID: "id", Fields: map[string]*config.Field{"upn": {Path: "userPrincipalName"}, "compliance": {Path: "complianceState"}}}}
			},
			want: 2500, fields: map[string]string{"upn": "user0@acme.example", "compliance": "compliant"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := connectortest.New()
			defer s.Close()
			tc.serve(s)
			res, err := read(t, tc.src(s.URL))
			if err != nil {
				t.Fatal(err)
			}
			recs := res.Snapshot.Records.All()
			if len(recs) != tc.want || res.Bad != 0 {
				t.Fatalf("%d records, %d bad (%v); want %d", len(recs), res.Bad, res.Problems, tc.want)
			}
			schema := res.Snapshot.Schema
			for name, want := range tc.fields {
				i := schema.FieldIndex(name)
				if i < 0 {
					t.Fatalf("no field %s in the schema", name)
				}
				if got := fmt.Sprint(recs[0].Attrs[i]); got != want {
					t.Errorf("field %s = %s, want %s", name, got, want)
				}
			}
		})
	}
}
