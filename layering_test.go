package onus_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// forbidden lists, for a package, the onus packages it must not import:
// the store implements the root's services without knowing the ledger or
// the matrix, and the workflows depend on those services, not on a store.
var forbidden = map[string][]string{
	"store":     {"ledger", "raci", "evaluate", "monitor"},
	"deliver":   {"store"},
	"exception": {"store"},
	"whois":     {"store"},
	"ledger":    {"store"},
}

// TestLayering checks the import rules of forbidden in the source tree.
func TestLayering(t *testing.T) {
	for _, v := range importViolations(t, ".", forbidden) {
		t.Error(v)
	}
}

// The check finds a planted import, and leaves tests alone.
func TestLayeringFindsPlantedImport(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, src string) { plant(t, dir, rel, src) }
	write("store/a.go", "package store\n\nimport _ \"github.com/onus-sec/onus/ledger\"\n")
	write("store/a_test.go", "package store\n\nimport _ \"github.com/onus-sec/onus/raci\"\n")
	write("deliver/d.go", "package deliver\n\nimport (\n\t\"fmt\"\n\n\tst \"github.com/onus-sec/onus/store\"\n)\n")
	got := strings.Join(importViolations(t, dir, forbidden), "; ")
	want := "deliver/d.go imports onus/store; store/a.go imports onus/ledger"
	if got != want {
		t.Errorf("found %q, want %q", got, want)
	}
}

func importViolations(t *testing.T, root string, rules map[string][]string) []string {
	t.Helper()
	var out []string
	for pkg, bad := range rules {
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				name, ok := strings.CutPrefix(path, "github.com/onus-sec/onus/")
				if ok && slices.Contains(bad, name) {
					rel, _ := filepath.Rel(root, file)
					out = append(out, filepath.ToSlash(rel)+" imports onus/"+name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
