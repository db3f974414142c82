package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The store holds personal data: it and its -wal and -shm files are
// readable by their owner only, whatever the umask; an existing one that
// others can read is warned about. A path with URI characters opens.
func TestDatabaseFileMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "100% onus?#")
	path := filepath.Join(dir, "onus.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Audit(context.Background(), "test", "check", "x", "y"); err != nil {
		t.Fatal(err)
	}
	if len(db.Warnings) != 0 {
		t.Errorf("warnings on a new store: %v", db.Warnings)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want -rw-------", filepath.Base(f), st.Mode().Perm())
		}
	}
	db.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if len(db.Warnings) != 1 || !strings.Contains(db.Warnings[0], "can be read by other users") {
		t.Errorf("warnings = %v", db.Warnings)
	}
}

// SQLite's temporary files (statement journals, sorts) stay in memory:
// they hold findings and names, and writing them cost persist a fifth of
// its time. Every pooled connection has the settings, not just the first.
func TestSQLiteConnectionSettings(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetPool(4)
	// Hold three connections at once so that the pool opens several.
	var conns []interface{ Close() error }
	for range 3 {
		c, err := db.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var temp int
		var journal string
		if err := c.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&temp); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if temp != 2 || journal != "wal" {
			t.Errorf("connection %d: temp_store %d (want 2, memory), journal_mode %s (want wal)", len(conns), temp, journal)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}
