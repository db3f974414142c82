// Package store is onus's SQL store: one database (a SQLite file by default) holds the
// snapshots in force, the findings ledger with its history, the runs and
// the audit log. Schema changes are embedded SQL migrations applied in
// order at open; a database written by a newer onus is refused.
package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"

	"github.com/onus-sec/onus"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open store.
type DB struct {
	db   *sql.DB
	path string
	// pg is true on PostgreSQL (postgres.go), false on SQLite.
	pg bool
	// migratedFrom is the schema version found at open, before migrating.
	migratedFrom int64
	// runLocks are the PostgreSQL run locks held (replicas.go).
	runLocks runLocks
	// retry waits for an unreachable PostgreSQL (retry.go); nil on SQLite.
	retry *retrier
	// Clock is the operational clock: audit timestamps, run start and end,
	// exception decisions, outbox creation and manual resends. Business
	// instants (an evaluation's now, a plan's not-before) are passed in by
	// the caller. Nil means the machine's clock; tests set a fake one.
	Clock onus.Clock
	// Warnings are problems found opening the store that do not stop it
	// (a database file other users can read); callers log them.
	Warnings []string
}

// now returns the operational time.
func (s *DB) now() time.Time { return onus.Or(s.Clock).Now() }

// Open opens the store and brings its schema up to date. path is a SQLite
// file (created if needed; "sqlite:" before it is allowed), or the URL of
// a PostgreSQL database, postgres://user@host:port/name?password=env:NAME
// (see pgConfig).
func Open(ctx context.Context, path string) (*DB, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path)
	}
	path = strings.TrimPrefix(path, "sqlite:")
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, onus.Errorf(onus.EINVALID, "store: cannot create directory %s: %v", dir, err)
		}
	}
	// busy_timeout comes first so that the other pragmas wait for a lock
	// rather than fail; WAL lets readers work while a run writes. A page
	// cache of 32 MiB per connection (SQLite's default is 2 MiB) keeps an
	// evaluation's writes from spilling and re-reading the same index
	// pages at 100,000 people; it is filled only as pages are read.
	// Reads go through a memory map of the file (up to 1 GiB): without
	// it each pooled connection copies the pages it reads into its own
	// cache, so a server with 8 connections reads and holds the hot part
	// of the database 8 times, and a connection's first requests pay
	// for the copies (a third to a half of the team page's CPU in
	// BenchmarkServe at 100,000 people). Statement journals and temporary
	// sort tables stay in memory rather than in files in the temporary
	// directory: they were a fifth to a third of an evaluation's persist
	// (onus bench --linear: 3.80 → 2.81 CPU-seconds at 1,000,000
	// entities), and they hold findings and names that have no business in
	// /tmp.
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)", "cache_size(-32768)", "mmap_size(1073741824)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	// The store holds personal data, findings and message bodies: it is
	// created readable by its owner only, whatever the umask, and SQLite
	// gives its -wal and -shm files the same mode.
	var warnings []string
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		warnings = append(warnings, fmt.Sprintf("the database %s can be read by other users (mode %v); it holds personal data: chmod 600 %s", path, st.Mode().Perm(), path))
	}
	// In a URI, % ? and # are special: a path holding them is escaped.
	uriPath := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	conn, err := sqlite.NewConnector("file:" + uriPath + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// Each connection keeps its statements compiled (stmtcache.go).
	db := sql.OpenDB(cachingConnector{conn})
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, onus.Errorf(onus.EINVALID, "store: cannot open database %s: %v", path, err)
	}
	s := &DB{db: db, path: path, Warnings: warnings}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// migrations returns the goose provider of the store's dialect. On
// PostgreSQL a session lock keeps two onus processes starting together
// from migrating at once.
func (s *DB) migrations() (*goose.Provider, error) {
	dialect, dir, opts := goose.DialectSQLite3, fs.FS(migrations), []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if s.pg {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		dialect, dir, opts = goose.DialectPostgres, pgMigrations, append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(dir, "migrations")
	if err != nil {
		return nil, err
	}
	if s.pg {
		if sub, err = fs.Sub(sub, "postgres"); err != nil {
			return nil, err
		}
	}
	return goose.NewProvider(dialect, s.db, sub, opts...)
}

func (s *DB) migrate(ctx context.Context) error {
	p, err := s.migrations()
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil && s.pg && connectionLost(err) {
		// Not a verdict on the database: the next attempt may work.
		return fmt.Errorf("store: lost the connection to %s while opening it: %w", s.path, err)
	}
	if err != nil {
		return onus.Errorf(onus.EINVALID, "store: %s is not an onus database, or it is damaged: %v", s.path, err)
	}
	var latest int64
	for _, src := range p.ListSources() {
		latest = max(latest, src.Version)
	}
	if current > latest {
		return onus.Errorf(onus.ECONFLICT, "store: %s has schema version %d, newer than this onus knows (%d); upgrade onus", s.path, current, latest)
	}
	s.migratedFrom = current
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.path, err)
	}
	return nil
}

// Close closes the store.
func (s *DB) Close() error { return s.db.Close() }

// Path returns the database file, or the PostgreSQL URL without its
// password.
func (s *DB) Path() string { return s.path }

// SchemaVersion returns the applied schema version.
func (s *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}

const timeFormat = "2006-01-02T15:04:05Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return fmtTime(*t)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t.UTC()
}

// tx runs fn in a write transaction. On PostgreSQL, a transaction cut
// short by the server going away before its COMMIT was sent rolled back
// as a whole: it is run again, fn included, once the server is back
// (retry.go). fn must therefore set what it returns afresh on every call.
// A COMMIT that got no answer is not retried.
func (s *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	var commitErr error
	err := s.retry.do(ctx, "transaction", func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			commitErr = fmt.Errorf("store: commit (it may or may not have been recorded): %w", err)
			return nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	return commitErr
}

// SetLog sets where the store says that it waits for an unreachable
// PostgreSQL (slog's default logger otherwise).
func (s *DB) SetLog(l *slog.Logger) {
	if s.retry != nil && l != nil {
		s.retry.log.Store(l)
	}
}

// Audit appends to the audit log.
func (s *DB) Audit(ctx context.Context, actor, action, object, detail string) error {
	return s.audit(ctx, s.db, actor, action, object, detail)
}

// audit appends to the audit log inside a transaction, or on its own.
func (s *DB) audit(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, actor, action, object, detail string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)`,
		fmtTime(s.now()), actor, action, object, detail)
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Object string    `json:"object"`
	Detail string    `json:"detail"`
}

// AuditLog returns the newest entries first.
func (s *DB) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, actor, action, object, detail FROM audit_log ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var at string
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Object, &a.Detail); err != nil {
			return nil, err
		}
		a.At = parseTime(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// The store implements the services of onus.
var (
	_ onus.FindingService   = (*DB)(nil)
	_ onus.ExceptionService = (*DB)(nil)
	_ onus.OutboxService    = (*DB)(nil)
	_ onus.DirectoryService = (*DB)(nil)
)
