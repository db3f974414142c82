package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	textx "golang.org/x/text/transform"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

func init() {
	RegisterFormat("csv", []string{".csv", ".tsv"}, func(src *config.Source, dir string) (Reader, error) {
		delim := ','
		if strings.HasSuffix(strings.ToLower(src.From.File), ".tsv") {
			delim = '\t'
		}
		if d := src.From.Delimiter; d != "" {
			delim, _ = utf8.DecodeRuneInString(d)
		}
		return &csvReader{dir: dir, file: src.From.File, delim: delim, encoding: strings.ToLower(src.From.Encoding)}, nil
	})
}

// csvReader reads a CSV file with a header row. Paths are column names,
// matched exactly first and then ignoring case and surrounding spaces.
type csvReader struct {
	dir, file string
	delim     rune
	// encoding is the file's encoding when it is not UTF-8.
	encoding string
}

// decoder returns a reader that turns the file's encoding into UTF-8.
func (r *csvReader) decoder(in io.Reader) (io.Reader, error) {
	var enc encoding.Encoding
	switch r.encoding {
	case "", "utf-8", "utf8":
		return in, nil
	case "windows-1252", "cp1252":
		enc = charmap.Windows1252
	case "iso-8859-1", "latin1":
		enc = charmap.ISO8859_1
	case "iso-8859-15":
		enc = charmap.ISO8859_15
	case "utf-16":
		enc = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
	default:
		return nil, onus.Errorf(onus.EINVALID, "unknown encoding %q", r.encoding)
	}
	return textx.NewReader(in, enc.NewDecoder()), nil
}

func (r *csvReader) Read(ctx context.Context, m *Mapping, p Progress) (*Batch, error) {
	f, in, err := openFile(r.dir, r.file, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	path := f.Name()
	if in, err = r.decoder(in); err != nil {
		return nil, err
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	br := bufio.NewReaderSize(in, int(min(max(size+1, 4096), 256<<10)))
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	intern := newInterner()
	cr := newCSVRows(br, r.delim, intern)
	header, err := cr.read()
	if err == io.EOF {
		return nil, onus.Errorf(onus.EINVALID, "%s: the file is empty; a header row is required", path)
	}
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "%s: cannot read the header row: %v", path, err)
	}
	header = append([]string(nil), header...)
	if err := r.checkUTF8(path, 1, header); err != nil {
		return nil, err
	}
	cols := make([]int, len(m.slots))
	exact := map[string]int{}
	loose := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		if first, dup := exact[h]; dup {
			// Which of two columns with one name holds the data cannot be
			// guessed.
			return nil, onus.Errorf(onus.EINVALID, "%s:1: the header names column %q twice (columns %d and %d); rename one", path, h, first+1, i+1)
		}
		exact[h] = i
		k := strings.ToLower(h)
		if _, dup := loose[k]; !dup {
			loose[k] = i
		}
	}
	var missing []string
	for i, s := range m.slots {
		c, ok := exact[s.path]
		if !ok {
			c, ok = loose[strings.ToLower(strings.TrimSpace(s.path))]
		}
		if !ok {
			missing = append(missing, s.path)
			continue
		}
		cols[i] = c
	}
	if len(missing) > 0 {
		return nil, onus.Errorf(onus.EINVALID, "%s:1: the header has no column %s (columns: %s)",
			path, quoteList(missing), strings.Join(header, ", "))
	}
	b := &Batch{File: path, Presence: make([]int, len(m.fields))}
	vals := make([]raw, len(m.slots))
	for {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		row, err := cr.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrQuote) {
				// A quote that does not close swallows the rows after it;
				// which rows are whole cannot be told, so nothing is.
				return nil, onus.Errorf(onus.EINVALID, "%s:%d: a quoted value opens on this line and is not closed properly (the reader stopped at line %d, column %d); the rows after it cannot be trusted", path, pe.StartLine, pe.Line, pe.Column)
			}
			if errors.As(err, &pe) {
				b.Problems = append(b.Problems, &Problem{File: path, Line: pe.StartLine, Message: pe.Err.Error()})
				continue
			}
			return nil, onus.Errorf(onus.EINVALID, "%s: %v", path, err)
		}
		line := cr.first
		if !cr.utf8 {
			if err := r.checkUTF8(path, line, row); err != nil {
				return nil, err
			}
		}
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // a blank line
		}
		if len(row) != len(header) {
			if last := cr.last; last > line {
				// The row runs over several lines: a quote opened on its
				// first line closed lines later, taking the rows between.
				return nil, onus.Errorf(onus.EINVALID, "%s:%d: a quoted value opens on this line and runs to line %d, so the row has %d fields where the header has %d; a quote is probably not closed", path, line, last, len(row), len(header))
			}
			b.Problems = append(b.Problems, &Problem{File: path, Line: line,
				Message: fmt.Sprintf("the row has %d fields but the header has %d", len(row), len(header))})
			continue
		}
		for _, v := range row {
			if strings.Contains(v, "\n") && strings.Count(v, string(r.delim)) >= len(header)-1 {
				// A value holding a line break and a whole row's worth of
				// separators is rows swallowed by a quote that did not close.
				last := cr.last
				return nil, onus.Errorf(onus.EINVALID, "%s:%d: a quoted value opens on this line and runs to line %d, holding what looks like whole rows; a quote is probably not closed", path, line, last)
			}
		}
		for i, c := range cols {
			vals[i] = raw{csv: true, cell: row[c]}
		}
		rec, prob := m.build(vals, line, b.Presence, intern)
		if prob != nil {
			prob.File, prob.Line = path, line
			b.Problems = append(b.Problems, prob)
			if rec.ID == "" {
				continue
			}
		}
		b.Records = append(b.Records, rec)
		b.Sigs = sig(vals, b.Sigs)
		if len(b.Records) == 256 && cr.bytes > 0 {
			// The rows read so far tell how many the file holds: the
			// record list is made once at its size instead of being
			// copied as it grows.
			n := int(float64(size)/float64(cr.bytes)*256*1.02) + 64
			b.Records = slices.Grow(b.Records, n-len(b.Records))
			b.Sigs = slices.Grow(b.Sigs, n*len(vals)-len(b.Sigs))
		}
	}
	return b, nil
}

// checkUTF8 fails a file that is not UTF-8: a whole file in another
// encoding (a spreadsheet saved as Windows-1252) would otherwise be read
// as damaged names and keys.
func (r *csvReader) checkUTF8(path string, line int, row []string) error {
	for i, v := range row {
		if !utf8.ValidString(v) {
			return onus.Errorf(onus.EINVALID, "%s:%d: column %d is not UTF-8 text; the file is in another encoding: save it as UTF-8, or set from.encoding (one of %s)", path, line, i+1, strings.Join(config.Encodings[1:], ", "))
		}
	}
	return nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// csvRows reads the rows of a CSV file. The common line (unquoted fields,
// or quoted fields that close on their line) is split here, straight from
// the file's buffer into one string; the first line that is anything else
// (a quoted value running over lines, a bare or stray quote) hands the
// rest of the file to encoding/csv, starting at that line, so that damage
// is reported exactly as encoding/csv reports it, with the file's line
// numbers. Without the fast paths, or with a delimiter that is not a
// single ASCII byte, encoding/csv reads the whole file.
type csvRows struct {
	br    *bufio.Reader
	comma rune
	in    *interner
	// lines is the number of lines read by the fast path.
	lines int
	// cr reads the rest of the file once the fast path handed it over;
	// base is the number of lines before the first it read.
	cr   *csv.Reader
	base int
	// first and last are the lines of the last row's first and last
	// field; utf8 says its fields are known to be UTF-8 text.
	first, last int
	utf8        bool
	// bytes is the number of bytes the fast path read.
	bytes int64
	row   []string
	long  []byte // a line longer than br's buffer
	rec   []byte // a line's fields with their quotes undone
	ends  []int
}

func newCSVRows(br *bufio.Reader, comma rune, in *interner) *csvRows {
	c := &csvRows{br: br, comma: comma, in: in}
	if !fastPaths || comma >= utf8.RuneSelf || comma == '"' || comma == '\r' || comma == '\n' {
		c.handOver(nil)
	}
	return c
}

// handOver gives the rest of the file, starting with the line raw, to
// encoding/csv.
func (c *csvRows) handOver(raw []byte) {
	var in io.Reader = c.br
	if raw != nil {
		in = io.MultiReader(bytes.NewReader(bytes.Clone(raw)), c.br)
		c.base = c.lines - 1
	} else {
		c.base = c.lines
	}
	c.cr = csv.NewReader(in)
	c.cr.Comma = c.comma
	c.cr.FieldsPerRecord = -1
	c.cr.ReuseRecord = true
}

// read returns the next row, or encoding/csv's error for it, with line
// numbers counted from the start of the file; io.EOF after the last.
func (c *csvRows) read() ([]string, error) {
	c.utf8 = false
	if c.cr != nil {
		return c.readCSV()
	}
	for {
		raw, err := c.readLine()
		if len(raw) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		c.lines++
		c.bytes += int64(len(raw))
		// The line without its end, as encoding/csv sees it: \r\n is a
		// line end, and so is a last \r before the end of the file.
		line := raw
		if n := len(line); err == io.EOF {
			if line[n-1] == '\r' {
				line = line[:n-1]
			}
		} else if n >= 2 && line[n-2] == '\r' {
			line = line[:n-2]
		} else {
			line = line[:n-1]
		}
		if len(line) == 0 {
			continue // a blank line, which encoding/csv skips
		}
		if c.split(line) {
			c.first, c.last = c.lines, c.lines
			// Fields split at ASCII bytes are UTF-8 text when their line is.
			c.utf8 = utf8.Valid(line)
			return c.row, nil
		}
		c.handOver(raw)
		return c.readCSV()
	}
}

func (c *csvRows) readCSV() ([]string, error) {
	row, err := c.cr.Read()
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		pe.StartLine += c.base
		pe.Line += c.base
	}
	if err == nil {
		c.first, _ = c.cr.FieldPos(0)
		c.last, _ = c.cr.FieldPos(len(row) - 1)
		c.first += c.base
		c.last += c.base
	}
	return row, err
}

// readLine returns the next line with its end, as bufio's ReadSlice does,
// but whole however long it is.
func (c *csvRows) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
	}
	return line, err
}

// split splits a line (without its end) into c.row as encoding/csv
// would, and reports false when the line is not one it handles: a quoted
// value that does not close on the line, or a quote encoding/csv refuses.
func (c *csvRows) split(line []byte) bool {
	comma := byte(c.comma)
	row := c.row[:0]
	if bytes.IndexByte(line, '"') < 0 {
		// No quote: the fields are the text between the delimiters,
		// sharing one string.
		s := c.in.arenaString(line)
		for {
			i := strings.IndexByte(s, comma)
			if i < 0 {
				row = append(row, s)
				break
			}
			row = append(row, s[:i])
			s = s[i+1:]
		}
		c.row = row
		return true
	}
	rec, ends := c.rec[:0], c.ends[:0]
	for {
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexByte(line, comma)
			field := line
			if i >= 0 {
				field = line[:i]
			}
			if bytes.IndexByte(field, '"') >= 0 {
				return false // a bare quote
			}
			rec = append(rec, field...)
			ends = append(ends, len(rec))
			if i < 0 {
				break
			}
			line = line[i+1:]
			continue
		}
		// A quoted field: "" is a quote, and the closing quote is
		// followed by a delimiter or the end of the line.
		line = line[1:]
		for {
			i := bytes.IndexByte(line, '"')
			if i < 0 {
				return false // the value runs over lines, or is not closed
			}
			rec = append(rec, line[:i]...)
			line = line[i+1:]
			if len(line) > 0 && line[0] == '"' {
				rec = append(rec, '"')
				line = line[1:]
				continue
			}
			break
		}
		ends = append(ends, len(rec))
		if len(line) == 0 {
			break
		}
		if line[0] != comma {
			return false // text after the closing quote
		}
		line = line[1:]
	}
	c.rec, c.ends = rec, ends
	s := c.in.arenaString(rec)
	prev := 0
	for _, e := range ends {
		row = append(row, s[prev:e])
		prev = e
	}
	c.row = row
	return true
}
