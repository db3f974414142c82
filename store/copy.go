package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"slices"
	"strings"

	"github.com/onus-sec/onus"
)

// Migrated returns the schema version the store had when it was opened,
// and the one it has now.
func (s *DB) Migrated(ctx context.Context) (from, to int64, err error) {
	to, err = s.SchemaVersion(ctx)
	return s.migratedFrom, to, err
}

// Postgres tells whether the store is on PostgreSQL.
func (s *DB) Postgres() bool { return s.pg }

// TableCopy is what Copy did to one table.
type TableCopy struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
	// Checksum is the SHA-256 of every row, in the order of all its
	// columns, computed on both stores after the copy: they are equal.
	Checksum string `json:"sha256"`
}

// copyOrder lists the tables in an order where each row's references are
// copied before it, and the people before the findings (the findings'
// triggers read each owner's team). Tables not listed (added by later
// migrations) follow, by name.
var copyOrder = []string{
	"runs", "snapshots", "snapshot_chunks", "syncs", "source_state", "people", "assets", "findings", "finding_events",
	"control_stats", "unknowns", "audit_log", "exceptions", "exception_events",
	"outbox", "nudge_log", "run_lock", "jobs", "manual_links", "web_sessions", "api_tokens",
}

// derived tells the tables the findings' triggers keep (the summaries of
// migration 00009): the copy does not write them, and their checksums then
// prove the triggers of the target counted the same.
func derived(table string) bool { return strings.HasPrefix(table, "summary_") }

// Copy copies every table of from into to, an empty store of the same
// schema version (a SQLite file into PostgreSQL, or back), in one
// transaction, then verifies that both hold the same number of rows and
// the same checksum in every table. Nothing is written when it fails.
func Copy(ctx context.Context, from, to *DB, actor string) ([]TableCopy, error) {
	fv, err := from.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	tv, err := to.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if fv != tv {
		return nil, onus.Errorf(onus.ECONFLICT, "store copy: %s has schema version %d and %s %d; open both with the same onus", from.path, fv, to.path, tv)
	}
	tables, err := from.tables(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		var n int64
		if err := to.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("store copy: %s: table %s: %w", to.path, t, err)
		}
		if n > 0 {
			return nil, onus.Errorf(onus.ECONFLICT, "store copy: %s is not empty (table %s has %d rows); copy into a new database", to.path, t, n)
		}
	}
	var out []TableCopy
	err = to.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range tables {
			if derived(t) {
				continue // written by the findings' triggers; verified below
			}
			if err := copyTable(ctx, from.db, tx, t, to.pg); err != nil {
				return err
			}
			if to.pg && identityTables[t] {
				// The next generated id follows the copied ones.
				if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t+`', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM `+t); err != nil {
					return fmt.Errorf("store copy: %s ids: %w", t, err)
				}
			}
		}
		if err := to.audit(ctx, tx, actor, "store.copy", from.path, fmt.Sprintf("%d tables", len(tables))); err != nil {
			return err
		}
		// Verified inside the transaction, so that a copy that does not
		// match is rolled back and --to stays empty for another try.
		out = out[:0]
		for _, t := range tables {
			a, err := checksum(ctx, from.db, t)
			if err != nil {
				return err
			}
			b, err := checksum(ctx, tx, t)
			if err != nil {
				return err
			}
			if t == "audit_log" {
				b.Rows-- // the copy's own line
				if a.Rows != b.Rows {
					return fmt.Errorf("store copy: table %s: %d rows in %s, %d in %s", t, a.Rows, from.path, b.Rows, to.path)
				}
				out = append(out, a)
				continue
			}
			if a != b {
				return fmt.Errorf("store copy: table %s differs after the copy: %d rows, sha256 %s in %s; %d rows, sha256 %s in %s",
					t, a.Rows, a.Checksum, from.path, b.Rows, b.Checksum, to.path)
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// tables lists the store's tables (not goose's), in copyOrder.
func (s *DB) tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'goose_db_version'`
	if s.pg {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name != 'goose_db_version'`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	rank := func(n string) int {
		if i := slices.Index(copyOrder, n); i >= 0 {
			return i
		}
		return len(copyOrder)
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return names, rows.Err()
}

// copyTable copies one table's rows, a few hundred per statement into
// SQLite (its limit of parameters), a few thousand into PostgreSQL (the
// protocol's 65,535): there each statement is a round trip, and the
// findings' summary triggers run once per statement, each leaving one more
// version of the summary rows that the next statements of the same
// transaction step over.
func copyTable(ctx context.Context, from *sql.DB, to *sql.Tx, table string, pg bool) error {
	rows, err := from.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return fmt.Errorf("store copy: read %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	params := 900
	if pg {
		params = 65535
	}
	per := max(1, params/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n := len(batch) / len(cols)
		q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+",", n), ",")
		if _, err := to.ExecContext(ctx, q, batch...); err != nil {
			return fmt.Errorf("store copy: write %s: %w", table, err)
		}
		batch = batch[:0]
		return nil
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("store copy: read %s: %w", table, err)
		}
		batch = append(batch, vals...)
		if len(batch) >= per*len(cols) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store copy: read %s: %w", table, err)
	}
	return flush()
}

// checksum counts a table's rows and hashes them in the order of all their
// columns. Both engines sort text by its bytes (PostgreSQL's columns are
// COLLATE "C") and put NULL first, so that equal tables hash equal.
// A summary's rows whose count came back to zero are left out: the
// triggers keep them on a store whose findings changed state, and a copy,
// whose findings are inserted once in their last state, has none.
func checksum(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table string) (TableCopy, error) {
	c := TableCopy{Table: table}
	rows, err := q.QueryContext(ctx, `SELECT * FROM `+table+` LIMIT 0`)
	if err != nil {
		return c, fmt.Errorf("store: checksum %s: %w", table, err)
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		return c, err
	}
	order := make([]string, len(cols))
	for i, col := range cols {
		order[i] = col + " NULLS FIRST"
	}
	where := ""
	if derived(table) {
		where = ` WHERE n <> 0`
	}
	rows, err = q.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+where+` ORDER BY `+strings.Join(order, ", "))
	if err != nil {
		return c, fmt.Errorf("store: checksum %s: %w", table, err)
	}
	defer rows.Close()
	h := sha256.New()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return c, fmt.Errorf("store: checksum %s: %w", table, err)
		}
		for _, v := range vals {
			hashValue(h, v)
		}
		c.Rows++
	}
	c.Checksum = hex.EncodeToString(h.Sum(nil))
	return c, rows.Err()
}

// hashValue writes one value, tagged with its kind and length, so that no
// two different rows write the same bytes.
func hashValue(h hash.Hash, v any) {
	var b [9]byte
	switch x := v.(type) {
	case nil:
		h.Write([]byte{'n'})
	case int64:
		b[0] = 'i'
		binary.BigEndian.PutUint64(b[1:], uint64(x))
		h.Write(b[:])
	case bool:
		n := int64(0)
		if x {
			n = 1
		}
		hashValue(h, n)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			hashValue(h, int64(x))
			return
		}
		b[0] = 'f'
		binary.BigEndian.PutUint64(b[1:], math.Float64bits(x))
		h.Write(b[:])
	case string:
		hashBytes(h, 's', []byte(x))
	case []byte:
		hashBytes(h, 'b', x)
	default:
		hashBytes(h, 's', fmt.Append(nil, x))
	}
}

func hashBytes(h hash.Hash, kind byte, p []byte) {
	var b [9]byte
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], uint64(len(p)))
	h.Write(b[:])
	h.Write(p)
}
