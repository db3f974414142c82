package store

import (
	"context"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// rawFinding reads a finding's row as written, without the last failure
// its control's evaluation gives it.
func rawFinding(t *testing.T, db *DB, id int64) (lastFailed, updatedAt string, failing int) {
	t.Helper()
	if err := db.db.QueryRowContext(context.Background(), `SELECT last_failed, updated_at, failing FROM findings WHERE id = ?`, id).Scan(&lastFailed, &updatedAt, &failing); err != nil {
		t.Fatal(err)
	}
	return lastFailed, updatedAt, failing
}

// A finding that fails again unchanged is not written: its last failure
// and last update are its control's latest evaluation, as if it had been.
// One that changes is written; one whose outcome became unknown keeps the
// last failure it had.
func TestStillFailingFindingsAreNotWritten(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	t1 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	t2, t3, t4 := t1.Add(time.Hour), t1.Add(2*time.Hour), t1.Add(3*time.Hour)
	stat := func(at time.Time) []onus.ControlStat {
		return []onus.ControlStat{{Control: "edr", Fail: 2, Evaluated: at}}
	}
	mk := func(entity string) onus.FindingChange {
		return onus.FindingChange{New: true, Finding: onus.Finding{Control: "edr", Entity: entity, EntityKind: "device", EntityName: entity,
			Severity: onus.High, State: onus.StateOpen, Responsible: onus.Person{Email: "jane@acme.com"}, FirstFailed: t1, LastFailed: t1,
			Due: t1.Add(24 * time.Hour), UpdatedAt: t1, Evidence: []onus.Evidence{{Path: "p", Value: "v"}}, StillFailing: true},
			Events: []onus.Event{{At: t1, Type: "opened"}}}
	}
	run, _ := db.BeginRun(ctx, "eval", "test", t1)
	if err := db.ApplyChanges(ctx, run, []onus.FindingChange{mk("d1"), mk("d2")}, stat(t1), -1); err != nil {
		t.Fatal(err)
	}
	// Evaluation 2: both fail again; d2's evidence changed.
	again := func(at time.Time, edit func(f *onus.Finding)) []onus.FindingChange {
		fs, err := db.ActiveFindings(ctx)
		if err != nil || len(fs) != 2 {
			t.Fatalf("active findings %d, %v", len(fs), err)
		}
		var out []onus.FindingChange
		for _, f := range fs {
			c := onus.FindingChange{Finding: f, Prior: f.State}
			c.Finding.LastFailed, c.Finding.UpdatedAt, c.Finding.StillFailing = at, at, true
			edit(&c.Finding)
			out = append(out, c)
		}
		return out
	}
	run, _ = db.BeginRun(ctx, "eval", "test", t2)
	if err := db.ApplyChanges(ctx, run, again(t2, func(f *onus.Finding) {
		if f.Entity == "d2" {
			f.Evidence = []onus.Evidence{{Path: "p", Value: "w"}}
		}
	}), stat(t2), -1); err != nil {
		t.Fatal(err)
	}
	d1, _ := db.FindingsByKey(ctx, []onus.FindingKey{{Control: "edr", Entity: "d1"}, {Control: "edr", Entity: "d2"}})
	if len(d1) != 2 {
		t.Fatalf("findings %+v", d1)
	}
	for _, f := range d1 {
		if !f.LastFailed.Equal(t2) || !f.UpdatedAt.Equal(t2) || !f.FirstFailed.Equal(t1) || !f.StillFailing {
			t.Errorf("%s after evaluation 2: last failed %v, updated %v, first %v, still failing %v; want %v, %v, %v, true",
				f.Entity, f.LastFailed, f.UpdatedAt, f.FirstFailed, f.StillFailing, t2, t2, t1)
		}
	}
	if lf, _, failing := rawFinding(t, db, d1[0].ID); lf != fmtTime(t1) || failing != 1 {
		t.Errorf("d1 was written again: last_failed %s, failing %d", lf, failing)
	}
	if lf, _, _ := rawFinding(t, db, d1[1].ID); lf != fmtTime(t2) {
		t.Errorf("d2 changed but was not written: last_failed %s", lf)
	}
	if d1[1].Evidence[0].Value != "w" {
		t.Errorf("d2 evidence = %+v", d1[1].Evidence)
	}

	// Evaluation 3: d1 cannot be judged (unknown): it stops following the
	// evaluations and keeps its last failure; d2 fails again.
	run, _ = db.BeginRun(ctx, "eval", "test", t3)
	var changes []onus.FindingChange
	for _, c := range again(t3, func(*onus.Finding) {}) {
		if c.Finding.Entity == "d1" {
			fs, _ := db.FindingsByKey(ctx, []onus.FindingKey{{Control: "edr", Entity: "d1"}})
			c = onus.FindingChange{Finding: fs[0], Prior: fs[0].State}
			c.Finding.StillFailing = false
		}
		changes = append(changes, c)
	}
	if err := db.ApplyChanges(ctx, run, changes, stat(t3), -1); err != nil {
		t.Fatal(err)
	}
	// Evaluation 4 leaves d1 alone (still unknown, nothing to write).
	run, _ = db.BeginRun(ctx, "eval", "test", t4)
	if err := db.ApplyChanges(ctx, run, nil, stat(t4), -1); err != nil {
		t.Fatal(err)
	}
	fs, _ := db.FindingsByKey(ctx, []onus.FindingKey{{Control: "edr", Entity: "d1"}, {Control: "edr", Entity: "d2"}})
	if f := fs[0]; !f.LastFailed.Equal(t2) || f.StillFailing {
		t.Errorf("d1, unknown since evaluation 3: last failed %v, still failing %v; want %v, false", f.LastFailed, f.StillFailing, t2)
	}
	if f := fs[1]; !f.LastFailed.Equal(t4) {
		t.Errorf("d2, not judged again after evaluation 3 but its control was: last failed %v, want %v", f.LastFailed, t4)
	}
	// The listing and one finding read the same values.
	all, err := db.Findings(ctx, onus.FindingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		one, err := db.Finding(ctx, f.ID)
		if err != nil || !one.LastFailed.Equal(f.LastFailed) || !one.UpdatedAt.Equal(f.UpdatedAt) {
			t.Errorf("finding %d: listed last failure %v, read alone %v (%v)", f.ID, f.LastFailed, one.LastFailed, err)
		}
	}
}

// A snapshot whose chunks are not chunkRecords records each (written with
// another chunk size) loads whole and in order: chunks decode in place
// only when they fit their place.
func TestSnapshotOfOtherChunkSizes(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	run, err := db.BeginRun(ctx, "sync", "test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	big := snapshot("mdm", 2*chunkRecords+7)
	if err := db.SaveSync(ctx, &onus.Sync{Run: run, Source: "mdm", Status: onus.SyncOK, Records: big.Records.Len()}, big); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.db.QueryRowContext(ctx, `SELECT snapshot_id FROM source_state WHERE source = ?`, "mdm").Scan(&id); err != nil {
		t.Fatal(err)
	}
	// Chunks of 5, chunkRecords+10 and the rest.
	cuts := []int{0, 5, chunkRecords + 15, big.Records.Len()}
	if _, err := db.db.ExecContext(ctx, `DELETE FROM snapshot_chunks WHERE snapshot_id = ?`, id); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(cuts); i++ {
		b, err := encodeRangeInto(nil, big.Records, cuts[i], cuts[i+1])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.db.ExecContext(ctx, `INSERT INTO snapshot_chunks (snapshot_id, seq, data) VALUES (?, ?, ?)`, id, i, compressChunkInto(nil, b)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.LoadSnapshot(ctx, "mdm")
	if err != nil {
		t.Fatal(err)
	}
	if got.Records.Len() != big.Records.Len() {
		t.Fatalf("loaded %d records, want %d", got.Records.Len(), big.Records.Len())
	}
	for i := range got.Records.Len() {
		if got.Records.ID(i) != big.Records.ID(i) || got.Records.Attr(i, 0) != big.Records.Attr(i, 0) {
			t.Fatalf("record %d = %s, want %s", i, got.Records.ID(i), big.Records.ID(i))
		}
	}
}

// A control's evaluation stamp keeps the digests of what it read, and the
// unknowns of a control carried over stay when the others are replaced.
func TestControlInputsAndCarriedUnknowns(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	t1 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	run, _ := db.BeginRun(ctx, "eval", "test", t1)
	stats := []onus.ControlStat{
		{Control: "edr", Pass: 3, Fail: 1, Unknown: 1, Reasons: []string{"missing data (1)"}, Evaluated: t1, Inputs: `{"control":"a"}`, Ages: true},
		{Control: "mfa", Pass: 2, Evaluated: t1, Inputs: `{"control":"b"}`},
	}
	if err := db.ApplyChanges(ctx, run, nil, stats, -1); err != nil {
		t.Fatal(err)
	}
	got, err := db.ControlInputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e := got["edr"]; e.Inputs != `{"control":"a"}` || !e.Ages || e.Run != run || !e.At.Equal(t1) {
		t.Errorf("edr: %+v", e)
	}
	if m := got["mfa"]; m.Inputs != `{"control":"b"}` || m.Ages {
		t.Errorf("mfa: %+v", m)
	}
	st, err := db.ControlStats(ctx, run)
	if err != nil || len(st) != 2 || st[0].Control != "edr" || st[0].Pass != 3 || st[0].Unknown != 1 || len(st[0].Reasons) != 1 {
		t.Fatalf("control stats: %+v, %v", st, err)
	}
	// A later evaluation moves the stamp and replaces the digests.
	t2 := t1.Add(time.Hour)
	run2, _ := db.BeginRun(ctx, "eval", "test", t2)
	if err := db.ApplyChanges(ctx, run2, nil, []onus.ControlStat{{Control: "edr", Evaluated: t2, Inputs: `{"control":"c"}`}}, -1); err != nil {
		t.Fatal(err)
	}
	got, _ = db.ControlInputs(ctx)
	if e := got["edr"]; e.Inputs != `{"control":"c"}` || e.Ages || e.Run != run2 || !e.At.Equal(t2) {
		t.Errorf("edr after the second evaluation: %+v", e)
	}

	// Unknowns: mfa is carried over, so its unknown stays though the new
	// evaluation does not list it; edr's are replaced.
	if err := db.ReplaceUnknowns(ctx, []onus.UnknownResult{{Control: "edr", Entity: "d1", Reason: "r"}, {Control: "mfa", Entity: "a1", Reason: "r"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceUnknowns(ctx, []onus.UnknownResult{{Control: "edr", Entity: "d2", Reason: "r"}}, "mfa"); err != nil {
		t.Fatal(err)
	}
	us, err := db.Unknowns(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].Entity != "d2" || us[1].Control != "mfa" || us[1].Entity != "a1" {
		t.Errorf("unknowns: %+v", us)
	}
}

// The findings of controls carried over are left out of the active
// findings an evaluation reads, and counted instead.
func TestActiveFindingsExceptCarried(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	t1 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	mk := func(control, entity string, failing bool) onus.FindingChange {
		return onus.FindingChange{New: true, Finding: onus.Finding{Control: control, Entity: entity, EntityKind: "device", EntityName: entity,
			Severity: onus.High, State: onus.StateOpen, FirstFailed: t1, LastFailed: t1, Due: t1.Add(24 * time.Hour), UpdatedAt: t1, StillFailing: failing},
			Events: []onus.Event{{At: t1, Type: "opened"}}}
	}
	run, _ := db.BeginRun(ctx, "eval", "test", t1)
	if err := db.ApplyChanges(ctx, run, []onus.FindingChange{mk("edr", "d1", true), mk("app", "s1", true), mk("app", "s2", false), mk("mfa", "a1", true)}, nil, -1); err != nil {
		t.Fatal(err)
	}
	fs, err := db.ActiveFindingsExcept(ctx, []string{"app", "mfa"})
	if err != nil || len(fs) != 1 || fs[0].Control != "edr" {
		t.Fatalf("active findings but app's and mfa's: %+v, %v", fs, err)
	}
	if all, _ := db.ActiveFindingsExcept(ctx, nil); len(all) != 4 {
		t.Errorf("active findings: %d, want 4", len(all))
	}
	still, other, err := db.ActiveCounts(ctx, []string{"app", "mfa"})
	if err != nil || still != 2 || other != 1 {
		t.Errorf("counts: %d still failing, %d other, %v; want 2, 1", still, other, err)
	}
}
