package http

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/store"
)

// testNow is the business time of the fixtures.
var testNow = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// Canaries are strings only the objects of the outsider carry: a role
// that must not see those objects must never receive one of them.
const (
	canaryFinding   = "CANARY-FINDING-7f3a"
	canaryReason    = "CANARY-REASON-91bd"
	canarySubject   = "CANARY-SUBJECT-c2e0"
	canaryAudit     = "CANARY-AUDIT-4d18"
	canaryToken     = "CANARY-TOKEN-a55e"
	canaryTeammate  = "CANARY-TEAMMATE-0b9c"
	canarySession   = "CANARY-SESSION-e61f"
	canaryLink      = "CANARY-LINK-3c72"
	outsider        = "outsider@acme.test"
	outsiderManager = "othermgr@acme.test"
)

// fixture is a small organisation in a real SQLite store:
//
//	ceo ── mgr ── emp, emp2
//	    └─ othermgr ── outsider
//	acct is Accountable for "patching"; admin and auditor are staff.
type fixture struct {
	t      testing.TB
	db     *store.DB
	cfg    *config.Config
	srv    *Server
	h      http.Handler
	ids    map[string]int64 // named objects: "finding.emp", "finding.outsider", "exception.outsider", …
	people []*raci.Person
}

func testConfig() *config.Config {
	return &config.Config{
		Dir:     ".",
		Sources: []*config.Source{{Name: "hr", Kind: "person"}, {Name: "mdm", Kind: "device"}},
		Controls: []*config.Control{
			{ID: "patch", Title: "Laptops are patched", Activity: "patching", Severity: "high", Why: "Unpatched laptops are how attackers get in.", Fix: "Update {{.Entity.Name}} from Self Service.",
				Kind: "device", Scope: config.Expr{Src: "true", Line: 1, Col: 1}, Check: config.Expr{Src: `"mdm" in entity.sources`, Line: 1, Col: 1}},
			{ID: "disk", Title: "Disks are encrypted", Activity: "patching", Severity: "medium", Fix: "Turn on FileVault."},
		},
		RACI: &config.RACI{Activities: []*config.Activity{
			{ID: "patching", Title: "Keep laptops patched", R: []string{"asset-owner"}, A: []string{"acct@acme.test"}, I: []string{"ceo@acme.test"}},
		}},
		Serve: config.Serve{Admins: []string{"admin@acme.test"}, Auditors: []string{"auditor@acme.test"}},
	}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, db: db, cfg: testConfig(), ids: map[string]int64{}}
	person := func(email, name, manager, team string) *raci.Person {
		return &raci.Person{Email: email, Name: name, Entity: "person:" + email, Status: raci.Active, Manager: manager, Team: team, TimeZone: "Europe/Berlin"}
	}
	f.people = []*raci.Person{
		person("ceo@acme.test", "Cee Oh", "", "Board"),
		person("mgr@acme.test", "Manny Ger", "ceo@acme.test", "Engineering"),
		person("emp@acme.test", "Emma Ployee", "mgr@acme.test", "Engineering"),
		person("emp2@acme.test", "Ed Ployee", "mgr@acme.test", "Engineering"),
		person(outsiderManager, "Otto Manager", "ceo@acme.test", "Sales"),
		person(outsider, canaryTeammate, outsiderManager, "Sales"),
		person("acct@acme.test", "Ada Countable", "ceo@acme.test", "IT"),
		person("admin@acme.test", "Addie Min", "ceo@acme.test", "Security"),
		person("auditor@acme.test", "Audrey Tor", "ceo@acme.test", "Legal"),
		{Email: "gone@acme.test", Name: "Gone Person", Entity: "person:gone", Status: raci.Departed, Manager: "mgr@acme.test"},
	}
	assets := []onus.Asset{{Person: "emp@acme.test", Entity: "device:emp", Kind: "device", Name: "MBP-EMMA", Link: "owner"},
		{Person: outsider, Entity: "device:out", Kind: "device", Name: canaryFinding, Link: "owner"}}
	if err := db.ReplaceDirectory(ctx, f.people, assets); err != nil {
		t.Fatal(err)
	}
	run, err := db.BeginRun(ctx, "eval", "test", testNow)
	if err != nil {
		t.Fatal(err)
	}
	find := func(key, control, name, owner, acct string, due time.Duration) onus.FindingChange {
		return onus.FindingChange{New: true, Finding: onus.Finding{Control: control, Entity: "device:" + key, EntityKind: "device", EntityName: name,
			Severity: onus.High, State: onus.StateOpen, Responsible: onus.Person{Email: owner, Name: owner},
			Accountable: onus.Person{Email: acct, Name: acct}, OwnerReason: "owner of the device",
			FirstFailed: testNow.Add(-10 * 24 * time.Hour), LastFailed: testNow, Due: testNow.Add(due), UpdatedAt: testNow,
			Evidence: []onus.Evidence{{Path: "sources.mdm.patched", Value: "false"}}},
			Events: []onus.Event{{At: testNow, Type: "opened"}}}
	}
	changes := []onus.FindingChange{
		find("emp", "patch", "MBP-EMMA", "emp@acme.test", "acct@acme.test", 3*24*time.Hour),
		find("emp-disk", "disk", "MBP-EMMA disk", "emp@acme.test", "acct@acme.test", -2*24*time.Hour),
		find("emp2", "patch", "MBP-ED", "emp2@acme.test", "acct@acme.test", 5*24*time.Hour),
		find("out", "patch", canaryFinding, outsider, "otheracct@acme.test", 1*24*time.Hour),
		find("mgr", "patch", "MBP-MANNY", "mgr@acme.test", "acct@acme.test", 9*24*time.Hour),
	}
	if err := db.ApplyChanges(ctx, run, changes, []onus.ControlStat{{Control: "patch", Pass: 10, Fail: 4}}, -1); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishRun(ctx, run, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ key, entity string }{{"finding.emp", "device:emp"}, {"finding.emp.disk", "device:emp-disk"}, {"finding.emp2", "device:emp2"}, {"finding.outsider", "device:out"}, {"finding.mgr", "device:mgr"}} {
		fs, err := db.Findings(ctx, onus.FindingFilter{Entity: c.entity})
		if err != nil || len(fs) != 1 {
			t.Fatalf("finding %s: %v", c.entity, err)
		}
		f.ids[c.key] = fs[0].ID
	}
	x := &onus.Exception{Control: "patch", Finding: f.ids["finding.outsider"], Entity: "device:out", Severity: onus.High, Reason: canaryReason,
		Requester: outsider, RequestedAt: testNow, Expires: testNow.Add(30 * 24 * time.Hour)}
	if err := db.CreateException(ctx, x); err != nil {
		t.Fatal(err)
	}
	f.ids["exception.outsider"] = x.ID
	if _, _, err := db.Enqueue(ctx, []*onus.OutboxMessage{{Key: "k-out", Recipient: outsider, Channel: "email", Kind: "digest", Subject: canarySubject,
		Text: canarySubject, Items: map[int64]string{f.ids["finding.outsider"]: "first"}, NotBefore: testNow, Status: onus.OutboxUncertain, NextTry: testNow, CreatedAt: testNow}}); err != nil {
		t.Fatal(err)
	}
	// Claimed, then the dispatcher "crashes" while sending: uncertain.
	hold := onus.Lease{Holder: "test:1:crashed", Now: time.Now(), For: time.Minute}
	m, err := db.Claim(ctx, time.Now(), hold)
	if err != nil || m == nil {
		t.Fatalf("outbox claim: %v", err)
	}
	if err := db.MarkSending(ctx, m.ID, hold); err != nil {
		t.Fatal(err)
	}
	if rec, err := db.Recover(ctx, time.Now().Add(time.Hour), nil, func(string) bool { return false }); err != nil || rec.Uncertain != 1 {
		t.Fatalf("outbox recover: %+v, %v", rec, err)
	}
	f.ids["outbox.outsider"] = m.ID
	if err := db.Audit(ctx, outsider, "test.action", "finding", canaryAudit); err != nil {
		t.Fatal(err)
	}
	_, tok, err := authz.MakeToken(ctx, db, outsider, canaryToken, []string{"read", "write"}, "", 24*time.Hour, time.Now(), outsider)
	if err != nil {
		t.Fatal(err)
	}
	f.ids["token.outsider"] = tok.ID
	f.outsiderSession()
	if err := db.SetManualLink(ctx, store.ManualLink{A: "device:emp", B: "device:out", Linked: false, Actor: "admin@acme.test", Reason: canaryLink}); err != nil {
		t.Fatal(err)
	}
	f.srv = f.server(Options{DemoSignIn: true})
	f.h = f.srv.Handler()
	return f
}

func (f *fixture) server(opt Options) *Server {
	f.t.Helper()
	if opt.RefsExist == nil {
		opt.RefsExist = refsExist
	}
	az := authz.New(f.db, f.cfg, onus.FixedClock(testNow))
	s, err := New(context.Background(), az, slog.New(slog.DiscardHandler), onus.ClockFunc(time.Now), opt)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// outsiderSession signs the outsider in from a browser whose name is a
// canary, and returns the session's handle.
func (f *fixture) outsiderSession() string {
	f.t.Helper()
	now := time.Now()
	se := &store.Session{ID: authz.HashToken(authz.NewSecret()), Email: outsider, Method: "oidc", CSRF: authz.NewSecret(),
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), IP: "192.0.2.7", UserAgent: canarySession}
	if err := f.db.CreateSession(context.Background(), se); err != nil {
		f.t.Fatal(err)
	}
	return se.Handle()
}

// refsExist accepts the fixture's devices as references for links.
func refsExist(_ context.Context, refs ...string) error {
	for _, r := range refs {
		if !strings.HasPrefix(r, "device:") {
			return onus.Errorf(onus.ENOTFOUND, "%s names no record or entity", r)
		}
	}
	return nil
}

// session signs someone in directly in the store and returns the cookie
// value and the CSRF token.
func (f *fixture) session(email, method string) (string, string) {
	f.t.Helper()
	secret, csrf := authz.NewSecret(), authz.NewSecret()
	now := time.Now()
	if err := f.db.CreateSession(context.Background(), &store.Session{ID: authz.HashToken(secret), Email: email, Method: method, CSRF: csrf,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		f.t.Fatal(err)
	}
	return secret, csrf
}

// client does requests as one signed-in person (or nobody).
type client struct {
	f            *fixture
	cookie, csrf string
}

func (f *fixture) as(email string) *client {
	if email == "" {
		return &client{f: f}
	}
	if strings.HasPrefix(email, "break-glass:") {
		c, x := f.session(email, "break-glass")
		return &client{f: f, cookie: c, csrf: x}
	}
	c, x := f.session(email, "demo")
	return &client{f: f, cookie: c, csrf: x}
}

func (c *client) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil || method == "POST" {
		if form == nil {
			form = url.Values{}
		}
		if c.csrf != "" {
			form.Set("csrf", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: c.f.srv.cookieName(), Value: c.cookie})
	}
	w := httptest.NewRecorder()
	c.f.h.ServeHTTP(w, r)
	return w
}

func (c *client) get(path string) *httptest.ResponseRecorder { return c.do("GET", path, nil) }

func (c *client) post(path string, kv ...string) *httptest.ResponseRecorder {
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return c.do("POST", path, form)
}

func mustStatus(t testing.TB, w *httptest.ResponseRecorder, want int, what string) {
	t.Helper()
	if w.Code != want {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, w.Code, want, clipBody(w.Body.String()))
	}
}

func clipBody(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

var _ = fmt.Sprint
