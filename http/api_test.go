package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/authz"
)

// TestOpenAPI checks the OpenAPI document against the router both ways:
// every /api/v1 route is documented, every documented route is served.
func TestOpenAPI(t *testing.T) {
	f := newFixture(t)
	w := f.as("").get("/api/v1/openapi.json")
	mustStatus(t, w, 200, "openapi.json")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Servers []struct{ URL string }                `json:"servers"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Fatalf("openapi %q servers %+v", doc.OpenAPI, doc.Servers)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range f.srv.routes() {
		if p, ok := strings.CutPrefix(rt.Path, "/api/v1"); ok {
			served[rt.Method+" "+p] = true
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not documented: %v\ndocumented routes not served: %v", missing, extra)
	}
	t.Logf("%d API operations documented and served", len(served))
}

func bearer(f *fixture, method, path, tok, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// TestTokens: personal tokens are made once, hashed at rest, scoped,
// expire, and can be revoked; identity comes from the token.
func TestTokens(t *testing.T) {
	f := newFixture(t)
	emp := f.as("emp@acme.test")
	mk := func(scopes string) string {
		w := emp.post("/api/v1/tokens", "name", "laptop script "+scopes, "scopes", scopes, "days", "7")
		mustStatus(t, w, 200, "create token")
		var out struct {
			Token string `json:"token"`
		}
		json.Unmarshal(w.Body.Bytes(), &out)
		if !strings.HasPrefix(out.Token, authz.TokenPrefix) {
			t.Fatalf("token %q", out.Token)
		}
		return out.Token
	}
	read, write := mk("read"), mk("read write")
	// Hashed at rest: the database file does not contain the token.
	raw, _ := os.ReadFile(f.db.Path())
	wal, _ := os.ReadFile(f.db.Path() + "-wal")
	if strings.Contains(string(raw)+string(wal), strings.TrimPrefix(read, authz.TokenPrefix)) {
		t.Fatal("the token is stored in clear")
	}
	w := bearer(f, "GET", "/api/v1/me", read, "")
	mustStatus(t, w, 200, "GET /api/v1/me with a read token")
	if !strings.Contains(w.Body.String(), "emp@acme.test") {
		t.Fatal("the token does not act as its owner")
	}
	claim := fmt.Sprintf("/api/v1/findings/%d/claim", f.ids["finding.emp"])
	mustStatus(t, bearer(f, "POST", claim, read, `{"note":"x"}`), http.StatusForbidden, "claim with a read token")
	mustStatus(t, bearer(f, "POST", claim, write, `{"note":"patched"}`), 200, "claim with a write token")
	mustStatus(t, bearer(f, "POST", "/api/v1/tokens", write, `{"name":"more"}`), http.StatusForbidden, "a token making tokens")
	mustStatus(t, bearer(f, "GET", "/api/v1/me", "onus_forged", ""), http.StatusUnauthorized, "unknown token")

	toks, _ := f.db.Tokens(context.Background(), "emp@acme.test")
	mustStatus(t, emp.post(fmt.Sprintf("/api/v1/tokens/%d/revoke", toks[0].ID)), 200, "revoke")
	mustStatus(t, bearer(f, "GET", "/api/v1/me", read, ""), http.StatusUnauthorized, "revoked token")

	// Expired: a token made for a minute, used later.
	tok, _, err := authz.MakeToken(context.Background(), f.db, "emp@acme.test", "short", []string{"read"}, "", time.Minute, time.Now().Add(-2*time.Minute), "test")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, bearer(f, "GET", "/api/v1/me", tok, ""), http.StatusUnauthorized, "expired token")

	// A service token with the auditor role reads everything, changes nothing.
	svc, _, err := authz.MakeToken(context.Background(), f.db, "service:siem", "siem", []string{"read", "write"}, "auditor", time.Hour, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	w = bearer(f, "GET", "/api/v1/findings", svc, "")
	mustStatus(t, w, 200, "service token findings")
	if !strings.Contains(w.Body.String(), canaryFinding) {
		t.Fatal("an auditor service token does not see every finding")
	}
	mustStatus(t, bearer(f, "POST", fmt.Sprintf("/api/v1/outbox/%d/resend", f.ids["outbox.outsider"]), svc, ""), http.StatusForbidden, "auditor token resends")
}

// TestOperations: health, readiness and metrics.
func TestOperations(t *testing.T) {
	f := newFixture(t)
	anon := f.as("")
	mustStatus(t, anon.get("/healthz"), 200, "healthz")
	mustStatus(t, anon.get("/readyz"), 200, "readyz")
	f.as("emp@acme.test").get("/me")
	w := anon.get("/metrics")
	mustStatus(t, w, 200, "metrics")
	for _, want := range []string{
		`onus_http_request_duration_seconds_count{code="OK",route="GET /me"} 1`,
		`onus_findings{severity="high",state="open"} 5`,
		`onus_outbox_messages{status="uncertain"} 1`,
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	f.db.Close()
	mustStatus(t, anon.get("/readyz"), http.StatusServiceUnavailable, "readyz with the store closed")
}
