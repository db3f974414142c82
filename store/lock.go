package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onus-sec/onus"
)

// LockRequest asks for the run lock.
type LockRequest struct {
	// Holder names the process ("host:pid:run").
	Holder string
	// Actor and What are shown to whoever finds the lock taken: "ops@acme.com",
	// "evaluation".
	Actor, What string
	// For is how long the lock is held unless renewed.
	For time.Duration
	// Dead tells whether a holder has stopped; nil trusts leases to run out.
	Dead func(holder string) bool
}

// ErrLocked is wrapped by the conflict error of a lock held by another
// live process.
var ErrLocked = errors.New("run lock held")

// Lock takes the run lock: at most one sync or evaluation writes at a
// time. The lock of a holder that stopped (its lease ran out, or it was a
// process of this host that no longer exists) is taken over, and the runs
// that holder left 'running' are marked interrupted. It fails with a
// conflict error wrapping ErrLocked, saying who holds it since when, when
// another live process holds it.
func (s *DB) Lock(ctx context.Context, r LockRequest) error {
	now := s.now()
	// On PostgreSQL, the advisory lock says whether the holder lives.
	pgHeld, pgFree := false, false
	if s.pg {
		ok, err := s.pgRunLock(ctx, r.Holder)
		if err != nil {
			return err
		}
		pgHeld, pgFree = !ok, ok
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var holder, actor, what, since, until string
		err := tx.QueryRowContext(ctx, `SELECT holder, actor, what, since, until FROM run_lock WHERE name = 'loop'`).Scan(&holder, &actor, &what, &since, &until)
		switch {
		case pgHeld && errors.Is(err, sql.ErrNoRows):
			// Another process took the advisory lock and is writing its row.
			return &onus.Error{Code: onus.ECONFLICT, Err: ErrLocked, Message: "another onus process is taking the run lock; wait for it to end"}
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: run lock: %w", err)
		// A free advisory lock proves the holder gone; a held one does not
		// prove it alive (a machine that lost power keeps its connection
		// open on the server for a while): the lease decides then.
		case holder != r.Holder && !pgFree && parseTime(until).After(now) && (r.Dead == nil || !r.Dead(holder)):
			return &onus.Error{Code: onus.ECONFLICT, Err: ErrLocked, Message: fmt.Sprintf(
				"another %s is running since %s, by %s (process %s); wait for it to end. If that process was killed, its lock is taken over at %s, or at once from the same host",
				what, parseTime(since).Format("2006-01-02 15:04:05 MST"), actor, holder, parseTime(until).Format("15:04:05 MST"))}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_lock (name, holder, actor, what, since, until) VALUES ('loop', ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, actor = excluded.actor, what = excluded.what, since = excluded.since, until = excluded.until`,
			r.Holder, r.Actor, r.What, fmtTime(now), fmtTime(now.Add(r.For))); err != nil {
			return fmt.Errorf("store: run lock: %w", err)
		}
		// Nobody else holds the lock: any run still 'running' was left by
		// a process that stopped.
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'interrupted', finished_at = ?,
			error = 'the process stopped before the run ended (killed, or the machine went down); nothing it did was half-written'
			WHERE status = 'running' AND holder != ?`, fmtTime(now), r.Holder); err != nil {
			return fmt.Errorf("store: interrupted runs: %w", err)
		}
		return nil
	})
	if err != nil && pgFree {
		s.pgRunUnlock(context.WithoutCancel(ctx), r.Holder)
	}
	return err
}

// RenewLock extends holder's lock; it fails with a conflict error when
// another process took it over.
func (s *DB) RenewLock(ctx context.Context, holder string, d time.Duration) error {
	res, err := s.db.ExecContext(ctx, `UPDATE run_lock SET until = ? WHERE name = 'loop' AND holder = ?`, fmtTime(s.now().Add(d)), holder)
	if err != nil {
		return fmt.Errorf("store: renew run lock: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return onus.Errorf(onus.ECONFLICT, "the run lock of %s was taken over", holder)
	}
	return nil
}

// Unlock releases holder's lock; releasing a lock one does not hold does
// nothing.
func (s *DB) Unlock(ctx context.Context, holder string) error {
	// The advisory lock's connection is given back even when the row
	// cannot be deleted (PostgreSQL is gone: the lock went with it, and
	// the row's lease runs out).
	if s.pg {
		defer s.pgRunUnlock(ctx, holder)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM run_lock WHERE name = 'loop' AND holder = ?`, holder); err != nil {
		return fmt.Errorf("store: unlock: %w", err)
	}
	return nil
}

// DecisionMark returns a number that grows with every exception decision
// (request, approval, rejection, revocation, expiry). An evaluation reads
// it before it reads the exceptions in force and gives it to ApplyChanges,
// which refuses to write when a decision came in between.
func (s *DB) DecisionMark(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM exception_events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: decision mark: %w", err)
	}
	return n, nil
}
