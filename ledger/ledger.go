// Package ledger keeps the findings ledger: it compares an evaluation's
// results with the findings already on record and says what changes. It is
// pure: the caller loads the previous findings and stores the changes.
//
//	fails, no finding                → opened (exempted at once when an exception covers it)
//	fails, open                      → unchanged (first failure kept; owners and evidence refreshed)
//	fails, open, now covered         → exempted
//	fails, exempted, no longer covered → reopened (the exception expired or was revoked)
//	fails, resolved or gone          → reopened
//	passes or left the scope         → resolved
//	unknown                          → unchanged: missing data never resolves or opens anything
//	entity in no source any more     → gone
//	control removed                  → gone
//	fails under a new id (a stronger key) → the finding moves there, and
//	                                   the rules above apply to it at once
//
// It is the one place where a finding changes state: an exception
// decision moves a finding by Decided too (approval exempts it; expiry or
// revocation reopens it, due as ReopenDue says), handed to the store as an
// onus.FindingMove by Move.
package ledger

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
)

// Resolver maps entity ids from earlier evaluations to current entities.
type Resolver interface {
	// Resolve returns the current entity of each id that still names one;
	// ids of entities that are gone are absent.
	Resolve(ids []string) map[string]int32
	// ID returns an entity's current id.
	ID(e int32) string
}

// Stats counts what a diff did.
type Stats struct {
	Opened, Reopened, Resolved, Gone, Reassigned, Exempted, Unchanged, StillUnknown int
}

// Options tune the diff.
type Options struct {
	// RestartDeadline gives a finding whose exception ended a new deadline
	// from now, instead of its original due date.
	RestartDeadline bool
	// Unreadable holds the entity kinds some of whose records were skipped
	// as malformed without an id to say whose they were: a finding of such
	// a kind whose entity is missing may have lost it to the damage, so it
	// is held, not closed as gone.
	Unreadable map[string]bool
}

// Diff compares prev (the findings on record that are open or exempted,
// plus any others with the same key as a failure now) with res.
func Diff(prev []onus.Finding, res *evaluate.Results, inv Resolver, now time.Time, o Options) ([]onus.FindingChange, Stats) {
	var st Stats
	byKey := make(map[onus.FindingKey]*onus.Finding, len(prev))
	ids := make([]string, 0, len(prev))
	for i := range prev {
		f := &prev[i]
		byKey[onus.FindingKey{Control: f.Control, Entity: f.Entity}] = f
		ids = append(ids, f.Entity)
	}
	current := inv.Resolve(ids)
	controls := map[string]*evaluate.ControlResult{}
	for _, cr := range res.Controls {
		controls[cr.Control.ID] = cr
	}
	// One change per failure and at most one per finding on record: the
	// slice is sized once. Grown by doubling, its copies of these large
	// values cost more than the diff itself at 100,000 people (49,000
	// findings), and more still while the collector marks a large heap.
	failures := 0
	for _, cr := range res.Controls {
		failures += len(cr.Failures)
	}
	changes := make([]onus.FindingChange, 0, failures+len(prev))
	done := make(map[onus.FindingKey]bool, failures)
	moved := map[onus.FindingKey]bool{}
	// covered holds the exception that exempts each new finding, for a
	// finding on record that turns out to be the same gap (re-identified).
	covered := map[onus.FindingKey]*onus.Exception{}

	// Failures: open, keep, exempt or reopen.
	for _, cr := range res.Controls {
		for i := range cr.Failures {
			r := &cr.Failures[i]
			k := onus.FindingKey{Control: cr.Control.ID, Entity: r.ID}
			done[k] = true
			f, ok := byKey[k]
			if !ok {
				nf := newFinding(cr.Control, r, now)
				c := onus.FindingChange{Finding: nf, New: true, Events: []onus.Event{{At: now, Type: onus.EventOpened, To: string(onus.StateOpen), Note: ownerNote(r.Owner)}}}
				st.cover(&c, r.Exemption, now, cr.Control.Deadline, o.RestartDeadline)
				if r.Exemption != nil {
					covered[k] = r.Exemption
				}
				changes = append(changes, c)
				st.Opened++
				continue
			}
			c := onus.FindingChange{Finding: *f, Prior: f.State, PriorException: f.Exception}
			nf := &c.Finding
			switch f.State {
			case onus.StateOpen, onus.StateExempted:
				st.Unchanged++
				// A changed deadline policy moves the due date of open findings.
				if f.State == onus.StateOpen {
					nf.Due = f.FirstFailed.Add(cr.Control.Deadline)
				}
			default:
				nf.State = onus.StateOpen
				nf.FirstFailed = now
				nf.ResolvedAt = nil
				nf.Due = now.Add(cr.Control.Deadline)
				c.Events = append(c.Events, onus.Event{At: now, Type: onus.EventReopened, From: string(f.State), To: string(onus.StateOpen)})
				st.Reopened++
			}
			st.cover(&c, r.Exemption, now, cr.Control.Deadline, o.RestartDeadline)
			nf.LastFailed, nf.StillFailing = now, true
			nf.Evidence = r.Evidence
			nf.EntityName = r.Name
			nf.Person, nf.Device = r.Person, r.Device
			nf.Severity = cr.Control.Severity
			switch {
			case r.OwnerHeld:
				// A record the owner depends on was skipped as malformed:
				// the finding keeps its owner rather than follow bad data.
			case f.Responsible.Email != r.Owner.Person.Email:
				c.Events = append(c.Events, reassigned(now, f.Responsible.Email, r.Owner))
				st.Reassigned++
				setOwners(nf, r.Owner)
			default:
				setOwners(nf, r.Owner)
			}
			nf.UpdatedAt = now
			changes = append(changes, c)
		}
	}

	// Findings on record that did not fail now.
	keys := make([]onus.FindingKey, 0, len(byKey))
	for k := range byKey {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Control != keys[j].Control {
			return keys[i].Control < keys[j].Control
		}
		return keys[i].Entity < keys[j].Entity
	})
	for _, k := range keys {
		f := byKey[k]
		if f.State != onus.StateOpen && f.State != onus.StateExempted {
			continue
		}
		close := func(state onus.State, typ onus.EventType, note string) {
			c := onus.FindingChange{Finding: *f, Prior: f.State, PriorException: f.Exception}
			c.Finding.State = state
			c.Finding.UpdatedAt = now
			c.Finding.StillFailing = false
			if state == onus.StateResolved {
				t := now
				c.Finding.ResolvedAt = &t
			}
			c.Events = []onus.Event{{At: now, Type: typ, From: string(f.State), To: string(state), Note: note}}
			changes = append(changes, c)
		}
		cr := controls[f.Control]
		if cr == nil {
			close(onus.StateGone, onus.EventGone, "the control was removed or disabled")
			st.Gone++
			continue
		}
		// unknown keeps a finding as it is; one that failed at the
		// evaluation before stops following its control's evaluations, so
		// that its last failure stays when it was.
		unknown := func() {
			st.StillUnknown++
			if f.StillFailing {
				c := onus.FindingChange{Finding: *f, Prior: f.State, PriorException: f.Exception}
				c.Finding.StillFailing = false
				changes = append(changes, c)
			}
		}
		e, ok := current[f.Entity]
		if !ok && o.Unreadable[f.EntityKind] {
			unknown()
			continue
		}
		if !ok {
			close(onus.StateGone, onus.EventGone, "the entity is no longer in any source")
			st.Gone++
			continue
		}
		switch cr.Outcomes[e] {
		case evaluate.Unknown:
			unknown()
		case evaluate.Passed:
			close(onus.StateResolved, onus.EventResolved, "the check passes")
			st.Resolved++
		case evaluate.OutOfScope:
			close(onus.StateResolved, onus.EventResolved, "the entity is no longer in the control's scope")
			st.Resolved++
		case evaluate.Failed:
			// The entity fails under a new id: a stronger key appeared (a
			// serial number for a machine known by hostname). The finding
			// moves to the new id, unless one is on record there already or
			// another old finding moved there first.
			nk := onus.FindingKey{Control: f.Control, Entity: inv.ID(e)}
			if _, taken := byKey[nk]; taken || moved[nk] {
				close(onus.StateGone, onus.EventGone, "the entity is now known as "+nk.Entity)
				st.Gone++
				continue
			}
			moved[nk] = true
			c := onus.FindingChange{Finding: *f, Prior: f.State, PriorException: f.Exception}
			c.Finding.Entity = nk.Entity
			c.Finding.UpdatedAt = now
			c.Finding.StillFailing = true
			c.Events = []onus.Event{{At: now, Type: onus.EventReidentified, From: f.Entity, To: nk.Entity, Note: "a stronger identity key appeared"}}
			// The failure loop opened a new finding for the new id; this
			// finding is the same gap, so it takes that one's place.
			changes = replaceNew(changes, nk, &c, covered[nk], now, cr.Control.Deadline, o.RestartDeadline, &st)
			st.Opened--
			st.Unchanged++
		}
	}
	return changes, st
}

// cover applies the exemption rule to a finding that fails now: covered by
// x (nil: by no exception in force) and not yet exempted by it, it is
// exempted; exempted but no longer covered, it reopens (the exception
// expired or was revoked).
func (st *Stats) cover(c *onus.FindingChange, x *onus.Exception, now time.Time, deadline time.Duration, restart bool) {
	f := &c.Finding
	switch {
	case x != nil && (f.State != onus.StateExempted || f.Exception != x.ID):
		c.Events = append(c.Events, exemptEvent(now, f.State, x))
		f.State, f.Exception = onus.StateExempted, x.ID
		st.Exempted++
	case x == nil && f.State == onus.StateExempted:
		reopen(c, now, deadline, restart, fmt.Sprintf("exception #%d is no longer in force", f.Exception))
		st.Reopened++
	}
}

// reopen moves an exempted finding back to open, with its original first
// failure and the due date ReopenDue gives.
func reopen(c *onus.FindingChange, now time.Time, deadline time.Duration, restart bool, note string) {
	f := &c.Finding
	c.Events = append(c.Events, onus.Event{At: now, Type: onus.EventReopened, From: string(f.State), To: string(onus.StateOpen), Note: note})
	f.State, f.Exception = onus.StateOpen, 0
	f.Due = ReopenDue(f, now, deadline, restart)
	f.UpdatedAt = now
}

// ReopenDue is the due date of a finding whose exception ended at now: a
// new deadline from now when the configuration restarts deadlines
// (exceptions.restart_deadline), its original due date otherwise, both by
// the control's deadline.
func ReopenDue(f *onus.Finding, now time.Time, deadline time.Duration, restart bool) time.Time {
	if restart {
		return now.Add(deadline)
	}
	return f.FirstFailed.Add(deadline)
}

// Decided is the rule for what a decision about an exception for one
// finding does to that finding at now: an approval exempts it if it is
// open (or exempted by another exception); an expiry or revocation of the
// exception that exempts it reopens it, due as ReopenDue says. Other
// decisions, and findings in other states, do not move: it returns false.
func Decided(f onus.Finding, x *onus.Exception, now time.Time, deadline time.Duration, restart bool) (onus.FindingChange, bool) {
	c := onus.FindingChange{Finding: f, Prior: f.State, PriorException: f.Exception}
	switch {
	case x.State == onus.ExceptionApproved && (f.State == onus.StateOpen || f.State == onus.StateExempted) && f.Exception != x.ID:
		c.Events = append(c.Events, exemptEvent(now, f.State, x))
		c.Finding.State, c.Finding.Exception, c.Finding.UpdatedAt = onus.StateExempted, x.ID, now
	case (x.State == onus.ExceptionExpired || x.State == onus.ExceptionRevoked) && f.State == onus.StateExempted && f.Exception == x.ID:
		reopen(&c, now, deadline, restart, fmt.Sprintf("exception #%d %s", x.ID, x.State))
	default:
		return c, false
	}
	return c, true
}

// Move returns the rule Decided as the store applies it, with the
// deadlines and the restart_deadline setting of cfg, at now. A finding of
// a control cfg does not know (a guardrail of onus gate, a control since
// removed) keeps its due date when it reopens.
func Move(cfg *config.Config, now time.Time) onus.FindingMove {
	return func(f onus.Finding, x *onus.Exception) (onus.FindingChange, bool) {
		ctl := cfg.Control(f.Control)
		if ctl == nil {
			c, ok := Decided(f, x, now, 0, false)
			c.Finding.Due = f.Due
			return c, ok
		}
		return Decided(f, x, now, cfg.Deadline(ctl), cfg.Exceptions.RestartDeadline)
	}
}

func newFinding(ctl *evaluate.Control, r *evaluate.Result, now time.Time) onus.Finding {
	f := onus.Finding{
		Control: ctl.ID, Entity: r.ID, EntityKind: r.Kind, EntityName: r.Name, Person: r.Person, Device: r.Device,
		Severity: ctl.Severity, State: onus.StateOpen,
		FirstFailed: now, LastFailed: now, Due: now.Add(ctl.Deadline),
		Evidence: r.Evidence, UpdatedAt: now, StillFailing: true,
	}
	setOwners(&f, r.Owner)
	return f
}

func setOwners(f *onus.Finding, a evaluate.Assignment) {
	f.Responsible, f.OwnerReason, f.OwnershipGap = a.Person, a.Reason, a.Gap
	f.Accountable, f.Consulted, f.Informed = a.Accountable, a.Consulted, a.Informed
}

func exemptEvent(now time.Time, from onus.State, x *onus.Exception) onus.Event {
	note := fmt.Sprintf("exception #%d, approved by %s, until %s", x.ID, x.Approver, x.Expires.Format("2006-01-02"))
	return onus.Event{At: now, Type: onus.EventExempted, From: string(from), To: string(onus.StateExempted), Note: note}
}

func reassigned(now time.Time, from string, a evaluate.Assignment) onus.Event {
	if from == "" {
		from = "nobody"
	}
	return onus.Event{At: now, Type: onus.EventReassigned, From: from, To: a.Person.Email, Note: a.Reason}
}

func ownerNote(a evaluate.Assignment) string {
	if a.Person.Email == "" {
		return a.Reason
	}
	return "assigned to " + a.Person.Email + ": " + a.Reason
}

// replaceNew replaces the finding opened for k with the re-identified
// finding c, carrying over the fresh owners and evidence, and the
// coverage the new finding had: an exception that covers the entity under
// its new id exempts the moved finding now, not at the next evaluation.
func replaceNew(changes []onus.FindingChange, k onus.FindingKey, c *onus.FindingChange, x *onus.Exception, now time.Time, deadline time.Duration, restart bool, st *Stats) []onus.FindingChange {
	for i := range changes {
		n := &changes[i]
		if !n.New || n.Finding.Control != k.Control || n.Finding.Entity != k.Entity {
			continue
		}
		c.Finding.Evidence = n.Finding.Evidence
		c.Finding.LastFailed = now
		c.Finding.EntityName = n.Finding.EntityName
		if c.Finding.Responsible.Email != n.Finding.Responsible.Email {
			c.Events = append(c.Events, onus.Event{At: now, Type: onus.EventReassigned, From: c.Finding.Responsible.Email, To: n.Finding.Responsible.Email, Note: n.Finding.OwnerReason})
		}
		c.Finding.Responsible, c.Finding.OwnerReason, c.Finding.OwnershipGap = n.Finding.Responsible, n.Finding.OwnerReason, n.Finding.OwnershipGap
		c.Finding.Accountable, c.Finding.Consulted, c.Finding.Informed = n.Finding.Accountable, slices.Clone(n.Finding.Consulted), slices.Clone(n.Finding.Informed)
		// The new finding's exemption was counted when it was opened; the
		// moved finding is counted by cover.
		if n.Finding.State == onus.StateExempted {
			st.Exempted--
		}
		st.cover(c, x, now, deadline, restart)
		changes[i] = *c
		return changes
	}
	return append(changes, *c)
}
