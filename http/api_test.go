package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
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
	// /metrics counts the whole organisation: no session and no person's
	// token reads it, only a service token with the metrics scope.
	mustStatus(t, anon.get("/metrics"), http.StatusUnauthorized, "metrics without a token")
	mustStatus(t, f.as("admin@acme.test").get("/metrics"), http.StatusUnauthorized, "metrics with an administrator's session")
	ctx := context.Background()
	read, _, err := authz.MakeToken(ctx, f.db, "admin@acme.test", "admin's", []string{"read", "write"}, "", time.Hour, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, bearer(f, "GET", "/metrics", read, ""), http.StatusForbidden, "metrics with a read token")
	if _, _, err := authz.MakeToken(ctx, f.db, "emp@acme.test", "mine", []string{"metrics"}, "", time.Hour, time.Now(), "test"); err == nil {
		t.Error("a personal token got the metrics scope")
	}
	scrape, _, err := authz.MakeToken(ctx, f.db, "service:prometheus", "prometheus", []string{"metrics"}, "", time.Hour, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, bearer(f, "GET", "/api/v1/me", scrape, ""), http.StatusForbidden, "a metrics token on the API")
	mustStatus(t, bearer(f, "GET", "/api/v1/findings", scrape, ""), http.StatusForbidden, "a metrics token on the API")
	w := bearer(f, "GET", "/metrics", scrape, "")
	mustStatus(t, w, 200, "metrics")
	// The separate listener's handler needs no token.
	sep := httptest.NewRecorder()
	f.srv.MetricsHandler().ServeHTTP(sep, httptest.NewRequest("GET", "/metrics", nil))
	mustStatus(t, sep, 200, "metrics on the separate listener")
	for _, want := range []string{
		`onus_http_request_duration_seconds_count{code="OK",route="GET /me"} 1`,
		`onus_findings{severity="high",state="open"} 5`,
		`onus_outbox_messages{status="uncertain"} 1`,
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
		if !strings.Contains(sep.Body.String(), want) {
			t.Errorf("metrics on the separate listener lack %s", want)
		}
	}
	f.db.Close()
	mustStatus(t, anon.get("/readyz"), http.StatusServiceUnavailable, "readyz with the store closed")
}

// TestTokenRateLimit: token use beyond the limit is answered 429 with
// Retry-After, per client address, in this process.
func TestTokenRateLimit(t *testing.T) {
	f := newFixture(t)
	f.cfg.Serve.RateLimits = &config.RateLimits{Token: 5} // serve.rate_limits.token_per_minute
	f.srv = f.server(Options{DemoSignIn: true})
	f.h = f.srv.Handler()
	tok, _, err := authz.MakeToken(context.Background(), f.db, "emp@acme.test", "t", []string{"read"}, "", time.Hour, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	var last *httptest.ResponseRecorder
	for range 7 {
		last = bearer(f, "GET", "/api/v1/me", tok, "")
		codes = append(codes, last.Code)
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 429 429]" {
		t.Fatalf("statuses %v, want five 200 then 429", codes)
	}
	ra, err := strconv.Atoi(last.Header().Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q, want 1-60 seconds", last.Header().Get("Retry-After"))
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(last.Body.Bytes(), &e); err != nil || e.Error.Code != "rate_limited" {
		t.Fatalf("429 body: %s", last.Body.String())
	}
	// A forged token counts too: guessing is limited like using.
	mustStatus(t, bearer(f, "GET", "/api/v1/me", "onus_guess", ""), http.StatusTooManyRequests, "a guessed token past the limit")
	// Sessions are not token use.
	mustStatus(t, f.as("emp@acme.test").get("/api/v1/me"), 200, "a session past the token limit")
}

// An API call no route takes gets a JSON error like every other API
// error: 405 with the methods its path takes, or 404; never the router's
// plain text.
func TestAPINoRoute(t *testing.T) {
	f := newFixture(t)
	w := f.as("emp@acme.test").post("/api/v1/tokens", "name", "script", "scopes", "read write", "days", "7")
	mustStatus(t, w, 200, "create token")
	var out struct{ Token string }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	tok := out.Token
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"DELETE", "/api/v1/findings", http.StatusMethodNotAllowed, "method_not_allowed", "GET"},
		{"GET", "/api/v1/tokens/1/revoke", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"GET", "/api/v1/no-such-thing", http.StatusNotFound, "not_found", ""},
		{"POST", "/api/v2/findings", http.StatusNotFound, "not_found", ""},
	} {
		w := bearer(f, tc.method, tc.path, tok, "")
		mustStatus(t, w, tc.status, tc.method+" "+tc.path)
		var body struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%s %s: body %q (%v), want a JSON error with code %q", tc.method, tc.path, w.Body.String(), err, tc.code)
		}
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: content type %q", tc.method, tc.path, ct)
		}
	}
}

// An empty list is [] in the API, never null.
func TestAPIEmptyListIsArray(t *testing.T) {
	f := newFixture(t)
	w := f.as("emp@acme.test").get("/api/v1/outbox?status=uncertain")
	mustStatus(t, w, 200, "outbox")
	if got := strings.TrimSpace(w.Body.String()); !strings.Contains(got, `"messages": []`) && !strings.Contains(got, `"messages":[]`) {
		t.Errorf("an empty outbox is %s, want \"messages\": []", got)
	}
}
