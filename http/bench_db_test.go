package http

import (
	"context"
	"os"
	"testing"

	"github.com/onus-sec/onus/store"
)

// benchDB is the store BenchmarkServe measures: the SQLite file of
// benchStore, or, when ONUS_BENCH_DB names a PostgreSQL database
// (postgres://…), that database holding a copy of it, made by `onus store
// copy`'s code on the first run and kept for the next ones. The two
// engines then serve the same rows:
//
//	ONUS_BENCH_DB=postgres://… go test ./http -run '^$' -bench Serve -benchtime 200x
func benchDB(b *testing.B, path string) string {
	dsn := os.Getenv("ONUS_BENCH_DB")
	if dsn == "" {
		return path
	}
	if !store.IsPostgres(dsn) {
		b.Fatalf("ONUS_BENCH_DB: want a postgres:// URL")
	}
	ctx := context.Background()
	to, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer to.Close()
	p, err := to.FindingsPage(ctx, store.FindingQuery{Visibility: store.Visibility{All: true}, Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Findings) > 0 {
		return dsn // copied by an earlier run
	}
	from, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer from.Close()
	b.Logf("copying %s into %s", path, "ONUS_BENCH_DB")
	if _, err := store.Copy(ctx, from, to, "bench"); err != nil {
		b.Fatal(err)
	}
	if err := to.Optimize(ctx); err != nil {
		b.Fatal(err)
	}
	return dsn
}
