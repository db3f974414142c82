package http

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/oauth2"

	"github.com/onus-sec/onus/config"
)

// idp is a real OpenID Provider (zitadel/oidc's op package, with the
// in-memory storage and login page of its example server) started in the
// test, and an onus server that signs in through it.
type idp struct {
	issuer string
	onus   *httptest.Server
	f      *fixture
}

// idpUsers are the provider's accounts: a person of the directory (with
// an alias-domain address), someone who left, and a stranger.
var idpUsers = map[string]*storage.User{
	"u-emp":      {ID: "u-emp", Username: "emma", Password: "pw-emma", Email: "EMP+sso@acme-alias.test", EmailVerified: true},
	"u-acct":     {ID: "u-acct", Username: "ada", Password: "pw-ada", Email: "acct@acme.test", EmailVerified: true},
	"u-gone":     {ID: "u-gone", Username: "gone", Password: "pw-gone", Email: "gone@acme.test", EmailVerified: true},
	"u-stranger": {ID: "u-stranger", Username: "stranger", Password: "pw-stranger", Email: "stranger@elsewhere.test", EmailVerified: true},
}

func startIDP(t testing.TB, f *fixture) *idp {
	t.Helper()
	// The example provider logs every request through the default logger.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	// onus's address must be known before the provider registers its
	// redirect URI.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	onusURL := "http://" + ln.Addr().String()
	users, err := json.Marshal(idpUsers)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(file, users, 0o600); err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*storage.Client{
		"onus":  storage.WebClient("onus", "onus-secret", onusURL+"/auth/callback"),
		"other": storage.WebClient("other", "other-secret", onusURL+"/auth/callback"),
	}
	opLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + opLn.Addr().String()
	opSrv := &httptest.Server{Listener: opLn, Config: &http.Server{Handler: exampleop.SetupServer(issuer, storage.NewStorageWithClients(us, clients), nil, false)}}
	opSrv.Start()
	t.Cleanup(opSrv.Close)

	f.cfg.Identity.EmailAliases = map[string]string{"acme-alias.test": "acme.test"}
	f.cfg.Identity.StripPlus = true
	f.cfg.Serve.URL = onusURL
	f.cfg.Serve.OIDC = &config.OIDC{Issuer: issuer, ClientID: "onus", ClientSecret: "env:UNUSED"}
	f.srv = f.server(Options{OIDCClientSecret: "onus-secret"})
	f.h = f.srv.Handler()
	on := &httptest.Server{Listener: ln, Config: &http.Server{Handler: f.h}}
	on.Start()
	t.Cleanup(on.Close)
	return &idp{issuer: issuer, onus: on, f: f}
}

// browser is an HTTP client with cookies that follows redirects.
func browser(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// login starts a sign-in at onus and submits the provider's login form;
// it stops before following the provider's redirect to onus's callback,
// and returns that callback URL.
func (p *idp) login(t testing.TB, c *http.Client, user, password string) *url.URL {
	t.Helper()
	var callback *url.URL
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), p.onus.URL+"/auth/callback") {
			callback = r.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	defer func() { c.CheckRedirect = nil }()
	res, err := c.Get(p.onus.URL + "/auth/login?next=/me")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(page), `name="password"`) {
		t.Fatalf("no login form from the provider (%d): %s", res.StatusCode, clipBody(string(page)))
	}
	id := res.Request.URL.Query().Get("authRequestID")
	res, err = c.PostForm(p.issuer+"/login/username", url.Values{"username": {user}, "password": {password}, "id": {id}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if callback == nil {
		t.Fatalf("the provider did not send the browser back to onus (status %d at %s)", res.StatusCode, res.Request.URL)
	}
	return callback
}

func get(t testing.TB, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestOIDCSignIn signs in through a real OpenID Provider: the
// authorization code flow with PKCE, the ID token verified, the e-mail
// (an alias, with a plus tag) matched to the directory.
func TestOIDCSignIn(t *testing.T) {
	p := startIDP(t, newFixture(t))
	c := browser(t)
	cb := p.login(t, c, "emma", "pw-emma")
	if cb.Query().Get("code") == "" || cb.Query().Get("state") == "" {
		t.Fatalf("callback without code or state: %s", cb)
	}
	status, body := get(t, c, cb.String())
	if status != 200 || !strings.Contains(body, "Emma Ployee") || !strings.Contains(body, "MBP-EMMA") {
		t.Fatalf("after sign-in: %d\n%s", status, clipBody(body))
	}
	// The code is single-use: replaying the callback does not sign in again.
	c2 := browser(t)
	status, body = get(t, c2, cb.String())
	if status != http.StatusBadRequest || !strings.Contains(body, "state mismatch") {
		t.Fatalf("replayed callback in another browser: %d %s", status, clipBody(body))
	}
	log, _ := p.f.db.AuditLog(context.Background(), 5)
	if len(log) == 0 || log[0].Action != "signin.oidc" || log[0].Actor != "emp@acme.test" {
		t.Fatalf("sign-in not audited: %+v", log)
	}
}

// TestOIDCRefusals: an unknown person, someone who left, a tampered
// state, and ID tokens with the wrong audience, a bad nonce or past their
// expiry are all refused.
func TestOIDCRefusals(t *testing.T) {
	p := startIDP(t, newFixture(t))
	for _, tc := range []struct{ user, pw, want string }{
		{"stranger", "pw-stranger", "is not in the HR directory"},
		{"gone", "pw-gone", "has left the organisation"},
	} {
		c := browser(t)
		cb := p.login(t, c, tc.user, tc.pw)
		status, body := get(t, c, cb.String())
		if status != http.StatusForbidden || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want 403 with %q:\n%s", tc.user, status, tc.want, clipBody(body))
		}
		if status, _ := get(t, c, p.onus.URL+"/api/v1/me"); status != http.StatusUnauthorized {
			t.Errorf("%s: signed in after a refusal (%d)", tc.user, status)
		}
	}

	t.Run("bad state", func(t *testing.T) {
		c := browser(t)
		cb := p.login(t, c, "emma", "pw-emma")
		q := cb.Query()
		q.Set("state", "forged"+q.Get("state"))
		cb.RawQuery = q.Encode()
		status, body := get(t, c, cb.String())
		if status != http.StatusBadRequest || !strings.Contains(body, "state mismatch") {
			t.Fatalf("forged state: %d %s", status, clipBody(body))
		}
	})

	// A real ID token, obtained as onus would, checked against the wrong
	// audience, nonce and time.
	c := browser(t)
	cb := p.login(t, c, "emma", "pw-emma")
	var cookie string
	for _, ck := range c.Jar.Cookies(cb) {
		if ck.Name == oidcCookie {
			cookie = ck.Value
		}
	}
	parts := strings.SplitN(cookie, ".", 4)
	if len(parts) != 4 {
		t.Fatalf("no sign-in cookie: %q", cookie)
	}
	nonce, verifier := parts[1], parts[2]
	oc := p.f.srv.oidc
	tok, err := oc.oauth.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no ID token")
	}
	now := time.Now
	if _, err := oc.verify(context.Background(), raw, nonce, now); err != nil {
		t.Fatalf("the genuine token does not verify: %v", err)
	}
	other := *oc
	other.clientID = "other"
	for _, tc := range []struct {
		name   string
		client *oidcClient
		nonce  string
		now    func() time.Time
		want   string
	}{
		{"wrong audience", &other, nonce, now, "audience"},
		{"bad nonce", oc, "not-" + nonce, now, "nonce mismatch"},
		{"no nonce", oc, "", now, "nonce mismatch"},
		{"expired", oc, nonce, func() time.Time { return time.Now().Add(3 * time.Hour) }, "expired"},
		{"tampered", oc, nonce, now, "did not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokRaw := raw
			if tc.name == "tampered" {
				seg := strings.Split(raw, ".")
				seg[1] = seg[1][:len(seg[1])-2] + "AA"
				tokRaw = strings.Join(seg, ".")
			}
			_, err := tc.client.verify(context.Background(), tokRaw, tc.nonce, tc.now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestSignInRateLimit: an address gets a few sign-in attempts a minute.
func TestSignInRateLimit(t *testing.T) {
	p := startIDP(t, newFixture(t))
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	limited := 0
	for range 15 {
		resp, err := c.Get(p.onus.URL + "/auth/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Fatalf("429 with Retry-After %q, want 1-60 seconds", resp.Header.Get("Retry-After"))
			}
		}
	}
	if limited != 5 {
		t.Fatalf("%d of 15 attempts refused, want 5 (10 a minute)", limited)
	}
}
