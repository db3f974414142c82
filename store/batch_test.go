package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// More rows than one batch holds (rowBatch: 500 per statement on
// PostgreSQL, then the rest in chunks of a power of two): every new
// finding gets its own id, its events name it, and the people and
// unknowns are all there, on both engines.
func TestApplyChangesInBatches(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	run, _ := db.BeginRun(ctx, "eval", "test", time.Now())
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	const n = 1234
	var changes []onus.FindingChange
	for i := range n {
		changes = append(changes, onus.FindingChange{New: true, Finding: onus.Finding{Control: "edr", Entity: fmt.Sprintf("device:%d", i), EntityKind: "device",
			EntityName: fmt.Sprintf("MBP-%d", i), Severity: onus.High, State: onus.StateOpen, Responsible: onus.Person{Email: fmt.Sprintf("p%d@acme.com", i%97)},
			FirstFailed: now, LastFailed: now, Due: now.Add(time.Hour), UpdatedAt: now},
			Events: []onus.Event{{At: now, Type: "opened"}, {At: now, Type: "note", Note: fmt.Sprint(i)}}})
	}
	if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i, c := range changes {
		if c.Finding.ID == 0 || seen[c.Finding.ID] {
			t.Fatalf("change %d: id %d (zero or given twice)", i, c.Finding.ID)
		}
		seen[c.Finding.ID] = true
	}
	for _, i := range []int{0, 499, 500, 1000, 1233} {
		f, err := db.Finding(ctx, changes[i].Finding.ID)
		if err != nil || f.Entity != changes[i].Finding.Entity {
			t.Errorf("finding %d: %+v, %v", i, f.Entity, err)
		}
		evs, err := db.Events(ctx, changes[i].Finding.ID)
		if err != nil || len(evs) != 2 || evs[1].Note != fmt.Sprint(i) {
			t.Errorf("finding %d: events %+v, %v", i, evs, err)
		}
	}
	fs, err := db.Findings(ctx, onus.FindingFilter{})
	if err != nil || len(fs) != n {
		t.Errorf("%d findings (%v), want %d", len(fs), err, n)
	}
	// A second batch of the same keys is refused whole.
	if err := db.ApplyChanges(ctx, run, changes[600:700], nil, -1); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("duplicates: %v, want a conflict", err)
	}

	var unknowns []onus.UnknownResult
	for i := range 777 {
		unknowns = append(unknowns, onus.UnknownResult{Control: "mfa", Entity: fmt.Sprintf("account:%d", i), Reason: "no factor data"})
	}
	if err := db.ReplaceUnknowns(ctx, unknowns); err != nil {
		t.Fatal(err)
	}
	got, err := db.Unknowns(ctx, "mfa")
	if err != nil || len(got) != len(unknowns) {
		t.Errorf("%d unknowns (%v), want %d", len(got), err, len(unknowns))
	}
}
