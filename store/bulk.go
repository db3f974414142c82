package store

import (
	"context"
	"database/sql"
	"fmt"
)

// bulkMin is how many rows a transaction must insert into an empty table
// for its indexes to be built after the rows rather than row by row.
const bulkMin = 5_000

// bulkIndexes prepares a transaction that will insert n rows or more into
// tables on SQLite: each table that is empty has its secondary indexes
// dropped, and the returned function, called before the transaction
// commits, creates them again from their own definitions
// (sqlite_master), so they are exactly those of the migrations.
//
// An index filled row by row descends its B-tree at a random place for
// every insert; built at once it sorts the rows and writes its pages in
// order. For the first evaluation at 100,000 people (49,000 findings into
// eight indexes, their events into two) it took about a quarter off
// writing the findings in BenchmarkFirstPersist. The people directory is
// not written so: its two indexes (manager, team) have few values and
// fill almost in order already; building them again cost more than it
// saved. The table's own B-tree, its UNIQUE constraints (their
// automatic indexes are not dropped) and its triggers work as before. The
// whole happens in the transaction: a reader sees the indexes before and
// after, and a rollback restores them. On PostgreSQL, or for fewer rows,
// or a table that holds rows, it does nothing.
func (s *DB) bulkIndexes(ctx context.Context, tx *sql.Tx, n int, tables ...string) (func() error, error) {
	if s.pg || n < bulkMin {
		return func() error { return nil }, nil
	}
	var create []string
	for _, t := range tables {
		var any int
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&any); err != nil {
			return nil, fmt.Errorf("store: %s: %w", t, err)
		}
		if any != 0 {
			continue
		}
		rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, t)
		if err != nil {
			return nil, fmt.Errorf("store: indexes of %s: %w", t, err)
		}
		var names []string
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: indexes of %s: %w", t, err)
			}
			names, create = append(names, name), append(create, def)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: indexes of %s: %w", t, err)
		}
		for _, name := range names {
			if _, err := tx.ExecContext(ctx, `DROP INDEX `+name); err != nil {
				return nil, fmt.Errorf("store: drop index %s for a bulk insert: %w", name, err)
			}
		}
	}
	return func() error {
		for _, def := range create {
			if _, err := tx.ExecContext(ctx, def); err != nil {
				return fmt.Errorf("store: create index again after a bulk insert (%s): %w", def, err)
			}
		}
		return nil
	}, nil
}
