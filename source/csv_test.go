package source

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// csvRead lists what reading data gives, row by row: each row's fields
// and the lines of its first and last field, or the error.
func csvRead(t *testing.T, data string, comma rune, bufSize int, fast bool) []string {
	t.Helper()
	prev := SetFastPaths(fast)
	defer SetFastPaths(prev)
	br := bufio.NewReaderSize(strings.NewReader(data), bufSize)
	// next reads a row and the lines of its first and last field.
	var next func() ([]string, int, int, error)
	if fast {
		rows := newCSVRows(br, comma, newInterner())
		next = func() ([]string, int, int, error) {
			row, err := rows.read()
			return row, rows.first, rows.last, err
		}
	} else {
		// encoding/csv itself, as the reader used it before its fast path.
		cr := csv.NewReader(br)
		cr.Comma = comma
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		next = func() ([]string, int, int, error) {
			row, err := cr.Read()
			if err != nil {
				return nil, 0, 0, err
			}
			first, _ := cr.FieldPos(0)
			last, _ := cr.FieldPos(len(row) - 1)
			return row, first, last, nil
		}
	}
	var out []string
	for len(out) < 10000 {
		row, first, last, err := next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			out = append(out, "error: "+err.Error())
			if _, ok := err.(*csv.ParseError); !ok {
				return out
			}
			continue
		}
		out = append(out, fmt.Sprintf("%d-%d %q", first, last, row))
	}
	t.Fatalf("reading with fast paths %v does not stop", fast)
	return nil
}

// checkCSV fails unless the fast path reads data as encoding/csv does.
func checkCSV(t *testing.T, name, data string, comma rune, bufSize int) {
	t.Helper()
	want := csvRead(t, data, comma, bufSize, false)
	got := csvRead(t, data, comma, bufSize, true)
	if reflect.DeepEqual(got, want) {
		return
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("%s (delimiter %q, buffer %d): read %d is\n  %s\nencoding/csv:\n  %s\ninput: %q", name, comma, bufSize, i, got[i], want[i], data)
		}
	}
	t.Fatalf("%s (delimiter %q, buffer %d): %d reads, encoding/csv %d\ninput: %q", name, comma, bufSize, len(got), len(want), data)
}

// TestCSVRowsAgainstEncodingCSV reads random and damaged CSV with the
// reader's own line splitter and with encoding/csv, and fails on any
// difference in the rows, their line numbers or the errors.
func TestCSVRowsAgainstEncodingCSV(t *testing.T) {
	fixed := []string{
		"", "\n", "\r\n", "\r", "a", "a\n", "a\r", "a\r\r", "a\r\n", "a,b,c\n1,2,3\n",
		"a,b\n\n\n1,2\n", "a,b\r\n\r\n1,2", "a,\n,b\n,\n", `"a","b"` + "\n", `"a""b",c` + "\n",
		`""` + "\n", `"",""`, `"a",` + "\n", `a"b,c` + "\n", `"a"b,c` + "\n", `"a` + "\nb\",c\n",
		`"unclosed` + "\n1,2\n3,4\n", `a,"b` + "\r\nc\"\r\n", ` "a",b` + "\n", "a\rb,c\n", `"a` + "\r" + `b"` + "\n",
		`"a"` + "\r", `"a"` + "\r\r\n", "x,y\n\"a\nb\",c\nd,e\n", "x,y\n1,2\n\"bad\"x,3\n4,5\n", "é,ü\n\xff,\xfe\n",
		"\x00,a\n", "a;b\tc\n", `"a,b",c,"d""e""f"` + "\n", `"a"",b"` + "\n", `""""` + "\n", `"""` + "\n",
		"a,b\n\"c\n\n\nd\",e\n", strings.Repeat("x", 100) + "," + strings.Repeat(`"y"`, 10) + "\n",
	}
	for _, comma := range []rune{',', ';', '\t', '"', '€', '\r'} {
		for _, size := range []int{16, 64, 4096} {
			for i, d := range fixed {
				checkCSV(t, fmt.Sprint("fixed ", i), d, comma, size)
			}
		}
	}
	r := rand.New(rand.NewPCG(13, 14))
	// Random bytes from the characters CSV gives meaning to.
	tokens := []string{"a", "bc", "é", "\xff", " ", ",", ";", "\t", `"`, `""`, "\n", "\r\n", "\r", "x,y", `"q"`}
	for round := 0; round < 3000; round++ {
		var b strings.Builder
		for i, n := 0, r.IntN(40); i < n; i++ {
			b.WriteString(tokens[r.IntN(len(tokens))])
		}
		comma := []rune{',', ';', '\t'}[r.IntN(3)]
		checkCSV(t, fmt.Sprint("random ", round), b.String(), comma, []int{16, 32, 4096}[r.IntN(3)])
	}
	// Rows of fields, quoted or not, now and then damaged.
	cells := []string{"plain", "", " spaced ", "Ünïcödé", `"quoted, comma"`, `"say ""hi"""`, `""`, `"multi` + "\n" + `line"`, `"multi` + "\r\n" + `line"`, "x\ty", "a\rb", `"a"b`, `a"b`, `"open`, `"tab	"`, "2026-11-30"}
	for round := 0; round < 2000; round++ {
		nl := []string{"\n", "\r\n"}[r.IntN(2)]
		var b strings.Builder
		for i, n := 0, r.IntN(30); i < n; i++ {
			var row []string
			for j, w := 0, 1+r.IntN(6); j < w; j++ {
				c := cells[r.IntN(len(cells))]
				if r.IntN(4) > 0 {
					c = cells[r.IntN(7)] // mostly well-formed
				}
				row = append(row, c)
			}
			b.WriteString(strings.Join(row, ","))
			if i < n-1 || r.IntN(2) == 0 {
				b.WriteString(nl)
			}
			if r.IntN(15) == 0 {
				b.WriteString(nl) // a blank line
			}
		}
		checkCSV(t, fmt.Sprint("rows ", round), b.String(), ',', []int{16, 4096}[r.IntN(2)])
	}
}

// TestCSVRowsOnFiles reads the repository's CSV files and the fuzz corpus
// both ways.
func TestCSVRowsOnFiles(t *testing.T) {
	var files []string
	for _, g := range []string{"testdata/csv/*.csv", "../testdata/samples/*/*.csv", "../gate/testdata/samples/*/*.csv", "../examples/*/exports/*/*.csv", "../evaluate/testdata/*/*.csv"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("only %d CSV files found: %q", len(files), files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkCSV(t, f, string(b), ',', 1<<20)
		checkCSV(t, f+" (CRLF)", strings.ReplaceAll(string(b), "\n", "\r\n"), ',', 4096)
	}
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzCSV/*")
	if len(corpus) == 0 {
		t.Fatal("no fuzz corpus")
	}
	for _, f := range corpus {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, lit, ok := strings.Cut(string(b), "[]byte(")
		if !ok {
			t.Fatalf("%s: not a corpus file", f)
		}
		var data string
		if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(lit), ")")), "%q", &data); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		checkCSV(t, f, data, ',', 4096)
	}
}

func FuzzCSVRows(f *testing.F) {
	f.Add("a,b\n\"c\"\"d\",e\r\n", 16)
	f.Add("x,y\n\"a\nb\",c\nd,e\n", 4096)
	f.Fuzz(func(t *testing.T, data string, size int) {
		checkCSV(t, "fuzz", data, ',', 16+(size&0xfff))
	})
}
