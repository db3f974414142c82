// Command yardstick is onus's DuckDB yardstick: what a competent analyst
// would do instead of onus. It reads the exports of `onus bench` with
// DuckDB's own readers, normalises the identity keys as onus does, computes
// the gaps of the bench controls in SQL (gaps.sql), and checks that they
// are the findings onus opened, measuring both side by side.
//
// It is its own Go module so that DuckDB (cgo, a large C++ library) never
// enters the onus binary, the main module's tests or its go.mod.
//
//	go run . compare --people 10000           # generate, run both, compare, measure
//	go run . gaps --dir /tmp/onus-bench-10000 # the DuckDB side alone
package main

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

//go:embed gaps.sql
var gapsSQL string

// Gap is one failing (control, entity) pair.
type Gap struct {
	Control string
	Entity  string
}

func (g Gap) String() string { return g.Control + "\t" + g.Entity }

// Gaps runs gaps.sql on the exports under dir, as of now, and returns the
// gaps sorted.
// Timings, when not nil, receives each statement's wall and CPU time.
func Gaps(ctx context.Context, dir string, now time.Time, timings io.Writer) ([]Gap, error) {
	return GapsOf(ctx, gapsSQL, dir, now, timings)
}

// GapsOf is Gaps with another script in place of gaps.sql (to try a
// variant: `gaps --sql FILE`).
func GapsOf(ctx context.Context, gapsSQL, dir string, now time.Time, timings io.Writer) ([]Gap, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("yardstick: open duckdb: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	t, cpu := time.Now(), cpuTime()
	split, err := os.MkdirTemp("", "yardstick-split-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(split)
	if err := splitExports(dir, split); err != nil {
		return nil, err
	}
	if timings != nil {
		fmt.Fprintf(timings, "%7.2fs %7.2fs CPU  (Go) copy the record arrays out of %d JSON objects\n", time.Since(t).Seconds(), (cpuTime() - cpu).Seconds(), len(memberArrays))
	}
	quote := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	script := strings.NewReplacer("$DIR", quote(dir), "$SPLIT", quote(split), "$NOW", now.UTC().Format("2006-01-02 15:04:05+00")).Replace(gapsSQL)
	for i, stmt := range statements(script) {
		t, cpu := time.Now(), cpuTime()
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("yardstick: gaps.sql statement %d (%s…): %w", i+1, firstLine(stmt), err)
		}
		if timings != nil {
			fmt.Fprintf(timings, "%7.2fs %7.2fs CPU  %s\n", time.Since(t).Seconds(), (cpuTime() - cpu).Seconds(), firstLine(stmt))
		}
	}
	rows, err := conn.QueryContext(ctx, `SELECT control, entity FROM gaps`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Gap
	for rows.Next() {
		var g Gap
		if err := rows.Scan(&g.Control, &g.Entity); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortGaps(out)
	return out, nil
}

// statements splits a script on the semicolons that end a line, after
// dropping comment lines.
func statements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if s := strings.TrimSpace(cur.String()); s != ";" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// cpuTime is the user and system time of this process, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

func sortGaps(gs []Gap) {
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].Control != gs[j].Control {
			return gs[i].Control < gs[j].Control
		}
		return gs[i].Entity < gs[j].Entity
	})
}

// Diff returns the gaps only onus found and those only the yardstick
// found. Both lists must be sorted.
func Diff(onus, yard []Gap) (onlyOnus, onlyYard []Gap) {
	less := func(a, b Gap) bool { return a.Control < b.Control || a.Control == b.Control && a.Entity < b.Entity }
	i, j := 0, 0
	for i < len(onus) || j < len(yard) {
		switch {
		case j == len(yard) || i < len(onus) && less(onus[i], yard[j]):
			onlyOnus = append(onlyOnus, onus[i])
			i++
		case i == len(onus) || less(yard[j], onus[i]):
			onlyYard = append(onlyYard, yard[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyOnus, onlyYard
}
