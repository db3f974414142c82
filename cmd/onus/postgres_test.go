package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/pgtest"
	"github.com/onus-sec/onus/internal/testsrv"
)

// The monitor loop on PostgreSQL: sync, evaluation and nudges with --db
// postgres://… find and tell exactly what they do on SQLite; onus store
// copy moves the demo's SQLite store into PostgreSQL and checks it.
func TestMonitorLoopOnPostgres(t *testing.T) {
	dir := demo(t)
	pg := pgtest.DSN(t)
	now := "--now=" + orggen.AcmeNow.Format(time.RFC3339)
	c := func(args ...string) (string, string, int) {
		return cli(t, append(args, "--config", dir, "--db", pg)...)
	}
	out, errs, code := c("migrate")
	if code != 0 || !strings.Contains(out, "schema version 0 → ") {
		t.Fatalf("migrate: %d %s%s", code, out, errs)
	}
	out, _, code = c("migrate")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("second migrate: %d %s", code, out)
	}
	out, errs, code = c("run", now)
	if code != 0 || !strings.Contains(out, "Findings: 28 open") {
		t.Fatalf("run on PostgreSQL: %d\n%s%s", code, out, errs)
	}
	out, errs, code = c("eval", now)
	if code != 0 || !strings.Contains(out, "0 opened, 0 reopened, 0 resolved, 0 gone, 0 reassigned") {
		t.Errorf("second evaluation on PostgreSQL: %d\n%s%s", code, out, errs)
	}
	// The same findings as the demo's SQLite store, in the same order.
	pgOut, _, _ := c("findings", "-o", "csv", "--state", "all")
	liteOut, _, _ := cli(t, "findings", "--config", dir, "-o", "csv", "--state", "all")
	if pgOut != liteOut || strings.Count(pgOut, "\n") != 29 {
		t.Errorf("findings differ:\nPostgreSQL:\n%s\nSQLite:\n%s", pgOut, liteOut)
	}
	out, _, code = c("findings", "--owner", "Barbara.Liskov@acme.com")
	if code != 0 || strings.Count(out, "barbara.liskov@acme.com") != 4 {
		t.Errorf("findings --owner (exit %d):\n%s", code, out)
	}
	out, _, code = c("status")
	if code != 0 || !strings.Contains(out, "healthy") || !strings.Contains(out, "last evaluation") {
		t.Errorf("status: %d %s", code, out)
	}
	out, _, code = c("finding", "13")
	if code != 0 || !strings.Contains(out, "history") || !strings.Contains(out, "opened") {
		t.Errorf("finding 13: %d %s", code, out)
	}

	// Nudges through a real SMTP server.
	mp := testsrv.StartMailpit(t)
	yaml := filepath.Join(dir, "onus.yaml")
	b, _ := os.ReadFile(yaml)
	conf := strings.Replace(string(b), "  # channels:\n", fmt.Sprintf("  channels:\n    email: { host: %s, port: %d, ca_file: %s, username: env:T_SMTP_USER, password: env:T_SMTP_PASSWORD, from: security@acme.com }\n",
		mp.SMTPHost, mp.SMTPPort, mp.CAFile), 1)
	os.WriteFile(yaml, []byte(conf), 0o644)
	t.Setenv("T_SMTP_USER", mp.User)
	t.Setenv("T_SMTP_PASSWORD", mp.Password)
	out, errs, code = c("nudge", now)
	if code != 0 || !strings.Contains(out, "26 messages are planned (26 new, 0 cancelled); sent 15,") {
		t.Fatalf("nudge: %d\n%s%s", code, out, errs)
	}
	out, errs, code = c("nudge", now)
	if code != 0 || !strings.Contains(out, "0 new") {
		t.Errorf("second nudge: %d\n%s%s", code, out, errs)
	}
	if n := len(mp.Messages(t)); n != 15 {
		t.Errorf("mailpit has %d messages, want 15", n)
	}
	out, _, _ = c("finding", "28")
	if !strings.Contains(out, "told barbara.liskov@acme.com by email") {
		t.Errorf("finding 28's history does not say Barbara was told:\n%s", out)
	}

	// The demo's SQLite store, copied into an empty PostgreSQL database.
	to := pgtest.DSN(t)
	out, errs, code = cli(t, "store", "copy", "--from", filepath.Join(dir, "onus.db"), "--to", to, "-o", "json")
	if code != 0 {
		t.Fatalf("store copy: %d %s%s", code, out, errs)
	}
	var rep struct {
		Tables []struct {
			Table  string
			Rows   int64
			SHA256 string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Tables) < 15 {
		t.Fatalf("store copy JSON (%v): %s", err, out)
	}
	rows := map[string]int64{}
	for _, tb := range rep.Tables {
		rows[tb.Table] = tb.Rows
	}
	if rows["findings"] != 28 || rows["snapshot_chunks"] == 0 || rows["finding_events"] < 28 {
		t.Errorf("copied rows: %v", rows)
	}
	copied, _, _ := cli(t, "findings", "--config", dir, "--db", to, "-o", "csv", "--state", "all")
	if copied != liteOut {
		t.Errorf("findings of the copy differ:\n%s", copied)
	}
	// The copy goes on: its ids follow the copied ones.
	out, errs, code = cli(t, "eval", "--config", dir, "--db", to, now)
	if code != 0 {
		t.Errorf("eval on the copy: %d %s%s", code, out, errs)
	}
	// A second copy into a store that is not empty is refused.
	_, errs, code = cli(t, "store", "copy", "--from", filepath.Join(dir, "onus.db"), "--to", to)
	if code != 1 || !strings.Contains(errs, "is not empty") {
		t.Errorf("copy into a full store: %d %s", code, errs)
	}
}

// A password is never written in the database URL, nor printed.
func TestPostgresPasswordFromEnv(t *testing.T) {
	_, errs, code := cli(t, "migrate", "--db", "postgres://onus:hunter2@127.0.0.1:1/onus")
	if code != 1 || !strings.Contains(errs, "password=env:NAME") || strings.Contains(errs, "hunter2") {
		t.Errorf("a literal password: %d %s", code, errs)
	}
	_, errs, code = cli(t, "migrate", "--db", "postgres://onus@127.0.0.1:1/onus?password=env:T_NO_SUCH_VAR")
	if code != 1 || !strings.Contains(errs, "T_NO_SUCH_VAR, which is not set") {
		t.Errorf("a missing variable: %d %s", code, errs)
	}
	t.Setenv("T_PG_PASSWORD", "s3cret-value")
	_, errs, code = cli(t, "migrate", "--db", "postgres://onus@127.0.0.1:1/onus?password=env:T_PG_PASSWORD")
	if code != 1 || !strings.Contains(errs, "cannot connect") || strings.Contains(errs, "s3cret-value") {
		t.Errorf("an unreachable server: %d %s", code, errs)
	}
}

// The steps of docs/scaling.md on a store that has lived: findings
// exempted, reopened and resolved leave summary rows whose count is back to
// zero, which a copy (each finding inserted once, in its last state) does
// not have. onus migrate first, then onus store copy, must work, and the
// copy must verify.
func TestStoreCopyOfALivedStore(t *testing.T) {
	dir := demo(t)
	day := func(d int) string {
		return "--now=" + orggen.AcmeNow.AddDate(0, 0, d).Format(time.RFC3339)
	}
	steps := [][]string{
		{"except", "request", "--finding", "13", "--reason", "new laptop ordered", "--expires", "10d", "--as", "ethan.bianchi@acme.com"},
		{"except", "approve", "1", "--as", "frances.allen@acme.com"},
		{"eval", day(1)},
		{"eval", day(20)}, // the exception has expired: finding 13 reopens
	}
	for _, s := range steps {
		if out, errs, code := cli(t, append(s, "--config", dir)...); code != 0 {
			t.Fatalf("%v: %d %s%s", s, code, out, errs)
		}
	}
	to := pgtest.DSN(t)
	if out, errs, code := cli(t, "migrate", "--db", to); code != 0 {
		t.Fatalf("migrate: %d %s%s", code, out, errs)
	}
	out, errs, code := cli(t, "store", "copy", "--from", filepath.Join(dir, "onus.db"), "--to", to)
	if code != 0 || !strings.Contains(out, "counts and checksums match") {
		t.Fatalf("store copy after onus migrate, of a store whose findings changed state: %d %s%s", code, out, errs)
	}
	lite, _, _ := cli(t, "findings", "--config", dir, "-o", "csv", "--state", "all", day(20))
	copied, _, _ := cli(t, "findings", "--config", dir, "--db", to, "-o", "csv", "--state", "all", day(20))
	if copied != lite || !strings.Contains(lite, "13,") {
		t.Errorf("findings of the copy differ:\n%s\nfrom:\n%s", copied, lite)
	}
}

// A copy whose check fails leaves the target as it found it: empty, so that
// the next try is not refused as "not empty".
func TestStoreCopyThatFailsItsCheckWritesNothing(t *testing.T) {
	dir := demo(t)
	lite, err := sql.Open("sqlite", filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	// A summary that drifted from its findings: the target's triggers
	// compute the right count, so the checksums differ.
	if _, err := lite.Exec(`UPDATE summary_control SET n = n + 5 WHERE state = 'open'`); err != nil {
		t.Fatal(err)
	}
	lite.Close()
	to := pgtest.DSN(t)
	for try := 1; try <= 2; try++ {
		_, errs, code := cli(t, "store", "copy", "--from", filepath.Join(dir, "onus.db"), "--to", to)
		if code != 1 || !strings.Contains(errs, "summary_control differs after the copy") {
			t.Fatalf("copy %d of a drifted store: %d %s", try, code, errs)
		}
	}
}
