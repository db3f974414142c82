package monitor_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/testclock"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// env is the example organisation copied to a temporary directory, with a
// real SQLite file.
type env struct {
	t   *testing.T
	dir string
	db  *store.DB
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	if err := orggen.WriteAcme(dir); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{t: t, dir: dir, db: db}
}

func (e *env) monitor() *monitor.Monitor {
	e.t.Helper()
	cfg, err := config.Load(e.dir)
	if err != nil {
		e.t.Fatalf("config: %v", err)
	}
	return &monitor.Monitor{Config: cfg, Store: e.db, Actor: "test"}
}

// run syncs and evaluates as the example's date plus offset.
func (e *env) run(offset time.Duration) (*monitor.SyncReport, *monitor.EvalReport) {
	e.t.Helper()
	m := e.monitor()
	ctx := context.Background()
	srep, err := m.Sync(ctx, monitor.SyncOptions{})
	if err != nil {
		e.t.Fatalf("sync: %v", err)
	}
	erep, err := m.Eval(ctx, orggen.AcmeNow.Add(offset), nil)
	if err != nil {
		e.t.Fatalf("eval: %v", err)
	}
	return srep, erep
}

func (e *env) findings(states ...onus.State) []onus.Finding {
	e.t.Helper()
	fs, err := e.db.Findings(context.Background(), onus.FindingFilter{States: states})
	if err != nil {
		e.t.Fatal(err)
	}
	return fs
}

// edit rewrites an export file with fn.
func (e *env) edit(name string, fn func(string) string) {
	e.t.Helper()
	e.editFile(filepath.Join("exports", name), fn)
}

// editFile rewrites a file of the configuration directory with fn; a
// change that changes nothing fails the test.
func (e *env) editFile(name string, fn func(string) string) {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	out := fn(string(b))
	if out == string(b) {
		e.t.Fatalf("edit of %s changed nothing", name)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// render writes findings and control results in a stable, reviewable form.
func render(rep *monitor.EvalReport, fs []onus.Finding) string { return renderEv(rep, fs, true) }

// ledgerOf renders findings without their evidence, whose ages change
// with the time of each run.
func ledgerOf(fs []onus.Finding) string { return renderEv(&monitor.EvalReport{}, fs, false) }

func renderEv(rep *monitor.EvalReport, fs []onus.Finding, evidence bool) string {
	var b strings.Builder
	b.WriteString("# controls: pass fail unknown\n")
	for _, c := range rep.Controls {
		fmt.Fprintf(&b, "%s %d %d %d\n", c.Control, c.Pass, c.Fail, c.Unknown)
	}
	b.WriteString("\n# findings: control | entity | name | responsible | why | due | accountable\n")
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Control != fs[j].Control {
			return fs[i].Control < fs[j].Control
		}
		return fs[i].Entity < fs[j].Entity
	})
	for _, f := range fs {
		gap := ""
		if f.OwnershipGap {
			gap = " [ownership gap]"
		}
		fmt.Fprintf(&b, "%s | %s | %s | %s%s | %s | %s | %s\n", f.Control, f.Entity, f.EntityName, f.Responsible.Email, gap, f.OwnerReason, f.Due.Format("2006-01-02"), f.Accountable.Email)
		if f.Person != nil || f.Device != nil {
			var sub []string
			if f.Person != nil {
				sub = append(sub, "person "+f.Person.Name+" ("+f.Person.ID+")")
			}
			if f.Device != nil {
				sub = append(sub, "device "+f.Device.Name+" ("+f.Device.ID+")")
			}
			fmt.Fprintf(&b, "  subject: %s\n", strings.Join(sub, ", "))
		}
		for _, ev := range f.Evidence {
			if evidence {
				fmt.Fprintf(&b, "    %s = %s\n", ev.Path, ev.Value)
			}
		}
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if *update && testclock.Shift() != 0 {
		t.Fatalf("golden files are written without %s", testclock.ShiftEnv)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./monitor -update to create it)", err)
	}
	// With the example's instant shifted, every date moves with it.
	if got != testclock.ShiftDates(string(want), testclock.Shift()) {
		t.Errorf("%s differs from the evaluation; run go test ./monitor -run %s -update and review the diff.\n--- got ---\n%s", path, t.Name(), got)
	}
}

// The whole loop on the example organisation, against a golden file
// reviewed by hand: every finding is one of the documented scenarios
// (examples/acme/STORY.txt) with the owner the story names.
func TestAcmeGolden(t *testing.T) {
	e := newEnv(t)
	srep, erep := e.run(0)
	for _, s := range srep.Sources {
		if s.Status != onus.SyncOK || s.Bad != 0 {
			t.Errorf("source %s: %s, %d bad: %s", s.Source, s.Status, s.Bad, s.Error)
		}
	}
	golden(t, "acme.golden", render(erep, e.findings(onus.StateOpen)))

	// Every scenario in the story that names a gap has its finding, with
	// the owner the story names.
	story, err := os.ReadFile(filepath.Join(e.dir, "STORY.txt"))
	if err != nil {
		t.Fatal(err)
	}
	open := e.findings(onus.StateOpen)
	re := regexp.MustCompile(`finding goes to (?:their former manager )?([a-z.]+@acme\.com)`)
	for _, line := range strings.Split(string(story), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		control := line[:strings.IndexByte(line, ':')]
		found := false
		for _, f := range open {
			if f.Control == control && f.Responsible.Email == m[1] {
				found = true
			}
		}
		if !found {
			t.Errorf("story %q: no open %s finding for %s", line, control, m[1])
		}
	}
	// Every laptop the story names in a gap has that finding, and every
	// scenario the story calls unknown is unknown, not a failure.
	laptop := regexp.MustCompile(`^([a-z-]+): [a-z.]+@acme\.com's laptop ([A-Z0-9-]+) `)
	unknown := regexp.MustCompile(`^([a-z-]+) unknown: `)
	for _, line := range strings.Split(string(story), "\n") {
		if m := laptop.FindStringSubmatch(line); m != nil && m[1] != "correlation" {
			found := false
			for _, f := range open {
				found = found || (f.Control == m[1] && f.EntityName == m[2])
			}
			if !found {
				t.Errorf("story %q: no open %s finding on %s", line, m[1], m[2])
			}
		}
		if m := unknown.FindStringSubmatch(line); m != nil {
			n := -1
			for _, c := range erep.Controls {
				if c.Control == m[1] {
					n = c.Unknown
				}
			}
			if n < 1 {
				t.Errorf("story %q: %s has %d unknown results", line, m[1], n)
			}
		}
	}
}

// Running again on the same data changes nothing: no event, no new id, the
// first failure kept.
func TestIdempotent(t *testing.T) {
	e := newEnv(t)
	_, first := e.run(0)
	before := e.findings()
	_, again := e.run(time.Hour)
	after := e.findings()
	if first.Changes.Opened == 0 {
		t.Fatal("the first run opened nothing")
	}
	ch := again.Changes
	if ch.Opened != 0 || ch.Reopened != 0 || ch.Resolved != 0 || ch.Gone != 0 || ch.Reassigned != 0 {
		t.Errorf("second run changed the ledger: %+v", ch)
	}
	if ch.Unchanged != first.Changes.Opened {
		t.Errorf("unchanged = %d, want %d", ch.Unchanged, first.Changes.Opened)
	}
	if len(before) != len(after) {
		t.Fatalf("findings %d → %d", len(before), len(after))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.ID != b.ID || !a.FirstFailed.Equal(b.FirstFailed) || !a.Due.Equal(b.Due) || a.State != b.State {
			t.Errorf("finding %d changed: %+v → %+v", b.ID, b, a)
		}
		if !a.LastFailed.After(b.LastFailed) {
			t.Errorf("finding %d: last failure not updated", a.ID)
		}
		events, _ := e.db.Events(context.Background(), a.ID)
		if len(events) != 1 {
			t.Errorf("finding %d has %d events, want only its opening", a.ID, len(events))
		}
	}
}

// Changing one export opens or resolves exactly the affected findings.
func TestOneExportChanges(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	story, _ := os.ReadFile(filepath.Join(e.dir, "STORY.txt"))
	// Rhea Silva installs CrowdStrike: her laptop appears in the EDR export.
	host := regexp.MustCompile(`rhea\.silva@acme\.com's laptop (\S+) has no CrowdStrike`).FindStringSubmatch(string(story))
	if host == nil {
		t.Fatal("the story no longer has Rhea's laptop")
	}
	e.edit("crowdstrike/devices.json", func(s string) string {
		return strings.Replace(s, `"resources": [`, `"resources": [
        {"device_id": "0000000000000000000000000000beef", "hostname": "`+strings.ToLower(host[1])+`.corp.acme.com", "last_seen": "`+orggen.AcmeNow.Add(-30*time.Minute).Format(time.RFC3339)+`", "agent_version": "7.18.18902.0", "status": "normal"},`, 1)
	})
	// Okta Verify is removed from one account: it has only SMS left.
	var victim string
	e.edit("okta/factors.ndjson", func(s string) string {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			if strings.Contains(l, `"factorType":"push"`) && !strings.Contains(l, `"sms"`) {
				victim = l[len(`{"userId":"`):strings.Index(l, `","factors"`)]
				lines[i] = `{"userId":"` + victim + `","factors":[{"id":"sms1","factorType":"sms","provider":"OKTA","status":"ACTIVE"}]}`
				break
			}
		}
		return strings.Join(lines, "\n")
	})
	_, rep := e.run(time.Hour)
	ch := rep.Changes
	if ch.Opened != 1 || ch.Resolved != 1 || ch.Reopened != 0 || ch.Gone != 0 || ch.Reassigned != 0 {
		t.Fatalf("changes = %+v, want one opened and one resolved", ch)
	}
	resolved := e.findings(onus.StateResolved)
	if len(resolved) != 1 || resolved[0].Control != "edr-agent-missing" || resolved[0].EntityName != host[1] {
		t.Errorf("resolved = %+v", resolved)
	}
	events, _ := e.db.Events(context.Background(), resolved[0].ID)
	if last := events[len(events)-1]; last.Type != "resolved" || last.Note != "the check passes" {
		t.Errorf("last event = %+v", last)
	}
	var opened []onus.Finding
	for _, f := range e.findings(onus.StateOpen) {
		if f.Entity == "account:okta_id:"+victim {
			opened = append(opened, f)
		}
	}
	if len(opened) != 1 || opened[0].Control != "mfa-strong-factor" {
		t.Errorf("opened for %s = %+v", victim, opened)
	}
}

// A source that returns far fewer records is unhealthy: its last good
// snapshot stays in force, checks that read it are unknown, and nothing is
// resolved, opened or marked gone because of it.
func TestShrinkingSourceResolvesNothing(t *testing.T) {
	e := newEnv(t)
	_, first := e.run(0)
	openBefore := len(e.findings(onus.StateOpen))
	// Half of Jamf's computers vanish from the export, which says so in
	// its totalCount.
	e.edit("jamf/computers-inventory.json", func(s string) string {
		parts := strings.Split(s, "\n    },")
		s = strings.Join(parts[:len(parts)/2], "\n    },") + "\n    }\n  ]\n}\n"
		return strings.Replace(s, `"totalCount": 174`, fmt.Sprintf(`"totalCount": %d`, len(parts)/2), 1)
	})
	srep, erep := e.run(time.Hour)
	var jamf monitor.SourceReport
	for _, s := range srep.Sources {
		if s.Source == "jamf" {
			jamf = s
		}
	}
	if jamf.Status != onus.SyncSuspicious || !strings.Contains(jamf.Error, "fewer than the last good sync") || !strings.Contains(jamf.Error, "--accept-shrink jamf") {
		t.Fatalf("jamf sync = %+v", jamf)
	}
	ch := erep.Changes
	if ch.Opened != 0 || ch.Resolved != 0 || ch.Gone != 0 {
		t.Errorf("an unhealthy source changed the ledger: %+v", ch)
	}
	if got := len(e.findings(onus.StateOpen)); got != openBefore {
		t.Errorf("open findings %d → %d", openBefore, got)
	}
	unknown := 0
	for _, c := range erep.Controls {
		unknown += c.Unknown
	}
	if unknown == 0 {
		t.Error("no check read the unhealthy source, so it could not have been protected")
	}
	for _, s := range erep.Sources {
		if s.Source == "jamf" && (s.Healthy || s.Records != first.Sources[1].Records) {
			t.Errorf("jamf in eval = %+v, want unhealthy with the last good snapshot's %d records", s, first.Sources[1].Records)
		}
	}
	// Accepting the shrink makes the smaller export the truth.
	m := e.monitor()
	if _, err := m.Sync(context.Background(), monitor.SyncOptions{Only: []string{"jamf"}, AcceptShrink: []string{"jamf"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := m.Eval(context.Background(), orggen.AcmeNow.Add(2*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The Macs that left Jamf are still in CrowdStrike: they exist, but
	// controls scoped to managed laptops no longer apply to them.
	if rep.Changes.Resolved == 0 || rep.Changes.Opened != 0 {
		t.Fatalf("after accepting the shrink: %+v, want findings of the unmanaged Macs resolved", rep.Changes)
	}
	for _, f := range e.findings(onus.StateResolved) {
		events, _ := e.db.Events(context.Background(), f.ID)
		if note := events[len(events)-1].Note; note != "the entity is no longer in the control's scope" {
			t.Errorf("finding %d (%s) resolved with %q", f.ID, f.Control, note)
		}
	}
}

// A source that fails keeps its last good snapshot; when it is repaired,
// everything is as before.
func TestFailingSourceKeepsLastGood(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	before := ledgerOf(e.findings(onus.StateOpen))
	path := filepath.Join(e.dir, "exports/crowdstrike/devices.json")
	good, _ := os.ReadFile(path)
	os.WriteFile(path, good[:len(good)/3], 0o644) // an export cut short
	srep, erep := e.run(time.Hour)
	var edr monitor.SourceReport
	for _, s := range srep.Sources {
		if s.Source == "edr" {
			edr = s
		}
	}
	if edr.Status != onus.SyncFailed || !regexp.MustCompile(`devices\.json:\d+:\d+: malformed JSON`).MatchString(edr.Error) {
		t.Fatalf("edr sync = %+v, want a failure naming the file, line and column", edr)
	}
	if ch := erep.Changes; ch.Opened != 0 || ch.Resolved != 0 || ch.Gone != 0 {
		t.Errorf("a failed source changed the ledger: %+v", ch)
	}
	c := findControl(erep, "edr-agent-missing")
	if c.Unknown == 0 || c.Fail != 0 {
		t.Errorf("edr-agent-missing with EDR unhealthy: %+v, want unknown results only", c)
	}
	if got := ledgerOf(e.findings(onus.StateOpen)); got != before {
		t.Errorf("open findings changed while EDR was failing:\n%s", got)
	}
	os.WriteFile(path, good, 0o644)
	srep, erep = e.run(2 * time.Hour)
	if srep.Failed() {
		t.Errorf("sync after repair: %+v", srep.Sources)
	}
	if ch := erep.Changes; ch.Opened != 0 || ch.Resolved != 0 || ch.Gone != 0 {
		t.Errorf("repair changed the ledger: %+v", ch)
	}
}

// An entity that leaves every source takes its findings with it: gone.
func TestEntityGone(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	var victim onus.Finding
	for _, f := range e.findings(onus.StateOpen) {
		if f.Control == "mfa-strong-factor" {
			victim = f
			break
		}
	}
	oktaID := strings.TrimPrefix(victim.Entity, "account:okta_id:")
	for _, name := range []string{"okta/users.json", "okta/factors.ndjson"} {
		e.edit(name, func(s string) string {
			lines := strings.Split(s, "\n")
			out := lines[:0]
			skip := 0
			for i, l := range lines {
				switch {
				case skip > 0:
					skip--
				case strings.Contains(l, `"userId":"`+oktaID+`"`):
				case strings.Contains(l, `"id": "`+oktaID+`"`):
					// A pretty-printed user: drop it from its "{" to its "}".
					out = out[:len(out)-1]
					for j := i; j < len(lines); j++ {
						if lines[j] == "  }," || lines[j] == "  }" {
							skip = j - i
							break
						}
					}
				default:
					out = append(out, l)
				}
			}
			return strings.Join(out, "\n")
		})
	}
	_, rep := e.run(time.Hour)
	if rep.Changes.Gone != 1 || rep.Changes.Resolved != 0 || rep.Changes.Opened != 0 {
		t.Errorf("changes = %+v, want one gone", rep.Changes)
	}
	f, err := e.db.Finding(context.Background(), victim.ID)
	if err != nil || f.State != onus.StateGone {
		t.Errorf("finding = %+v, %v", f, err)
	}
}

func findControl(rep *monitor.EvalReport, id string) monitor.ControlReport {
	for _, c := range rep.Controls {
		if c.Control == id {
			return c
		}
	}
	return monitor.ControlReport{}
}

// When HR says an owner left, their findings move to their manager at the
// next evaluation, and the history says why and since when.
func TestReassignedWhenOwnerLeaves(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	var f onus.Finding
	for _, x := range e.findings(onus.StateOpen) {
		if x.Control == "edr-agent-missing" {
			f = x
			break
		}
	}
	owner := f.Responsible.Email
	left := orggen.AcmeNow.AddDate(0, 0, -27) // 3 Nov 2026 unshifted
	e.edit("hr/people.csv", func(s string) string {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			cols := strings.Split(l, ",")
			if len(cols) > 9 && cols[3] == owner {
				cols[8], cols[9] = left.Format("2006-01-02"), "Terminated"
				lines[i] = strings.Join(cols, ",")
			}
		}
		return strings.Join(lines, "\n")
	})
	_, rep := e.run(time.Hour)
	if rep.Changes.Reassigned == 0 {
		t.Fatalf("changes = %+v, want a reassignment", rep.Changes)
	}
	got, _ := e.db.Finding(context.Background(), f.ID)
	if got.Responsible.Email == owner || got.Responsible.Email == "" {
		t.Fatalf("finding still with %s", got.Responsible.Email)
	}
	events, _ := e.db.Events(context.Background(), f.ID)
	last := events[len(events)-1]
	if last.Type != "reassigned" || last.From != owner || last.To != got.Responsible.Email || !strings.Contains(last.Note, "who left on "+left.Format("2 Jan 2006")) {
		t.Errorf("last event = %+v", last)
	}
}

// An approved scope exception exempts the findings it covers at the next
// evaluation; when it expires they reopen.
func TestScopeExceptionAtEvaluation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.run(0)
	before := 0
	for _, f := range e.findings(onus.StateOpen) {
		if f.Control == "mfa-strong-factor" {
			before++
		}
	}
	now := orggen.AcmeNow
	x := &onus.Exception{Control: "mfa-strong-factor", Scope: `entity.name.endsWith("@acme.com")`, Severity: onus.High,
		Reason: "hardware keys are on their way", Requester: "it@acme.com", RequestedAt: now, Expires: now.Add(10 * 24 * time.Hour)}
	if err := e.db.CreateException(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Decide(ctx, onus.Decision{ID: x.ID, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionApproved, Actor: "whitfield.diffie@acme.com", Approver: "whitfield.diffie@acme.com"}); err != nil {
		t.Fatal(err)
	}
	_, rep := e.run(time.Hour)
	if len(rep.ExceptionsExpiring) != 1 || rep.ExceptionsExpiring[0].ID != x.ID {
		t.Errorf("expiring within the warning period: %v", rep.ExceptionsExpiring)
	}
	exempted := e.findings(onus.StateExempted)
	if rep.Changes.Exempted == 0 || len(exempted) == 0 || len(exempted) > before {
		t.Fatalf("changes %+v, %d exempted of %d", rep.Changes, len(exempted), before)
	}
	for _, f := range exempted {
		if f.Control != "mfa-strong-factor" || f.Exception != x.ID || !strings.HasSuffix(f.EntityName, "@acme.com") {
			t.Errorf("exempted %+v", f)
		}
	}
	// Eleven days later the exception has expired: the findings reopen,
	// keeping their first failure.
	_, rep = e.run(11 * 24 * time.Hour)
	if rep.ExceptionsExpired != 1 || rep.Changes.Reopened != len(exempted) {
		t.Errorf("after expiry: %d expired, changes %+v", rep.ExceptionsExpired, rep.Changes)
	}
	for _, f := range exempted {
		got, _ := e.db.Finding(ctx, f.ID)
		if got.State != onus.StateOpen || !got.FirstFailed.Equal(f.FirstFailed) {
			t.Errorf("finding %d after expiry: %s, first failed %v (was %v)", f.ID, got.State, got.FirstFailed, f.FirstFailed)
		}
	}
}
