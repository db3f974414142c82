package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// TestStatementCache runs what can go wrong with statements kept compiled
// per connection: on both engines a script, a schema change under a
// compiled statement and an error; on SQLite, whose connections run
// several queries at once, the same text again inside its own rows' loop
// and more texts than the cache keeps while rows are open, then it checks
// that the statements were kept.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	db.SetPool(1) // one connection: every query below meets the same cache
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE cache_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := db.db.ExecContext(ctx, `INSERT INTO cache_t (k, v) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	value := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}, k int) string {
		t.Helper()
		var v string
		if err := q.QueryRowContext(ctx, `SELECT v FROM cache_t WHERE k = ?`, k).Scan(&v); err != nil {
			t.Fatalf("k = %d: %v", k, err)
		}
		return v
	}
	// A script, a schema change under a compiled statement, an error.
	if _, err := db.db.ExecContext(ctx, `UPDATE cache_t SET v = 'w' WHERE k = 1; UPDATE cache_t SET v = 'x' WHERE k = 2`); err != nil {
		t.Fatal(err)
	}
	if a, b := value(db.db, 1), value(db.db, 2); a != "w" || b != "x" {
		t.Errorf("script: %s %s", a, b)
	}
	if _, err := db.db.ExecContext(ctx, `ALTER TABLE cache_t ADD COLUMN extra TEXT NOT NULL DEFAULT 'e'`); err != nil {
		t.Fatal(err)
	}
	if v := value(db.db, 3); v != "v3" {
		t.Errorf("after a schema change: %s", v)
	}
	if _, err := db.db.ExecContext(ctx, `INSERT INTO cache_t (k, v) VALUES (?, ?)`, 1, "dup"); !isUniqueViolation(err) {
		t.Errorf("duplicate key: %v", err)
	}
	if _, err := db.db.ExecContext(ctx, `INSERT INTO cache_t (k, v) VALUES (?, ?)`, 9, "v9"); err != nil {
		t.Errorf("the same statement after its error: %v", err)
	}
	if v := value(db.db, 9); v != "v9" {
		t.Errorf("after an error: %s", v)
	}
	if db.pg {
		return // pgx keeps its own statement cache, and runs one query at a time on a connection
	}
	// The same text again while its rows are open, on the one connection
	// of a transaction.
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT k FROM cache_t WHERE k >= ? ORDER BY k`, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.QueryContext(ctx, `SELECT k FROM cache_t WHERE k >= ? ORDER BY k`, k)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		inner.Close()
		got = append(got, fmt.Sprintf("%d:%d:%s", k, n, value(tx, k)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[0:6:v0 1:5:w 2:4:x 3:3:v3 4:2:v4 9:1:v9]" {
		t.Errorf("nested queries: %v", got)
	}
	// More texts than the cache keeps while the first one's rows are open:
	// it is evicted busy, and its rows still read to the end.
	tx, err = db.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT v FROM cache_t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for i := 0; rows.Next(); i++ {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		for j := range stmtCacheSize / 2 {
			var n int
			if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) + %d FROM cache_t WHERE k < ?`, i*stmtCacheSize+j), i).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := i*stmtCacheSize + j + i; n != want {
				t.Fatalf("count %d: got %d, want %d", j, n, want)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[v0 w x v3 v4 v9]" {
		t.Errorf("rows of an evicted statement: %v", got)
	}
	value(db.db, 3)
	conn, err := db.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(c any) error {
		cc, ok := c.(*cachedConn)
		if !ok {
			return fmt.Errorf("the connection is a %T, not a caching one", c)
		}
		if cc.lru.Len() != stmtCacheSize || len(cc.byText) != stmtCacheSize {
			return fmt.Errorf("%d statements cached (%d by text), want %d", cc.lru.Len(), len(cc.byText), stmtCacheSize)
		}
		if _, ok := cc.byText[`SELECT v FROM cache_t WHERE k = ?`]; !ok {
			return fmt.Errorf("the last query is not cached")
		}
		for el := cc.lru.Front(); el != nil; el = el.Next() {
			if cs := el.Value.(*cachedStmt); cs.busy || cs.evicted {
				return fmt.Errorf("%q: busy %v, evicted %v with no rows open", cs.text, cs.busy, cs.evicted)
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
