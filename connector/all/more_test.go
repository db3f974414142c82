package all_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/buger/jsonparser"
	"golang.org/x/oauth2/jws"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector/connectortest"
)

// linkPages serves objs in pages of size with a GitHub-style Link header.
func linkPages(objs [][]byte, size int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page := max(1, atoi(r.URL.Query().Get("page")))
		if page*size < len(objs) {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(page+1))
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?%s>; rel="next"`, r.Host, r.URL.Path, q.Encode()))
		}
		w.Header().Set("X-RateLimit-Remaining", "4999")
		connectortest.JSON(w, 200, string(connectortest.Array(window(objs, (page-1)*size, size))))
	}
}

func bearer(token string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			connectortest.JSON(w, 401, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
			return
		}
		next(w, r)
	}
}

// githubAlerts serves an organisation's Dependabot and secret-scanning alerts.
var githubAlerts = func(t *testing.T, s *connectortest.Server) {
	var dep, sec [][]byte
	for i := range 130 {
		dep = append(dep, []byte(fmt.Sprintf(`{"number":%d,"state":"open","dependency":{"package":{"ecosystem":"npm","name":"lodash"},"manifest_path":"package-lock.json","scope":"runtime"},"security_advisory":{"ghsa_id":"GHSA-%04d","severity":"high"},"repository":{"full_name":"acme/web%d"}}`, i+1, i, i%7)))
		sec = append(sec, []byte(fmt.Sprintf(`{"number":%d,"state":"open","secret_type":"github_personal_access_token","repository":{"full_name":"acme/api"}}`, i+1)))
	}
	state := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("state") != "open" {
				connectortest.JSON(w, 422, `{"message":"state must be open here"}`)
				return
			}
			next(w, r)
		}
	}
	s.Mux.HandleFunc("/orgs/acme/dependabot/alerts", bearer("api-token", state(linkPages(dep, 100))))
	s.Mux.HandleFunc("/orgs/acme/secret-scanning/alerts", bearer("api-token", state(linkPages(sec, 100))))
}

func TestMoreVendors(t *testing.T) {
	t.Setenv("T_TOKEN", "api-token")
	keyFile := serviceAccount(t)
	for _, tc := range []struct {
		name  string
		serve func(t *testing.T, s *connectortest.Server)
		src   func(url string) *config.Source
		want  int
		// field → value of the record with id
		id     string
		fields map[string]string
	}{
		{
			name: "cisa kev catalog",
			serve: func(t *testing.T, s *connectortest.Server) {
				s.Mux.HandleFunc("/feeds/kev.json", func(w http.ResponseWriter, r *http.Request) {
					w.Write(sample(t, "known_exploited_vulnerabilities_trimmed.json"))
				})
			},
			src: func(u string) *config.Source {
				return &config.Source{Connector: "cisa_kev", Options: map[string]string{"url": u + "/feeds/kev.json"},
					Map: config.Map{ID: "cveID", Fields: map[string]*config.Field{"vendor": {Path: "vendorProject"}, "ransomware": {Path: "knownRansomwareCampaignUse"}}}}
			},
			want: 175, id: "CVE-2025-48384", fields: map[string]string{"vendor": "Git", "ransomware": "Unknown"},
		},
		{
			name: "github members, a secondary rate limit on the way",
			serve: func(t *testing.T, s *connectortest.Server) {
				var members [][]byte
				for i := range 250 {
					members = append(members, []byte(fmt.Sprintf(`{"login":"dev%d","id":%d,"node_id":"MDQ6VXNlcj%d","type":"User","site_admin":false}`, i, 1000+i, i)))
				}
				s.Mux.HandleFunc("/orgs/acme/members", bearer("api-token", linkPages(members, 100)))
				s.Inject(connectortest.Fault{Path: "/orgs/acme/members", At: 2, Status: 403, Header: http.Header{"Retry-After": {"1"}},
					Body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest"}`})
			},
			src: func(u string) *config.Source {
				return &config.Source{Connector: "github", Options: map[string]string{"org": "acme", "api_url": u, "resource": "members"}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "login", Fields: map[string]*config.Field{"type": {Path: "type"}}}}
			},
			want: 250, id: "dev249", fields: map[string]string{"type": "User"},
		},
		{
			name: "github repositories with their CODEOWNERS",
			serve: func(t *testing.T, s *connectortest.Server) {
				var repos [][]byte
				for _, n := range []string{"falconpy", "api", "empty"} {
					repos = append(repos, []byte(fmt.Sprintf(`{"id":1,"name":%q,"full_name":"acme/%s","private":true,"archived":false,"default_branch":"main"}`, n, n)))
				}
				s.Mux.HandleFunc("/orgs/acme/repos", bearer("api-token", linkPages(repos, 2)))
				s.Mux.HandleFunc("/repos/acme/{repo}/contents/{path...}", bearer("api-token", func(w http.ResponseWriter, r *http.Request) {
					switch r.PathValue("repo") + ":" + r.PathValue("path") {
					case "falconpy:.github/CODEOWNERS":
						w.Write(sample(t, "falconpy_CODEOWNERS"))
					case "api:CODEOWNERS":
						w.Write([]byte("* @acme/platform\n"))
					case "empty:.github/CODEOWNERS":
						connectortest.JSON(w, 409, `{"message":"Git Repository is empty.","status":"409"}`)
					default:
						connectortest.JSON(w, 404, `{"message":"Not Found","status":"404"}`)
					}
				}))
			},
			src: func(u string) *config.Source {
				return &config.Source{Connector: "github", Options: map[string]string{"org": "acme", "api_url": u, "resource": "repositories"}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "full_name", Fields: map[string]*config.Field{"codeowners": {Path: "codeowners"}}}}
			},
			want: 3, id: "acme/api", fields: map[string]string{"codeowners": "* @acme/platform\n"},
		},
		{
			name:  "github dependabot and secret-scanning alerts",
			serve: githubAlerts,
			src: func(u string) *config.Source {
				return &config.Source{Connector: "github", Options: map[string]string{"org": "acme", "api_url": u, "resource": "dependabot_alerts"}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "{repository.full_name}#{number}", Fields: map[string]*config.Field{"severity": {Path: "security_advisory.severity"}, "package": {Path: "dependency.package.name"}}}}
			},
			want: 130, id: "acme/web3#130", fields: map[string]string{"severity": "high", "package": "lodash"},
		},
		{
			name:  "github secret-scanning alerts",
			serve: githubAlerts,
			src: func(u string) *config.Source {
				return &config.Source{Connector: "github", Options: map[string]string{"org": "acme", "api_url": u, "resource": "secret_scanning_alerts"}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "{repository.full_name}#{number}", Fields: map[string]*config.Field{"type": {Path: "secret_type"}}}}
			},
			want: 130, id: "acme/api#7", fields: map[string]string{"type": "github_personal_access_token"},
		},
		{
			name: "fleet hosts with policies and software",
			serve: func(t *testing.T, s *connectortest.Server) {
				hosts := connectortest.Vary([]byte(`{"id":1,"hostname":"h","uuid":"u","platform":"darwin","os_version":"macOS 14.5","hardware_serial":"s","seen_time":"2026-11-30T10:00:00Z","status":"online","policies":[{"id":1,"name":"FileVault enabled","response":"pass"}],"software":[{"id":7,"name":"Google Chrome.app","version":"131.0.6778.86","source":"apps"}]}`),
					345, func(i int) map[string]string {
						return map[string]string{"hostname": fmt.Sprintf("mac-%d", i), "uuid": fmt.Sprintf("uuid-%d", i), "hardware_serial": fmt.Sprintf("C02%07d", i)}
					})
				s.Mux.HandleFunc("/api/v1/fleet/hosts", bearer("api-token", func(w http.ResponseWriter, r *http.Request) {
					q := r.URL.Query()
					if q.Get("populate_software") != "true" || q.Get("populate_policies") != "true" {
						connectortest.JSON(w, 400, `{"message":"Bad request","errors":[{"name":"base","reason":"this test expects software and policies"}]}`)
						return
					}
					size := atoi(q.Get("per_page"))
					page := atoi(q.Get("page"))
					more := (page+1)*size < len(hosts)
					connectortest.JSON(w, 200, fmt.Sprintf(`{"hosts":%s,"meta":{"has_next_results":%t,"has_previous_results":%t}}`, connectortest.Array(window(hosts, page*size, size)), more, page > 0))
				}))
			},
			src: func(u string) *config.Source {
				return &config.Source{Connector: "fleet", Options: map[string]string{"url": u}, Credentials: map[string]string{"token": "env:T_TOKEN"},
					Map: config.Map{ID: "uuid", Fields: map[string]*config.Field{"serial": {Path: "hardware_serial"}, "policies": {Path: "policies", Type: "list", Keep: []string{"name", "response"}}}}}
			},
			want: 345, id: "uuid-300", fields: map[string]string{"serial": "C020000300", "policies": "[map[name:FileVault enabled response:pass]]"},
		},
		{
			name: "checkr reports of every candidate",
			serve: func(t *testing.T, s *connectortest.Server) {
				var cands [][]byte
				for i := range 130 {
					cands = append(cands, []byte(fmt.Sprintf(`{"id":"cand%d","object":"candidate","custom_id":"%d","email":"p%d@mail.example","report_ids":["rep%d"]}`, i, 1000+i, i, i)))
				}
				basic := func(next http.HandlerFunc) http.HandlerFunc {
					return func(w http.ResponseWriter, r *http.Request) {
						if u, _, ok := r.BasicAuth(); !ok || u != "api-token" {
							connectortest.JSON(w, 401, `{"error":"Bad authentication error"}`)
							return
						}
						next(w, r)
					}
				}
				s.Mux.HandleFunc("/v1/candidates", basic(func(w http.ResponseWriter, r *http.Request) {
					page := max(1, atoi(r.URL.Query().Get("page")))
					size := atoi(r.URL.Query().Get("per_page"))
					next := "null"
					if page*size < len(cands) {
						next = strconv.Quote(fmt.Sprintf("http://%s/v1/candidates?page=%d&per_page=%d", r.Host, page+1, size))
					}
					connectortest.JSON(w, 200, fmt.Sprintf(`{"data":%s,"object":"list","next_href":%s,"previous_href":null,"count":%d}`, connectortest.Array(window(cands, (page-1)*size, size)), next, len(cands)))
				}))
				s.Mux.HandleFunc("/v1/reports/{id}", basic(func(w http.ResponseWriter, r *http.Request) {
					id := r.PathValue("id")
					connectortest.JSON(w, 200, fmt.Sprintf(`{"id":%q,"object":"report","status":"complete","result":"clear","candidate_id":"cand%s","completed_at":"2026-10-01T12:00:00Z"}`, id, strings.TrimPrefix(id, "rep")))
				}))
			},
			src: func(u string) *config.Source {
				return &config.Source{Connector: "checkr", Options: map[string]string{"api_url": u, "resource": "reports"}, Credentials: map[string]string{"api_key": "env:T_TOKEN"},
					Map: config.Map{ID: "id", Fields: map[string]*config.Field{"candidate": {Path: "candidate_id"}, "result": {Path: "result"}}}}
			},
			want: 130, id: "rep129", fields: map[string]string{"candidate": "cand129", "result": "clear"},
		},
		{
			name: "bamboohr custom report",
			serve: func(t *testing.T, s *connectortest.Server) {
				s.Mux.HandleFunc("POST /api/gateway.php/acme/v1/reports/custom", func(w http.ResponseWriter, r *http.Request) {
					if u, p, ok := r.BasicAuth(); !ok || u != "api-token" || p != "x" {
						w.WriteHeader(401) // BambooHR answers 401 with an empty body
						return
					}
					body, _ := io.ReadAll(r.Body)
					var req struct{ Fields []string }
					json.Unmarshal(body, &req)
					if len(req.Fields) == 0 || r.URL.Query().Get("format") != "JSON" {
						connectortest.JSON(w, 400, `{"error":"fields are required"}`)
						return
					}
					var emps [][]byte
					for i := range 410 {
						emps = append(emps, []byte(fmt.Sprintf(`{"id":"%d","employeeNumber":"%d","firstName":"P","lastName":"%d","workEmail":"p%d@acme.example","supervisorEmail":"boss@acme.example","status":"Active","hireDate":"2020-01-0%d","terminationDate":"0000-00-00"}`, 100+i, 1000+i, i, i, 1+i%9)))
					}
					connectortest.JSON(w, 200, fmt.Sprintf(`{"title":"onus","fields":[{"id":"workEmail","type":"email","name":"Work Email"}],"employees":%s}`, connectortest.Array(emps)))
				})
			},
			src: func(u string) *config.Source {
				return &config.Source{Connector: "bamboohr", Options: map[string]string{"api_url": u, "company": "acme"}, Credentials: map[string]string{"api_key": "env:T_TOKEN"},
					Map: config.Map{ID: "employeeNumber", Keys: map[string]config.Paths{"email": {"workEmail"}}, Fields: map[string]*config.Field{"status": {Path: "status"}, "manager": {Path: "supervisorEmail"}}}}
			},
			want: 410, id: "1409", fields: map[string]string{"status": "Active", "manager": "boss@acme.example"},
		},
		{
			name: "google workspace mobile devices, service account with delegation",
			serve: func(t *testing.T, s *connectortest.Server) {
				devices := connectortest.Vary(first(t, "mobiledevices_list_page1.json", "mobiledevices"), 230, func(i int) map[string]string {
					return map[string]string{"resourceId": fmt.Sprintf("res-%d", i), "serialNumber": fmt.Sprintf("R58M%06d", i)}
				})
				pub := readPublicKey(t, keyFile)
				s.Mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
					r.ParseForm()
					assertion := r.PostForm.Get("assertion")
					if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || jws.Verify(assertion, pub) != nil {
						connectortest.JSON(w, 400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
						return
					}
					claims, _ := jws.Decode(assertion)
					if claims.Sub != "admin@acme.example" || claims.Scope != "https://www.googleapis.com/auth/admin.directory.device.mobile.readonly" {
						connectortest.JSON(w, 401, `{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}`)
						return
					}
					s.Token(w, withClientForm(r, s))
				})
				s.Mux.HandleFunc("GET /admin/directory/v1/customer/my_customer/devices/mobile", func(w http.ResponseWriter, r *http.Request) {
					if !s.Bearer(w, r, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`) {
						return
					}
					size := atoi(r.URL.Query().Get("maxResults"))
					start := atoi(strings.TrimPrefix(r.URL.Query().Get("pageToken"), "tok"))
					page := window(devices, start, size)
					if len(page) == 0 {
						connectortest.JSON(w, 200, `{"kind":"admin#directory#mobiledevices","etag":"e"}`)
						return
					}
					// The last full page still carries a token: the next
					// page is empty and has no mobiledevices key at all.
					next := fmt.Sprintf(`,"nextPageToken":"tok%d"`, start+len(page))
					connectortest.JSON(w, 200, fmt.Sprintf(`{"kind":"admin#directory#mobiledevices","etag":"e","mobiledevices":%s%s}`, connectortest.Array(page), next))
				})
			},
			src: func(u string) *config.Source {
				return &config.Source{Connector: "google_workspace", Options: map[string]string{"api_url": u, "token_url": u + "/token", "subject": "admin@acme.example", "resource": "mobile_devices"},
					Credentials: map[string]string{"service_account_key": "file:" + keyFile},
					Map:         config.Map{ID: "resourceId", Fields: map[string]*config.Field{"serial": {Path: "serialNumber"}, "os": {Path: "os"}}}}
			},
			want: 230, id: "res-229", fields: map[string]string{"serial": "R58M000229", "os": "Android 8.0.0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := connectortest.New()
			defer s.Close()
			tc.serve(t, s)
			src := tc.src(s.URL)
			src.Name = "s"
			res, err := read(t, src)
			if err != nil {
				t.Fatal(err)
			}
			recs := res.Snapshot.Records.All()
			if len(recs) != tc.want || res.Bad != 0 {
				t.Fatalf("%d records, %d bad (%v); want %d", len(recs), res.Bad, res.Problems, tc.want)
			}
			found := false
			for _, r := range recs {
				if r.ID != tc.id {
					continue
				}
				found = true
				for name, want := range tc.fields {
					i := res.Snapshot.Schema.FieldIndex(name)
					if got := fmt.Sprint(r.Attrs[i]); got != want {
						t.Errorf("field %s = %q, want %q", name, got, want)
					}
				}
			}
			if !found {
				t.Errorf("no record %s", tc.id)
			}
		})
	}
}

// withClientForm lets the test server's token endpoint issue a token to a
// request whose JWT it has already checked.
func withClientForm(r *http.Request, s *connectortest.Server) *http.Request {
	r.PostForm.Set("grant_type", "client_credentials")
	r.PostForm.Set("client_id", s.ClientID)
	r.PostForm.Set("client_secret", s.ClientSecret)
	return r
}

// serviceAccount writes a Google service account key with a fresh RSA key.
func serviceAccount(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	b, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "onus@acme-onus.iam.gserviceaccount.com", "private_key": string(pemKey), "private_key_id": "k1", "token_uri": "https://oauth2.googleapis.com/token"})
	path := filepath.Join(t.TempDir(), "sa.json")
	os.WriteFile(path, b, 0o600)
	return path
}

func readPublicKey(t *testing.T, file string) *rsa.PublicKey {
	b, _ := os.ReadFile(file)
	pk, _ := jsonparser.GetString(b, "private_key")
	blk, _ := pem.Decode([]byte(pk))
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &key.(*rsa.PrivateKey).PublicKey
}
