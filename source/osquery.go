package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"path"
	"sort"
	"strconv"
	"sync"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

func init() {
	Register("osquery", func(src *config.Source, dir string) (Reader, error) {
		if q := src.From.Query; q != "" {
			if _, err := path.Match(q, ""); err != nil {
				return nil, onus.Errorf(onus.EINVALID, "source %s: from.query %q is not a valid glob", src.Name, q)
			}
		}
		return &osqueryReader{dir: dir, file: src.From.File, query: src.From.Query}, nil
	})
}

// osqueryReader reads an osquery results log (the filesystem logger's
// osqueryd.results.log, or the same lines from any log shipper) and
// returns the rows that are current at the end of the log:
//
//   - event format: one row per line with "action" added, removed or
//     snapshot and the row under "columns";
//   - batch format: "diffResults" with "added" and "removed" lists;
//   - snapshot format: "action": "snapshot" with the rows under "snapshot".
//
// Rows are kept per host and query: "added" adds a row, "removed" removes
// the identical row, and a snapshot replaces every earlier row of its host
// and query. Paths under "columns." read the row; other paths read the log
// line around it ("hostIdentifier", "decorations.host_uuid").
type osqueryReader struct {
	dir, file, query string
}

type opKind uint8

const (
	opAdd opKind = iota
	opRemove
	opSnapshot
)

// op is one row event, mapped, waiting to be replayed in log order.
type op struct {
	kind  opKind
	line  int
	group string // host and query
	time  int64
	snap  int  // identity of the snapshot the row belongs to
	empty bool // an empty snapshot: it clears the group and adds nothing
	hash  uint64
	rec   onus.Record
}

var rowSeed = maphash.MakeSeed()

func (r *osqueryReader) Read(ctx context.Context, m *Mapping, p Progress) (*Batch, error) {
	f, in, err := openFile(r.dir, r.file, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	file := f.Name()
	lm := newLineMapper(m, r.query, file)

	type part struct {
		seq      int
		ops      []op
		probs    []*Problem
		presence []int
	}
	var mu sync.Mutex
	var parts []part
	handle := func(seq int, chunk []byte, line int) {
		pt := part{seq: seq, presence: make([]int, len(m.fields))}
		w := lm.worker()
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			var l []byte
			if i < 0 {
				l, chunk = chunk, nil
			} else {
				l, chunk = chunk[:i], chunk[i+1:]
			}
			if l = bytes.TrimSpace(l); len(l) > 0 {
				w.line(l, line, &pt.ops, &pt.probs, pt.presence)
			}
			line++
		}
		mu.Lock()
		parts = append(parts, pt)
		mu.Unlock()
	}

	// Logs are one JSON object per line; documentation and hand-made files
	// are pretty-printed. Peek to tell which.
	br := bufioReader(in)
	pretty, err := isPretty(br)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "cannot read %s: %v", file, err)
	}
	if pretty {
		err = eachValue(br, file, handle, func(p *Problem) {
			mu.Lock()
			parts = append(parts, part{seq: -1, probs: []*Problem{p}})
			mu.Unlock()
		})
	} else {
		err = eachLines(ctx, br, handle)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].seq < parts[j].seq })
	b := &Batch{File: file, Presence: make([]int, len(m.fields))}
	for _, pt := range parts {
		b.Problems = append(b.Problems, pt.probs...)
		for i, c := range pt.presence {
			b.Presence[i] += c
		}
	}
	chunks := make([][]op, len(parts))
	for i := range parts {
		chunks[i] = parts[i].ops
	}
	b.Records = replay(chunks)
	return b, ctx.Err()
}

// replay applies the row events in log order and returns the rows left.
func replay(chunks [][]op) []onus.Record {
	type group struct {
		time int64
		snap int
		rows map[uint64]int
	}
	groups := map[string]*group{}
	var recs []onus.Record
	var live []bool
	for _, ops := range chunks {
		for i := range ops {
			o := &ops[i]
			g := groups[o.group]
			if g == nil {
				g = &group{rows: map[uint64]int{}, snap: -1}
				groups[o.group] = g
			}
			switch o.kind {
			case opRemove:
				if idx, ok := g.rows[o.hash]; ok {
					live[idx] = false
					delete(g.rows, o.hash)
				}
				continue
			case opSnapshot:
				if o.time < g.time {
					continue // an older snapshot logged late
				}
				if o.time > g.time || o.snap != g.snap {
					for _, idx := range g.rows {
						live[idx] = false
					}
					clear(g.rows)
					g.time, g.snap = o.time, o.snap
				}
				if o.empty {
					continue
				}
			}
			if idx, ok := g.rows[o.hash]; ok {
				live[idx] = false
			}
			g.rows[o.hash] = len(recs)
			recs = append(recs, o.rec)
			live = append(live, true)
		}
	}
	out := recs[:0]
	for i, r := range recs {
		if live[i] {
			out = append(out, r)
		}
	}
	return out
}

// lineMapper splits a mapping's paths between the row ("columns.x") and
// the log line around it.
type lineMapper struct {
	m       *Mapping
	query   string
	file    string
	rowIdx  []int // slot index of each row path
	rowPath [][]string
	hdrIdx  []int
	hdrPath [][]string
}

// Fixed header paths every line is read for, before the mapped ones.
var osqHeader = [][]string{
	{"name"}, {"action"}, {"unixTime"}, {"hostIdentifier"},
	{"columns"}, {"snapshot"}, {"diffResults", "added"}, {"diffResults", "removed"},
	{"hostname"},
}

const (
	hName = iota
	hAction
	hTime
	hHost
	hColumns
	hSnapshot
	hAdded
	hRemoved
	hHostname
	hFixed
)

func newLineMapper(m *Mapping, query, file string) *lineMapper {
	lm := &lineMapper{m: m, query: query, file: file}
	lm.hdrPath = append(lm.hdrPath, osqHeader...)
	for i, s := range m.slots {
		if len(s.segs) > 1 && s.segs[0] == "columns" {
			lm.rowIdx = append(lm.rowIdx, i)
			lm.rowPath = append(lm.rowPath, s.segs[1:])
		} else {
			lm.hdrIdx = append(lm.hdrIdx, i)
			lm.hdrPath = append(lm.hdrPath, s.segs)
		}
	}
	return lm
}

type lineWorker struct {
	*lineMapper
	hdr  []raw
	row  []raw
	vals []raw
}

func (lm *lineMapper) worker() *lineWorker {
	return &lineWorker{lineMapper: lm,
		hdr:  make([]raw, len(lm.hdrPath)),
		row:  make([]raw, len(lm.rowPath)),
		vals: make([]raw, len(lm.m.slots)),
	}
}

func (w *lineWorker) line(l []byte, line int, ops *[]op, probs *[]*Problem, presence []int) {
	bad := func(msg string) {
		*probs = append(*probs, &Problem{File: w.file, Line: line, Message: msg})
	}
	if l[0] != '{' {
		bad("not a JSON object")
		return
	}
	if err := extractJSON(l, w.hdrPath, w.hdr); err != nil {
		bad(err.Error())
		return
	}
	name, _ := w.hdr[hName].text()
	if w.query != "" {
		if ok, _ := path.Match(w.query, name); !ok {
			return
		}
	}
	host, _ := w.hdr[hHost].text()
	if host == "" {
		// Older osquery versions, and its documentation, say "hostname".
		host, _ = w.hdr[hHostname].text()
	}
	if host == "" {
		bad("no hostIdentifier")
		return
	}
	var t int64
	if !w.hdr[hTime].absent() {
		s, _ := w.hdr[hTime].text()
		t, _ = strconv.ParseInt(s, 10, 64)
	}
	for j, idx := range w.hdrIdx {
		w.vals[idx] = w.hdr[hFixed+j]
	}
	group := host + "\x00" + name
	emit := func(kind opKind, row []byte, snap int) {
		if err := extractJSON(row, w.rowPath, w.row); err != nil {
			bad("row: " + err.Error())
			return
		}
		for j, idx := range w.rowIdx {
			w.vals[idx] = w.row[j]
		}
		rec, prob := w.m.build(w.vals, line, presence)
		if prob != nil {
			prob.File, prob.Line = w.file, line
			*probs = append(*probs, prob)
			return
		}
		*ops = append(*ops, op{kind: kind, line: line, group: group, time: t, snap: snap, hash: rowHash(row), rec: rec})
	}
	action, _ := w.hdr[hAction].text()
	switch {
	case w.hdr[hColumns].t == jsonparser.Object:
		switch action {
		case "added", "":
			emit(opAdd, w.hdr[hColumns].b, 0)
		case "removed":
			// The removed row only needs its hash.
			*ops = append(*ops, op{kind: opRemove, line: line, group: group, time: t, hash: rowHash(w.hdr[hColumns].b)})
		case "snapshot":
			emit(opSnapshot, w.hdr[hColumns].b, -1)
		default:
			bad(fmt.Sprintf("unknown action %q", action))
		}
	case w.hdr[hSnapshot].t == jsonparser.Array:
		n := 0
		jsonparser.ArrayEach(w.hdr[hSnapshot].b, func(v []byte, vt jsonparser.ValueType, _ int, _ error) {
			if vt == jsonparser.Object {
				emit(opSnapshot, v, line)
				n++
			}
		})
		if n == 0 {
			// An empty snapshot still says "nothing is installed any more".
			*ops = append(*ops, op{kind: opSnapshot, line: line, group: group, time: t, snap: line, empty: true})
		}
	case w.hdr[hAdded].t == jsonparser.Array || w.hdr[hRemoved].t == jsonparser.Array:
		jsonparser.ArrayEach(w.hdr[hRemoved].b, func(v []byte, vt jsonparser.ValueType, _ int, _ error) {
			*ops = append(*ops, op{kind: opRemove, line: line, group: group, time: t, hash: rowHash(v)})
		})
		jsonparser.ArrayEach(w.hdr[hAdded].b, func(v []byte, vt jsonparser.ValueType, _ int, _ error) {
			if vt == jsonparser.Object {
				emit(opAdd, v, 0)
			}
		})
	default:
		bad("not an osquery result: no columns, snapshot or diffResults")
	}
}

// rowHash identifies a row by its content, so that "removed" finds the row
// "added" wrote. Pretty-printed rows are compacted first.
func rowHash(row []byte) uint64 {
	if bytes.ContainsAny(row, "\n\t") {
		var b bytes.Buffer
		if json.Compact(&b, row) == nil {
			row = b.Bytes()
		}
	}
	return maphash.Bytes(rowSeed, row)
}

// isPretty reports whether the log is pretty-printed rather than one
// object per line: its first non-blank line is not a whole JSON value.
func isPretty(br *peekReader) (bool, error) {
	for size := 4096; ; size *= 4 {
		b, err := br.Peek(size)
		if len(b) == 0 {
			return false, nil
		}
		t := bytes.TrimLeft(b, " \t\r\n\xef\xbb\xbf")
		if i := bytes.IndexByte(t, '\n'); i >= 0 {
			return !json.Valid(bytes.TrimSpace(t[:i])), nil
		}
		if err != nil { // the whole file is one line
			return false, nil
		}
		if size > 64<<20 {
			return false, nil
		}
	}
}

// eachValue splits a stream of concatenated JSON values and hands each,
// compacted onto one line, to fn with the line it started on.
func eachValue(r io.Reader, file string, fn func(seq int, chunk []byte, line int), bad func(*Problem)) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return onus.Errorf(onus.EINVALID, "cannot read %s: %v", file, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	seq := 0
	for {
		start := int(dec.InputOffset())
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return nil
		}
		// Skip the whitespace between values to find the value's own line.
		for start < len(data) && (data[start] == ' ' || data[start] == '\n' || data[start] == '\r' || data[start] == '\t') {
			start++
		}
		line, _ := lineCol(data, start)
		if err != nil {
			off := start
			if se, ok := err.(*json.SyntaxError); ok {
				off = int(se.Offset)
			}
			l, c := lineCol(data, off)
			bad(&Problem{File: file, Line: l, Message: fmt.Sprintf("malformed JSON at column %d: %v; the rest of the file is skipped", c, err)})
			return nil
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return err
		}
		fn(seq, b.Bytes(), line)
		seq++
	}
}

// peekReader is a buffered reader with Peek.
type peekReader struct {
	buf []byte
	r   io.Reader
	err error
}

func bufioReader(r io.Reader) *peekReader { return &peekReader{r: r} }

// Peek returns up to n bytes without consuming them.
func (p *peekReader) Peek(n int) ([]byte, error) {
	for len(p.buf) < n && p.err == nil {
		chunk := make([]byte, n-len(p.buf))
		m, err := io.ReadFull(p.r, chunk)
		p.buf = append(p.buf, chunk[:m]...)
		if err != nil {
			p.err = err
		}
	}
	if len(p.buf) < n {
		return p.buf, p.err
	}
	return p.buf[:n], nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	if p.err != nil && p.err != io.ErrUnexpectedEOF {
		return 0, p.err
	}
	if p.err == io.ErrUnexpectedEOF {
		return 0, io.EOF
	}
	return p.r.Read(b)
}
