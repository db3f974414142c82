package http

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// TestMyPage: my open items soonest due first (the overdue one first),
// with why, the fix steps and the due date in my time zone; my assets;
// my roles; nobody else's items.
func TestMyPage(t *testing.T) {
	f := newFixture(t)
	w := f.as("emp@acme.test").get("/me")
	mustStatus(t, w, 200, "GET /me")
	body := w.Body.String()
	disk, patch := strings.Index(body, "MBP-EMMA disk"), strings.Index(body, ">MBP-EMMA<")
	if disk < 0 || patch < 0 || disk > patch {
		t.Fatalf("want the overdue disk item before the patch item (disk at %d, patch at %d)", disk, patch)
	}
	for _, want := range []string{
		"Unpatched laptops are how attackers get in.", // why
		"Update MBP-EMMA from Self Service.",          // fix steps, rendered
		"Thu 3 Dec 2026, 10:00 CET",                   // due in Europe/Berlin
		"overdue since",
		"Keep laptops patched", // role R as asset owner
	} {
		if !strings.Contains(body, want) {
			t.Errorf("My page lacks %q", want)
		}
	}
	if strings.Contains(body, "MBP-ED") {
		t.Error("My page shows a colleague's item")
	}
}

// TestClaimRequestApprove walks the employee and Accountable flow: claim a
// fix (recorded in history and the audit log), ask for an exception, see
// that the requester cannot approve it, the Accountable person approves,
// and the finding is exempted.
func TestClaimRequestApprove(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	emp, acct := f.as("emp@acme.test"), f.as("acct@acme.test")
	id := f.ids["finding.emp"]

	w := emp.post(fmt.Sprintf("/findings/%d/claim", id), "note", "updated this morning")
	mustStatus(t, w, http.StatusSeeOther, "claim")
	w = emp.get(fmt.Sprintf("/findings/%d", id))
	if !strings.Contains(w.Body.String(), "Fix claimed, awaiting verification") || !strings.Contains(w.Body.String(), "fix_claimed") {
		t.Fatalf("the finding does not show the claim:\n%s", clipBody(w.Body.String()))
	}
	// Someone else cannot claim it.
	mustStatus(t, f.as("emp2@acme.test").post(fmt.Sprintf("/findings/%d/claim", id)), http.StatusNotFound, "claim by a colleague")
	mustStatus(t, f.as("mgr@acme.test").post(fmt.Sprintf("/findings/%d/claim", id)), http.StatusForbidden, "claim by the manager")

	// Too long an exception is refused with the policy's limit.
	w = emp.post(fmt.Sprintf("/findings/%d/exception", id), "reason", "waiting for a new laptop", "expires", "2027-12-31")
	mustStatus(t, w, http.StatusBadRequest, "a year-long exception for a high finding")
	if !strings.Contains(w.Body.String(), "at most") {
		t.Fatalf("the refusal does not say the limit: %s", clipBody(w.Body.String()))
	}
	w = emp.post(fmt.Sprintf("/findings/%d/exception", id), "reason", "waiting for a new laptop", "expires", "2026-12-20")
	mustStatus(t, w, http.StatusSeeOther, "request exception")
	xs, err := f.db.Exceptions(ctx, onus.ExceptionFilter{Finding: id})
	if err != nil || len(xs) != 1 {
		t.Fatalf("exceptions: %v %v", xs, err)
	}
	x := xs[0]
	// The requester may not approve their own request.
	mustStatus(t, emp.post(fmt.Sprintf("/exceptions/%d/approve", x.ID)), http.StatusForbidden, "approve own request")
	// The Accountable person sees it and approves it.
	w = acct.get("/approvals")
	if !strings.Contains(w.Body.String(), "waiting for a new laptop") {
		t.Fatalf("the approval is not listed for the Accountable person:\n%s", clipBody(w.Body.String()))
	}
	mustStatus(t, acct.post(fmt.Sprintf("/exceptions/%d/approve", x.ID), "note", "ok until the swap"), http.StatusSeeOther, "approve")
	fd, _ := f.db.Finding(ctx, id)
	if fd.State != onus.StateExempted {
		t.Fatalf("finding is %s after approval, want exempted", fd.State)
	}
	if !strings.Contains(emp.get("/me").Body.String(), "exempted") {
		t.Fatal("My page does not show the finding exempted")
	}
	// The summaries followed: the team page and the dashboard count it.
	if err := f.db.CheckSummaries(ctx); err != nil {
		t.Error(err)
	}
	var team struct {
		People []struct {
			Email    string `json:"email"`
			Exempted int    `json:"exempted"`
		} `json:"people"`
	}
	if err := json.Unmarshal(f.as("mgr@acme.test").get("/api/v1/team").Body.Bytes(), &team); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(team.People), "{emp@acme.test 1}") {
		t.Errorf("the team page does not count the exemption: %+v", team.People)
	}
	var dash struct{ Exempted int }
	if err := json.Unmarshal(f.as("admin@acme.test").get("/api/v1/dashboard").Body.Bytes(), &dash); err != nil || dash.Exempted != 1 {
		t.Errorf("the dashboard counts %d exempted, want 1 (%v)", dash.Exempted, err)
	}
	// The requester may ask to extend it and withdraw it; the Accountable
	// person may revoke it but not ask for longer; a colleague sees nothing.
	xpage := fmt.Sprintf("/exceptions/%d", x.ID)
	if b := emp.get(xpage).Body.String(); !strings.Contains(b, `id="extend"`) || !strings.Contains(b, `id="revoke"`) {
		t.Fatalf("the requester's exception page lacks extend or revoke:\n%s", clipBody(b))
	}
	if b := acct.get(xpage).Body.String(); strings.Contains(b, `id="extend"`) || !strings.Contains(b, `id="revoke"`) {
		t.Fatalf("the Accountable person's exception page: extend shown, or revoke missing:\n%s", clipBody(b))
	}
	mustStatus(t, f.as("emp2@acme.test").get(xpage), http.StatusNotFound, "a colleague's exception")
	mustStatus(t, acct.post(xpage+"/extend", "expires", "2026-12-24"), http.StatusForbidden, "the Accountable person asking for longer")
	mustStatus(t, emp.post(xpage+"/extend", "expires", "2026-12-24", "reason", "the swap is late"), http.StatusSeeOther, "extend")
	if xs, _ := f.db.Exceptions(ctx, onus.ExceptionFilter{Finding: id}); len(xs) != 2 {
		t.Fatalf("after asking to extend: %d exceptions, want 2", len(xs))
	}
	mustStatus(t, f.as("mgr@acme.test").post(xpage+"/revoke"), http.StatusForbidden, "the requester's manager revoking")
	mustStatus(t, acct.post(xpage+"/revoke", "note", "swapped early"), http.StatusSeeOther, "revoke")
	if fd, _ := f.db.Finding(ctx, id); fd.State != onus.StateOpen {
		t.Fatalf("finding is %s after its exception was revoked, want open", fd.State)
	}
	log, _ := f.db.AuditLog(ctx, 20)
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	for _, want := range []string{"emp@acme.test finding.claim_fix", "emp@acme.test exception.requested", "acct@acme.test exception.approved", "acct@acme.test exception.revoked"} {
		if !strings.Contains(strings.Join(actions, "\n"), want) {
			t.Errorf("audit log lacks %q:\n%s", want, strings.Join(actions, "\n"))
		}
	}
}

// TestScopeExceptionForm: the controls page offers the scope request to
// those who hold a role in the control's activity, and the form asks.
func TestScopeExceptionForm(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acct, emp := f.as("acct@acme.test"), f.as("emp@acme.test")
	if !strings.Contains(acct.get("/controls").Body.String(), `action="/exceptions"`) {
		t.Fatal("the Accountable person of patching is not offered a scope request")
	}
	if strings.Contains(emp.get("/controls").Body.String(), `action="/exceptions"`) {
		t.Fatal("an employee without a role in the activity is offered a scope request")
	}
	form := []string{"control", "patch", "scope", `entity.name.startsWith("MBP-")`, "reason", "fleet swap in December", "expires", "2026-12-20"}
	mustStatus(t, emp.post("/exceptions", form...), http.StatusForbidden, "an employee asking for a scope exception")
	w := acct.post("/exceptions", form...)
	mustStatus(t, w, http.StatusSeeOther, "the Accountable person asking for a scope exception")
	xs, _ := f.db.Exceptions(ctx, onus.ExceptionFilter{})
	var got *onus.Exception
	for _, x := range xs {
		if x.Scope != "" {
			got = x
		}
	}
	if got == nil || got.Requester != "acct@acme.test" || got.State != onus.ExceptionRequested || w.Header().Get("Location") != fmt.Sprintf("/exceptions/%d?done=requested", got.ID) {
		t.Fatalf("scope exception %+v, redirected to %s", got, w.Header().Get("Location"))
	}
	// Nobody decides their own: the requester is the Accountable person here.
	mustStatus(t, acct.post(fmt.Sprintf("/exceptions/%d/approve", got.ID)), http.StatusForbidden, "approving one's own scope request")
	mustStatus(t, acct.post("/exceptions", "control", "patch", "scope", "entity.nope(", "reason", "r", "expires", "2026-12-20"), http.StatusBadRequest, "a scope that does not compile")
}

// TestCSRF: a state change without the session's token, or from another
// site, is refused and changes nothing.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	emp := f.as("emp@acme.test")
	path := fmt.Sprintf("/findings/%d/claim", f.ids["finding.emp"])
	for name, mod := range map[string]func(*http.Request){
		"no token":    func(r *http.Request) {},
		"wrong token": func(r *http.Request) { r.Header.Set("X-CSRF-Token", "nope") },
		"cross-site": func(r *http.Request) {
			r.Header.Set("X-CSRF-Token", emp.csrf)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		},
	} {
		r := httptest.NewRequest("POST", path, strings.NewReader(""))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.AddCookie(&http.Cookie{Name: f.srv.cookieName(), Value: emp.cookie})
		mod(r)
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, w.Code)
		}
	}
	ev, _ := f.db.Events(context.Background(), f.ids["finding.emp"])
	for _, e := range ev {
		if e.Type == onus.EventFixClaimed {
			t.Fatal("a refused request claimed the fix")
		}
	}
}

// TestDemoSignIn: the demo sign-in refuses departed and unknown people
// with a clear page, and does not exist outside demo mode.
func TestDemoSignIn(t *testing.T) {
	f := newFixture(t)
	signin := func(h http.Handler, email string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/auth/demo", strings.NewReader(url.Values{"email": {email}, "csrf": {"pre-session-token-123456"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: f.srv.csrfCookieName(), Value: "pre-session-token-123456"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := signin(f.h, "emp@acme.test")
	mustStatus(t, w, http.StatusSeeOther, "demo sign-in")
	if !strings.Contains(w.Header().Get("Set-Cookie"), "HttpOnly") || !strings.Contains(w.Header().Get("Set-Cookie"), "SameSite=Lax") {
		t.Errorf("session cookie attributes: %s", w.Header().Get("Set-Cookie"))
	}
	w = signin(f.h, "gone@acme.test")
	mustStatus(t, w, http.StatusForbidden, "departed")
	if !strings.Contains(w.Body.String(), "has left the organisation") {
		t.Errorf("departed refusal unclear: %s", clipBody(w.Body.String()))
	}
	w = signin(f.h, "stranger@elsewhere.test")
	mustStatus(t, w, http.StatusForbidden, "unknown")
	if !strings.Contains(w.Body.String(), "is not in the HR directory") {
		t.Errorf("unknown refusal unclear: %s", clipBody(w.Body.String()))
	}
	off := f.server(Options{}).Handler()
	mustStatus(t, signin(off, "emp@acme.test"), http.StatusNotFound, "demo sign-in outside demo mode")
	if !strings.Contains(f.as("emp@acme.test").get("/me").Body.String(), "demo-banner") {
		t.Error("demo pages are not marked")
	}
}

// TestSecurityHeaders: CSP without unsafe-inline, no framing.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	w := f.as("emp@acme.test").get("/me")
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if w.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	if w.Header().Get("X-Request-Id") == "" {
		t.Error("no request id")
	}
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.RemoteAddr = "10.0.0.1:1234"
	r.Header.Set("X-Forwarded-Proto", "https")
	f.cfg.Serve.TrustedProxies = []string{"10.0.0.0/8"}
	h := f.server(Options{}).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS behind a trusted TLS proxy")
	}
}

// TestFindingsExport: filters and CSV/JSON exports see only what the
// person may see.
func TestFindingsExport(t *testing.T) {
	f := newFixture(t)
	mgr := f.as("mgr@acme.test")
	w := mgr.get("/findings?format=csv&state=all")
	mustStatus(t, w, 200, "csv")
	rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rows) - 1; got != 4 { // emp ×2, emp2, mgr
		t.Fatalf("manager's export has %d findings, want 4:\n%s", got, w.Body.String())
	}
	w = mgr.get("/api/v1/findings?overdue=1")
	var page struct {
		Total    int `json:"total"`
		Findings []struct {
			EntityName string `json:"entity_name"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 || page.Findings[0].EntityName != "MBP-EMMA disk" {
		t.Fatalf("overdue filter: %+v", page)
	}
	mustStatus(t, mgr.get("/findings?severity=urgent"), http.StatusBadRequest, "bad severity")
	w = mgr.get("/team")
	if !strings.Contains(w.Body.String(), "Emma Ployee") || !strings.Contains(w.Body.String(), "Ed Ployee") {
		t.Fatalf("team page lacks the reports:\n%s", clipBody(w.Body.String()))
	}
}

// TestPagesRender: every page renders for staff, in HTML and JSON.
func TestPagesRender(t *testing.T) {
	f := newFixture(t)
	for _, who := range []string{"admin@acme.test", "auditor@acme.test", "emp@acme.test"} {
		c := f.as(who)
		for _, p := range []string{"/me", "/team", "/approvals", "/findings", "/matrix", "/controls", "/outbox", "/dashboard", "/tokens", "/sessions",
			fmt.Sprintf("/findings/%d", f.ids["finding.emp"])} {
			for _, prefix := range []string{"", "/api/v1"} {
				w := c.get(prefix + p)
				mustStatus(t, w, 200, who+" "+prefix+p)
			}
		}
	}
	admin := f.as("admin@acme.test")
	for _, p := range []string{"/sources", "/audit", "/links", fmt.Sprintf("/outbox/%d", f.ids["outbox.outsider"]), fmt.Sprintf("/exceptions/%d", f.ids["exception.outsider"])} {
		mustStatus(t, admin.get(p), 200, p)
	}
	if w := admin.get("/links"); !strings.Contains(w.Body.String(), canaryLink) || !strings.Contains(w.Body.String(), `action="/links/forget"`) {
		t.Error("the links page lacks the fixture's unlink or the administrator's forget button")
	}
	mustStatus(t, admin.post(fmt.Sprintf("/outbox/%d/confirm", f.ids["outbox.outsider"])), http.StatusSeeOther, "admin confirms")
	mustStatus(t, f.as("auditor@acme.test").post(fmt.Sprintf("/outbox/%d/resend", f.ids["outbox.outsider"])), http.StatusForbidden, "auditor resends")
	w := admin.get("/dashboard")
	if !strings.Contains(w.Body.String(), "<svg") {
		t.Error("dashboard has no chart")
	}
	// Five findings opened ten days ago (Friday 20 November, in the week
	// of the 16th), one of them due two days ago (Saturday 28th); the
	// weeks are calendar weeks, the last the one in progress (it began
	// with Monday 30 November).
	var d struct {
		Open, Overdue int
		ByTeam        []struct {
			Key, Key2 string
			Count     int
		} `json:"open_by_team"`
		Weeks []struct {
			Start  time.Time `json:"start"`
			Opened int       `json:"opened"`
			Open   int       `json:"open_at_end"`
			Over   int       `json:"overdue_at_end"`
		}
	}
	if err := json.Unmarshal(admin.get("/api/v1/dashboard").Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Weeks); d.Open != 5 || d.Overdue != 1 || n != 12 || !d.Weeks[n-1].Start.Equal(testNow.Truncate(24*time.Hour)) ||
		d.Weeks[n-3].Opened != 5 || d.Weeks[n-4].Open != 0 || d.Weeks[n-3].Open != 5 || d.Weeks[n-3].Over != 0 ||
		d.Weeks[n-2].Open != 5 || d.Weeks[n-2].Over != 1 || d.Weeks[n-1].Open != 5 || d.Weeks[n-1].Over != 1 {
		t.Errorf("dashboard: %+v", d)
	}
	teams := map[string]int{}
	for _, c := range d.ByTeam {
		teams[c.Key+"/"+c.Key2] += c.Count
	}
	if teams["Engineering/open"] != 3 || teams["Engineering/overdue"] != 1 || teams["Sales/open"] != 1 || len(teams) != 3 {
		t.Errorf("open by team: %v", teams)
	}
}

// TestBreakGlass: off by default; with a bcrypt hash, a wrong password is
// refused and audited, the right one signs in an administrator.
func TestBreakGlass(t *testing.T) {
	f := newFixture(t)
	post := func(h http.Handler, user, pw string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/auth/break-glass", strings.NewReader(url.Values{"user": {user}, "password": {pw}, "csrf": {"pre-session-token-123456"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: f.srv.csrfCookieName(), Value: "pre-session-token-123456"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	mustStatus(t, post(f.h, "root", "s3cret-pass"), http.StatusNotFound, "break-glass when off")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f.cfg.Serve.BreakGlass = &config.BreakGlass{User: "root", PasswordHash: "env:X"}
	h := f.server(Options{BreakGlassHash: string(hash)}).Handler()
	mustStatus(t, post(h, "root", "wrong"), http.StatusForbidden, "wrong password")
	w := post(h, "root", "s3cret-pass")
	mustStatus(t, w, http.StatusSeeOther, "right password")
	log, _ := f.db.AuditLog(context.Background(), 3)
	if log[0].Action != "signin.break-glass" || log[1].Action != "signin.break-glass.refused" {
		t.Fatalf("audit: %+v", log)
	}
}

// TestDashboardConcurrent: many people asking for the same dashboard at
// once share one computation, and each gets their own.
func TestDashboardConcurrent(t *testing.T) {
	f := newFixture(t)
	admin, mgr := f.as("admin@acme.test"), f.as("mgr@acme.test")
	type result struct {
		mgr  bool
		code int
		open int
	}
	results := make(chan result, 40)
	for i := range 40 {
		go func() {
			c, isMgr := admin, i%2 == 1
			if isMgr {
				c = mgr
			}
			w := c.get("/api/v1/dashboard")
			var d struct{ Open int }
			json.Unmarshal(w.Body.Bytes(), &d)
			results <- result{isMgr, w.Code, d.Open}
		}()
	}
	for range 40 {
		r := <-results
		want := 5 // the administrator sees every open finding
		if r.mgr {
			want = 4 // the manager: emp ×2, emp2 and their own
		}
		if r.code != 200 || r.open != want {
			t.Fatalf("dashboard: %+v, want %d open", r, want)
		}
	}
}
