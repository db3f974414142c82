package store

import (
	"context"
	"fmt"
	"time"
)

// ClaimTick records that a scheduled job starts for the tick of its
// timetable at tick, unless a run started at or after that tick already:
// then another onus process sharing the store (a replica on the same
// PostgreSQL) runs this tick, and it returns false. A zero tick is a first
// run: it is claimed only when the job never ran. One conditional upsert
// decides, on SQLite and PostgreSQL alike, so that a tick is run once
// across replicas whatever their clocks: each records a start no earlier
// than the tick it serves.
func (s *DB) ClaimTick(ctx context.Context, name, trigger string, tick, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO jobs (name, running, started_at, trigger) VALUES (?, 1, ?, ?)
		ON CONFLICT (name) DO UPDATE SET running = 1, started_at = excluded.started_at, trigger = excluded.trigger
		WHERE jobs.started_at < ?`,
		name, fmtTimeMilli(at), trigger, fmtTimeMilli(tick))
	if err != nil {
		return false, fmt.Errorf("store: claim job %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
