package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
	webhttp "github.com/onus-sec/onus/http"
	"github.com/onus-sec/onus/store"
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
	db, err := store.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fs, err := db.Findings(ctx, onus.FindingFilter{Owner: "barbara.liskov@acme.com", States: []onus.State{onus.StateOpen}})
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
	// --as is refused through the server: the token says who acts.
	_, errs, code = cli(t, "except", "approve", fmt.Sprint(x.ID), "--as", f.Accountable.Email, "--server", ts.URL, "--token", barbara)
	if code == 0 || !strings.Contains(errs, "the token says who acts") {
		t.Fatalf("--as through the server (exit %d): %s", code, errs)
	}
	_, errs, code = cli(t, "except", "approve", fmt.Sprint(x.ID), "--server", ts.URL, "--token", barbara)
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

// onus serve runs the loop beside the web application: the scheduler's
// jobs run by themselves, their runs are on record, their metrics are on
// the server's /metrics, and SIGTERM (a cancelled context) stops both.
func TestServeRunsTheSchedule(t *testing.T) {
	dir := demo(t)
	path := filepath.Join(dir, "onus.yaml")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, []byte("\nschedule:\n  sync: 1h\n  nudge: off\n  deliver: off\n  watch: false\n")...), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := mln.Addr().String()
	mln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out, errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--config", dir, "--listen", addr, "--metrics-listen", metricsAddr}, &out, &errb)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _, _ := cli(t, "status", "--config", dir, "-o", "json")
		var rep struct {
			Schedule struct {
				Jobs []struct {
					Name string
					Last *struct{ Trigger string }
				}
			}
		}
		json.Unmarshal([]byte(st), &rep)
		ran := map[string]bool{}
		for _, j := range rep.Schedule.Jobs {
			ran[j.Name] = j.Last != nil
		}
		if ran["sync:hr"] && ran["evaluate"] {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the scheduler's jobs did not run under onus serve:\n%s\n%s%s", st, out.String(), errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	scrape := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	// On the main address /metrics needs a token with the metrics scope;
	// on --metrics-listen it needs none.
	if code, _ := scrape("http://"+addr+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token on the main address: %d, want 401", code)
	}
	tokOut, errs, code := cli(t, "token", "create", "--config", dir, "--service", "prometheus", "--scopes", "metrics", "--expires", "1d")
	if code != 0 {
		t.Fatalf("metrics token: %s", errs)
	}
	metricsToken := strings.TrimSpace(strings.SplitN(tokOut, "\n", 2)[0])
	for url, tok := range map[string]string{"http://" + addr + "/metrics": metricsToken, "http://" + metricsAddr + "/metrics": ""} {
		code, body := scrape(url, tok)
		if code != 200 || !strings.Contains(body, `onus_job_runs_total{job="sync:hr"}`) || !strings.Contains(body, "onus_findings{") {
			t.Errorf("%s: %d, lacks the scheduler's or the server's metrics:\n%.2000s", url, code, body)
		}
	}
	if code, _ := scrape("http://"+addr+"/api/v1/me", metricsToken); code != http.StatusForbidden {
		t.Errorf("a metrics token on the API: %d, want 403", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 && code != 1 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
		// The example configures no identity provider: serve says nobody
		// can sign in, and its scheduler logs under its own subsystem.
		if !strings.Contains(errb.String(), "warning: no sign-in method is configured") {
			t.Errorf("serve did not warn that nobody can sign in:\n%.2000s", errb.String())
		}
		if strings.Contains(errb.String(), `"subsystem":"serve","subsystem":"schedule"`) {
			t.Errorf("the scheduler's log lines carry two subsystems")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
}

// onus gate reads the exceptions online from onus serve with a token: an
// auditor's read token gets the same export as "onus exceptions export";
// an employee's token is refused, and the gate never passes on it.
func TestGateExceptionsFromServe(t *testing.T) {
	dir := demo(t)
	ctx := context.Background()
	// One exception on record: requested by the owner, approved by the
	// Accountable person.
	db, err := store.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fs, _ := db.Findings(ctx, onus.FindingFilter{Owner: "barbara.liskov@acme.com", States: []onus.State{onus.StateOpen}})
	if len(fs) == 0 {
		t.Fatal("no finding of Barbara's")
	}
	if _, errs, code := cli(t, "except", "request", "--config", dir, "--finding", fmt.Sprint(fs[0].ID), "--reason", "replaced next week",
		"--expires", "5d", "--as", "barbara.liskov@acme.com"); code != 0 {
		t.Fatalf("request: %s", errs)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := webhttp.New(ctx, authz.New(db, cfg, onus.ClockFunc(time.Now)), slog.New(slog.DiscardHandler), onus.ClockFunc(time.Now), webhttp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	token := func(email, scopes string) string {
		out, errs, code := cli(t, "token", "create", "--config", dir, "--person", email, "--scopes", scopes, "--expires", "1d", "-o", "json")
		if code != 0 {
			t.Fatalf("token create: %s", errs)
		}
		var v struct{ Token string }
		json.Unmarshal([]byte(out), &v)
		return v.Token
	}
	t.Setenv("GATE_AUDITOR_TOKEN", token("ruth.ginsburg@acme.com", "read"))
	t.Setenv("GATE_EMPLOYEE_TOKEN", token("barbara.liskov@acme.com", "read"))
	url := ts.URL + "/api/v1/exceptions/export"
	manifest := filepath.Join("..", "..", "gate", "testdata", "guardrails", "k8s-privileged", "pass.yaml")

	// The export served is the one the CLI writes.
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+os.Getenv("GATE_AUDITOR_TOKEN"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var served struct {
		Version    int
		Exceptions []onus.Exception
	}
	json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	local, _, _ := cli(t, "exceptions", "export", "--config", dir)
	var exported struct{ Exceptions []onus.Exception }
	json.Unmarshal([]byte(local), &exported)
	if resp.StatusCode != 200 || len(served.Exceptions) != 1 || len(exported.Exceptions) != 1 || served.Exceptions[0].ID != exported.Exceptions[0].ID {
		t.Fatalf("served %d (%d exceptions), exported %d", resp.StatusCode, len(served.Exceptions), len(exported.Exceptions))
	}
	if out, errs, code := cli(t, "gate", "--env", "production", "--exceptions", url, "--token", "env:GATE_AUDITOR_TOKEN", manifest); code != 0 {
		t.Errorf("gate with the auditor's token: exit %d\n%s%s", code, out, errs)
	}
	_, errs, code := cli(t, "gate", "--env", "production", "--exceptions", url, "--token", "env:GATE_EMPLOYEE_TOKEN", manifest)
	if code != 2 || !strings.Contains(errs, "403") || strings.Contains(errs, os.Getenv("GATE_EMPLOYEE_TOKEN")) {
		t.Errorf("gate with an employee's token: exit %d, %s", code, errs)
	}
}
