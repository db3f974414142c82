package all_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector/connectortest"
)

// people are HRIS-like records for the generic connector.
func people(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"id":"e%d","work_email":"p%d@acme.example","department":"Eng"}`, i, i))
	}
	return out
}

func TestHTTPJSON(t *testing.T) {
	t.Setenv("T_TOKEN", "api-token")
	recs := people(523)
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("X-Api-Key") != "Token api-token" {
			connectortest.JSON(w, 401, `{"message":"Bad credentials"}`)
			return false
		}
		return true
	}
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		options map[string]string
		want    int
		wantErr string
	}{
		{
			name: "next_url in the body (Checkr's next_href)",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !auth(w, r) {
					return
				}
				page := max(1, atoi(r.URL.Query().Get("page")))
				objs := window(recs, (page-1)*100, 100)
				next := "null"
				if page*100 < len(recs) {
					next = strconv.Quote(fmt.Sprintf("/v1/people?page=%d", page+1))
				}
				connectortest.JSON(w, 200, fmt.Sprintf(`{"data":%s,"object":"list","next_href":%s,"count":%d}`, connectortest.Array(objs), next, len(recs)))
			},
			options: map[string]string{"records": "data", "pagination": "next_url", "next": "next_href"},
			want:    523,
		},
		{
			name: "cursor in the body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !auth(w, r) {
					return
				}
				start := atoi(strings.TrimPrefix(r.URL.Query().Get("after"), "c"))
				objs := window(recs, start, 50)
				cur := ""
				if start+50 < len(recs) {
					cur = fmt.Sprintf("c%d", start+50)
				}
				connectortest.JSON(w, 200, fmt.Sprintf(`{"results":%s,"meta":{"next_cursor":%q}}`, connectortest.Array(objs), cur))
			},
			options: map[string]string{"records": "results", "pagination": "cursor", "next": "meta.next_cursor", "cursor_param": "after"},
			want:    523,
		},
		{
			name: "page numbers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !auth(w, r) {
					return
				}
				q := r.URL.Query()
				size := atoi(q.Get("per_page"))
				connectortest.JSON(w, 200, string(connectortest.Array(window(recs, atoi(q.Get("page"))*size, size))))
			},
			options: map[string]string{"pagination": "page", "first_page": "0", "page_size": "75"},
			want:    523,
		},
		{
			name: "link header",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if !auth(w, r) {
					return
				}
				page := max(1, atoi(r.URL.Query().Get("page")))
				if page*200 < len(recs) {
					w.Header().Set("Link", fmt.Sprintf(`</v1/people?page=%d>; rel="next", </v1/people?page=3>; rel="last"`, page+1))
				}
				connectortest.JSON(w, 200, string(connectortest.Array(window(recs, (page-1)*200, 200))))
			},
			options: map[string]string{},
			want:    523,
		},
		{
			name: "the vendor's refusal in its words",
			handler: func(w http.ResponseWriter, r *http.Request) {
				connectortest.JSON(w, 403, `{"message":"Resource not accessible by integration"}`)
			},
			wantErr: "403 Forbidden: Resource not accessible by integration",
		},
		{
			name:    "records path missing",
			handler: func(w http.ResponseWriter, r *http.Request) { connectortest.JSON(w, 200, `{"items":[],"total":0}`) },
			options: map[string]string{"records": "data"},
			wantErr: `the response has no "data" (its top-level keys: items, total)`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := connectortest.New()
			defer s.Close()
			s.Mux.HandleFunc("/v1/people", tc.handler)
			opts := map[string]string{"url": s.URL + "/v1/people", "auth_header": "X-Api-Key", "auth_scheme": "Token", "retries": "0"}
			for k, v := range tc.options {
				opts[k] = v
			}
			src := &config.Source{Name: "hris", Connector: "http", Options: opts, Credentials: map[string]string{"token": "env:T_TOKEN"},
				Map: config.Map{ID: "id", Keys: map[string]config.Paths{"email": {"work_email"}}}}
			res, err := read(t, src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := res.Snapshot.Records.Len(); n != tc.want {
				t.Fatalf("%d records, want %d", n, tc.want)
			}
			if got := res.Snapshot.Records.At(522).Keys[0].Value; got != "p522@acme.example" {
				t.Errorf("last record's email %q", got)
			}
		})
	}
}

func TestConnectorSettings(t *testing.T) {
	t.Setenv("T_TOKEN", "x")
	for _, tc := range []struct {
		name string
		src  config.Source
		want string
	}{
		{"unknown connector", config.Source{Connector: "oktaa"}, `no connector called "oktaa"`},
		{"missing option", config.Source{Connector: "okta", Credentials: map[string]string{"token": "env:T_TOKEN"}}, "connector okta needs options.domain"},
		{"unknown option", config.Source{Connector: "okta", Options: map[string]string{"domain": "a.okta.com", "domian": "x"}}, `connector okta has no option "domian"`},
		{"unknown resource", config.Source{Connector: "okta", Options: map[string]string{"domain": "a.okta.com", "resource": "groups"}}, `cannot read "groups" (options.resource is one of users, factors, devices)`},
		{"missing credential", config.Source{Connector: "okta", Options: map[string]string{"domain": "a.okta.com"}}, "connector okta needs credentials.token, or credentials.client_id and credentials.private_key"},
		{"unset variable", config.Source{Connector: "okta", Options: map[string]string{"domain": "a.okta.com"}, Credentials: map[string]string{"token": "env:T_NOT_SET"}}, "credentials.token: the environment variable T_NOT_SET is not set"},
		{"secret in the config", config.Source{Connector: "okta", Options: map[string]string{"domain": "a.okta.com"}, Credentials: map[string]string{"token": "00abcdef"}}, "credential token must be env:NAME or file:PATH"},
		{"bad number", config.Source{Connector: "jamf", Options: map[string]string{"url": "x", "page_size": "lots"}, Credentials: map[string]string{"client_id": "env:T_TOKEN", "client_secret": "env:T_TOKEN"}}, `options.page_size is "lots", not a whole number`},
		{"bad cloud", config.Source{Connector: "crowdstrike", Options: map[string]string{"cloud": "mars-1"}, Credentials: map[string]string{"client_id": "env:T_TOKEN", "client_secret": "env:T_TOKEN"}}, `options.cloud "mars-1" is not a Falcon cloud`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.src.Name = "s"
			_, err := read(t, &tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func window(objs [][]byte, start, n int) [][]byte {
	start = min(start, len(objs))
	return objs[start:min(start+n, len(objs))]
}

func TestHTTPCSV(t *testing.T) {
	t.Setenv("T_TOKEN", "api-token")
	var b strings.Builder
	b.WriteString("\xef\xbb\xbfEmployee ID,Work Email,Department,Manager Email\n")
	for i := range 300 {
		fmt.Fprintf(&b, "%d,p%d@acme.example,\"Research, Applied\",boss@acme.example\n", 1000+i, i)
	}
	csvBody := b.String()
	for _, tc := range []struct {
		name    string
		fault   *connectortest.Fault
		want    int
		wantErr string
	}{
		{name: "whole file", want: 300},
		{name: "cut off halfway", fault: &connectortest.Fault{Path: "/export.csv", At: 1, Truncate: true}, wantErr: "malformed CSV: parse error on line 152"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := connectortest.New()
			defer s.Close()
			s.Mux.HandleFunc("/export.csv", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer api-token" {
					w.WriteHeader(401)
					return
				}
				w.Header().Set("Content-Type", "text/csv")
				w.Write([]byte(csvBody))
			})
			if tc.fault != nil {
				s.Inject(*tc.fault)
			}
			src := &config.Source{Name: "hr", Connector: "http", Options: map[string]string{"url": s.URL + "/export.csv", "format": "csv", "retries": "0"},
				Credentials: map[string]string{"token": "env:T_TOKEN"},
				Map:         config.Map{ID: "Employee ID", Keys: map[string]config.Paths{"email": {"Work Email"}}, Fields: map[string]*config.Field{"department": {Path: "Department"}}}}
			res, err := read(t, src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			recs := res.Snapshot.Records.All()
			if len(recs) != tc.want {
				t.Fatalf("%d records, want %d", len(recs), tc.want)
			}
			if recs[0].ID != "1000" || recs[0].Attrs[0] != "Research, Applied" {
				t.Errorf("first record %+v", recs[0])
			}
		})
	}
}
