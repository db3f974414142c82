package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strings"
)

// rowBatch writes the rows of one INSERT: on PostgreSQL several hundred
// per statement, because there each statement is a round trip to the
// server (one row per statement made a first evaluation at 100,000 people
// spend most of its persist phase waiting on the network: docs/scaling.md);
// on SQLite one per execution of a prepared statement, a function call in
// onus's own process, as before.
type rowBatch struct {
	tx   *sql.Tx
	what string // for errors: "findings"
	head string // INSERT INTO t (a, b) VALUES
	tail string // ON CONFLICT …, RETURNING …
	cols int
	per  int // rows per statement
	args []any
	stmt *sql.Stmt // SQLite's prepared statement
	// scan, when set, reads each row the statement returns (RETURNING).
	scan func(*sql.Rows) error
}

// pgBatchRows is the most rows a PostgreSQL statement of rowBatch holds;
// fewer when the columns would pass the protocol's 65,535 parameters.
const pgBatchRows = 500

func (s *DB) newBatch(ctx context.Context, tx *sql.Tx, table string, cols []string, tail string) (*rowBatch, error) {
	b := &rowBatch{tx: tx, what: table, cols: len(cols), per: 1,
		head: `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `, tail: tail}
	if s.pg {
		b.per = min(pgBatchRows, 65535/len(cols))
		return b, nil
	}
	st, err := tx.PrepareContext(ctx, b.head+b.row()+" "+tail)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", table, err)
	}
	b.stmt = st
	return b, nil
}

func (b *rowBatch) row() string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", b.cols), ", ") + ")"
}

// add queues one row, and writes the batch when it is full.
func (b *rowBatch) add(ctx context.Context, args ...any) error {
	if len(args) != b.cols {
		return fmt.Errorf("store: %s: %d values for %d columns", b.what, len(args), b.cols)
	}
	b.args = append(b.args, args...)
	if len(b.args) >= b.per*b.cols {
		return b.flush(ctx)
	}
	return nil
}

// flush writes the queued rows.
func (b *rowBatch) flush(ctx context.Context) error {
	if len(b.args) == 0 {
		return nil
	}
	args := b.args
	b.args = b.args[:0]
	if b.stmt != nil {
		if b.scan != nil {
			rows, err := b.stmt.QueryContext(ctx, args...)
			if err != nil {
				return err
			}
			return b.read(rows)
		}
		_, err := b.stmt.ExecContext(ctx, args...)
		return err
	}
	// A full batch, or the rest in chunks of a power of two rows: a few
	// distinct statements per table, for the statement caches (rebind's,
	// pgx's) that keep each text.
	for len(args) > 0 {
		n := len(args) / b.cols
		if n < b.per {
			n = 1 << (bits.Len(uint(n)) - 1)
		}
		q := b.head + strings.TrimSuffix(strings.Repeat(b.row()+", ", n), ", ") + " " + b.tail
		if b.scan != nil {
			rows, err := b.tx.QueryContext(ctx, q, args[:n*b.cols]...)
			if err != nil {
				return err
			}
			if err := b.read(rows); err != nil {
				return err
			}
		} else if _, err := b.tx.ExecContext(ctx, q, args[:n*b.cols]...); err != nil {
			return err
		}
		args = args[n*b.cols:]
	}
	return nil
}

func (b *rowBatch) read(rows *sql.Rows) error {
	defer rows.Close()
	for rows.Next() {
		if err := b.scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (b *rowBatch) close() {
	if b.stmt != nil {
		b.stmt.Close()
	}
}
