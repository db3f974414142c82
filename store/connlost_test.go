package store

import (
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
