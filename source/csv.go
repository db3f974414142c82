package source

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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
	br := bufio.NewReaderSize(in, 1<<20)
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.Comma = r.delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
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
	intern := newInterner()
	for {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		row, err := cr.Read()
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
		line, _ := cr.FieldPos(0)
		if err := r.checkUTF8(path, line, row); err != nil {
			return nil, err
		}
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // a blank line
		}
		if len(row) != len(header) {
			last, _ := cr.FieldPos(len(row) - 1)
			if last > line {
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
				last, _ := cr.FieldPos(len(row) - 1)
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
