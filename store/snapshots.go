package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/onus-sec/onus"
)

// SaveSync records a sync. When snap is not nil the sync was good: snap
// becomes the source's snapshot in force and the one it replaces is
// deleted, in the same transaction, so a crash leaves either the old
// snapshot or the new one in force, never neither.
//
// Records are encoded chunk by chunk while the transaction writes, on the
// other cores, so a large snapshot is never held twice in memory.
func (s *DB) SaveSync(ctx context.Context, sy *onus.Sync, snap *onus.Snapshot) error {
	problems, _ := json.Marshal(sy.Problems)
	warnings, _ := json.Marshal(sy.Warnings)
	return s.tx(ctx, func(tx *sql.Tx) error {
		var snapID any
		if snap != nil {
			schema, _ := json.Marshal(snap.Schema)
			res, err := tx.ExecContext(ctx, `INSERT INTO snapshots (source, kind, synced_at, records, schema) VALUES (?, ?, ?, ?, ?)`,
				snap.Source, snap.Kind, fmtTime(snap.SyncedAt), snap.Records.Len(), string(schema))
			if err != nil {
				return fmt.Errorf("store: save snapshot: %w", err)
			}
			id, _ := res.LastInsertId()
			snapID = id
			if err := writeChunks(ctx, tx, id, snap.Records); err != nil {
				return fmt.Errorf("store: save snapshot of %s: %w", sy.Source, err)
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO syncs (run_id, source, started_at, finished_at, status, records, bad, bytes, error, problems, warnings, snapshot_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sy.Run, sy.Source, fmtTime(sy.Started), fmtTime(sy.Finished), string(sy.Status), sy.Records, sy.Bad, sy.Bytes,
			sy.Error, string(problems), string(warnings), snapID)
		if err != nil {
			return fmt.Errorf("store: save sync: %w", err)
		}
		sy.ID, _ = res.LastInsertId()
		if snap == nil {
			return nil
		}
		var old sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT snapshot_id FROM source_state WHERE source = ?`, sy.Source).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO source_state (source, snapshot_id, good_sync, records, fingerprint) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET snapshot_id = excluded.snapshot_id, good_sync = excluded.good_sync, records = excluded.records,
				fingerprint = excluded.fingerprint`,
			sy.Source, snapID, sy.ID, snap.Records.Len(), sy.Fingerprint); err != nil {
			return fmt.Errorf("store: update source state: %w", err)
		}
		if old.Valid {
			if _, err := tx.ExecContext(ctx, `DELETE FROM snapshots WHERE id = ?`, old.Int64); err != nil {
				return fmt.Errorf("store: drop old snapshot: %w", err)
			}
		}
		return nil
	})
}

// Fingerprint returns what the snapshot in force of a source was read
// from (Sync.Fingerprint), "" when it has none or is not known.
func (s *DB) Fingerprint(ctx context.Context, src string) (string, error) {
	var fp string
	err := s.db.QueryRowContext(ctx, `SELECT fingerprint FROM source_state WHERE source = ?`, src).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: fingerprint of %s: %w", src, err)
	}
	return fp, nil
}

// SaveUnchangedSync records a sync that found a source's files as they
// were when its snapshot in force was read: the new sync points at that
// snapshot, carries the counts, skipped records and warnings of the sync
// that read it, and becomes the source's good sync; sy.Fingerprint
// replaces the one on record (a file touched but not changed has a new
// modification time). No record is written.
// sy gets its ID and what it carries over. It fails with an error
// with code ENOTFOUND when the source has no snapshot in force.
func (s *DB) SaveUnchangedSync(ctx context.Context, sy *onus.Sync) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var good int64
		err := tx.QueryRowContext(ctx, `SELECT good_sync FROM source_state WHERE source = ?`, sy.Source).Scan(&good)
		if errors.Is(err, sql.ErrNoRows) {
			return onus.Errorf(onus.ENOTFOUND, "store: source %s has no snapshot", sy.Source)
		}
		if err != nil {
			return fmt.Errorf("store: unchanged sync of %s: %w", sy.Source, err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO syncs (run_id, source, started_at, finished_at, status, records, bad, bytes, error, problems, warnings, snapshot_id, unchanged)
			SELECT ?, source, ?, ?, ?, records, bad, bytes, NULL, problems, warnings, snapshot_id, 1 FROM syncs WHERE id = ?`,
			sy.Run, fmtTime(sy.Started), fmtTime(sy.Finished), string(onus.SyncOK), good)
		if err != nil {
			return fmt.Errorf("store: save unchanged sync of %s: %w", sy.Source, err)
		}
		sy.ID, _ = res.LastInsertId()
		if _, err := tx.ExecContext(ctx, `UPDATE source_state SET good_sync = ?, fingerprint = ? WHERE source = ?`, sy.ID, sy.Fingerprint, sy.Source); err != nil {
			return fmt.Errorf("store: update source state: %w", err)
		}
		var problems, warnings string
		if err := tx.QueryRowContext(ctx, `SELECT records, bad, bytes, COALESCE(problems, 'null'), COALESCE(warnings, 'null') FROM syncs WHERE id = ?`, sy.ID).
			Scan(&sy.Records, &sy.Bad, &sy.Bytes, &problems, &warnings); err != nil {
			return fmt.Errorf("store: unchanged sync of %s: %w", sy.Source, err)
		}
		_ = json.Unmarshal([]byte(problems), &sy.Problems)
		_ = json.Unmarshal([]byte(warnings), &sy.Warnings)
		sy.Status, sy.Unchanged = onus.SyncOK, true
		return nil
	})
}

// writeChunks encodes records in parallel and inserts the chunks in order.
// A semaphore bounds how many encoded chunks wait for the writer.
func writeChunks(ctx context.Context, tx *sql.Tx, id int64, recs *onus.Records) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO snapshot_chunks (snapshot_id, seq, data) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	n := (recs.Len() + chunkRecords - 1) / chunkRecords
	type enc struct {
		b   []byte
		err error
	}
	results := make([]chan enc, n)
	for i := range results {
		results[i] = make(chan enc, 1)
	}
	slots := make(chan struct{}, runtime.GOMAXPROCS(0)+2)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < n; i++ {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			go func(i int) {
				// Buffers go round a pool: a chunk of software records is
				// megabytes, and growing a fresh buffer for each chunk
				// was a fifth of a large sync's CPU time.
				raw := chunkBufs.get()
				b, err := encodeRangeInto(raw[:0], recs, i*chunkRecords, min((i+1)*chunkRecords, recs.Len()))
				if err == nil {
					b = compressChunkInto(chunkBufs.get(), b)
				}
				chunkBufs.put(raw[:0])
				results[i] <- enc{b, err}
			}(i)
		}
	}()
	for i := 0; i < n; i++ {
		var e enc
		select {
		case e = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.err != nil {
			return e.err
		}
		if _, err := stmt.ExecContext(ctx, id, i, e.b); err != nil {
			return err
		}
		chunkBufs.put(e.b) // the driver copied it
		<-slots
	}
	return nil
}

// bufPool keeps byte buffers for reuse.
type bufPool struct{ p sync.Pool }

var chunkBufs bufPool

func (bp *bufPool) get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, chunkRecords*128)
}

func (bp *bufPool) put(b []byte) {
	b = b[:0]
	bp.p.Put(&b)
}

// GoodRecords returns how many records the snapshot in force of a source
// has, and false when there is none.
func (s *DB) GoodRecords(ctx context.Context, src string) (int, bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT records FROM source_state WHERE source = ?`, src).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: source state: %w", err)
	}
	return n, true, nil
}

// LoadSnapshot returns the snapshot in force of a source. It returns an
// ENOTFOUND error when the source has never had a good sync.
func (s *DB) LoadSnapshot(ctx context.Context, src string) (*onus.Snapshot, error) {
	var id int64
	var kind, syncedAt, schema string
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT sn.id, sn.kind, sn.synced_at, sn.schema, sn.records
		FROM source_state st JOIN snapshots sn ON sn.id = st.snapshot_id WHERE st.source = ?`, src).Scan(&id, &kind, &syncedAt, &schema, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onus.Errorf(onus.ENOTFOUND, "source %s has no snapshot", src)
	}
	if err != nil {
		return nil, fmt.Errorf("store: load snapshot of %s: %w", src, err)
	}
	snap := &onus.Snapshot{Source: src, Kind: kind, SyncedAt: parseTime(syncedAt)}
	if err := json.Unmarshal([]byte(schema), &snap.Schema); err != nil {
		return nil, fmt.Errorf("store: snapshot %d schema: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM snapshot_chunks WHERE snapshot_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("store: load snapshot of %s: %w", src, err)
	}
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return nil, err
		}
		blobs = append(blobs, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The chunks are decoded side by side, each into Records of its own,
	// and added to the snapshot's column store in order as they come: only
	// a few chunks' worth of Record values exist at a time.
	snap.Records = onus.NewRecords(n)
	snap.Records.SplitIDs(snap.Schema.IDSep)
	type part struct {
		recs []onus.Record
		err  error
	}
	parts := make([]chan part, len(blobs))
	for i := range parts {
		parts[i] = make(chan part, 1)
	}
	sem := make(chan struct{}, runtime.GOMAXPROCS(0)+1)
	go func() {
		for i, b := range blobs {
			sem <- struct{}{}
			go func(i int, b []byte) {
				raw, format, err := decompressChunk(b)
				if err != nil {
					parts[i] <- part{err: err}
					return
				}
				recs, err := decodeFormat(raw, make([]onus.Record, 0, chunkRecords), format)
				parts[i] <- part{recs, err}
			}(i, b)
		}
	}()
	var errs []error
	for i := range parts {
		p := <-parts[i]
		<-sem
		blobs[i] = nil
		if p.err != nil {
			errs = append(errs, p.err)
			continue
		}
		snap.Records.AppendAll(p.recs)
		if i == 0 {
			// Room for the rest, shaped like the first chunk: the columns
			// are not grown again and again (fresh memory is what a
			// load of millions of records spends most on).
			snap.Records.GrowLike(snap.Records, n-snap.Records.Len())
		}
	}
	snap.Records.Compact()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("store: snapshot of %s: %w", src, err)
	}
	if snap.Records.Len() != n {
		return nil, fmt.Errorf("store: snapshot of %s has %d records, expected %d: %w", src, snap.Records.Len(), n, errCorrupt)
	}
	return snap, nil
}

// SourceStates returns, for every source that was ever synced, its last
// sync and the sync whose snapshot is in force.
func (s *DB) SourceStates(ctx context.Context) (map[string]*onus.SourceState, error) {
	out := map[string]*onus.SourceState{}
	rows, err := s.db.QueryContext(ctx, `SELECT `+syncCols+` FROM syncs WHERE id IN (SELECT MAX(id) FROM syncs GROUP BY source)
		UNION SELECT `+syncCols+` FROM syncs WHERE id IN (SELECT good_sync FROM source_state)`)
	if err != nil {
		return nil, fmt.Errorf("store: source states: %w", err)
	}
	defer rows.Close()
	var syncs []*onus.Sync
	for rows.Next() {
		sy, err := scanSync(rows)
		if err != nil {
			return nil, err
		}
		syncs = append(syncs, sy)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	good := map[int64]bool{}
	grows, err := s.db.QueryContext(ctx, `SELECT good_sync FROM source_state`)
	if err != nil {
		return nil, err
	}
	for grows.Next() {
		var id int64
		grows.Scan(&id)
		good[id] = true
	}
	grows.Close()
	for _, sy := range syncs {
		st := out[sy.Source]
		if st == nil {
			st = &onus.SourceState{Source: sy.Source}
			out[sy.Source] = st
		}
		if good[sy.ID] {
			st.Good = sy
		}
		if st.Last == nil || sy.ID > st.Last.ID {
			st.Last = sy
		}
	}
	for _, st := range out {
		switch {
		case st.Last.Status == onus.SyncOK:
			st.Healthy = true
		case st.Good == nil:
			st.Reason = fmt.Sprintf("never synced successfully; last attempt %s: %s", st.Last.Status, st.Last.Error)
		default:
			st.Reason = fmt.Sprintf("last sync %s (%s); the snapshot of %s is in force", st.Last.Status, st.Last.Error, fmtTime(st.Good.Finished))
		}
	}
	return out, nil
}

const syncCols = `id, run_id, source, started_at, finished_at, status, records, bad, bytes, COALESCE(error, ''), COALESCE(problems, 'null'), COALESCE(warnings, 'null'), unchanged, COALESCE(snapshot_id, 0)`

func scanSync(rows *sql.Rows) (*onus.Sync, error) {
	var sy onus.Sync
	var started, finished, status, problems, warnings string
	if err := rows.Scan(&sy.ID, &sy.Run, &sy.Source, &started, &finished, &status, &sy.Records, &sy.Bad, &sy.Bytes, &sy.Error, &problems, &warnings, &sy.Unchanged, &sy.Snapshot); err != nil {
		return nil, fmt.Errorf("store: scan sync: %w", err)
	}
	sy.Started, sy.Finished, sy.Status = parseTime(started), parseTime(finished), onus.SyncStatus(status)
	_ = json.Unmarshal([]byte(problems), &sy.Problems)
	_ = json.Unmarshal([]byte(warnings), &sy.Warnings)
	return &sy, nil
}

// Syncs returns the most recent syncs of a source, newest first.
func (s *DB) Syncs(ctx context.Context, src string, limit int) ([]*onus.Sync, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+syncCols+` FROM syncs WHERE source = ? ORDER BY id DESC LIMIT ?`, src, limit)
	if err != nil {
		return nil, fmt.Errorf("store: syncs: %w", err)
	}
	defer rows.Close()
	var out []*onus.Sync
	for rows.Next() {
		sy, err := scanSync(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sy)
	}
	return out, rows.Err()
}
