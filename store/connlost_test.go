package store

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestConnectionLost(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("failed to execute pg_try_advisory_lock: %w", io.ErrUnexpectedEOF), true},
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown: PostgreSQL restarts
		{&pgconn.PgError{Code: "57P03"}, true}, // cannot_connect_now: still starting
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "08006"}), true},
		{&pgconn.PgError{Code: "42P01"}, false}, // undefined_table: an answer about the database
		{&pgconn.PgError{Code: "42501"}, false}, // insufficient_privilege
	} {
		if got := connectionLost(tc.err); got != tc.want {
			t.Errorf("connectionLost(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A claim must be durable before its message is handed over: on a server
// that may forget acknowledged commits (synchronous_commit = off, as the
// test servers run), onus's connections still wait for the local flush.
func TestPostgresCommitsAreDurable(t *testing.T) {
	if backend != "postgres" {
		t.Skip("PostgreSQL only: runs in the postgres pass of the suite")
	}
	ctx := context.Background()
	for _, tc := range []struct{ server, want string }{
		{"off", "local"},
		{"on", "on"},
		{"remote_apply", "remote_apply"},
	} {
		s, err := Open(ctx, dsn(t)+"&synchronous_commit="+tc.server)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := s.db.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&got); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got != tc.want {
			t.Errorf("server synchronous_commit %s: onus's connections have %s, want %s", tc.server, got, tc.want)
		}
	}
}

// onus's PostgreSQL connections plan every execution of a prepared
// statement for its values (a generic plan made a manager's findings page
// walk every open finding: docs/scaling.md), unless the URL says
// otherwise.
func TestPostgresPlansForTheValues(t *testing.T) {
	if backend != "postgres" {
		t.Skip("PostgreSQL only: runs in the postgres pass of the suite")
	}
	ctx := context.Background()
	for _, tc := range []struct{ url, want string }{
		{"", "force_custom_plan"},
		{"&plan_cache_mode=auto", "auto"},
	} {
		s, err := Open(ctx, dsn(t)+tc.url)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := s.db.QueryRowContext(ctx, "SHOW plan_cache_mode").Scan(&got); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got != tc.want {
			t.Errorf("URL %q: plan_cache_mode %s, want %s", tc.url, got, tc.want)
		}
	}
}
