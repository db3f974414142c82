package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// indexDefs returns the definitions of the secondary indexes of the
// findings, their events and the people (SQLite), by name.
func indexDefs(t *testing.T, db *DB) map[string]string {
	t.Helper()
	rows, err := db.db.QueryContext(context.Background(), `SELECT name, sql FROM sqlite_master WHERE type = 'index'
		AND tbl_name IN ('findings', 'finding_events', 'people') AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		out[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func bulkChanges(n int, now time.Time) []onus.FindingChange {
	changes := make([]onus.FindingChange, n)
	for i := range changes {
		changes[i] = onus.FindingChange{New: true, Finding: onus.Finding{Control: []string{"patch", "disk"}[i%2], Entity: fmt.Sprintf("device:serial:%06d", i),
			EntityKind: "device", EntityName: fmt.Sprintf("D%d", i), Severity: onus.High, State: onus.StateOpen,
			Responsible: onus.Person{Email: fmt.Sprintf("p%d@acme.com", i%100)}, FirstFailed: now, LastFailed: now, Due: now.Add(time.Duration(i) * time.Minute), UpdatedAt: now},
			Events: []onus.Event{{At: now, Type: onus.EventOpened, To: string(onus.StateOpen)}}}
	}
	return changes
}

// A first evaluation's findings go into empty tables with
// their indexes built after the rows (SQLite): the indexes are there
// after, as the migrations define them, and the rows are found through
// them; a write that fails midway leaves the tables empty and their
// indexes in place.
func TestBulkInsertKeepsIndexes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	n := bulkMin + 100

	// A failing bulk write: the last new finding is the first one again.
	db := open(t)
	var before map[string]string
	if backend == "sqlite" {
		before = indexDefs(t, db)
		if len(before) < 5 {
			t.Fatalf("indexes before: %v", before)
		}
	}
	run, err := db.BeginRun(ctx, "eval", "test", now)
	if err != nil {
		t.Fatal(err)
	}
	bad := bulkChanges(n, now)
	bad[n-1].Finding.Control, bad[n-1].Finding.Entity = bad[0].Finding.Control, bad[0].Finding.Entity
	if err := db.ApplyChanges(ctx, run, bad, nil, -1); err == nil {
		t.Fatal("a duplicate new finding was written")
	}
	if fs, err := db.Findings(ctx, onus.FindingFilter{}); err != nil || len(fs) != 0 {
		t.Fatalf("after a failed write: %d findings, %v", len(fs), err)
	}
	if backend == "sqlite" {
		if got := indexDefs(t, db); !reflect.DeepEqual(got, before) {
			t.Errorf("indexes after a failed bulk write:\n got %v\nwant %v", got, before)
		}
	}

	// A good one.
	changes := bulkChanges(n, now)
	if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
		t.Fatal(err)
	}
	people := make([]*onus.Member, n)
	for i := range people {
		people[i] = &onus.Member{Email: fmt.Sprintf("p%d@acme.com", i), Name: fmt.Sprintf("P %d", i), Entity: fmt.Sprintf("person:employee_id:%d", i),
			Status: "Active", Manager: fmt.Sprintf("p%d@acme.com", i/10), Team: fmt.Sprintf("T%d", i%7)}
	}
	if err := db.ReplaceDirectory(ctx, people, nil); err != nil {
		t.Fatal(err)
	}
	if backend == "sqlite" {
		if got := indexDefs(t, db); !reflect.DeepEqual(got, before) {
			t.Errorf("indexes after a bulk write:\n got %v\nwant %v", got, before)
		}
		var check string
		if err := db.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Errorf("integrity check: %q %v", check, err)
		}
	}
	fs, err := db.Findings(ctx, onus.FindingFilter{Owner: "p7@acme.com", States: []onus.State{onus.StateOpen}})
	if err != nil || len(fs) != n/100+1 && len(fs) != n/100 {
		t.Errorf("findings of p7: %d, %v", len(fs), err)
	}
	for _, f := range fs {
		if f.ID == 0 || f.Responsible.Email != "p7@acme.com" {
			t.Errorf("finding %+v", f)
		}
	}
	reports, err := db.Reports(ctx, "p3@acme.com")
	if err != nil || len(reports) != 10 {
		t.Errorf("reports of p3: %v %v", reports, err)
	}
	ev, err := db.Events(ctx, fs[0].ID)
	if err != nil || len(ev) != 1 || ev[0].Type != onus.EventOpened {
		t.Errorf("events of finding %d: %+v %v", fs[0].ID, ev, err)
	}
}
