package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/onus-sec/onus/internal/pgtest"
)

func TestTransient(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: &net.OpError{Op: "connect", Err: syscall.ECONNREFUSED}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("store: begin: %w", dial), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"broken pipe", syscall.EPIPE, true},
		{"unexpected EOF mid-statement", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"conn closed", pgconn.ErrConnClosed, true},
		{"08006 connection_failure", &pgconn.PgError{Code: "08006"}, true},
		{"08001 cannot establish", fmt.Errorf("x: %w", &pgconn.PgError{Code: "08001"}), true},
		{"57P01 admin_shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"57P02 crash_shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"57P03 cannot_connect_now", &pgconn.PgError{Code: "57P03"}, true},
		{"53300 too_many_connections", &pgconn.PgError{Code: "53300"}, true},
		// Answers of the server's: never retried.
		{"23505 unique_violation", &pgconn.PgError{Code: "23505"}, false},
		{"40001 serialization_failure", &pgconn.PgError{Code: "40001"}, false},
		{"40P01 deadlock", &pgconn.PgError{Code: "40P01"}, false},
		{"57014 query_canceled", &pgconn.PgError{Code: "57014"}, false},
		{"28P01 bad password, in a connect error", fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28P01"}), false},
		{"42P01 undefined_table", &pgconn.PgError{Code: "42P01"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"cancelled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"SQLite busy", errors.New("database is locked (5) (SQLITE_BUSY)"), false},
		{"a plain error", errors.New("store: apply changes: json: bad value"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestParseRetryInURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want time.Duration
		err  string
	}{
		{"postgres://onus@db/onus", DefaultRetry, ""},
		{"postgres://onus@db/onus?retry=15s", 15 * time.Second, ""},
		{"postgres://onus@db/onus?retry=0&sslmode=disable", 0, ""},
		{"postgres://onus@db/onus?retry=soon", 0, "retry must be a duration"},
	} {
		cfg, shown, got, err := pgConfig(tc.url)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: retry %v, %v; want %v", tc.url, got, err, tc.want)
			continue
		}
		if strings.Contains(shown, "retry") || cfg.RuntimeParams["retry"] != "" {
			t.Errorf("%s: retry= is sent to the server (%s, %v)", tc.url, shown, cfg.RuntimeParams)
		}
	}
}

// The retrier gives up after its budget of waits, and retries nothing that
// is not transient.
func TestRetrierBudget(t *testing.T) {
	r := newRetrier(time.Second)
	var slept time.Duration
	r.sleep = func(_ context.Context, d time.Duration) error { slept += d; return nil }
	calls := 0
	err := r.do(context.Background(), "test", func() error { calls++; return syscall.ECONNREFUSED })
	if !errors.Is(err, syscall.ECONNREFUSED) || slept != time.Second || calls < 4 {
		t.Errorf("refused for ever: %v after %d calls and %v of waits, want the error after 1s", err, calls, slept)
	}
	calls = 0
	err = r.do(context.Background(), "test", func() error { calls++; return &pgconn.PgError{Code: "23505"} })
	if calls != 1 || err == nil {
		t.Errorf("a unique violation was tried %d times", calls)
	}
	calls = 0
	err = r.do(WithoutRetry(context.Background()), "test", func() error { calls++; return syscall.ECONNREFUSED })
	if calls != 1 || err == nil {
		t.Errorf("WithoutRetry: tried %d times", calls)
	}
}

// PostgreSQL goes away in the middle of a write transaction (an immediate
// shutdown, as in a crash) and comes back a few seconds later: the
// transaction is run again from its start once the server is back, and
// its work is recorded once. With retry=0 the same cut fails at once.
func TestTransactionSurvivesPostgresRestart(t *testing.T) {
	if backend != "postgres" {
		t.Skip("PostgreSQL only: runs in the postgres pass of the suite")
	}
	ctx := context.Background()
	pg := pgtest.Own(t)
	base := pg.DSN(t)
	s, err := Open(ctx, base+"&retry=60s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var calls atomic.Int32
	// restarted is closed once the server is back and Start has returned:
	// the test crashes it again below, which Start, still polling the
	// server, would take for a failed start.
	restarted := make(chan struct{})
	cut := func(tx *sql.Tx) error {
		n := calls.Add(1)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, object, detail) VALUES ('2026-01-01T00:00:00Z', 'test', 'restart', 'tx', 'once')`); err != nil {
			return err
		}
		if n == 1 {
			// The server dies with this transaction open; it is back
			// after three seconds.
			pg.Crash(t)
			go func() {
				defer close(restarted)
				time.Sleep(3 * time.Second)
				pg.Start(t)
			}()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, object, detail) VALUES ('2026-01-01T00:00:00Z', 'test', 'restart', 'tx', 'twice')`)
		return err
	}
	if err := s.tx(ctx, cut); err != nil {
		t.Fatalf("the transaction failed through the restart: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the transaction ran %d times, want 2 (cut, then again)", n)
	}
	<-restarted
	var rows int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'restart'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Errorf("%d rows recorded, want the 2 of the one transaction that committed", rows)
	}
	// The readiness probe does not wait: down is down.
	pg.Crash(t)
	start := time.Now()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping answered with PostgreSQL stopped")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Ping waited %v for a stopped server", d)
	}
	pg.Start(t)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the restart: %v", err)
	}

	// Without retries, the cut fails the transaction.
	s0, err := Open(ctx, base+"&retry=0")
	if err != nil {
		t.Fatal(err)
	}
	defer s0.Close()
	calls.Store(0)
	err = s0.tx(ctx, func(tx *sql.Tx) error {
		if calls.Add(1) == 1 {
			pg.Crash(t)
			defer pg.Start(t)
		}
		_, err := tx.ExecContext(ctx, `SELECT 1`)
		return err
	})
	if err == nil || !transient(err) || calls.Load() != 1 {
		t.Errorf("retry=0: %d calls, error %v; want one call failing with a lost connection", calls.Load(), err)
	}
}
