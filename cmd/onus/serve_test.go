package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
	webhttp "github.com/onus-sec/onus/http"
	"github.com/onus-sec/onus/sqlite"
)

// TestServerCommands: with --server and a token, except and outbox act
// through "onus serve", as the token's owner: the requester cannot
// approve their own request, whatever --as says; --as on the database
// file is marked in the audit log.
func TestServerCommands(t *testing.T) {
	dir := demo(t)
	ctx := context.Background()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fs, err := db.Findings(ctx, sqlite.Filter{Owner: "barbara.liskov@acme.com", States: []onus.State{onus.StateOpen}})
	if err != nil || len(fs) == 0 {
		t.Fatalf("findings: %v", err)
	}
	var f onus.Finding
	for _, x := range fs {
		if x.Accountable.Email != "" && x.Accountable.Email != "barbara.liskov@acme.com" {
			f = x
		}
	}
	srv, err := webhttp.New(ctx, authz.New(db, cfg, onus.ClockFunc(time.Now)), slog.New(slog.DiscardHandler), onus.ClockFunc(time.Now), webhttp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	token := func(email string) string {
		out, errs, code := cli(t, "token", "create", "--config", dir, "--person", email, "--scopes", "read,write", "--expires", "1d", "-o", "json")
		if code != 0 {
			t.Fatalf("token create: %s", errs)
		}
		var v struct{ Token string }
		json.Unmarshal([]byte(out), &v)
		return v.Token
	}
	barbara, acct := token("barbara.liskov@acme.com"), token(f.Accountable.Email)

	out, errs, code := cli(t, "except", "request", "--finding", fmt.Sprint(f.ID), "--reason", "replaced next week", "--expires", "5d",
		"--server", ts.URL, "--token", barbara, "-o", "json")
	if code != 0 {
		t.Fatalf("request through the server: %s", errs)
	}
	var x onus.Exception
	json.Unmarshal([]byte(out), &x)
	if x.Requester != "barbara.liskov@acme.com" {
		t.Fatalf("requester %q: identity must come from the token", x.Requester)
	}
	// --as is ignored through the server: the token says who acts.
	_, errs, code = cli(t, "except", "approve", fmt.Sprint(x.ID), "--as", f.Accountable.Email, "--server", ts.URL, "--token", barbara)
	if code == 0 || !strings.Contains(errs, "cannot decide") {
		t.Fatalf("the requester approved her own exception through the server (exit %d): %s", code, errs)
	}
	_, errs, code = cli(t, "except", "approve", fmt.Sprint(x.ID), "--note", "ok", "--server", ts.URL, "--token", acct)
	if code != 0 {
		t.Fatalf("approve as the Accountable person: %s", errs)
	}
	_, errs, code = cli(t, "except", "approve", "1", "--server", ts.URL)
	if code == 0 || !strings.Contains(errs, "--token") {
		t.Fatalf("--server without a token: %d %s", code, errs)
	}
	_, errs, code = cli(t, "outbox", "resend", "1", "--server", ts.URL, "--token", barbara)
	if code == 0 || !strings.Contains(errs, "administrators") {
		t.Fatalf("an employee resent through the server: %d %s", code, errs)
	}

	log, _ := db.AuditLog(ctx, 50)
	var acts []string
	for _, e := range log {
		acts = append(acts, e.Actor+" "+e.Action)
	}
	all := strings.Join(acts, "\n")
	if !strings.Contains(all, "barbara.liskov@acme.com exception.requested") || !strings.Contains(all, f.Accountable.Email+" exception.approved") || strings.Contains(all, "cli.act_as") {
		t.Fatalf("audit log:\n%s", all)
	}
	// On the database file, --as still works for an administrator, and says so.
	other := fs[0]
	if other.ID == f.ID {
		other = fs[1]
	}
	if _, errs, code := cli(t, "except", "request", "--config", dir, "--finding", fmt.Sprint(other.ID), "--reason", "r", "--expires", "2d", "--as", "barbara.liskov@acme.com"); code != 0 {
		t.Fatalf("--as on the file: %s", errs)
	}
	log, _ = db.AuditLog(ctx, 3)
	if log[0].Action != "cli.act_as" || !strings.Contains(log[0].Detail, "acted as barbara.liskov@acme.com") {
		t.Fatalf("--as is not marked in the audit log: %+v", log[0])
	}
}
