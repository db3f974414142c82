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
	"unsafe"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

func init() {
	RegisterFormat("osquery", []string{".log"}, func(src *config.Source, dir string) (Reader, error) {
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

// op is one event of the log, waiting to be replayed in log order: a
// snapshot (the whole result of a query on a host, recs[start:end] of its
// chunk), or one row added or removed.
type op struct {
	kind       opKind
	group      string
	time       int64
	snap       int // identity of the snapshot the rows belong to
	hash       uint64
	start, end int32
}

// chunk is what one worker made of a chunk of log lines.
type chunk struct {
	seq  int
	ops  []op
	recs []onus.Record
	// cols holds recs once the chunk is read: as columns, a chunk of a
	// software log takes half the memory, and every chunk is kept until
	// the log's end says which rows are live.
	cols     *onus.Records
	hashes   []uint64 // of each record's row, for matching "removed" rows
	probs    []*Problem
	presence []int
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

	var mu sync.Mutex
	var chunks []*chunk
	var pool interners
	handle := func(seq int, data []byte, line int) {
		c := &chunk{seq: seq, presence: make([]int, len(m.fields))}
		// Software logs carry about a hundred bytes per row.
		c.recs = make([]onus.Record, 0, len(data)/100+1)
		c.hashes = make([]uint64, 0, len(data)/100+1)
		w := lm.worker(pool.get())
		defer pool.put(w.intern)
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			var l []byte
			if i < 0 {
				l, data = data, nil
			} else {
				l, data = data[:i], data[i+1:]
			}
			if l = bytes.TrimSpace(l); len(l) > 0 {
				w.line(l, line, c)
			}
			line++
		}
		c.cols = m.columns(c.recs)
		c.cols.Compact()
		c.recs = nil
		mu.Lock()
		chunks = append(chunks, c)
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
			chunks = append(chunks, &chunk{seq: 1 << 30, probs: []*Problem{p}})
			mu.Unlock()
		})
	} else {
		err = eachLines(ctx, br, fileSize(f), handle)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(chunks, func(i, j int) bool { return chunks[i].seq < chunks[j].seq })
	b := &Batch{File: file, Presence: make([]int, len(m.fields))}
	for _, c := range chunks {
		b.Problems = append(b.Problems, c.probs...)
		for i, n := range c.presence {
			b.Presence[i] += n
		}
	}
	b.Columns = replay(chunks, m.schema.IDSep)
	return b, ctx.Err()
}

// replay applies the events in log order and returns the rows left.
//
// A group (a host and a query) holds its rows as ranges of records while
// only snapshots arrive, which is all a software inventory usually logs;
// the first added or removed row turns its ranges into a map by row hash.
func replay(chunks []*chunk, idSep string) *onus.Records {
	type span struct{ chunk, start, end int32 }
	type group struct {
		time  int64
		snap  int
		spans []span
		rows  map[uint64][2]int32 // row hash → chunk, record; nil while spans are enough
	}
	groups := map[string]*group{}
	materialize := func(g *group) {
		if g.rows != nil {
			return
		}
		g.rows = map[uint64][2]int32{}
		for _, sp := range g.spans {
			for i := sp.start; i < sp.end; i++ {
				g.rows[chunks[sp.chunk].hashes[i]] = [2]int32{sp.chunk, i}
			}
		}
		g.spans = nil
	}
	for ci, c := range chunks {
		for i := range c.ops {
			o := &c.ops[i]
			g := groups[o.group]
			if g == nil {
				g = &group{snap: -1}
				groups[o.group] = g
			}
			switch o.kind {
			case opSnapshot:
				if o.time < g.time {
					continue // an older snapshot logged late
				}
				if o.time > g.time || o.snap != g.snap {
					g.spans, g.rows = g.spans[:0], nil
					g.time, g.snap = o.time, o.snap
				}
				if g.rows != nil {
					for r := o.start; r < o.end; r++ {
						g.rows[c.hashes[r]] = [2]int32{int32(ci), r}
					}
				} else if n := len(g.spans); n > 0 && g.spans[n-1].chunk == int32(ci) && g.spans[n-1].end == o.start {
					g.spans[n-1].end = o.end
				} else if o.end > o.start {
					g.spans = append(g.spans, span{int32(ci), o.start, o.end})
				}
			case opAdd:
				materialize(g)
				g.rows[o.hash] = [2]int32{int32(ci), o.start}
			case opRemove:
				materialize(g)
				delete(g.rows, o.hash)
			}
		}
		c.ops = nil
	}
	live := make([][]bool, len(chunks))
	for ci, c := range chunks {
		live[ci] = make([]bool, c.cols.Len())
	}
	n := 0
	for _, g := range groups {
		for _, sp := range g.spans {
			for i := sp.start; i < sp.end; i++ {
				live[sp.chunk][i] = true
			}
			n += int(sp.end - sp.start)
		}
		for _, at := range g.rows {
			live[at[0]][at[1]] = true
			n++
		}
	}
	out := onus.NewRecords(0)
	out.SplitIDs(idSep)
	for _, c := range chunks {
		if c.cols.Len() > 0 {
			out.GrowLike(c.cols, n)
			break
		}
	}
	for ci, c := range chunks {
		// Live records come in runs (a snapshot's rows): each run is
		// copied at once, not record by record.
		l := live[ci]
		for i := 0; i < len(l); {
			if !l[i] {
				i++
				continue
			}
			j := i + 1
			for j < len(l) && l[j] {
				j++
			}
			out.AppendFrom(c.cols, i, j)
			i = j
		}
		c.cols, c.hashes = nil, nil // let the chunk go while the rest are copied
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
	rowTrie *pathTrie
	hdrTrie *pathTrie
}

// Fixed header paths every line is read for, before the mapped ones.
var osqHeader = [][]string{
	{"name"}, {"action"}, {"unixTime"}, {"hostIdentifier"},
	{"columns"}, {"snapshot"}, {"diffResults", "added"}, {"diffResults", "removed"},
	{"hostname"}, {"decorations", "host_uuid"},
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
	hHostUUID
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
	lm.rowTrie, lm.hdrTrie = newTrie(lm.rowPath), newTrie(lm.hdrPath)
	return lm
}

type lineWorker struct {
	*lineMapper
	hdr    []raw
	row    []raw
	vals   []raw
	intern *interner
}

func (lm *lineMapper) worker(in *interner) *lineWorker {
	return &lineWorker{lineMapper: lm,
		hdr:    make([]raw, len(lm.hdrPath)),
		row:    make([]raw, len(lm.rowPath)),
		vals:   make([]raw, len(lm.m.slots)),
		intern: in,
	}
}

func (w *lineWorker) line(l []byte, line int, c *chunk) {
	if c.recs == nil {
		// Software logs carry about a hundred bytes per row.
		c.recs = make([]onus.Record, 0, chunkSize/100)
		c.hashes = make([]uint64, 0, chunkSize/100)
	}
	bad := func(msg string) {
		c.probs = append(c.probs, &Problem{File: w.file, Line: line, Message: msg})
	}
	if l[0] != '{' {
		bad("not a JSON object")
		return
	}
	if err := extract(l, w.hdrTrie, w.hdrPath, w.hdr, true); err != nil {
		bad(err.Error())
		return
	}
	name, _ := w.hdr[hName].text(w.intern)
	if w.query != "" {
		if ok, _ := path.Match(w.query, name); !ok {
			return
		}
	}
	host, _ := w.hdr[hHost].text(w.intern)
	if host == "" {
		// Older osquery versions, and its documentation, say "hostname".
		host, _ = w.hdr[hHostname].text(w.intern)
	}
	if host == "" {
		bad("no hostIdentifier")
		return
	}
	var t int64
	if !w.hdr[hTime].absent() {
		s, _ := w.hdr[hTime].text(nil)
		t, _ = strconv.ParseInt(s, 10, 64)
	}
	for j, idx := range w.hdrIdx {
		w.vals[idx] = w.hdr[hFixed+j]
	}
	// Rows are kept per host and query. A host UUID decoration, where the
	// fleet is configured with one, tells apart two hosts that share a name.
	uuid, _ := w.hdr[hHostUUID].text(w.intern)
	group := w.intern.str(host + "\x00" + uuid + "\x00" + name)
	// Rows inside the line were validated with it. add maps one row into
	// the chunk's records and returns false when it could not.
	add := func(row []byte) bool {
		h := rowHash(row)
		var rm *rowMemo
		recalled := false
		if fastPaths {
			rm = w.intern.row(h)
			if recalled = w.recall(rm, row); recalled {
				rm = nil // nothing new to remember
			}
		}
		if !recalled {
			if err := extract(row, w.rowTrie, w.rowPath, w.row, false); err != nil {
				bad("row: " + err.Error())
				return false
			}
		}
		for j, idx := range w.rowIdx {
			w.vals[idx] = w.row[j]
		}
		rec, prob := w.m.build(w.vals, line, c.presence, w.intern)
		if prob != nil {
			prob.File, prob.Line = w.file, line
			c.probs = append(c.probs, prob)
			return false
		}
		if rm != nil {
			w.remember(rm, row)
		}
		c.recs = append(c.recs, rec)
		c.hashes = append(c.hashes, h)
		return true
	}
	next := func() int32 { return int32(len(c.recs)) }
	action, _ := w.hdr[hAction].text(w.intern)
	switch {
	case w.hdr[hColumns].t == jsonparser.Object:
		row := w.hdr[hColumns].b
		switch action {
		case "added", "":
			if at := next(); add(row) {
				c.ops = append(c.ops, op{kind: opAdd, group: group, time: t, hash: c.hashes[at], start: at, end: at + 1})
			}
		case "removed":
			// The removed row only needs its hash.
			c.ops = append(c.ops, op{kind: opRemove, group: group, time: t, hash: rowHash(row)})
		case "snapshot":
			// One row of a snapshot logged in event format: rows with the
			// same time belong to one snapshot.
			if at := next(); add(row) {
				c.ops = append(c.ops, op{kind: opSnapshot, group: group, time: t, snap: -1, start: at, end: at + 1})
			}
		default:
			bad(fmt.Sprintf("unknown action %q", action))
		}
	case w.hdr[hSnapshot].t == jsonparser.Array:
		start := next()
		eachRaw(w.hdr[hSnapshot], func(v []byte, vt jsonparser.ValueType, _ int) {
			if vt == jsonparser.Object {
				add(v)
			}
		})
		// An empty snapshot still says "nothing is installed any more".
		c.ops = append(c.ops, op{kind: opSnapshot, group: group, time: t, snap: line, start: start, end: next()})
	case w.hdr[hAdded].t == jsonparser.Array || w.hdr[hRemoved].t == jsonparser.Array:
		eachRaw(w.hdr[hRemoved], func(v []byte, vt jsonparser.ValueType, _ int) {
			c.ops = append(c.ops, op{kind: opRemove, group: group, time: t, hash: rowHash(v)})
		})
		eachRaw(w.hdr[hAdded], func(v []byte, vt jsonparser.ValueType, _ int) {
			if at := next(); vt == jsonparser.Object && add(v) {
				c.ops = append(c.ops, op{kind: opAdd, group: group, time: t, hash: c.hashes[at], start: at, end: at + 1})
			}
		})
	default:
		bad("not an osquery result: no columns, snapshot or diffResults")
	}
}

// eachRaw calls fn with each element of a list value, as
// jsonparser.ArrayEach would; a value that is not a list goes to
// ArrayEach itself, which takes what it can of it.
func eachRaw(r raw, fn func(v []byte, t jsonparser.ValueType, off int)) {
	if fastPaths && r.t == jsonparser.Array && eachElement(r.b, fn) {
		return
	}
	if fastPaths && r.t == jsonparser.Array {
		// eachElement stops only on damage; lines are validated whole.
		panic("source: a validated list did not scan")
	}
	jsonparser.ArrayEach(r.b, func(v []byte, t jsonparser.ValueType, off int, _ error) { fn(v, t, off) })
}

// rowHash identifies a row by its content, so that "removed" finds the row
// "added" wrote. Pretty-printed rows are compacted first.
func rowHash(row []byte) uint64 {
	if bytes.IndexByte(row, '\n') >= 0 || bytes.IndexByte(row, '\t') >= 0 {
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

// rowMemo is a row the worker mapped before, kept by its bytes: a
// software inventory logs the same rows (an app, its version and path) on
// thousands of hosts. It holds the row's values, read once, and the slot
// memos they gave, so that the next host's copy of the row is neither
// scanned nor looked up value by value: build finds each value in its
// slot's last memo.
type rowMemo struct {
	row   string
	vals  []raw // pointing into row
	memos []*slotMemo
}

const rowMemoSize = 1 << 14

// row returns the memo slot for a row with hash h.
func (in *interner) row(h uint64) *rowMemo {
	if in.rows == nil {
		in.rows = make([]rowMemo, rowMemoSize)
	}
	return &in.rows[h&(rowMemoSize-1)]
}

// recall fills w.row from rm when rm holds row, and points each row slot's
// last memo at the one the row gave; memo still checks it matches.
func (w *lineWorker) recall(rm *rowMemo, row []byte) bool {
	if rm.vals == nil || rm.row != string(row) {
		return false
	}
	copy(w.row, rm.vals)
	in := w.intern
	for j, idx := range w.rowIdx {
		if e := rm.memos[j]; e != nil && idx < len(in.last) {
			in.last[idx] = e
		}
	}
	return true
}

// remember keeps row, its values in w.row and their memos in rm.
func (w *lineWorker) remember(rm *rowMemo, row []byte) {
	if len(row) == 0 {
		return
	}
	s := string(row)
	base := uintptr(unsafe.Pointer(&row[0]))
	if rm.vals == nil {
		rm.vals = make([]raw, len(w.row))
		rm.memos = make([]*slotMemo, len(w.row))
	}
	for j, v := range w.row {
		if len(v.b) > 0 {
			off := uintptr(unsafe.Pointer(&v.b[0])) - base
			if off >= uintptr(len(row)) || off+uintptr(len(v.b)) > uintptr(len(row)) {
				rm.vals = nil // a value outside the row: do not keep it
				return
			}
			v.b = unsafe.Slice(unsafe.StringData(s[off:]), len(v.b))
		} else if v.b != nil {
			v.b = []byte{}
		}
		rm.vals[j] = v
		rm.memos[j] = nil
		if idx := w.rowIdx[j]; idx < len(w.intern.last) {
			rm.memos[j] = w.intern.last[idx]
		}
	}
	rm.row = s
}
