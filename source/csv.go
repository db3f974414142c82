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

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

func init() {
	Register("csv", func(src *config.Source, dir string) (Reader, error) {
		delim := ','
		if strings.HasSuffix(strings.ToLower(src.From.File), ".tsv") {
			delim = '\t'
		}
		if d := src.From.Delimiter; d != "" {
			delim, _ = utf8.DecodeRuneInString(d)
		}
		return &csvReader{dir: dir, file: src.From.File, delim: delim}, nil
	})
}

// csvReader reads a CSV file with a header row. Paths are column names,
// matched exactly first and then ignoring case and surrounding spaces.
type csvReader struct {
	dir, file string
	delim     rune
}

func (r *csvReader) Read(ctx context.Context, m *Mapping, p Progress) (*Batch, error) {
	f, in, err := openFile(r.dir, r.file, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	path := f.Name()
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
	cols := make([]int, len(m.slots))
	exact := map[string]int{}
	loose := map[string]int{}
	for i, h := range header {
		if _, dup := exact[h]; !dup {
			exact[h] = i
		}
		k := strings.ToLower(strings.TrimSpace(h))
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
		return nil, onus.Errorf(onus.EINVALID, "%s: the header has no column %s (columns: %s)",
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
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				b.Problems = append(b.Problems, &Problem{File: path, Line: pe.StartLine, Message: pe.Err.Error()})
				continue
			}
			return nil, onus.Errorf(onus.EINVALID, "%s:%d: %v", path, line, err)
		}
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // a blank line
		}
		if len(row) != len(header) {
			b.Problems = append(b.Problems, &Problem{File: path, Line: line,
				Message: fmt.Sprintf("the row has %d fields but the header has %d", len(row), len(header))})
			continue
		}
		for i, c := range cols {
			vals[i] = raw{csv: true, cell: row[c]}
		}
		rec, prob := m.build(vals, line, b.Presence, intern)
		if prob != nil {
			prob.File, prob.Line = path, line
			b.Problems = append(b.Problems, prob)
			continue
		}
		b.Records = append(b.Records, rec)
	}
	return b, nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
