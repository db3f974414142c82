package columns

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"text/tabwriter"
)

// On ASCII text the columns are text/tabwriter's, byte for byte: tables
// with blocks of lines of different cell counts, empty cells, lines
// without tabs, with and without a final newline.
func TestSameAsTabwriterOnASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "jane", "edr-agent-missing", "2026-12-01", "MBP-JANE-0042", "x y"}
	for n := 0; n < 2000; n++ {
		var b strings.Builder
		for l := r.IntN(8); l >= 0; l-- {
			for c := r.IntN(5); c > 0; c-- {
				b.WriteString(words[r.IntN(len(words))])
				b.WriteByte('\t')
			}
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte('\n')
		}
		text := b.String()
		if r.IntN(3) == 0 {
			text = strings.TrimSuffix(text, "\n")
		}
		var want, got bytes.Buffer
		tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, text)
		tw.Flush()
		cw := NewWriter(&got)
		fmt.Fprint(cw, text)
		if err := cw.Flush(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("input %q:\ngot\n%s\nwant\n%s", text, got.String(), want.String())
		}
	}
}

// Names in wide characters keep the next column where a terminal shows
// it; text/tabwriter counts them one column each and shifts it.
func TestWideCharactersAligned(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	fmt.Fprint(w, "OWNER\tFINDINGS\n")
	fmt.Fprint(w, "jane@acme.com\t3\n")
	fmt.Fprint(w, "王小明\t12\n")
	fmt.Fprint(w, "José Müller\t1\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"OWNER          FINDINGS\n" +
		"jane@acme.com  3\n" +
		"王小明         12\n" +
		"José Müller    1\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
