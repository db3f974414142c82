package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/onus-sec/onus/internal/pgtest"
)

// backend is the engine the suite runs on: TestMain runs every test of the
// package once on SQLite and once on PostgreSQL (a real server: see
// internal/pgtest). ONUS_TEST_BACKEND=sqlite or =postgres runs one only.
var backend string

func TestMain(m *testing.M) {
	code := 0
	for _, b := range []string{"sqlite", "postgres"} {
		if only := os.Getenv("ONUS_TEST_BACKEND"); only != "" && only != b {
			continue
		}
		backend = b
		fmt.Printf("=== store tests on %s\n", b)
		if c := m.Run(); c != 0 {
			fmt.Printf("--- FAIL: store tests on %s\n", b)
			code = c
		}
	}
	pgtest.Stop()
	os.Exit(code)
}

// dsn names a new, empty store on the suite's backend.
func dsn(t testing.TB) string {
	t.Helper()
	if backend == "postgres" {
		return pgtest.DSN(t)
	}
	return filepath.Join(t.TempDir(), "onus.db")
}
