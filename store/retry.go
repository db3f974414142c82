package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Riding out a PostgreSQL restart. When the server goes away (restarted,
// crashed, failed over, the network cut), onus waits for it instead of
// failing the command or the job, for a bounded time (DefaultRetry, or
// retry=DURATION in the database URL; retry=0 turns it off), in two places
// where waiting cannot do anything twice:
//
//   - opening a connection (pgConnector.Connect): nothing was sent yet;
//   - a write transaction (DB.tx) that failed before its COMMIT was sent:
//     PostgreSQL rolled it back as a whole, so it is run again from its
//     first statement, on a new connection. A transaction whose COMMIT got
//     no answer is not retried: it may have committed; its error goes up.
//
// Only errors that mean the server was unreachable are retried (transient);
// an answer of the server's (a constraint, a serialization failure, a
// deadlock, a permission) is the caller's to handle, as on SQLite. SQLite
// waits for its lock with busy_timeout and is never retried here.

// DefaultRetry is how long onus waits for PostgreSQL to come back by
// default.
const DefaultRetry = 60 * time.Second

// noRetryKey marks a context whose calls must fail at once (/readyz).
type noRetryKey struct{}

// WithoutRetry returns a context in which the store does not wait for an
// unreachable PostgreSQL: a readiness probe must say at once that it is
// gone.
func WithoutRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRetryKey{}, true)
}

// transient tells whether err means PostgreSQL could not be reached, or
// went away, rather than an answer about the work: worth another try once
// it is back. Serialization failures (40001) and deadlocks (40P01) are not:
// they are answers, and the store's callers handle conflicts themselves.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		case pe.Code == "53300": // too_many_connections: the restarted server's slots fill again
			return true
		}
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.ENOENT) && isConnectError(err):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.As(err, &ne):
		return true // a dial error, a timeout on the socket
	case isConnectError(err):
		// Refused before any answer: the server is starting or stopping.
		return true
	}
	return false
}

func isConnectError(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// retrier waits for PostgreSQL to come back, for one store.
type retrier struct {
	budget time.Duration
	log    atomic.Pointer[slog.Logger]
	sleep  func(context.Context, time.Duration) error

	mu   sync.Mutex
	down bool // the server did not answer the last attempt
}

func newRetrier(budget time.Duration) *retrier {
	return &retrier{budget: budget, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (r *retrier) logger() *slog.Logger {
	if l := r.log.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// do runs fn until it succeeds, fails with an error that is not
// transient, or the budget is spent; it waits 100 ms after the first
// failure, doubling up to 5 s. what names the work in the log ("connect",
// "transaction"); errors are logged by their text, which holds no
// password (pgConfig keeps it out of the URL).
func (r *retrier) do(ctx context.Context, what string, fn func() error) error {
	err := fn()
	if r == nil || r.budget <= 0 || !transient(err) || ctx.Value(noRetryKey{}) != nil {
		r.up(err)
		return err
	}
	// The budget counts the waits between attempts, not the attempts
	// themselves (a connection attempt may take its connect_timeout): the
	// store has no wall clock of its own (onus.Clock may be a fake one).
	var waited time.Duration
	wait := 100 * time.Millisecond
	for attempt := 2; ; attempt++ {
		r.lost(what, err)
		left := r.budget - waited
		if left <= 0 {
			r.logger().Error("PostgreSQL did not come back in time; giving up", "work", what, "waited", waited, "error", err.Error())
			return err
		}
		d := min(wait, left)
		if serr := r.sleep(ctx, d); serr != nil {
			return err
		}
		waited += d
		wait = min(2*wait, 5*time.Second)
		err = fn()
		if !transient(err) {
			if r.up(err) && err == nil {
				r.logger().Info("PostgreSQL answers again; the work goes on", "work", what, "attempts", attempt, "waited", waited)
			}
			return err
		}
	}
}

// lost logs the first failure of an outage; the ones after it are
// debug-level, so that an outage is one warning, not one per statement.
func (r *retrier) lost(what string, err error) {
	r.mu.Lock()
	first := !r.down
	r.down = true
	r.mu.Unlock()
	lvl := slog.LevelDebug
	if first {
		lvl = slog.LevelWarn
	}
	r.logger().Log(context.Background(), lvl, "PostgreSQL is unreachable; waiting for it", "work", what, "error", err.Error(), "retry_for", r.budget)
}

// up records that the server answered; it returns whether it was
// unreachable until then.
func (r *retrier) up(err error) bool {
	if r == nil || transient(err) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.down
	r.down = false
	return was
}

// parseRetry reads retry=DURATION from a database URL's query.
func parseRetry(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("retry must be a duration such as 30s or 2m, or 0 to fail at once")
	}
	return d, nil
}
