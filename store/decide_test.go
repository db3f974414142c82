package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// TestDecideMovesFinding checks that a decision writes the move its rule
// returns, with its events, and that a move computed from a finding that
// is no longer so is refused with the whole decision.
func TestDecideMovesFinding(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f := onus.Finding{Control: "edr", Entity: "d:1", EntityKind: "device", Severity: onus.High, State: onus.StateOpen,
		FirstFailed: now, LastFailed: now, Due: now.Add(7 * 24 * time.Hour), UpdatedAt: now}
	if err := db.ApplyChanges(ctx, 0, []onus.FindingChange{{New: true, Finding: f}}, nil, -1); err != nil {
		t.Fatal(err)
	}
	stored, err := db.Findings(ctx, onus.FindingFilter{})
	if err != nil || len(stored) != 1 {
		t.Fatalf("findings = %v, %v", stored, err)
	}
	f = stored[0]
	request := func() *onus.Exception {
		t.Helper()
		x := &onus.Exception{Control: "edr", Finding: f.ID, Entity: f.Entity, Severity: onus.High, Reason: "r",
			Requester: "jane@x.com", RequestedAt: now, Expires: now.Add(24 * time.Hour)}
		if err := db.CreateException(ctx, x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	approve := func(id int64, move onus.FindingMove) (*onus.Exception, error) {
		return db.Decide(ctx, onus.Decision{ID: id, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionApproved,
			Actor: "ada@x.com", Approver: "ada@x.com", Move: move})
	}
	exempt := func(prior onus.State) onus.FindingMove {
		return func(f onus.Finding, x *onus.Exception) (onus.FindingChange, bool) {
			c := onus.FindingChange{Finding: f, Prior: prior, PriorException: f.Exception}
			c.Finding.State, c.Finding.Exception, c.Finding.UpdatedAt = onus.StateExempted, x.ID, now
			c.Events = []onus.Event{{At: now, Type: onus.EventExempted, From: string(f.State), To: string(onus.StateExempted)}}
			return c, true
		}
	}

	// A move read from a state the finding is not in: refused, and the
	// exception stays requested.
	x := request()
	if _, err := approve(x.ID, exempt(onus.StateResolved)); onus.ErrorCode(err) != onus.ECONFLICT || !errors.Is(err, onus.ErrChanged) {
		t.Fatalf("stale move: err = %v, want a conflict wrapping ErrChanged", err)
	}
	if got, _ := db.Exception(ctx, x.ID); got.State != onus.ExceptionRequested {
		t.Errorf("after a refused move the exception is %s, want requested", got.State)
	}
	if got, _ := db.Finding(ctx, f.ID); got.State != onus.StateOpen {
		t.Errorf("after a refused move the finding is %s, want open", got.State)
	}

	// The move as read: written, with its event.
	if _, err := approve(x.ID, exempt(onus.StateOpen)); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Finding(ctx, f.ID)
	if got.State != onus.StateExempted || got.Exception != x.ID {
		t.Errorf("finding = %s, exception %d; want exempted by %d", got.State, got.Exception, x.ID)
	}
	events, _ := db.Events(ctx, f.ID)
	if len(events) != 1 || events[0].Type != onus.EventExempted {
		t.Errorf("events = %+v, want one exempted", events)
	}

	// No rule: the finding does not move.
	y := request()
	if _, err := approve(y.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Finding(ctx, f.ID); got.Exception != x.ID {
		t.Errorf("a decision without a rule moved the finding to exception %d", got.Exception)
	}
}
