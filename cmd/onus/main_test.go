package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/onus-sec/onus"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/store"
)

// cli runs the command in-process, as a user would from a shell.
func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// demo runs onus demo into a temporary directory once per test.
func demo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	out, errs, code := cli(t, "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("demo exited %d: %s%s", code, out, errs)
	}
	for _, want := range []string{"Sources (sync run 1", "Controls", "edr-agent-missing", "Findings: 28 open", "ownership gaps", "Responsible people with the most open findings", "onus findings --config"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	return dir
}

func TestDemoThenRead(t *testing.T) {
	dir := demo(t)
	if _, err := os.Stat(filepath.Join(dir, "onus.db")); err != nil {
		t.Fatalf("demo left no database: %v", err)
	}
	// The database the demo left is read again.
	out, _, code := cli(t, "findings", "--config", dir, "--owner", "barbara.liskov@acme.com")
	if code != 0 || strings.Count(out, "barbara.liskov@acme.com") != 4 {
		t.Errorf("findings --owner (exit %d):\n%s", code, out)
	}
	out, _, _ = cli(t, "findings", "--config", dir, "--control", "edr-agent-missing", "-o", "json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("findings json: %v\n%s", err, out)
	}
	if rows[0]["state"] != "open" || rows[0]["responsible"].(map[string]any)["email"] == "" {
		t.Errorf("first row = %v", rows[0])
	}
	// Findings name their subject: the laptop's owner in JSON; the
	// person and the laptop of an outdated app in CSV.
	if p, _ := rows[0]["person"].(map[string]any); p == nil || p["id"] == "" || p["name"] == "" {
		t.Errorf("first row has no subject person: %v", rows[0])
	}
	out, _, _ = cli(t, "findings", "--config", dir, "-o", "csv", "--state", "all")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 29 || recs[0][1] != "control" || strings.Join(recs[0][7:11], ",") != "person,person_name,device,device_name" {
		t.Fatalf("findings csv: %d rows, %v", len(recs), err)
	}
	apps := 0
	for _, r := range recs[1:] {
		if r[1] == "app-outdated" {
			apps++
			if !strings.HasPrefix(r[7], "person:") || r[8] == "" || !strings.HasPrefix(r[9], "device:") || r[10] == "" {
				t.Errorf("app-outdated row without its person and device: %v", r)
			}
		}
	}
	if apps == 0 {
		t.Error("no app-outdated finding in the csv")
	}
	out, _, code = cli(t, "findings", "--config", dir, "--state", "resolved")
	if code != 0 || !strings.Contains(out, "No findings match") {
		t.Errorf("no resolved findings expected: %s", out)
	}
	// One finding in full: evidence, fix steps, history.
	out, _, code = cli(t, "finding", "--config", dir, "13")
	if code != 0 || !strings.Contains(out, "evidence") || !strings.Contains(out, "history") || !strings.Contains(out, "opened") {
		t.Errorf("finding 13 (exit %d):\n%s", code, out)
	}
	// Explain by hostname: records, merges, near matches, attributes.
	out, _, code = cli(t, "explain", "--config", dir, "MBP-KIOSK-LOBBY")
	if code != 0 || !strings.Contains(out, "device MBP-KIOSK-LOBBY") || !strings.Contains(out, "Attributes") || !strings.Contains(out, "disk-encryption: open") {
		t.Errorf("explain (exit %d):\n%s", code, out)
	}
	out, _, _ = cli(t, "explain", "--config", dir, "-o", "json", "grace.hopper@acme.com")
	var x []map[string]any
	if err := json.Unmarshal([]byte(out), &x); err != nil || len(x) == 0 || x[0]["kind"] != "person" {
		t.Errorf("explain json: %v %s", err, out)
	}
	_, errs, code := cli(t, "explain", "--config", dir, "no-such-thing")
	if code != 1 || !strings.Contains(errs, `no entity matches "no-such-thing"`) {
		t.Errorf("explain unknown: %d %s", code, errs)
	}
	out, _, code = cli(t, "status", "--config", dir)
	if code != 0 || !strings.Contains(out, "healthy") || !strings.Contains(out, "last evaluation") {
		t.Errorf("status: %s", out)
	}
	// Running the demo again changes nothing.
	out, _, code = cli(t, "demo", "--dir", dir)
	if code != 0 || !strings.Contains(out, "This run: 0 opened, 0 reopened, 0 resolved, 0 gone, 0 reassigned") {
		t.Errorf("second demo (exit %d):\n%s", code, out)
	}
}

func TestValidate(t *testing.T) {
	dir := demo(t)
	out, _, code := cli(t, "validate", dir)
	if code != 0 || !strings.Contains(out, "is valid: 10 sources, 8 controls, 9 activities") {
		t.Errorf("validate (exit %d): %s", code, out)
	}
	bad := filepath.Join(dir, "controls", "endpoint.yaml")
	b, _ := os.ReadFile(bad)
	os.WriteFile(bad, bytes.Replace(b, []byte(`check: '"edr" in entity.sources'`), []byte(`check: '"edrr" in entity.sources'`), 1), 0o644)
	_, errs, code := cli(t, "validate", dir)
	if code != 1 || !strings.Contains(errs, "controls/endpoint.yaml:12:13:") || !strings.Contains(errs, "no source called edrr") {
		t.Errorf("validate bad (exit %d): %s", code, errs)
	}
	out, _, code = cli(t, "validate", dir, "-o", "json")
	var v struct {
		Valid    bool
		Problems []struct {
			File, Message string
			Line          int
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Valid || len(v.Problems) != 1 || v.Problems[0].Line != 12 || code != 1 {
		t.Errorf("validate json (exit %d): %v %s", code, err, out)
	}
	// sync refuses to run on a configuration with problems.
	_, errs, code = cli(t, "sync", "--config", dir)
	if code != 1 || !strings.Contains(errs, "problem(s)") {
		t.Errorf("sync with a bad config (exit %d): %s", code, errs)
	}
}

func TestUnhealthyExitCode(t *testing.T) {
	dir := demo(t)
	// HR suddenly returns 10 people instead of 200.
	path := filepath.Join(dir, "exports/hr/people.csv")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(strings.Join(lines[:11], "")), 0o644)
	out, _, code := cli(t, "run", "--config", dir, "--now", orggen.AcmeNow.Add(time.Hour).Format(time.RFC3339))
	if code != 2 {
		t.Errorf("run with a shrunken HR export exited %d, want 2", code)
	}
	if !strings.Contains(out, "suspicious") || !strings.Contains(out, "Unhealthy sources") || !strings.Contains(out, "0 resolved, 0 gone") {
		t.Errorf("output:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"findings", "--db", "/nonexistent/onus.db"}, "no database at /nonexistent/onus.db"},
		{[]string{"findings", "--output", "yaml"}, `unknown output format "yaml"`},
		{[]string{"findings", "--state", "closed", "--db", "x"}, `unknown finding state "closed"`},
		{[]string{"eval", "--now", "yesterday", "--config", "."}, `--now: "yesterday" is not a time`},
		{[]string{"sync", "--config", "/nonexistent"}, "cannot read directory /nonexistent"},
		{[]string{"finding", "abc"}, `"abc" is not a finding id`},
		{[]string{"outbox", "show", "x"}, `"x" is not an outbox id`},
		{[]string{"nudge", "--person", "x@acme.com", "--now", "soon"}, `--now: "soon" is not a time`},
		{[]string{"nonsense"}, `unknown command "nonsense"`},
		{[]string{"--log-level", "loud", "status"}, `unknown log level "loud"`},
		{[]string{"--memory-limit", "lots", "status"}, `--memory-limit: "lots" is not a size`},
	}
	for _, tt := range tests {
		_, errs, code := cli(t, tt.args...)
		if code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("onus %s: exit %d, stderr %q; want %q", strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
	out, _, code := cli(t, "--help")
	if code != 0 || !strings.Contains(out, "onus demo") {
		t.Errorf("--help: %s", out)
	}
}

func TestRaciCommands(t *testing.T) {
	dir := demo(t)
	out, _, code := cli(t, "raci", "check", dir)
	if code != 0 || !strings.Contains(out, "[activity-unmonitored] activity patch-servers") || !strings.Contains(out, "0 errors, 3 warnings") {
		t.Errorf("raci check (exit %d):\n%s", code, out)
	}
	out, _, _ = cli(t, "raci", "check", dir, "-o", "json")
	var res struct {
		Errors   int
		Problems []struct {
			Code, Severity, File, Hint string
			Line                       int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Errors != 0 || len(res.Problems) != 3 || res.Problems[0].Line == 0 || res.Problems[0].Hint == "" {
		t.Errorf("raci check json: %v %s", err, out)
	}
	out, _, code = cli(t, "raci", "show", "--config", dir, "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| **patch-servers** Patch production servers") {
		t.Errorf("raci show markdown:\n%s", out)
	}
	out, _, code = cli(t, "raci", "show", "--config", dir, "--format", "html")
	if code != 0 || !strings.Contains(out, `<tr class="gap">`) {
		t.Errorf("raci show html:\n%s", out)
	}
	// Export, edit the spreadsheet to disagree about who is Accountable,
	// import it back, and check: the disagreement is an error, exit 1.
	csvOut, _, _ := cli(t, "raci", "export", "--config", dir)
	lines := strings.Split(csvOut, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "mfa-enforcement,") {
			lines[i] = strings.Replace(l, ",C,A", ",A,A", 1)
		}
	}
	sheet := filepath.Join(t.TempDir(), "matrix.csv")
	os.WriteFile(sheet, []byte(strings.Join(lines, "\n")), 0o644)
	out, _, code = cli(t, "raci", "import", sheet, "--config", dir, "--write")
	if code != 0 || !strings.Contains(out, "9 activities") {
		t.Fatalf("raci import (exit %d): %s", code, out)
	}
	out, _, code = cli(t, "raci", "check", dir)
	if code != 1 || !strings.Contains(out, "[many-accountable] activity mfa-enforcement has 2 Accountable roles (it-ops, security)") {
		t.Errorf("raci check after import (exit %d):\n%s", code, out)
	}
	_, errs, code := cli(t, "raci", "show", "--config", dir, "--format", "pdf")
	if code != 1 || !strings.Contains(errs, `unknown format "pdf"`) {
		t.Errorf("raci show pdf: %d %s", code, errs)
	}
}

func TestExceptionCommands(t *testing.T) {
	dir := demo(t)
	c := func(args ...string) (string, string, int) { return cli(t, append(args, "--config", dir)...) }
	// Finding 13 is a laptop without disk encryption; IT Operations answers for it.
	out, _, code := c("finding", "13")
	if code != 0 || !strings.Contains(out, "accountable  frances.allen@acme.com") {
		t.Fatalf("finding 13:\n%s", out)
	}
	_, errs, code := c("except", "request", "--finding", "13", "--reason", "new laptop on order", "--expires", "30d")
	if code != 1 || !strings.Contains(errs, "--as must be an e-mail address") {
		t.Errorf("request without --as: %d %s", code, errs)
	}
	t.Setenv("ONUS_USER", "it.helpdesk@acme.com")
	out, _, code = c("except", "request", "--finding", "13", "--reason", "new laptop on order", "--expires", "30d")
	if code != 0 || !strings.Contains(out, "exception 1 requested") {
		t.Fatalf("request: %d %s", code, out)
	}
	_, errs, code = c("except", "approve", "1")
	if code != 1 || !strings.Contains(errs, "cannot decide it") {
		t.Errorf("self-approval: %d %s", code, errs)
	}
	out, _, code = c("except", "approve", "1", "--as", "frances.allen@acme.com", "-o", "json")
	var x map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &x) != nil || x["state"] != "approved" {
		t.Errorf("approve: %d %s", code, out)
	}
	out, _, _ = c("findings", "--state", "exempted")
	if !strings.Contains(out, "disk-encryption") {
		t.Errorf("exempted findings:\n%s", out)
	}
	out, _, _ = c("exceptions", "--expiring", "31d")
	if !strings.Contains(out, "approved") || !strings.Contains(out, "frances.allen@acme.com") {
		t.Errorf("exceptions --expiring:\n%s", out)
	}
	out, _, _ = c("exceptions", "--expiring", "10d")
	if !strings.Contains(out, "No exceptions match") {
		t.Errorf("exceptions expiring within 10 days:\n%s", out)
	}
	out, _, _ = c("exception", "1")
	if !strings.Contains(out, "approved  by frances.allen@acme.com") {
		t.Errorf("exception 1:\n%s", out)
	}
	out, _, code = c("whois", "frances.allen@acme.com")
	if code != 0 || !strings.Contains(out, "A  endpoint-protection  as the lead of IT Operations") {
		t.Errorf("whois:\n%s", out)
	}
	_, errs, code = c("whois", "nobody@acme.com")
	if code != 1 || !strings.Contains(errs, "nobody with the e-mail address nobody@acme.com") {
		t.Errorf("whois unknown: %d %s", code, errs)
	}
	_, errs, code = c("exceptions", "--state", "pending")
	if code != 1 || !strings.Contains(errs, `unknown exception state "pending"`) {
		t.Errorf("bad state: %d %s", code, errs)
	}
}

func TestNudgeCommands(t *testing.T) {
	dir := demo(t)
	c := func(args ...string) (string, string, int) { return cli(t, append(args, "--config", dir)...) }
	now := "--now=" + orggen.AcmeNow.Format(time.RFC3339)
	out, _, code := c("nudge", "--dry-run", now)
	if code != 0 || !strings.Contains(out, "26 messages would be planned") || !strings.Contains(out, "to barbara.liskov@acme.com by email") {
		t.Fatalf("dry run: %d\n%s", code, out)
	}
	out, _, _ = c("nudge", "--dry-run", now, "--person", "Barbara.Liskov@acme.com")
	if !strings.Contains(out, "1 message would be planned") || !strings.Contains(out, "Hi Barbara,") || !strings.Contains(out, "your app Google Chrome.app") {
		t.Errorf("dry run for one person:\n%s", out)
	}
	out, _, _ = c("nudge", "--dry-run", now, "-o", "json")
	var rep struct {
		Planned []struct {
			Recipient, Channel, Reason string
			Items                      map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Planned) != 26 || rep.Planned[0].Reason == "" {
		t.Errorf("dry run JSON (%v):\n%.500s", err, out)
	}
	if d := deferredIn(t, out); len(d) != 0 {
		t.Errorf("deferred with max_per_day 2: %v", d)
	}
	// With one message a day, two weeks on, the escalations to managers
	// who also own late items are held back, and said so.
	later := "--now=" + orggen.AcmeNow.Add(15*24*time.Hour).Format(time.RFC3339)
	yamlPath := filepath.Join(dir, "onus.yaml")
	orig, _ := os.ReadFile(yamlPath)
	os.WriteFile(yamlPath, []byte(strings.Replace(string(orig), "max_per_day: 2", "max_per_day: 1", 1)), 0o644)
	out, _, _ = c("nudge", "--dry-run", later, "-o", "json")
	if d := deferredIn(t, out); len(d) == 0 || d[0].Recipient == "" || d[0].Kind == "" || d[0].Reason == "" || d[0].Max != 1 {
		t.Errorf("nothing deferred with max_per_day 1, or an empty entry: %+v", d)
	}
	out, _, _ = c("nudge", "--dry-run", later)
	if !strings.Contains(out, "held back by nudges.max_per_day") || !strings.Contains(out, "  held back: to ") {
		t.Errorf("the dry run does not show what max_per_day held back:\n%s", out)
	}
	os.WriteFile(yamlPath, orig, 0o644)
	out, _, _ = c("outbox")
	if !strings.Contains(out, "The outbox is empty.") {
		t.Errorf("a dry run stored messages:\n%s", out)
	}
	_, errs, code := c("nudge", now)
	if code != 1 || !strings.Contains(errs, "no channel is configured under nudges.channels") {
		t.Errorf("nudge without channels: %d %s", code, errs)
	}

	// A real SMTP server.
	mp := testsrv.StartMailpit(t)
	yaml := filepath.Join(dir, "onus.yaml")
	b, _ := os.ReadFile(yaml)
	conf := strings.Replace(string(b), "  # channels:\n", fmt.Sprintf("  channels:\n    email: { host: %s, port: %d, ca_file: %s, username: env:T_SMTP_USER, password: env:T_SMTP_PASSWORD, from: security@acme.com }\n",
		mp.SMTPHost, mp.SMTPPort, mp.CAFile), 1)
	os.WriteFile(yaml, []byte(conf), 0o644)
	_, errs, code = c("nudge", now)
	if code != 1 || !strings.Contains(errs, "T_SMTP_USER is not set") {
		t.Errorf("a missing secret: %d %s", code, errs)
	}
	t.Setenv("T_SMTP_USER", mp.User)
	t.Setenv("T_SMTP_PASSWORD", mp.Password)
	out, errs, code = c("nudge", now)
	if code != 0 || !strings.Contains(out, "26 messages are planned (26 new, 0 cancelled); sent 15,") {
		t.Fatalf("nudge: %d\n%s%s", code, out, errs)
	}
	if n := len(mp.Messages(t)); n != 15 {
		t.Errorf("mailpit has %d messages, want 15 (the others wait for working hours)", n)
	}
	if strings.Contains(out+errs, mp.Password) {
		t.Error("the SMTP password was printed")
	}
	out, _, _ = c("outbox", "--status", "sent", "--to", "barbara.liskov@acme.com")
	if !strings.Contains(out, "sent    barbara.liskov@acme.com  email") || !strings.Contains(out, "#5 #9 #11 #28") {
		t.Errorf("outbox:\n%s", out)
	}
	var sent []struct {
		ID     int64
		Status string
	}
	out, _, _ = c("outbox", "--status", "sent", "--to", "barbara.liskov@acme.com", "-o", "json")
	if err := json.Unmarshal([]byte(out), &sent); err != nil || len(sent) != 1 {
		t.Fatalf("outbox JSON (%v): %s", err, out)
	}
	id := fmt.Sprint(sent[0].ID)
	out, _, _ = c("outbox", "show", id)
	if !strings.Contains(out, "sent, to barbara.liskov@acme.com by email (digest)") || !strings.Contains(out, "Hi Barbara,") {
		t.Errorf("outbox show:\n%s", out)
	}
	_, errs, code = c("outbox", "resend", id, "--as", "ops@acme.com")
	if code != 1 || !strings.Contains(errs, "is not uncertain or failed") {
		t.Errorf("resend of a sent message: %d %s", code, errs)
	}
	_, errs, code = c("outbox", "confirm", id)
	if code != 1 || !strings.Contains(errs, "--as must be an e-mail address") {
		t.Errorf("confirm without --as: %d %s", code, errs)
	}
	out, _, _ = c("finding", "28")
	if !strings.Contains(out, "told barbara.liskov@acme.com by email") {
		t.Errorf("finding 28's history does not say Barbara was told:\n%s", out)
	}
	// Another live run holds a message: this run leaves it alone, says so
	// and until when, and exits 3. A run that stopped while sending an
	// e-mail leaves it uncertain (exit 3 too); resent by hand, it goes at
	// the next run whatever --now that run has, even one before the
	// message was planned for.
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	evening := orggen.AcmeNow.Add(10 * time.Hour)
	live := fmt.Sprintf("%s:%d:other", host, os.Getpid())
	held, err := db.Claim(ctx, evening, onus.Lease{Holder: live, Now: time.Now(), For: time.Hour})
	if err != nil || held == nil {
		t.Fatalf("claim: %v %v", held, err)
	}
	gone := exec.Command("true")
	gone.Run()
	dead := fmt.Sprintf("%s:%d:crashed", host, gone.Process.Pid)
	crashed, err := db.Claim(ctx, evening, onus.Lease{Holder: dead, Now: time.Now(), For: time.Hour})
	if err != nil || crashed == nil {
		t.Fatalf("claim: %v %v", crashed, err)
	}
	if err := db.MarkSending(ctx, crashed.ID, onus.Lease{Holder: dead, Now: time.Now(), For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, _ = c("outbox", "--status", "claimed,sending")
	if !strings.Contains(out, live+" until") || !strings.Contains(out, dead+" until") {
		t.Errorf("outbox does not show the lease holders:\n%s", out)
	}
	out, errs, code = c("nudge", "--now="+evening.Format(time.RFC3339))
	if code != 3 || !strings.Contains(errs, "1 message is held by another run ("+live+") until") || !strings.Contains(out, "uncertain 1") {
		t.Errorf("nudge with a held and a crashed message: exit %d\n%s%s", code, out, errs)
	}
	out, _, _ = c("outbox", "show", fmt.Sprint(crashed.ID))
	if !strings.Contains(out, "uncertain") || !strings.Contains(out, dead+" stopped while sending") {
		t.Errorf("the crashed run's message:\n%s", out)
	}
	before := len(mp.Messages(t))
	if _, errs, code := c("outbox", "resend", fmt.Sprint(crashed.ID), "--as", "ops@acme.com"); code != 0 {
		t.Fatalf("resend: %d %s", code, errs)
	}
	out, errs, code = c("nudge", now) // the morning, before the message's evening
	if code != 3 || !strings.Contains(out, "sent 1,") || len(mp.Messages(t)) != before+1 {
		t.Errorf("the resent message did not go at the next run: exit %d, mailpit %d→%d\n%s%s", code, before, len(mp.Messages(t)), out, errs)
	}
	// A broken template is a configuration problem, found by validate.
	os.MkdirAll(filepath.Join(dir, "messages"), 0o755)
	os.WriteFile(filepath.Join(dir, "messages", "digest.txt.tmpl"), []byte("{{if}}"), 0o644)
	os.WriteFile(yaml, []byte(strings.Replace(conf, "nudges:\n", "nudges:\n  templates: messages\n", 1)), 0o644)
	_, errs, code = cli(t, "validate", dir)
	if code != 1 || !strings.Contains(errs, "digest.txt.tmpl") {
		t.Errorf("validate with a broken template: %d %s", code, errs)
	}
}

// A killed run shows in onus status, and is marked interrupted by the next
// run; a run under another live process's lock is refused with who holds
// it.
func TestInterruptedAndLockedRuns(t *testing.T) {
	dir := demo(t)
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	gone := exec.Command("true")
	gone.Run()
	dead := fmt.Sprintf("%s:%d:killed", host, gone.Process.Pid)
	if _, err := db.BeginRunAs(ctx, "eval", "cron", dead, orggen.AcmeNow); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, _ := cli(t, "status", "--config", dir)
	if !strings.Contains(out, "stopped before it ended (process "+dead+" is gone)") {
		t.Errorf("status does not show the killed run:\n%s", out)
	}
	now := "--now=" + orggen.AcmeNow.Format(time.RFC3339)
	if _, errs, code := cli(t, "eval", "--config", dir, now); code != 0 {
		t.Fatalf("eval: %d %s", code, errs)
	}
	out, _, _ = cli(t, "status", "--config", dir)
	if !strings.Contains(out, "by cron, started") || !strings.Contains(out, "was interrupted: the process stopped before the run ended") {
		t.Errorf("status after the next run:\n%s", out)
	}
	db, _ = store.Open(ctx, filepath.Join(dir, "onus.db"))
	live := fmt.Sprintf("%s:%d:other", host, os.Getpid())
	if err := db.Lock(ctx, store.LockRequest{Holder: live, Actor: "ops@acme.com", What: "evaluation", For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, errs, code := cli(t, "run", "--config", dir, now)
	if code != 1 || !strings.Contains(errs, "another evaluation is running since") || !strings.Contains(errs, "by ops@acme.com") {
		t.Errorf("run under another's lock: exit %d %s", code, errs)
	}
}

// validate catches what eval would run with: an Accountable team that
// does not exist, once a sync has made HR's teams known.
func TestValidateUnknownTeam(t *testing.T) {
	dir := demo(t)
	path := filepath.Join(dir, "raci.yaml")
	b, _ := os.ReadFile(path)
	bad := strings.Replace(string(b), "A: [it-ops]", "A: [it-opz]", 1)
	if bad == string(b) {
		t.Fatal("raci.yaml has no A: [it-ops]")
	}
	os.WriteFile(path, []byte(bad), 0o644)
	_, errs, code := cli(t, "validate", dir)
	if code == 0 || !strings.Contains(errs, "raci.yaml:") || !strings.Contains(errs, "role it-opz is not a team") {
		t.Fatalf("validate exited %d: %s", code, errs)
	}
}

// A misspelt team in serve.admins or serve.auditors would make nobody an
// administrator or auditor; validate names it once HR's teams are known.
// HR departments and e-mail addresses are accepted.
func TestValidateServeRoles(t *testing.T) {
	dir := demo(t)
	path := filepath.Join(dir, "onus.yaml")
	b, _ := os.ReadFile(path)
	bad := strings.Replace(string(b), "  admins: [security]\n  auditors: [ruth.ginsburg@acme.com]\n", "  admins: [securty, Engineering, jane@acme.com]\n  auditors: [legal]\n", 1)
	if bad == string(b) {
		t.Fatal("onus.yaml has no serve.admins and auditors")
	}
	os.WriteFile(path, []byte(bad), 0o644)
	_, errs, code := cli(t, "validate", dir)
	if code == 0 || !strings.Contains(errs, `serve.admins: "securty" is not a team`) || strings.Contains(errs, "Engineering") || strings.Contains(errs, "auditors") {
		t.Fatalf("validate exited %d: %s", code, errs)
	}
}

// deferredIn reads the messages max_per_day held back from the JSON
// report of onus nudge.
func deferredIn(t *testing.T, out string) []struct {
	Recipient, Kind, Reason string
	Max                     int `json:"max_per_day"`
} {
	t.Helper()
	var rep struct {
		Deferred []struct {
			Recipient, Kind, Reason string
			Max                     int `json:"max_per_day"`
		} `json:"deferred"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !strings.Contains(out, `"deferred"`) {
		t.Fatalf("nudge JSON has no deferred list (%v):\n%.300s", err, out)
	}
	return rep.Deferred
}

// demo --serve never schedules, so demo does not offer --schedule; and
// the --now of eval and run says that its result is stored.
func TestDemoScheduleAndNowHelp(t *testing.T) {
	out, _, code := cli(t, "demo", "--help")
	if code != 0 || strings.Contains(out, "--schedule") {
		t.Errorf("demo --help offers --schedule (exit %d):\n%s", code, out)
	}
	_, errs, code := cli(t, "demo", "--dir", filepath.Join(t.TempDir(), "d"), "--serve", "--schedule")
	if code != 1 || !strings.Contains(errs, "never runs the loop") {
		t.Errorf("demo --serve --schedule: %d %s", code, errs)
	}
	for _, c := range []string{"eval", "run"} {
		if out, _, _ := cli(t, c, "--help"); !strings.Contains(out, "The result is stored") {
			t.Errorf("%s --help does not warn that --now is stored:\n%s", c, out)
		}
	}
}

// onus outbox --status refuses a status that does not exist instead of
// saying the outbox is empty, takes "all", and says when a filter matched
// nothing in an outbox that has messages.
func TestOutboxStatusFilter(t *testing.T) {
	dir := demo(t)
	now := "--now=" + orggen.AcmeNow.Format(time.RFC3339)
	// A webhook channel to a server that is not there: messages are planned
	// and fail to leave, which is all this test needs.
	path := filepath.Join(dir, "onus.yaml")
	b, _ := os.ReadFile(path)
	t.Setenv("T_HOOK_SECRET", "s3cret")
	os.WriteFile(path, []byte(strings.Replace(string(b), "  # channels:\n", "  default_channel: webhook\n  channels:\n    webhook: { url: http://127.0.0.1:1/hook, secret: env:T_HOOK_SECRET }\n", 1)), 0o644)
	cli(t, "nudge", "--config", dir, now)
	all, _, code := cli(t, "outbox", "--config", dir)
	if code != 0 || strings.Contains(all, "empty") {
		t.Fatalf("outbox after a nudge: %d\n%s", code, all)
	}
	if out, _, _ := cli(t, "outbox", "--config", dir, "--status", "all"); out != all {
		t.Errorf("--status all differs from no --status:\n%s", out)
	}
	_, errs, code := cli(t, "outbox", "--config", dir, "--status", "delivered")
	if code != 1 || !strings.Contains(errs, `no status "delivered"`) || !strings.Contains(errs, "uncertain") {
		t.Errorf("--status delivered: %d %s", code, errs)
	}
	if out, _, _ := cli(t, "outbox", "--config", dir, "--status", "cancelled"); !strings.Contains(out, "No message in the outbox matches.") {
		t.Errorf("--status cancelled on an outbox with messages:\n%s", out)
	}
}
