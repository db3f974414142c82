// Package columns aligns tab-separated text in columns for a terminal, as
// text/tabwriter does with a padding of two spaces, but measures each cell
// by the width a terminal gives it: a name in Chinese, Japanese or Korean
// takes two columns a character, a combining accent none, so tables of
// people's names stay aligned.
package columns

import (
	"bytes"
	"io"
	"strings"

	"github.com/rivo/uniseg"
)

// padding is the space between two columns.
const padding = 2

// Writer buffers what is written to it and writes it aligned at Flush.
// Lines end with '\n'; cells end with '\t'; the text after a line's last
// tab is not a cell and is written as it is. As with text/tabwriter, a
// column is aligned over each block of consecutive lines that have a cell
// in it.
type Writer struct {
	w   io.Writer
	buf bytes.Buffer
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write buffers p; it never fails.
func (t *Writer) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes everything buffered, aligned, and empties the buffer.
func (t *Writer) Flush() error {
	text := t.buf.String()
	t.buf.Reset()
	if text == "" {
		return nil
	}
	final := strings.HasSuffix(text, "\n")
	raw := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	lines := make([][]string, len(raw))
	for i, l := range raw {
		lines[i] = strings.Split(l, "\t")
	}
	if last := lines[len(lines)-1]; !final && len(last) > 1 && last[len(last)-1] == "" {
		// An unfinished line's empty last cell is not one (as in
		// text/tabwriter): its tab ends the line's last cell.
		lines[len(lines)-1] = last[:len(last)-1]
	}
	f := formatter{lines: lines}
	f.format(0, len(lines))
	if final {
		f.out.WriteByte('\n')
	}
	_, err := t.w.Write(f.out.Bytes())
	return err
}

type formatter struct {
	lines  [][]string
	widths []int
	done   int // lines written
	out    bytes.Buffer
}

// format aligns lines [line0, line1) from the column len(f.widths) on,
// the algorithm of text/tabwriter: each block of consecutive lines with a
// cell in this column gets the widest of its cells, then the block's next
// column is formatted the same way.
func (f *formatter) format(line0, line1 int) {
	column := len(f.widths)
	for this := line0; this < line1; this++ {
		if column >= len(f.lines[this])-1 {
			continue
		}
		f.write(line0, this)
		line0 = this
		width := 0
		for ; this < line1; this++ {
			cells := f.lines[this]
			if column >= len(cells)-1 {
				break
			}
			if w := uniseg.StringWidth(cells[column]) + padding; w > width {
				width = w
			}
		}
		f.widths = append(f.widths, width)
		f.format(line0, this)
		f.widths = f.widths[:len(f.widths)-1]
		line0 = this
	}
	f.write(line0, line1)
}

// write writes lines [line0, line1) with the column widths known so far.
func (f *formatter) write(line0, line1 int) {
	for i := line0; i < line1; i++ {
		if i < f.done {
			continue
		}
		if i > 0 {
			f.out.WriteByte('\n')
		}
		cells := f.lines[i]
		for j, c := range cells {
			f.out.WriteString(c)
			if j < len(cells)-1 && j < len(f.widths) {
				f.out.WriteString(strings.Repeat(" ", f.widths[j]-uniseg.StringWidth(c)))
			}
		}
		f.done = i + 1
	}
}
