package monitor_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/source"
)

// sideBySide makes the first source whose reading starts wait until a
// second one starts: a sync that reads one source after another never
// gets past it (it fails after a while instead of hanging).
type sideBySide struct {
	mu      sync.Mutex
	started []string
	second  chan struct{}
	missed  bool
}

func newSideBySide() *sideBySide { return &sideBySide{second: make(chan struct{})} }

func (s *sideBySide) progress(name string) source.Progress {
	s.mu.Lock()
	s.started = append(s.started, name)
	n := len(s.started)
	s.mu.Unlock()
	switch n {
	case 1:
		select {
		case <-s.second:
		case <-time.After(20 * time.Second):
			s.mu.Lock()
			s.missed = true
			s.mu.Unlock()
		}
	case 2:
		close(s.second)
	}
	return nil
}

// Sources are read side by side. One that fails among them fails alone:
// every other source's snapshot is recorded, whole, and the report lists
// the sources in the configuration's order.
func TestSyncSourcesSideBySide(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.dir, "exports/crowdstrike/devices.json")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:len(good)/3], 0o644); err != nil { // cut short
		t.Fatal(err)
	}
	m := e.monitor()
	sb := newSideBySide()
	m.Progress = sb.progress
	rep, err := m.Sync(context.Background(), monitor.SyncOptions{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if sb.missed {
		t.Errorf("no second source was read while the first one was (started: %v)", sb.started)
	}
	var names, want []string
	for _, s := range rep.Sources {
		names = append(names, s.Source)
		switch {
		case s.Source == "edr" && s.Status != onus.SyncFailed:
			t.Errorf("edr, cut short: %+v, want failed", s)
		case s.Source != "edr" && s.Status != onus.SyncOK:
			t.Errorf("%s: %s (%s), want ok", s.Source, s.Status, s.Error)
		}
	}
	for _, src := range m.Config.Sources {
		want = append(want, src.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("report lists %v, want the configuration's order %v", names, want)
	}
	if len(rep.Snapshots) != len(want)-1 || rep.Snapshots["edr"] != nil {
		t.Errorf("snapshots handed on: %d (edr %v), want every source but edr", len(rep.Snapshots), rep.Snapshots["edr"] != nil)
	}
	checkSnapshots(t, e, rep.Snapshots)
	if ids := e.snapshotIDs(); len(ids) != len(want)-1 || ids["edr"] != 0 {
		t.Errorf("snapshots in force: %v, want every source but edr", ids)
	}
}

// A sync cancelled while sources are being read and written loses nothing
// and leaves no half snapshot: each source keeps the snapshot it had or
// has its new one whole, and the next sync reads everything.
func TestSyncCancelledMidway(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	before := e.snapshotIDs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := e.monitor()
	// Cancelled as the first source read goes to be written, while
	// another is being read.
	m.Log = slog.New(&cancelOn{msg: "synced", cancel: cancel})
	sb := newSideBySide()
	m.Progress = sb.progress
	rep, err := m.Sync(ctx, monitor.SyncOptions{Reread: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sync: %v, want context.Canceled", err)
	}
	if len(rep.Sources) == len(m.Config.Sources) {
		t.Errorf("every source was synced despite the cancellation: %+v", rep.Sources)
	}
	after := e.snapshotIDs()
	for src, id := range before {
		if after[src] == 0 {
			t.Errorf("%s lost its snapshot in force (was %d)", src, id)
		}
	}
	checkSnapshots(t, e, nil)

	rep, err = e.monitor().Sync(context.Background(), monitor.SyncOptions{Reread: true})
	if err != nil || rep.Failed() {
		t.Fatalf("sync after the cancelled one: %v %+v", err, rep.Sources)
	}
	checkSnapshots(t, e, rep.Snapshots)
}

// checkSnapshots checks that every snapshot in the store is a source's
// snapshot in force, that it loads whole (as many records as recorded),
// and that no chunk outlives its snapshot; and that the snapshots handed
// on by a sync are those in the store.
func checkSnapshots(t *testing.T, e *env, handed map[string]*onus.Snapshot) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(e.dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var orphans, orphanChunks int
	if err := db.QueryRow(`SELECT COUNT(*) FROM snapshots WHERE id NOT IN (SELECT snapshot_id FROM source_state)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM snapshot_chunks WHERE snapshot_id NOT IN (SELECT id FROM snapshots)`).Scan(&orphanChunks); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || orphanChunks != 0 {
		t.Errorf("%d snapshots not in force, %d chunks without a snapshot", orphans, orphanChunks)
	}
	rows, err := db.Query(`SELECT source, records FROM source_state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var src string
		var n int
		if err := rows.Scan(&src, &n); err != nil {
			t.Fatal(err)
		}
		snap, err := e.db.LoadSnapshot(context.Background(), src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if snap.Records.Len() != n {
			t.Errorf("%s: snapshot of %d records, %d recorded", src, snap.Records.Len(), n)
		}
		if h := handed[src]; h != nil && h.Records.Len() != n {
			t.Errorf("%s: sync handed on %d records, stored %d", src, h.Records.Len(), n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// cancelOn cancels a context when a message is logged.
type cancelOn struct {
	msg    string
	cancel func()
}

func (c *cancelOn) Enabled(context.Context, slog.Level) bool { return true }
func (c *cancelOn) Handle(_ context.Context, r slog.Record) error {
	if r.Message == c.msg {
		c.cancel()
	}
	return nil
}
func (c *cancelOn) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *cancelOn) WithGroup(string) slog.Handler      { return c }
