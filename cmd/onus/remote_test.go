package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/store"
)

// startServe runs the real "onus serve" on a free loopback port until the
// test ends and returns its address.
func startServe(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var out, errb bytes.Buffer
	go func() {
		defer close(done)
		run(ctx, append([]string{"serve", "--config", dir, "--listen", addr, "--schedule=false"}, extra...), &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("onus serve did not stop")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("onus serve did not start:\n%s%s", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRemoteCommandsThroughServe runs every CLI command that changes
// state through a real "onus serve" with real tokens: identity comes from
// the token; each command is allowed for the person the rules allow,
// refused for another, and refused with an expired token; --as beside
// --server is refused; the audit log names the token's owner and never
// an --as.
func TestRemoteCommandsThroughServe(t *testing.T) {
	dir := demo(t)
	ctx := context.Background()
	url := startServe(t, dir)
	db, err := store.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	token := func(email string) string {
		t.Helper()
		out, errs, code := cli(t, "token", "create", "--config", dir, "--person", email, "--scopes", "read,write", "--expires", "1d", "-o", "json")
		if code != 0 {
			t.Fatalf("token create: %s", errs)
		}
		var v struct{ Token string }
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Token == "" {
			t.Fatalf("token create: %q", out)
		}
		return v.Token
	}
	const (
		barbara = "barbara.liskov@acme.com" // Support VP: owns findings
		ada     = "ada.lovelace@acme.com"   // the CEO: Barbara's manager
		frances = "frances.allen@acme.com"  // it-ops lead: Accountable for endpoints
		maya    = "maya.park@acme.com"      // it-ops: A of endpoint-protection
		leon    = "leon.sato@acme.com"      // security: an administrator
	)
	tok := map[string]string{}
	for _, p := range []string{barbara, ada, frances, maya, leon} {
		tok[p] = token(p)
	}
	// An expired token: made for an hour, two hours ago.
	expired, _, err := authz.MakeToken(ctx, db, barbara, "old", []string{"read", "write"}, "", time.Hour, time.Now().Add(-2*time.Hour), "test")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out, errs string
		code      int
	}
	as := func(who string, args ...string) result {
		t.Helper()
		k := tok[who]
		if who == "expired" {
			k = expired
		}
		out, errs, code := cli(t, append(args, "--server", url, "--token", k, "-o", "json")...)
		return result{out, errs, code}
	}
	ok := func(what string, r result) string {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", what, r.code, r.errs)
		}
		return r.out
	}
	refused := func(what, want string, r result) {
		t.Helper()
		if r.code == 0 || !strings.Contains(r.errs, want) {
			t.Fatalf("%s: exit %d, want a refusal saying %q; stderr: %s", what, r.code, want, r.errs)
		}
	}
	exceptionOf := func(out string) onus.Exception {
		t.Helper()
		var x onus.Exception
		if err := json.Unmarshal([]byte(out), &x); err != nil || x.ID == 0 {
			t.Fatalf("not an exception: %q", out)
		}
		return x
	}

	// A finding of Barbara's with an Accountable person who is not her.
	fs, err := db.Findings(ctx, onus.FindingFilter{Owner: barbara, States: []onus.State{onus.StateOpen}})
	if err != nil {
		t.Fatal(err)
	}
	var f onus.Finding
	for _, x := range fs {
		if x.Accountable.Email == frances {
			f = x
		}
	}
	if f.ID == 0 {
		t.Fatalf("no finding of %s that %s answers for", barbara, frances)
	}
	fid := fmt.Sprint(f.ID)

	// except request for a finding: hers, not through an expired token,
	// not with --as.
	refused("request with an expired token", "expired", as("expired", "except", "request", "--finding", fid, "--reason", "r", "--expires", "5d"))
	refused("request with --as through the server", "--as is for an administrator", as(barbara, "except", "request", "--finding", fid, "--reason", "r", "--expires", "5d", "--as", frances))
	refused("request by someone else", "no finding", as(maya, "except", "request", "--finding", fid, "--reason", "r", "--expires", "5d"))
	x := exceptionOf(ok("request", as(barbara, "except", "request", "--finding", fid, "--reason", "laptop replaced next week", "--expires", "5d")))
	if x.Requester != barbara {
		t.Fatalf("requester %q: identity must come from the token", x.Requester)
	}
	refused("approving one's own request", "cannot decide", as(barbara, "except", "approve", fmt.Sprint(x.ID)))
	refused("approve with an expired token", "expired", as("expired", "except", "approve", fmt.Sprint(x.ID)))
	ok("approve", as(frances, "except", "approve", fmt.Sprint(x.ID), "--note", "fine for a week"))

	// except extend: the requester (or a manager above her) may ask; the
	// Accountable person may not ask herself.
	refused("extend by the Accountable person", "may ask", as(frances, "except", "extend", fmt.Sprint(x.ID), "--expires", "6d"))
	refused("extend with an expired token", "expired", as("expired", "except", "extend", fmt.Sprint(x.ID), "--expires", "6d"))
	ext := exceptionOf(ok("extend", as(barbara, "except", "extend", fmt.Sprint(x.ID), "--expires", "6d", "--reason", "the new laptop is late")))
	if ext.Replaces != x.ID || ext.Requester != barbara || ext.State != onus.ExceptionRequested {
		t.Fatalf("extension: %+v", ext)
	}

	// except revoke: her manager sees it but may not revoke it; the
	// Accountable person may; the finding reopens.
	refused("revoke by the requester's manager", "may not decide", as(ada, "except", "revoke", fmt.Sprint(x.ID)))
	refused("revoke with an expired token", "expired", as("expired", "except", "revoke", fmt.Sprint(x.ID)))
	if got := exceptionOf(ok("revoke", as(frances, "except", "revoke", fmt.Sprint(x.ID), "--note", "replaced early"))); got.State != onus.ExceptionRevoked {
		t.Fatalf("revoked exception is %s", got.State)
	}
	if g, _ := db.Finding(ctx, f.ID); g.State != onus.StateOpen {
		t.Fatalf("finding %d is %s after its exception was revoked", f.ID, g.State)
	}

	// except request over a scope: a member of the Accountable team may
	// ask, Barbara (Support) may not; the Accountable person approves.
	scope := []string{"except", "request", "--control", "edr-agent-missing", "--scope", `entity.name.startsWith("KIOSK")`, "--reason", "kiosks are isolated", "--expires", "30d"}
	refused("scope request by someone without a role in the activity", "R, A or C", as(barbara, scope...))
	refused("scope request with an expired token", "expired", as("expired", scope...))
	sx := exceptionOf(ok("scope request", as(maya, scope...)))
	if sx.Scope == "" || sx.Requester != maya {
		t.Fatalf("scope exception: %+v", sx)
	}
	refused("scope approval by its requester", "cannot decide", as(maya, "except", "approve", fmt.Sprint(sx.ID)))
	ok("scope approval", as(frances, "except", "approve", fmt.Sprint(sx.ID)))

	// outbox resend and confirm: administrators only.
	uncertain := func() int64 {
		t.Helper()
		now := time.Now()
		if _, _, err := db.Enqueue(ctx, []*onus.OutboxMessage{{Key: fmt.Sprint("remote-test-", now.UnixNano()), Recipient: barbara, Channel: "email", Kind: "digest",
			Subject: "s", Text: "t", NotBefore: now.Add(-time.Minute), Status: onus.OutboxPending, NextTry: now.Add(-time.Minute), CreatedAt: now}}); err != nil {
			t.Fatal(err)
		}
		hold := onus.Lease{Holder: "test:1:crashed", Now: now, For: time.Minute}
		m, err := db.Claim(ctx, now, hold)
		if err != nil || m == nil {
			t.Fatalf("claim: %v", err)
		}
		if err := db.MarkSending(ctx, m.ID, hold); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Recover(ctx, now.Add(time.Hour), nil, func(string) bool { return false }); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	for _, act := range []string{"resend", "confirm"} {
		id := fmt.Sprint(uncertain())
		refused(act+" by an employee", "administrators", as(barbara, "outbox", act, id))
		refused(act+" with an expired token", "expired", as("expired", "outbox", act, id))
		refused(act+" with --as", "--as is for an administrator", as(leon, "outbox", act, id, "--as", leon))
		ok(act, as(leon, "outbox", act, id))
		m, _ := db.OutboxMessage(ctx, mustInt(t, id))
		if want := map[string]string{"resend": onus.OutboxPending, "confirm": onus.OutboxSent}[act]; string(m.Status) != want {
			t.Fatalf("after %s the message is %s, want %s", act, m.Status, want)
		}
	}

	// link, the list, unlink --forget: administrators only, references
	// checked by the server.
	story, _ := os.ReadFile(filepath.Join(dir, "STORY.txt"))
	mm := regexp.MustCompile(`onus link (person:\S+) (checkr:\S+) confirms`).FindStringSubmatch(string(story))
	if mm == nil {
		t.Fatal("the story names no background check to link")
	}
	person, cand := mm[1], mm[2]
	refused("link by an employee", "administrators", as(barbara, "link", person, cand, "--reason", "same person"))
	refused("link with an expired token", "expired", as("expired", "link", person, cand))
	refused("link to nothing", "checkr:nope names no record", as(leon, "link", person, "checkr:nope"))
	ok("link", as(leon, "link", person, cand, "--reason", "applied with a personal address"))
	var ls []store.ManualLink
	json.Unmarshal([]byte(ok("link list", as(leon, "link"))), &ls)
	if len(ls) != 1 || ls[0].Actor != leon || !ls[0].Linked {
		t.Fatalf("links: %+v", ls)
	}
	refused("link list by an employee", "administrators and auditors", as(barbara, "link"))
	refused("forget by an employee", "administrators", as(barbara, "unlink", "--forget", person, cand))
	ok("forget", as(leon, "unlink", "--forget", person, cand))
	if ls, _ := db.ManualLinks(ctx); len(ls) != 0 {
		t.Fatalf("links after forget: %+v", ls)
	}

	// $ONUS_TOKEN stands for --token, and --help never prints it.
	t.Setenv("ONUS_TOKEN", tok[leon])
	ok("link list with $ONUS_TOKEN", func() result {
		out, errs, code := cli(t, "link", "--server", url, "-o", "json")
		return result{out, errs, code}
	}())
	if help, _, _ := cli(t, "except", "--help"); strings.Contains(help, tok[leon]) {
		t.Error("--help prints the token of $ONUS_TOKEN")
	}

	// The audit log names who held each token, never an --as.
	log, _ := db.AuditLog(ctx, 200)
	var lines []string
	for _, e := range log {
		lines = append(lines, e.Actor+" "+e.Action+" "+e.Object)
		if e.Action == "cli.act_as" {
			t.Errorf("an act through the server is marked as --as: %+v", e)
		}
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{barbara + " exception.requested", frances + " exception.approved", frances + " exception.revoked",
		maya + " exception.requested", leon + " outbox.resend", leon + " outbox.confirm", leon + " link", leon + " forget-link"} {
		if !strings.Contains(all, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, all)
		}
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Mistakes of someone who has a server and a token but no database: an
// address without its scheme, and a listing command given --server. Each
// error says what to do; neither needs a running server.
func TestServerMistakes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"except", "approve", "1", "--server", "127.0.0.1:8080", "--token", "onus_x"},
			[]string{`--server "127.0.0.1:8080" is not the address of an onus serve`, "http://127.0.0.1:8080"}},
		{[]string{"findings", "--server", "https://onus.acme.com/", "--token", "onus_x"},
			[]string{"--server acts only for except", "https://onus.acme.com/api/v1/findings"}},
	}
	for _, tt := range tests {
		_, errs, code := cli(t, append(tt.args, "--config", dir)...)
		if code == 0 {
			t.Errorf("%v: exit 0", tt.args)
		}
		for _, w := range tt.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: error %q lacks %q", tt.args, errs, w)
			}
		}
	}
	// Without --server, the hint is how to make a database.
	if _, errs, _ := cli(t, "findings", "--config", dir); !strings.Contains(errs, `run "onus sync"`) {
		t.Errorf("findings without a database: %s", errs)
	}
}

// onus token create refuses someone who has left, whose token the server
// would refuse anyway; token list is a table whose columns line up.
func TestTokenForLeaverAndList(t *testing.T) {
	dir := demo(t)
	_, errs, code := cli(t, "token", "create", "--config", dir, "--person", "omar.fischer@acme.com")
	if code != 1 || !strings.Contains(errs, "omar.fischer@acme.com has left") {
		t.Errorf("a token for a leaver: %d %s", code, errs)
	}
	for _, who := range []string{"barbara.liskov@acme.com", "frances.allen@acme.com"} {
		if out, errs, code := cli(t, "token", "create", "--config", dir, "--person", who, "--name", "x\tscripts"); code != 0 {
			t.Fatalf("token for %s: %d %s%s", who, code, out, errs)
		}
	}
	out, _, code := cli(t, "token", "list", "--config", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("token list: %d\n%s", code, out)
	}
	col := strings.Index(lines[0], "NAME")
	for _, l := range lines[1:] {
		if strings.Index(l, "x scripts") != col {
			t.Errorf("the NAME column does not line up:\n%s", out)
		}
	}
}
