package ledger_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/ledger"
)

var (
	now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	day = 24 * time.Hour
)

// resolver maps old ids to entities, and entities to their current ids.
type resolver struct {
	old map[string]int32
	ids []string
}

func (r resolver) Resolve(ids []string) map[string]int32 {
	out := map[string]int32{}
	for _, id := range ids {
		if e, ok := r.old[id]; ok {
			out[id] = e
		}
	}
	return out
}
func (r resolver) ID(e int32) string { return r.ids[e] }

func control(id string) *evaluate.Control {
	return &evaluate.Control{Control: &config.Control{ID: id}, Severity: onus.High, Deadline: 7 * day}
}

// results builds one control's results over entities with the given
// outcomes; failures are covered by exempt when it is set.
func results(ctl *evaluate.Control, r resolver, outcomes []uint8, owner string, exempt *onus.Exception) *evaluate.Results {
	cr := &evaluate.ControlResult{Control: ctl, Outcomes: outcomes}
	for e, o := range outcomes {
		if o == evaluate.Failed {
			cr.Failures = append(cr.Failures, evaluate.Result{Entity: int32(e), ID: r.ids[e], Name: "n", Kind: "device",
				Owner:     evaluate.Assignment{Ownership: evaluate.Ownership{Person: onus.Person{Email: owner}, Reason: "owner"}},
				Exemption: exempt})
		}
	}
	return &evaluate.Results{Now: now, Controls: []*evaluate.ControlResult{cr}}
}

var exception7 = &onus.Exception{ID: 7, Control: "c", Approver: "boss@x", Expires: now.Add(30 * day), State: onus.ExceptionApproved}

func withException(f onus.Finding, id int64) onus.Finding {
	f.Exception = id
	return f
}

func finding(id int64, control, entity string, state onus.State, owner string) onus.Finding {
	return onus.Finding{ID: id, Control: control, Entity: entity, State: state, Responsible: onus.Person{Email: owner},
		FirstFailed: now.Add(-10 * day), Due: now.Add(-3 * day)}
}

func TestDiff(t *testing.T) {
	ctl := control("c")
	tests := []struct {
		name     string
		prev     []onus.Finding
		r        resolver
		outcomes []uint8
		owner    string
		exempt   *onus.Exception
		restart  bool
		want     []string // "entity state event" per change
		stats    ledger.Stats
	}{
		{
			name:     "a new failure opens",
			r:        resolver{ids: []string{"d:serial:A"}},
			outcomes: []uint8{evaluate.Failed}, owner: "jane@x",
			want:  []string{"d:serial:A open opened"},
			stats: ledger.Stats{Opened: 1},
		},
		{
			name:     "a resolved finding that fails again reopens with a new deadline",
			prev:     []onus.Finding{finding(1, "c", "d:serial:A", onus.StateResolved, "jane@x")},
			r:        resolver{old: map[string]int32{"d:serial:A": 0}, ids: []string{"d:serial:A"}},
			outcomes: []uint8{evaluate.Failed}, owner: "jane@x",
			want:  []string{"d:serial:A open reopened"},
			stats: ledger.Stats{Reopened: 1},
		},
		{
			name:     "passing resolves, unknown keeps, out of scope resolves",
			prev:     []onus.Finding{finding(1, "c", "d:1", onus.StateOpen, "a@x"), finding(2, "c", "d:2", onus.StateOpen, "a@x"), finding(3, "c", "d:3", onus.StateOpen, "a@x")},
			r:        resolver{old: map[string]int32{"d:1": 0, "d:2": 1, "d:3": 2}, ids: []string{"d:1", "d:2", "d:3"}},
			outcomes: []uint8{evaluate.Passed, evaluate.Unknown, evaluate.OutOfScope},
			want:     []string{"d:1 resolved resolved", "d:3 resolved resolved"},
			stats:    ledger.Stats{Resolved: 2, StillUnknown: 1},
		},
		{
			name:     "an entity no source knows is gone; a removed control's findings too",
			prev:     []onus.Finding{finding(1, "c", "d:gone", onus.StateOpen, "a@x"), finding(2, "removed", "d:1", onus.StateExempted, "a@x")},
			r:        resolver{old: map[string]int32{"d:1": 0}, ids: []string{"d:1"}},
			outcomes: []uint8{evaluate.Passed},
			want:     []string{"d:gone gone gone", "d:1 gone gone"},
			stats:    ledger.Stats{Gone: 2},
		},
		{
			name:     "an exempted finding that still fails stays exempted; a new owner is a reassignment",
			prev:     []onus.Finding{withException(finding(1, "c", "d:1", onus.StateExempted, "old@x"), 7)},
			r:        resolver{old: map[string]int32{"d:1": 0}, ids: []string{"d:1"}},
			outcomes: []uint8{evaluate.Failed}, owner: "new@x", exempt: exception7,
			want:  []string{"d:1 exempted reassigned"},
			stats: ledger.Stats{Unchanged: 1, Reassigned: 1},
		},
		{
			name:     "an approved exception exempts an open finding",
			prev:     []onus.Finding{finding(1, "c", "d:1", onus.StateOpen, "a@x")},
			r:        resolver{old: map[string]int32{"d:1": 0}, ids: []string{"d:1"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x", exempt: exception7,
			want:  []string{"d:1 exempted exempted"},
			stats: ledger.Stats{Unchanged: 1, Exempted: 1},
		},
		{
			name:     "a new failure under a scope exception opens exempted",
			r:        resolver{ids: []string{"d:1"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x", exempt: exception7,
			want:  []string{"d:1 exempted exempted"},
			stats: ledger.Stats{Opened: 1, Exempted: 1},
		},
		{
			name:     "when the exception ends the finding reopens with its first failure and due date",
			prev:     []onus.Finding{withException(finding(1, "c", "d:1", onus.StateExempted, "a@x"), 7)},
			r:        resolver{old: map[string]int32{"d:1": 0}, ids: []string{"d:1"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x",
			want:  []string{"d:1 open reopened"},
			stats: ledger.Stats{Unchanged: 1, Reopened: 1},
		},
		{
			name:     "with restart_deadline the reopened finding gets a new deadline",
			prev:     []onus.Finding{withException(finding(1, "c", "d:2", onus.StateExempted, "a@x"), 7)},
			r:        resolver{old: map[string]int32{"d:2": 0}, ids: []string{"d:2"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x", restart: true,
			want:  []string{"d:2 open reopened"},
			stats: ledger.Stats{Unchanged: 1, Reopened: 1},
		},
		{
			name:     "a stronger key appears: the finding moves to the new id, keeping its history",
			prev:     []onus.Finding{finding(1, "c", "device:hostname:h", onus.StateOpen, "a@x")},
			r:        resolver{old: map[string]int32{"device:hostname:h": 0}, ids: []string{"device:serial:S"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x",
			want:  []string{"device:serial:S open reidentified"},
			stats: ledger.Stats{Unchanged: 1},
		},
		{
			name:     "two old ids become one entity: one finding moves, the other is gone",
			prev:     []onus.Finding{finding(1, "c", "device:hostname:h", onus.StateOpen, "a@x"), finding(2, "c", "device:mac:m", onus.StateOpen, "a@x")},
			r:        resolver{old: map[string]int32{"device:hostname:h": 0, "device:mac:m": 0}, ids: []string{"device:serial:S"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x",
			want:  []string{"device:serial:S open reidentified", "device:mac:m gone gone"},
			stats: ledger.Stats{Unchanged: 1, Gone: 1},
		},
		{
			// The gap under its new id is covered by an approved scope
			// exception: the moved finding is exempted in the same
			// evaluation, so no nudge chases it before the next one.
			name:     "a stronger key appears under an exception: the moved finding is exempted at once",
			prev:     []onus.Finding{finding(1, "c", "device:hostname:h", onus.StateOpen, "a@x")},
			r:        resolver{old: map[string]int32{"device:hostname:h": 0}, ids: []string{"device:serial:S"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x", exempt: exception7,
			want:  []string{"device:serial:S exempted reidentified"},
			stats: ledger.Stats{Unchanged: 1, Exempted: 1},
		},
		{
			name:     "an exempted finding moves to a stronger key and stays exempted, once",
			prev:     []onus.Finding{withException(finding(1, "c", "device:hostname:h", onus.StateExempted, "a@x"), 7)},
			r:        resolver{old: map[string]int32{"device:hostname:h": 0}, ids: []string{"device:serial:S"}},
			outcomes: []uint8{evaluate.Failed}, owner: "a@x", exempt: exception7,
			want:  []string{"device:serial:S exempted reidentified"},
			stats: ledger.Stats{Unchanged: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, st := ledger.Diff(tt.prev, results(ctl, tt.r, tt.outcomes, tt.owner, tt.exempt), tt.r, now, ledger.Options{RestartDeadline: tt.restart})
			var got []string
			for _, c := range changes {
				last := c.Events[len(c.Events)-1].Type
				if len(c.Events) > 1 && c.Events[0].Type == "reidentified" {
					last = "reidentified"
				}
				got = append(got, c.Finding.Entity+" "+string(c.Finding.State)+" "+string(last))
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("changes = %v, want %v", got, tt.want)
			}
			if st != tt.stats {
				t.Errorf("stats = %+v, want %+v", st, tt.stats)
			}
			for _, c := range changes {
				f := c.Finding
				switch c.Events[len(c.Events)-1].Type {
				case "reopened":
					wantFirst, wantDue := now, now.Add(7*day)
					if c.Events[0].From == string(onus.StateExempted) && !tt.restart {
						// The same gap, back from an exception: its history stands.
						wantFirst, wantDue = now.Add(-10*day), now.Add(-3*day)
					} else if tt.restart {
						wantFirst = now.Add(-10 * day)
					}
					if !f.FirstFailed.Equal(wantFirst) || !f.Due.Equal(wantDue) || f.ResolvedAt != nil || f.Exception != 0 {
						t.Errorf("reopened finding: first %v due %v resolved %v exception %d", f.FirstFailed, f.Due, f.ResolvedAt, f.Exception)
					}
				case "exempted":
					if f.Exception != 7 {
						t.Errorf("exempted finding: exception %d, want 7", f.Exception)
					}
				case "resolved":
					if f.ResolvedAt == nil || !f.ResolvedAt.Equal(now) {
						t.Errorf("resolved at %v", f.ResolvedAt)
					}
				case "reidentified":
					if f.ID != 1 || !f.FirstFailed.Equal(now.Add(-10*day)) {
						t.Errorf("re-identified finding lost its id or first failure: %+v", f)
					}
				}
			}
		})
	}
}

// A finding that fails is marked still failing (its last failure follows
// its control's evaluations); one that closes is not; one whose outcome
// becomes unknown stops following them, written once without an event,
// and is not written again while it stays unknown.
func TestStillFailing(t *testing.T) {
	ctl := control("c")
	r := resolver{old: map[string]int32{"d:0": 0, "d:1": 1, "d:2": 2, "d:3": 3}, ids: []string{"d:0", "d:1", "d:2", "d:3", "d:4"}}
	failing := func(f onus.Finding) onus.Finding { f.StillFailing = true; return f }
	prev := []onus.Finding{
		failing(finding(1, "c", "d:0", onus.StateOpen, "a@x")), // fails again
		failing(finding(2, "c", "d:1", onus.StateOpen, "a@x")), // unknown now
		finding(3, "c", "d:2", onus.StateOpen, "a@x"),          // unknown already
		failing(finding(4, "c", "d:3", onus.StateOpen, "a@x")), // passes
	}
	changes, st := ledger.Diff(prev, results(ctl, r, []uint8{evaluate.Failed, evaluate.Unknown, evaluate.Unknown, evaluate.Passed, evaluate.Failed}, "a@x", nil), r, now, ledger.Options{})
	got := map[string]string{}
	for _, c := range changes {
		got[c.Finding.Entity] = fmt.Sprintf("%s still=%v events=%d", c.Finding.State, c.Finding.StillFailing, len(c.Events))
		if c.Finding.Entity == "d:1" && !c.Finding.LastFailed.Equal(prev[1].LastFailed) {
			t.Errorf("d:1 last failure %v, want it kept (%v)", c.Finding.LastFailed, prev[1].LastFailed)
		}
	}
	want := map[string]string{
		"d:0": "open still=true events=0",
		"d:1": "open still=false events=0",
		"d:3": "resolved still=false events=1",
		"d:4": "open still=true events=1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changes:\n got %v\nwant %v", got, want)
	}
	if st.StillUnknown != 2 || st.Unchanged != 1 || st.Resolved != 1 || st.Opened != 1 {
		t.Errorf("stats = %+v", st)
	}
}
