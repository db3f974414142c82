package http

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// role is a kind of person who signs in, and what they must never get.
type role struct {
	name  string
	email string
	// hidden are the canaries the role must never receive.
	hidden []string
	// writes reports whether the role may legitimately succeed in a state
	// change on the outsider's objects through this route.
	allowedWrite func(route string) bool
}

func roles() []role {
	all := []string{canaryFinding, canaryReason, canarySubject, canaryAudit, canaryToken, canaryTeammate, canarySession, canaryLink}
	none := func(string) bool { return false }
	// A scope exception for the Accountable person's own activity is
	// theirs to ask for (and someone else's to decide).
	scopeRequest := func(r string) bool { return strings.TrimPrefix(r, "/api/v1") == "/exceptions" }
	// Administrators act on sources, the outbox, anyone's sessions and
	// the links made by hand.
	adminWrite := func(r string) bool {
		return strings.Contains(r, "/outbox/") || strings.Contains(r, "/sources/") || strings.Contains(r, "/sessions/") || strings.Contains(r, "/links")
	}
	return []role{
		{name: "anonymous", email: "", hidden: all, allowedWrite: none},
		{name: "employee", email: "emp@acme.test", hidden: all, allowedWrite: none},
		{name: "manager", email: "mgr@acme.test", hidden: all, allowedWrite: none},
		{name: "accountable", email: "acct@acme.test", hidden: all, allowedWrite: scopeRequest},
		// Staff see every finding, but never someone else's API tokens, and
		// decide nothing they are not accountable for.
		{name: "admin", email: "admin@acme.test", hidden: []string{canaryToken}, allowedWrite: func(r string) bool {
			return adminWrite(r) || scopeRequest(r)
		}},
		{name: "auditor", email: "auditor@acme.test", hidden: []string{canaryToken}, allowedWrite: none},
		// The break-glass administrator is nobody of the directory: no
		// exception requests.
		{name: "break-glass", email: "break-glass:root", hidden: []string{canaryToken}, allowedWrite: adminWrite},
	}
}

// publicRoutes answer without sign-in by design.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /api/v1/openapi.json": true, "GET /{$}": true, "GET /signin": true,
	"GET /auth/login": true, "GET /auth/callback": true, "POST /auth/demo": true, "POST /auth/break-glass": true, "POST /signout": true,
}

// TestRBAC walks every route as every role, aimed at objects of someone
// the role must not see (the outsider: another manager's report, with
// another Accountable person), and fails on any leak: a canary string in
// a response, or a state change that succeeded.
func TestRBAC(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pairs := 0
	for _, rl := range roles() {
		c := f.as(rl.email)
		for _, rt := range f.srv.routes() {
			key := rt.Method + " " + rt.Path
			path := strings.NewReplacer(
				"{$}", "",
				"/findings/{id}", fmt.Sprintf("/findings/%d", f.ids["finding.outsider"]),
				"/exceptions/{id}", fmt.Sprintf("/exceptions/%d", f.ids["exception.outsider"]),
				"/outbox/{id}", fmt.Sprintf("/outbox/%d", f.ids["outbox.outsider"]),
				"/tokens/{id}", fmt.Sprintf("/tokens/%d", f.ids["token.outsider"]),
				"{name}", "hr",
			).Replace(rt.Path)
			if publicRoutes[key] {
				continue
			}
			if strings.Contains(rt.Path, "/sessions/{id}") {
				// A session of the outsider's that no earlier role ended.
				path = strings.Replace(path, "{id}", f.outsiderSession(), 1)
			}
			pairs++
			t.Run(rl.name+"/"+key, func(t *testing.T) {
				before := f.snapshot(ctx)
				rec := c.do(rt.Method, path, rbacForm(strings.TrimPrefix(rt.Path, "/api/v1")))
				body := rec.Body.String()
				for _, h := range rl.hidden {
					// The audit log names every token made, as it should.
					if h == canaryToken && strings.HasSuffix(rt.Path, "/audit") {
						continue
					}
					if strings.Contains(body, h) {
						t.Fatalf("%s %s as %s: the response contains %s (status %d)", rt.Method, path, rl.name, h, rec.Code)
					}
				}
				if rl.email == "" && rec.Code < 300 {
					t.Fatalf("%s %s without sign-in: status %d", rt.Method, path, rec.Code)
				}
				if rt.Method == "POST" {
					after := f.snapshot(ctx)
					if before != after && !rl.allowedWrite(rt.Path) {
						t.Fatalf("%s %s as %s changed the outsider's objects (status %d):\nbefore %s\nafter  %s", rt.Method, path, rl.name, rec.Code, before, after)
					}
					if rec.Code < 400 && !rl.allowedWrite(rt.Path) {
						t.Fatalf("%s %s as %s: status %d, want a refusal", rt.Method, path, rl.name, rec.Code)
					}
				}
			})
		}
	}
	t.Logf("RBAC: %d route × role pairs checked (%d routes, %d roles)", pairs, len(f.srv.routes()), len(roles()))
}

// snapshot describes the state of the outsider's objects.
func (f *fixture) snapshot(ctx context.Context) string {
	fd, _ := f.db.Finding(ctx, f.ids["finding.outsider"])
	ev, _ := f.db.Events(ctx, fd.ID)
	x, _ := f.db.Exception(ctx, f.ids["exception.outsider"])
	m, _ := f.db.OutboxMessage(ctx, f.ids["outbox.outsider"])
	toks, _ := f.db.Tokens(ctx, outsider)
	revoked := 0
	for _, t := range toks {
		if t.RevokedAt != nil {
			revoked++
		}
	}
	xs, _ := f.db.Exceptions(ctx, onus.ExceptionFilter{Finding: fd.ID})
	sessions, _ := f.db.ActiveSessions(ctx, outsider, time.Now(), 1000)
	links, _ := f.db.ManualLinks(ctx)
	return fmt.Sprintf("finding %s events %d exceptions %d; exception %s; outbox %s; tokens revoked %d; sessions %d; links %v",
		fd.State, len(ev), len(xs), x.State, m.Status, revoked, len(sessions), links)
}

// rbacForm is what a state change sends, aimed at the outsider, so that a
// refusal comes from the permission check rather than from empty input.
func rbacForm(path string) url.Values {
	in := 10 * 24 * time.Hour
	switch path {
	case "/findings/{id}/exception":
		return url.Values{"reason": {"r"}, "expires": {testNow.Add(in).Format("2006-01-02")}}
	case "/exceptions/{id}/extend":
		return url.Values{"reason": {"r"}, "expires": {testNow.Add(2 * in).Format("2006-01-02")}}
	case "/exceptions":
		return url.Values{"control": {"patch"}, "scope": {"true"}, "reason": {"r"}, "expires": {time.Now().Add(in).Format("2006-01-02")}}
	case "/sessions/revoke":
		return url.Values{"email": {outsider}}
	case "/links":
		return url.Values{"a": {"device:out"}, "b": {"device:emp2"}, "reason": {"r"}}
	case "/links/forget":
		return url.Values{"a": {"device:emp"}, "b": {"device:out"}}
	case "/exceptions/{id}/reject":
		return url.Values{"note": {"no"}}
	}
	return nil
}

var _ = onus.StateOpen
