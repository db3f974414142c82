package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/store"
)

func handleOf(c *client) string { return authz.HashToken(c.cookie)[:store.SessionHandleLen] }

func sessionsOf(t *testing.T, c *client, query string) sessionsPage {
	t.Helper()
	w := c.get("/api/v1/sessions" + query)
	mustStatus(t, w, 200, "GET /api/v1/sessions"+query)
	var p struct {
		Sessions []store.SessionInfo
		Current  string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return sessionsPage{Sessions: p.Sessions, Current: p.Current}
}

func signedIn(t *testing.T, c *client) bool {
	t.Helper()
	return c.get("/api/v1/me").Code == http.StatusOK
}

// TestSessions: a person sees and ends their own sessions; an
// administrator sees and ends anyone's, one or all at once; an auditor
// sees them all but ends only their own; every ending is in the audit log.
func TestSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	emp, empPhone := f.as("emp@acme.test"), f.as("emp@acme.test")
	outsiderHandle := f.outsiderSession()

	// Mine: both of my sessions, this one marked, nobody else's.
	p := sessionsOf(t, emp, "")
	mine := p.Sessions
	if len(mine) != 2 || p.Current != handleOf(emp) {
		t.Fatalf("my sessions: %+v (current %s, want %s)", mine, p.Current, handleOf(emp))
	}
	for _, s := range mine {
		if s.Email != "emp@acme.test" {
			t.Fatalf("an employee sees the session of %s", s.Email)
		}
	}
	mustStatus(t, emp.get("/api/v1/sessions?email="+outsider), http.StatusForbidden, "an employee asking for someone else's sessions")
	// Ending someone else's session is "not found" to an employee.
	mustStatus(t, emp.post("/api/v1/sessions/"+outsiderHandle+"/revoke"), http.StatusNotFound, "an employee ending the outsider's session")
	mustStatus(t, emp.post("/api/v1/sessions/revoke", "email", outsider), http.StatusForbidden, "an employee ending all the outsider's sessions")
	// Ending my other session signs that browser out, not this one.
	w := emp.post("/sessions/" + handleOf(empPhone) + "/revoke")
	mustStatus(t, w, http.StatusSeeOther, "ending my other session")
	if signedIn(t, empPhone) || !signedIn(t, emp) {
		t.Fatal("ending my other session did not sign it out, or signed this one out")
	}

	// An administrator lists everyone's, ends the outsider's.
	admin := f.as("admin@acme.test")
	w = admin.get("/sessions")
	mustStatus(t, w, 200, "the sessions page of an administrator")
	if !strings.Contains(w.Body.String(), canarySession) || !strings.Contains(w.Body.String(), "this session") {
		t.Fatal("the administrator's sessions page lacks the outsider's session or the mark of their own")
	}
	has := func(list []store.SessionInfo, handle string) bool {
		for _, s := range list {
			if s.Email != outsider {
				t.Fatalf("?email=%s lists a session of %s", outsider, s.Email)
			}
			if s.Handle == handle && s.UserAgent == canarySession {
				return true
			}
		}
		return false
	}
	if got := sessionsOf(t, admin, "?email="+outsider).Sessions; !has(got, outsiderHandle) {
		t.Fatalf("the outsider's sessions lack %s: %+v", outsiderHandle, got)
	}
	mustStatus(t, admin.post("/api/v1/sessions/"+outsiderHandle+"/revoke"), 200, "an administrator ending the outsider's session")
	if got := sessionsOf(t, admin, "?email="+outsider).Sessions; has(got, outsiderHandle) {
		t.Fatalf("the outsider's session outlived its revocation: %+v", got)
	}
	mustStatus(t, admin.post("/api/v1/sessions/"+outsiderHandle+"/revoke"), http.StatusNotFound, "ending an ended session")
	// …and every session of the employee at once.
	w = admin.post("/api/v1/sessions/revoke", "email", "emp@acme.test")
	mustStatus(t, w, 200, "an administrator ending every session of the employee")
	if signedIn(t, emp) {
		t.Fatal("the employee is still signed in")
	}

	// An auditor reads everyone's sessions and ends only their own.
	auditor := f.as("auditor@acme.test")
	other := f.outsiderSession()
	if got := sessionsOf(t, auditor, "").Sessions; len(got) < 3 {
		t.Fatalf("the auditor sees %d sessions", len(got))
	}
	mustStatus(t, auditor.post("/api/v1/sessions/"+other+"/revoke"), http.StatusNotFound, "an auditor ending the outsider's session")
	w = auditor.post("/sessions/revoke", "email", "auditor@acme.test")
	mustStatus(t, w, http.StatusSeeOther, "an auditor signing out everywhere")
	if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "/signin") || signedIn(t, auditor) {
		t.Fatalf("signing out everywhere: to %s, still signed in %v", loc, signedIn(t, auditor))
	}

	// A read-only token ends nothing.
	read, _, err := authz.MakeToken(ctx, f.db, "admin@acme.test", "read", []string{"read"}, "", 3600e9, f.srv.Ops.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, bearer(f, "POST", "/api/v1/sessions/"+other+"/revoke", read, ""), http.StatusForbidden, "a read token ending a session")

	log, _ := f.db.AuditLog(ctx, 50)
	var lines []string
	for _, e := range log {
		lines = append(lines, fmt.Sprintf("%s %s %s %s", e.Actor, e.Action, e.Object, e.Detail))
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"emp@acme.test session.revoke session " + handleOf(empPhone) + " of emp@acme.test",
		"admin@acme.test session.revoke session " + outsiderHandle + " of " + outsider,
		"admin@acme.test sessions.revoke emp@acme.test",
		"auditor@acme.test sessions.revoke auditor@acme.test",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, all)
		}
	}
}
