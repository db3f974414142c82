package monitor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/orggen"
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

// editFile rewrites a file of the configuration directory with fn.
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
		between func(e *env)
		at      time.Duration
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
			at: hour,
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
			at: hour,
		},
		{
			name: "a control's check changes: every entity is judged again",
			change: func(e *env) {
				e.editFile("controls/endpoint.yaml", func(s string) string {
					return strings.Replace(s, `check: entity.sources.edr.last_seen > now - duration("72h")`, `check: entity.sources.edr.last_seen > now - duration("200h")`, 1)
				})
			},
			at: hour,
		},
		{
			name:    "an exception expires between the runs",
			between: func(e *env) { e.run(hour) },
			change:  func(e *env) { e.except("mfa-strong-factor", `entity.name.endsWith("@acme.com")`, 2*day) },
			at:      3 * day,
		},
		{
			// Nothing changed in any export: ten days later, aisha.ruiz's
			// background check is overdue and laptops have gone quiet.
			name:   "only the clock moves: deadlines pass on entities no export changed",
			change: func(*env) {},
			at:     10 * day,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := newEnv(t)
			inc.run(0)
			first := activeLedger(inc)
			if tt.between != nil {
				// between may need what change sets up (an exception).
				tt.change(inc)
				tt.between(inc)
			} else {
				tt.change(inc)
			}
			srep, _ := inc.run(tt.at)
			got := activeLedger(inc)

			full := newEnv(t)
			tt.change(full)
			frep, _ := full.run(tt.at)
			if srep.Failed() || frep.Failed() {
				t.Fatalf("a sync failed: %+v / %+v", srep.Sources, frep.Sources)
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
