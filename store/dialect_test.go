package store

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// Every migration has its PostgreSQL translation, under the same number
// and name: a SQLite migration added alone fails here.
func TestMigrationsForEveryDialect(t *testing.T) {
	list := func(fsys fs.FS, dir string) []string {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".sql") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	lite, pg := list(migrations, "migrations"), list(pgMigrations, "migrations/postgres")
	if !slices.Equal(lite, pg) {
		t.Errorf("SQLite migrations %v, PostgreSQL migrations %v: translate each into store/migrations/postgres (see README.md there)", lite, pg)
	}
}

// identityTables names exactly the tables whose id PostgreSQL generates.
func TestIdentityTables(t *testing.T) {
	if backend != "postgres" {
		return // the list is PostgreSQL's; SQLite needs none
	}
	db := open(t)
	rows, err := db.db.QueryContext(context.Background(), `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES' AND table_name != 'goose_db_version'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		got[n] = true
	}
	for n := range got {
		if !identityTables[n] {
			t.Errorf("table %s has a generated id but is not in identityTables (postgres.go)", n)
		}
	}
	for n := range identityTables {
		if !got[n] {
			t.Errorf("identityTables lists %s, which has no generated id", n)
		}
	}
}

// The statement rewriting for PostgreSQL leaves quoted text alone.
func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`SELECT a FROM t WHERE b = ? AND c LIKE ?`, `SELECT a FROM t WHERE b = $1 AND c ILIKE $2`},
		{`SELECT '?', "q?" FROM t WHERE x = ? -- why?` + "\nAND y = ?", `SELECT '?', "q?" FROM t WHERE x = $1 -- why?` + "\nAND y = $2"},
		{`SELECT likely, unlike FROM t WHERE x ILIKE ?`, `SELECT likely, unlike FROM t WHERE x ILIKE $1`},
		{`INSERT INTO findings (a) VALUES (?)`, `INSERT INTO findings (a) VALUES ($1) RETURNING id`},
		{`INSERT INTO outbox (a) VALUES (?) RETURNING id, key`, `INSERT INTO outbox (a) VALUES ($1) RETURNING id, key`},
		{`INSERT INTO people (a) VALUES (?)`, `INSERT INTO people (a) VALUES ($1)`},
	} {
		if got := rebind(c.in).sql; got != c.out {
			t.Errorf("rebind(%q)\n = %q\nwant %q", c.in, got, c.out)
		}
	}
}
