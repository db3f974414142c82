package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onus-sec/onus"
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
	return s.ClaimTickAs(ctx, name, trigger, tick, at, "", time.Time{})
}

// ClaimTickAs is ClaimTick for a scheduler that holds the run it starts
// under a lease: holder, until it (RenewJob) says otherwise, until.
func (s *DB) ClaimTickAs(ctx context.Context, name, trigger string, tick, at time.Time, holder string, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO jobs (name, running, started_at, trigger, holder, lease_until) VALUES (?, 1, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET running = 1, started_at = excluded.started_at, trigger = excluded.trigger,
			holder = excluded.holder, lease_until = excluded.lease_until
		WHERE jobs.started_at < ?`,
		name, fmtTimeMilli(at), trigger, holder, leaseTime(until), fmtTimeMilli(tick))
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

// leaseTime formats the end of a job's lease; ” for none.
func leaseTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtTimeMilli(t)
}

// StartJobAs records that holder started a run of a job at at, holding it
// under a lease until until.
func (s *DB) StartJobAs(ctx context.Context, name, trigger string, at time.Time, holder string, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO jobs (name, running, started_at, trigger, holder, lease_until) VALUES (?, 1, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET running = 1, started_at = excluded.started_at, trigger = excluded.trigger,
			holder = excluded.holder, lease_until = excluded.lease_until`,
		name, fmtTimeMilli(at), trigger, holder, leaseTime(until))
	if err != nil {
		return fmt.Errorf("store: start job %s: %w", name, err)
	}
	return nil
}

// RenewJob extends holder's lease on the running job name. It fails with a
// conflict error when the job is no longer holder's (another scheduler
// took it over after the lease ran out).
func (s *DB) RenewJob(ctx context.Context, name, holder string, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET lease_until = ? WHERE name = ? AND holder = ? AND running = 1`, leaseTime(until), name, holder)
	if err != nil {
		return fmt.Errorf("store: renew job %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return onus.Errorf(onus.ECONFLICT, "job %s is no longer held by %s", name, holder)
	}
	return nil
}

// ResumeClaim asks to resume a job whose last run was cut short.
type ResumeClaim struct {
	Name, Trigger string
	// Holder is the scheduler asking; it holds the run until Until.
	Holder string
	// Seen is the start of the cut run, as the scheduler read it: a run
	// started since (another scheduler resumed it first) is not claimed.
	Seen      time.Time
	At, Until time.Time
	// Dead tells whether a holder has stopped (a process of this host that
	// no longer exists); nil trusts leases to run out.
	Dead func(holder string) bool
}

// ClaimResume starts the resumed run of a job cut short (its row still
// says running, or interrupted), unless another scheduler sharing the
// store started it since, or still runs it: a holder whose lease has not
// run out and that is not known dead. It returns whether the claim won;
// when it lost to a live holder, also when that holder's lease ends (the
// time to look again).
func (s *DB) ClaimResume(ctx context.Context, c ResumeClaim) (won bool, heldUntil time.Time, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		won, heldUntil = false, time.Time{}
		var running bool
		var started, holder, until string
		err := tx.QueryRowContext(ctx, `SELECT running, started_at, holder, lease_until FROM jobs WHERE name = ?`, c.Name).Scan(&running, &started, &holder, &until)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: claim job %s: %w", c.Name, err)
		case !parseTime(started).Equal(c.Seen):
			return nil // resumed (or run) by another scheduler since
		case running && holder != "" && holder != c.Holder && until > fmtTimeMilli(c.At) && (c.Dead == nil || !c.Dead(holder)):
			heldUntil = parseTime(until)
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (name, running, started_at, trigger, holder, lease_until) VALUES (?, 1, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET running = 1, started_at = excluded.started_at, trigger = excluded.trigger,
				holder = excluded.holder, lease_until = excluded.lease_until`,
			c.Name, fmtTimeMilli(c.At), c.Trigger, c.Holder, leaseTime(c.Until)); err != nil {
			return fmt.Errorf("store: claim job %s: %w", c.Name, err)
		}
		won = true
		return nil
	})
	return won, heldUntil, err
}
