package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// encodeRecords and encodeRecordsInto encode records as writeChunks does,
// from a column store of them.
func encodeRecords(recs []onus.Record) ([]byte, error) {
	return encodeRecordsInto(make([]byte, 0, len(recs)*96), recs)
}

func encodeRecordsInto(dst []byte, recs []onus.Record) ([]byte, error) {
	rs := onus.RecordsOf(recs)
	return encodeRangeInto(dst, rs, 0, rs.Len())
}

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCodecRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 123456789, time.UTC)
	recs := []onus.Record{
		{ID: "a", Name: "MBP-ÉLODIE", Loc: 17, Seen: now.Unix(), Keys: []onus.Key{{Name: "serial", Value: "S1"}, {Name: "mac", Value: "aa:bb:cc:dd:ee:ff"}},
			Links: []string{"jane@acme.com", ""},
			Attrs: []any{"text", int64(-42), 3.25, true, false, now, nil, []any{"x", 1.0, map[string]any{"k": "v"}}, map[string]any{"n": 2.0}}},
		{ID: "", Loc: 0},
		{ID: strings.Repeat("long", 1000), Attrs: []any{int64(1 << 62)}},
	}
	b, err := encodeRecords(recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecords(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, recs)
	}
	// Through the pooled buffers and compression, as SaveSync writes: into
	// a buffer too small, and into a reused one holding an older chunk.
	old := bytes.Repeat([]byte{0xff}, 1<<16)
	for _, buf := range [][]byte{nil, make([]byte, 3), old} {
		raw, err := encodeRecordsInto(buf[:0], recs)
		if err != nil {
			t.Fatal(err)
		}
		z := compressChunkInto(append([]byte(nil), old...), raw)
		plain, format, err := decompressChunk(z)
		if err != nil || format != chunkFormat {
			t.Fatalf("decompress: format %d, %v", format, err)
		}
		if got, err := decodeRecords(plain, nil); err != nil || !reflect.DeepEqual(got, recs) {
			t.Errorf("round trip through pooled buffers: %v\n got %#v", err, got)
		}
	}
	// A damaged chunk is an error, never a panic or a silently short snapshot.
	for _, cut := range []int{1, len(b) / 2, len(b) - 1} {
		if _, err := decodeRecords(b[:cut], nil); !errors.Is(err, errCorrupt) {
			t.Errorf("decode of %d/%d bytes: err = %v", cut, len(b), err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := encodeRecords([]onus.Record{{ID: "a", Keys: []onus.Key{{Name: "k", Value: "v"}}, Attrs: []any{"s", int64(1), time.Unix(0, 0).UTC()}}})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeRecords(data, nil) // must not panic
	})
}

func snapshot(src string, n int) *onus.Snapshot {
	s := &onus.Snapshot{Source: src, Kind: "device", SyncedAt: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), Schema: onus.Schema{Fields: []string{"f"}}}
	s.Records = onus.NewRecords(n)
	for i := 0; i < n; i++ {
		s.Records.Append(&onus.Record{ID: string(rune('a' + i%26)), Loc: i + 1, Attrs: []any{int64(i)}})
	}
	return s
}

func TestSnapshotsAndHealth(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	run, err := db.BeginRun(ctx, "sync", "test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// More records than one chunk, to cover the chunking.
	big := snapshot("mdm", chunkRecords+5)
	if err := db.SaveSync(ctx, &onus.Sync{Run: run, Source: "mdm", Status: onus.SyncOK, Records: big.Records.Len()}, big); err != nil {
		t.Fatal(err)
	}
	got, err := db.LoadSnapshot(ctx, "mdm")
	if err != nil {
		t.Fatal(err)
	}
	if got.Records.Len() != big.Records.Len() || got.Records.Attr(chunkRecords+4, 0) != int64(chunkRecords+4) || got.Schema.Fields[0] != "f" {
		t.Fatalf("loaded %d records", got.Records.Len())
	}
	// A failed sync keeps the good snapshot in force and makes the source unhealthy.
	if err := db.SaveSync(ctx, &onus.Sync{Run: run, Source: "mdm", Status: onus.SyncFailed, Error: "boom"}, nil); err != nil {
		t.Fatal(err)
	}
	states, err := db.SourceStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := states["mdm"]
	if st.Healthy || st.Good == nil || st.Last.Status != onus.SyncFailed || !strings.Contains(st.Reason, "boom") {
		t.Errorf("state after failure = %+v", st)
	}
	if n, ok, _ := db.GoodRecords(ctx, "mdm"); !ok || n != big.Records.Len() {
		t.Errorf("good records = %d, %v", n, ok)
	}
	// A new good sync replaces the snapshot and deletes the old one.
	if err := db.SaveSync(ctx, &onus.Sync{Run: run, Source: "mdm", Status: onus.SyncOK, Records: 3}, snapshot("mdm", 3)); err != nil {
		t.Fatal(err)
	}
	var snaps, chunks int
	db.db.QueryRow(`SELECT COUNT(*) FROM snapshots`).Scan(&snaps)
	db.db.QueryRow(`SELECT COUNT(*) FROM snapshot_chunks`).Scan(&chunks)
	if snaps != 1 || chunks != 1 {
		t.Errorf("%d snapshots and %d chunks kept, want 1 and 1", snaps, chunks)
	}
	states, _ = db.SourceStates(ctx)
	if !states["mdm"].Healthy {
		t.Errorf("state after recovery = %+v", states["mdm"])
	}
	if _, err := db.LoadSnapshot(ctx, "never"); onus.ErrorCode(err) != onus.ENOTFOUND {
		t.Errorf("missing snapshot: err = %v", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := dsn(t)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, TRUE)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path)
	if err == nil || onus.ErrorCode(err) != onus.ECONFLICT || !strings.Contains(err.Error(), "schema version 999, newer than this onus knows") {
		t.Errorf("err = %v", err)
	}
}

func TestRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("these are not the tables you are looking for"), 0o644)
	if _, err := Open(context.Background(), path); err == nil || onus.ErrorCode(err) != onus.EINVALID {
		t.Errorf("err = %v", err)
	}
}

func TestFindingsQueries(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	run, _ := db.BeginRun(ctx, "eval", "test", time.Now())
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	mk := func(control, entity, owner string, sev onus.Severity, due time.Duration) onus.FindingChange {
		return onus.FindingChange{New: true, Finding: onus.Finding{Control: control, Entity: entity, EntityKind: "device", EntityName: entity,
			Severity: sev, State: onus.StateOpen, Responsible: onus.Person{Email: owner}, FirstFailed: now, LastFailed: now,
			Due: now.Add(due), UpdatedAt: now, Evidence: []onus.Evidence{{Path: "p", Value: "v"}}},
			Events: []onus.Event{{At: now, Type: "opened"}}}
	}
	changes := []onus.FindingChange{
		mk("edr", "d1", "jane@acme.com", onus.High, -time.Hour),
		mk("edr", "d2", "bob@acme.com", onus.High, 24*time.Hour),
		mk("patch", "d1", "jane@acme.com", onus.Low, 48*time.Hour),
		mk("mfa", "a1", "", onus.Critical, time.Hour),
	}
	changes[3].Finding.OwnershipGap = true
	if err := db.ApplyChanges(ctx, run, changes, []onus.ControlStat{{Control: "edr", Pass: 1, Fail: 2}}, -1); err != nil {
		t.Fatal(err)
	}
	// The same key twice is refused: one finding per (control, entity).
	if err := db.ApplyChanges(ctx, run, changes[:1], nil, -1); err == nil {
		t.Error("a duplicate finding was stored")
	}
	tests := []struct {
		f    onus.FindingFilter
		want []string
	}{
		{onus.FindingFilter{}, []string{"mfa/a1", "edr/d1", "edr/d2", "patch/d1"}},
		{onus.FindingFilter{Owner: "Jane@Acme.com"}, []string{"edr/d1", "patch/d1"}},
		{onus.FindingFilter{Control: "edr"}, []string{"edr/d1", "edr/d2"}},
		{onus.FindingFilter{OverdueAt: now}, []string{"edr/d1"}},
		{onus.FindingFilter{States: []onus.State{onus.StateResolved}}, nil},
		{onus.FindingFilter{Limit: 1}, []string{"mfa/a1"}},
	}
	for _, tt := range tests {
		fs, err := db.Findings(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Control+"/"+f.Entity)
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%+v: got %v, want %v", tt.f, got, tt.want)
		}
	}
	st, err := db.Stats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Open != 4 || st.Overdue != 1 || st.Gaps != 1 || st.ByControl["edr"] != 2 || st.Owners[0].Email != "jane@acme.com" || st.Owners[0].Open != 2 {
		t.Errorf("stats = %+v", st)
	}
	f, err := db.Finding(ctx, 1)
	if err != nil || len(f.Evidence) != 1 || f.Evidence[0].Value != "v" {
		t.Errorf("finding 1 = %+v, %v", f, err)
	}
	if _, err := db.Finding(ctx, 99); onus.ErrorCode(err) != onus.ENOTFOUND {
		t.Errorf("missing finding: %v", err)
	}
}

// TestFindingsByKey looks findings up by key across batches, in the keys'
// order, skipping keys with no finding.
func TestFindingsByKey(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	run, _ := db.BeginRun(ctx, "eval", "test", time.Now())
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var changes []onus.FindingChange
	for i := 0; i < 1200; i++ {
		changes = append(changes, onus.FindingChange{New: true, Finding: onus.Finding{Control: "edr", Entity: fmt.Sprintf("device:%04d", i), EntityKind: "device",
			Severity: onus.High, State: onus.StateOpen, FirstFailed: now, LastFailed: now, Due: now, UpdatedAt: now}})
	}
	changes = append(changes, onus.FindingChange{New: true, Finding: onus.Finding{Control: "mfa", Entity: "device:0001", EntityKind: "device",
		Severity: onus.Low, State: onus.StateOpen, FirstFailed: now, LastFailed: now, Due: now, UpdatedAt: now}})
	if err := db.ApplyChanges(ctx, run, changes, nil, -1); err != nil {
		t.Fatal(err)
	}
	var keys []onus.FindingKey
	var want []string
	for i := 1199; i >= 0; i -= 2 {
		keys = append(keys, onus.FindingKey{Control: "edr", Entity: fmt.Sprintf("device:%04d", i)})
		want = append(want, fmt.Sprintf("edr/device:%04d", i))
		if i == 601 {
			keys = append(keys, onus.FindingKey{Control: "mfa", Entity: "device:0001"}, onus.FindingKey{Control: "mfa", Entity: "device:0002"}, onus.FindingKey{Control: "patch", Entity: "device:0001"})
			want = append(want, "mfa/device:0001")
		}
	}
	got, err := db.FindingsByKey(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range got {
		if f.ID == 0 || f.Severity == "" {
			t.Fatalf("finding %s/%s read without its columns: %+v", f.Control, f.Entity, f)
		}
		ids = append(ids, f.Control+"/"+f.Entity)
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("got %d findings, want %d; first %v", len(ids), len(want), ids[:min(3, len(ids))])
	}
}

// TestApplyChangesDuplicateIsAConflict: a finding another run recorded
// during the evaluation is refused as a conflict the caller retries, on
// every engine (SQLite's message, PostgreSQL's SQLSTATE 23505).
func TestApplyChangesDuplicateIsAConflict(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	run, _ := db.BeginRun(ctx, "eval", "test", now)
	c := onus.FindingChange{New: true, Finding: onus.Finding{Control: "edr", Entity: "device:1", EntityKind: "device",
		Severity: onus.High, State: onus.StateOpen, FirstFailed: now, LastFailed: now, Due: now, UpdatedAt: now}}
	if err := db.ApplyChanges(ctx, run, []onus.FindingChange{c}, nil, -1); err != nil {
		t.Fatal(err)
	}
	err := db.ApplyChanges(ctx, run, []onus.FindingChange{c}, nil, -1)
	if onus.ErrorCode(err) != onus.ECONFLICT || !errors.Is(err, onus.ErrChanged) {
		t.Fatalf("second insert of the same finding: %v, want a conflict wrapping ErrChanged", err)
	}
}
