package monitor_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/testclock"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// activeLedger lists the open and exempted findings as a run from scratch
// could tell them: what fails, in which state, whose it is and why.
func activeLedger(e *env) []string {
	var out []string
	for _, f := range e.findings(onus.StateOpen, onus.StateExempted) {
		out = append(out, fmt.Sprintf("%s %s %s owner=%s name=%s evidence=%v", f.Control, f.Entity, f.State, f.Responsible.Email, f.EntityName, f.Evidence))
	}
	slices.Sort(out)
	return out
}

// except records an approved exception for control on the entities scope
// matches, until expires after the example's date.
func (e *env) except(control, scope string, expires time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	now := orggen.AcmeNow
	x := &onus.Exception{Control: control, Scope: scope, Severity: onus.High, Reason: "on its way", Requester: "it@acme.com",
		RequestedAt: now, Expires: now.Add(expires)}
	if err := e.db.CreateException(ctx, x); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Decide(ctx, onus.Decision{ID: x.ID, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionApproved,
		Actor: "whitfield.diffie@acme.com", Approver: "whitfield.diffie@acme.com"}); err != nil {
		e.t.Fatal(err)
	}
}

// A re-run on a store with history ends with the open and exempted
// findings a run from scratch on the same exports, configuration and
// exceptions has, at the same instant: whatever the re-run kept from the
// runs before (snapshots of unchanged sources, findings not written
// again), it must not show.
func TestRerunEqualsRunFromScratch(t *testing.T) {
	hour, day := time.Hour, 24*time.Hour
	tests := []struct {
		name string
		// change is applied to both stores: to the one with history after
		// its first run, to the empty one before its only run.
		change func(e *env)
		// between runs on the store with history only, after its first
		// run and before change.
		between func(e *env) *monitor.EvalReport
		at      time.Duration
		// carried are the controls the re-run must carry over (all others
		// are evaluated); evaluated gives, for some, why they must be.
		carried   []string
		evaluated map[string]string
		// history compares with a full evaluation of a store with the same
		// history instead of a run from scratch: a source that fails
		// keeps its last good snapshot, which an empty store has not.
		history bool
	}{
		{
			name: "okta: 1% of the users differ",
			change: func(e *env) {
				e.edit("okta/users.json", func(s string) string {
					n := 0
					s = replaceN(s, `"status": "ACTIVE"`, `"status": "SUSPENDED"`, 2, &n)
					return replaceN(s, `"status": "DEPROVISIONED"`, `"status": "ACTIVE"`, 1, &n)
				})
			},
			at: hour,
			// The accounts' controls are evaluated, those reading the
			// clock too; the device and software controls that do not are
			// carried over, and the software and apps are not loaded.
			carried:   []string{"app-outdated", "disk-encryption"},
			evaluated: map[string]string{"mfa-strong-factor": "changed: source okta", "terminated-account-active": "changed: source okta", "edr-agent-missing": "reads now"},
		},
		{
			// omar.fischer left and his account is still active: his Okta
			// user is removed, and the finding must not stay open.
			name: "okta: a user is removed",
			change: func(e *env) {
				e.edit("okta/users.json", func(s string) string {
					i := strings.Index(s, `"omar.fischer@acme.com"`)
					start := strings.LastIndex(s[:i], "\n  {")
					end := i + strings.Index(s[i:], "\n  }") + len("\n  }")
					if s[end] == ',' {
						end++
					} else {
						start = strings.LastIndex(s[:start], ",")
					}
					return s[:start] + s[end:]
				})
			},
			at:      hour,
			carried: []string{"app-outdated", "disk-encryption"},
		},
		{
			// MBP-TBERG2's CrowdStrike record has no serial and a MAC two
			// laptops share: it is an entity of its own. With the serial
			// it merges into the laptop.
			name: "edr: a record gains a serial and two entities merge",
			change: func(e *env) {
				e.edit("crowdstrike/devices.json", func(s string) string {
					return strings.Replace(s, `"device_id": "e6c9dbf8b723c2814f9d259db115ae37",`, `"device_id": "e6c9dbf8b723c2814f9d259db115ae37", "serial_number": "C028D9YYN1AA",`, 1)
				})
			},
			at: hour,
			// Software links to devices: app-outdated reads them.
			carried:   []string{"mfa-strong-factor", "terminated-account-active"},
			evaluated: map[string]string{"app-outdated": "changed: source edr", "disk-encryption": "changed: source edr"},
		},
		{
			// mateo.osei's laptop is matched to its CrowdStrike record by
			// serial alone (its name is junk): without the serial the
			// record splits off.
			name: "edr: a record loses its serial and an entity splits",
			change: func(e *env) {
				e.edit("crowdstrike/devices.json", func(s string) string {
					return strings.Replace(s, `"serial_number": "C02RNDQRY10B"`, `"serial_number": ""`, 1)
				})
			},
			at:      hour,
			carried: []string{"mfa-strong-factor", "terminated-account-active"},
		},
		{
			name: "a control's check changes: every entity is judged again",
			change: func(e *env) {
				e.editFile("controls/endpoint.yaml", func(s string) string {
					return strings.Replace(s, `check: entity.sources.edr.last_seen > now - duration("72h")`, `check: entity.sources.edr.last_seen > now - duration("200h")`, 1)
				})
			},
			at:      hour,
			carried: []string{"app-outdated", "disk-encryption", "mfa-strong-factor", "terminated-account-active"},
		},
		{
			name: "a control's text changes: that control is evaluated, the others carried over",
			change: func(e *env) {
				e.editFile("controls/endpoint.yaml", func(s string) string {
					return strings.Replace(s, `("intune" in entity.sources && entity.sources.intune.encrypted)`, `("intune" in entity.sources && !entity.sources.intune.encrypted)`, 1)
				})
			},
			at:        hour,
			carried:   []string{"app-outdated", "mfa-strong-factor", "terminated-account-active"},
			evaluated: map[string]string{"disk-encryption": "changed: control"},
		},
		{
			name:      "an exception expires between the runs",
			between:   func(e *env) *monitor.EvalReport { _, r := e.run(hour); return r },
			change:    func(e *env) { e.except("mfa-strong-factor", `entity.name.endsWith("@acme.com")`, 2*day) },
			at:        3 * day,
			carried:   []string{"app-outdated", "disk-encryption", "terminated-account-active"},
			evaluated: map[string]string{"mfa-strong-factor": "changed: exceptions"},
		},
		{
			name:      "an exception is approved for a control otherwise carried over",
			change:    func(e *env) { e.except("disk-encryption", `entity.name.startsWith("M")`, 30*day) },
			at:        hour,
			carried:   []string{"app-outdated", "mfa-strong-factor", "terminated-account-active"},
			evaluated: map[string]string{"disk-encryption": "changed: exceptions"},
		},
		{
			name:      "an exception of a control otherwise carried over expires",
			between:   func(e *env) *monitor.EvalReport { _, r := e.run(hour); return r },
			change:    func(e *env) { e.except("app-outdated", `true`, 2*day) },
			at:        3 * day,
			carried:   []string{"disk-encryption", "mfa-strong-factor", "terminated-account-active"},
			evaluated: map[string]string{"app-outdated": "changed: exceptions"},
		},
		{
			// People are read by every control (owners, managers).
			name: "hr: a person leaves; every control is evaluated",
			change: func(e *env) {
				e.edit("hr/people.csv", func(s string) string {
					// The example's dates move with ONUS_TEST_SHIFT.
					was := testclock.ShiftDates("grace.hopper@acme.com,Engineering,VP Engineering,ada.lovelace@acme.com,2021-04-14,,Active,", testclock.Shift())
					now := testclock.ShiftDates("grace.hopper@acme.com,Engineering,VP Engineering,ada.lovelace@acme.com,2021-04-14,2026-11-20,Terminated,", testclock.Shift())
					return strings.Replace(s, was, now, 1)
				})
			},
			at:        hour,
			evaluated: map[string]string{"app-outdated": "changed: source hr", "mfa-strong-factor": "changed: source hr"},
		},
		{
			name: "a manual link: every control is evaluated",
			change: func(e *env) {
				story, err := os.ReadFile(filepath.Join(e.dir, "STORY.txt"))
				if err != nil {
					e.t.Fatal(err)
				}
				m := regexp.MustCompile(`onus link (device:\S+) (edr:\S+) confirms`).FindStringSubmatch(string(story))
				if m == nil {
					e.t.Fatal("no device link in STORY.txt")
				}
				if err := e.db.SetManualLink(context.Background(), store.ManualLink{A: m[1], B: m[2], Linked: true, Actor: "it@acme.com"}); err != nil {
					e.t.Fatal(err)
				}
			},
			at:        hour,
			evaluated: map[string]string{"app-outdated": "changed: manual links", "mfa-strong-factor": "changed: manual links"},
		},
		{
			// A source that fails its sync keeps its last good snapshot
			// and reads as unhealthy: what reads it is evaluated again.
			name: "edr: a sync fails and the source turns unhealthy",
			change: func(e *env) {
				e.edit("crowdstrike/devices.json", func(s string) string { return s[:len(s)/3] })
			},
			at:        hour,
			history:   true,
			carried:   []string{"mfa-strong-factor", "terminated-account-active"},
			evaluated: map[string]string{"disk-encryption": "changed: source edr", "app-outdated": "changed: source edr"},
		},
		{
			// Nothing changed in any export: ten days later, aisha.ruiz's
			// background check is overdue and laptops have gone quiet.
			name:   "only the clock moves: deadlines pass on entities no export changed",
			change: func(*env) {},
			at:     10 * day,
			// What reads now, or shows ages in its evidence, is evaluated.
			carried:   []string{"app-outdated", "disk-encryption", "mfa-strong-factor", "terminated-account-active"},
			evaluated: map[string]string{"edr-agent-stale": "reads now", "background-check-complete": "reads now", "departed-device-checking-in": "evidence shows ages"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := newEnv(t)
			_, before := inc.run(0)
			first := activeLedger(inc)
			if tt.between != nil {
				// between may need what change sets up (an exception).
				tt.change(inc)
				before = tt.between(inc)
				first = activeLedger(inc)
			} else {
				tt.change(inc)
			}
			srep, erep := inc.run(tt.at)
			got := activeLedger(inc)
			checkCarried(t, erep, tt.carried, tt.evaluated)
			checkKept(t, before, erep)

			full := newEnv(t)
			var frep *monitor.SyncReport
			if tt.history {
				full.run(0)
				tt.change(full)
				m := full.monitor()
				m.Full = true
				var err error
				if frep, err = m.Sync(context.Background(), monitor.SyncOptions{}); err != nil {
					t.Fatal(err)
				}
				if r, err := m.Eval(context.Background(), orggen.AcmeNow.Add(tt.at), nil); err != nil {
					t.Fatal(err)
				} else if r.Evaluation != "full" || len(r.Carried) > 0 {
					t.Fatalf("--full: evaluation %s, %d controls carried", r.Evaluation, len(r.Carried))
				}
				if !frep.Failed() || !srep.Failed() {
					t.Fatalf("the case wants a failed sync")
				}
			} else {
				tt.change(full)
				frep, _ = full.run(tt.at)
				if srep.Failed() || frep.Failed() {
					t.Fatalf("a sync failed: %+v / %+v", srep.Sources, frep.Sources)
				}
			}
			want := activeLedger(full)
			if !slices.Equal(got, want) {
				t.Errorf("re-run and run from scratch differ:\nonly in the re-run:\n  %s\nonly from scratch:\n  %s",
					strings.Join(diffOnly(got, want), "\n  "), strings.Join(diffOnly(want, got), "\n  "))
			}
			if slices.Equal(first, got) {
				t.Errorf("the change made no difference to the findings: the case tests nothing")
			}
		})
	}
}

// checkCarried checks what an incremental evaluation carried over and
// evaluated: exactly the controls in carried are carried (none: every
// control evaluated), and those in evaluated are evaluated for a reason
// that contains the one given.
func checkCarried(t *testing.T, rep *monitor.EvalReport, carried []string, evaluated map[string]string) {
	t.Helper()
	if !slices.Equal(rep.Carried, carried) {
		t.Errorf("carried over %v, want %v (evaluation %s %s; evaluated: %+v)", rep.Carried, carried, rep.Evaluation, rep.FullBecause, rep.Evaluated)
	}
	if want := "incremental"; len(carried) > 0 && rep.Evaluation != want {
		t.Errorf("evaluation %q, want %q", rep.Evaluation, want)
	}
	why := map[string]string{}
	for _, c := range rep.Evaluated {
		why[c.Control] = c.Reason
	}
	for id, reason := range evaluated {
		if !strings.Contains(why[id], reason) {
			t.Errorf("%s evaluated because %q, want %q", id, why[id], reason)
		}
	}
	for _, c := range rep.Controls {
		if c.Carried != slices.Contains(carried, c.Control) {
			t.Errorf("control %s reported carried=%v", c.Control, c.Carried)
		}
	}
}

// checkKept checks that what an incremental evaluation reports about the
// sources it did not load (records, health, unmatched records, their
// kinds' entity counts) is what the evaluation before reported.
func checkKept(t *testing.T, before, rep *monitor.EvalReport) {
	t.Helper()
	if len(rep.NotLoaded) > 0 && rep.KeptFromRun != before.Run {
		t.Errorf("figures kept from run %d, want %d", rep.KeptFromRun, before.Run)
	}
	health := func(r *monitor.EvalReport, src string) monitor.SourceHealth {
		for _, h := range r.Sources {
			if h.Source == src {
				return h
			}
		}
		return monitor.SourceHealth{}
	}
	kinds := func(r *monitor.EvalReport, kind string) monitor.KindCount {
		for _, k := range r.Kinds {
			if k.Kind == kind {
				return k
			}
		}
		return monitor.KindCount{}
	}
	for _, src := range rep.NotLoaded {
		got, want := health(rep, src), health(before, src)
		if got.Records == 0 || got.Records != want.Records || !got.SyncedAt.Equal(want.SyncedAt) || got.Healthy != want.Healthy || got.Unmatched != want.Unmatched {
			t.Errorf("source %s not loaded: reported %+v, the evaluation before %+v", src, got, want)
		}
		g, w := kinds(rep, got.Kind), kinds(before, got.Kind)
		if g.Entities == 0 || g.Entities != w.Entities || !maps.Equal(g.BySource, w.BySource) {
			t.Errorf("kind %s not loaded: reported %+v, the evaluation before %+v", got.Kind, g, w)
		}
	}
}
