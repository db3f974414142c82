package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
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

// On PostgreSQL the run lock is also a session advisory lock, held on a
// connection of its own for as long as the run: PostgreSQL releases it the
// moment the holder's connection ends, so a replica that dies mid-run
// leaves the lock to the next one at once, where a lease alone would make
// it wait for the lease to run out.
const runLockKey = `hashtext(current_schema()), 1`

// runLocks holds the connections of the run locks this process holds.
type runLocks struct {
	mu    sync.Mutex
	conns map[string]*sql.Conn // by holder
}

// pgRunLock takes the advisory run lock for holder. It returns false when
// another live process holds it.
func (s *DB) pgRunLock(ctx context.Context, holder string) (bool, error) {
	s.runLocks.mu.Lock()
	defer s.runLocks.mu.Unlock()
	if s.runLocks.conns[holder] != nil {
		return true, nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("store: run lock: %w", err)
	}
	// The server notices a holder whose machine went down within about a
	// minute, rather than the operating system's two hours.
	for _, set := range []string{"SET tcp_keepalives_idle = 30", "SET tcp_keepalives_interval = 10", "SET tcp_keepalives_count = 3"} {
		if _, err := c.ExecContext(ctx, set); err != nil {
			c.Close()
			return false, fmt.Errorf("store: run lock: %w", err)
		}
	}
	var ok bool
	if err := c.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+runLockKey+`)`).Scan(&ok); err != nil || !ok {
		c.Close()
		if err != nil {
			return false, fmt.Errorf("store: run lock: %w", err)
		}
		return false, nil
	}
	if s.runLocks.conns == nil {
		s.runLocks.conns = map[string]*sql.Conn{}
	}
	s.runLocks.conns[holder] = c
	return true, nil
}

// pgRunUnlock releases holder's advisory run lock, if this process holds
// it.
func (s *DB) pgRunUnlock(ctx context.Context, holder string) {
	s.runLocks.mu.Lock()
	c := s.runLocks.conns[holder]
	delete(s.runLocks.conns, holder)
	s.runLocks.mu.Unlock()
	if c != nil {
		c.ExecContext(ctx, `SELECT pg_advisory_unlock(`+runLockKey+`)`)
		c.Close()
	}
}
