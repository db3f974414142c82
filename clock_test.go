package onus_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// wallClockAllowed lists the non-test files outside cmd/ that may read the
// machine's clock, each with its reason. Everything else takes a clock from
// its caller (see clock.go), so that --now runs, leases and retries compose.
var wallClockAllowed = map[string]string{
	"clock.go":                    "SystemClock: the one definition of the machine's clock",
	"internal/testsrv/mailpit.go": "test servers: waiting for a child process to listen, and the validity of a throwaway TLS certificate",
	"internal/bench/bench.go":     "the benchmark measures elapsed time on the machine's clock; that is its output",
	"internal/bench/rerun.go":     "the re-run benchmark measures elapsed time on the machine's clock; that is its output",
	"internal/bench/linear.go":    "the growth benchmark measures elapsed time on the machine's clock; that is its output",
	"internal/bench/child.go":     "the re-run benchmark's own process measures elapsed time on the machine's clock; that is its output",
}

// wallClockCalls returns "file:line: time.X" for every read of the
// machine's clock (time.Now, time.Since, time.Until) in the non-test Go
// files under root, outside cmd/ and outside the allowed files.
func wallClockCalls(t *testing.T, root string, allowed map[string]string) []string {
	t.Helper()
	var found []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "cmd" || rel == "bench" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || allowed[rel] != "" {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		timePkg := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"time"` {
				timePkg = "time"
				if imp.Name != nil {
					timePkg = imp.Name.Name
				}
			}
		}
		if timePkg == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok || id.Name != timePkg {
				return true
			}
			switch sel.Sel.Name {
			case "Now", "Since", "Until":
				// A reference counts as much as a call: time.Now passed as a
				// function reads the clock all the same.
				found = append(found, rel+":"+strconv.Itoa(fset.Position(sel.Pos()).Line)+": time."+sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(found)
	return found
}

// Only cmd/ reads the machine's clock; every other package takes a clock
// from its caller.
func TestNoWallClockOutsideCmd(t *testing.T) {
	if calls := wallClockCalls(t, ".", wallClockAllowed); len(calls) > 0 {
		t.Errorf("these read the machine's clock outside cmd/; take an onus.Clock (operational time) or a now argument (business time) from the caller instead:\n  %s",
			strings.Join(calls, "\n  "))
	}
	for file := range wallClockAllowed {
		if _, err := os.Stat(file); err != nil {
			t.Errorf("wallClockAllowed names %s, which does not exist: remove it", file)
		}
	}
}

// The check finds a planted read of the clock, under another import name
// too, and leaves cmd/ and tests alone.
func TestWallClockCheckFindsPlantedCalls(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, src string) { plant(t, dir, rel, src) }
	write("ledger/ledger.go", "package ledger\n\nimport \"time\"\n\nfunc f() time.Time {\n\treturn time.Now()\n}\n")
	write("deliver/d.go", "package deliver\n\nimport tm \"time\"\n\nvar clock = tm.Now\n\nfunc g(t tm.Time) tm.Duration { return tm.Since(t) }\n")
	write("cmd/onus/main.go", "package main\n\nimport \"time\"\n\nvar _ = time.Now()\n")
	write("ledger/ledger_test.go", "package ledger\n\nimport \"time\"\n\nvar _ = time.Now()\n")
	write("sqlite/ok.go", "package sqlite\n\nimport \"time\"\n\nvar _ = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)\n")
	got := strings.Join(wallClockCalls(t, dir, nil), "; ")
	want := "deliver/d.go:5: time.Now; deliver/d.go:7: time.Since; ledger/ledger.go:6: time.Now"
	if got != want {
		t.Errorf("found %q, want %q", got, want)
	}
}

// plant writes a source file at rel below dir, for the checks of the
// source tree to find.
func plant(t *testing.T, dir, rel, src string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
