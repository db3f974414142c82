package source

import (
	"hash/maphash"
	"sync"
	"unsafe"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
)

// interner deduplicates the short strings of one reader goroutine. An
// export repeats the same values endlessly (a host's UUID on each of its 40
// software rows; "131.0.6778.86" on thousands), and a record keeps only
// the first copy.
//
// It is a direct-mapped cache rather than a map: a lookup hashes the bytes
// and compares one slot, a miss overwrites it. Frequent values stay, rare
// ones are forgotten, nothing grows, and a hit from bytes allocates
// nothing. Measured on the benchmark organisation's osquery log, a map was
// a quarter of the read time; this cache is a few percent.
type interner struct {
	vals  [cacheSize]entry
	norms [cacheSize]normEntry
	// anys and strSlab hand out the small slices records hold, from slabs.
	anys    []any
	strSlab []string
	// arena holds the bytes of strings built from several values; scratch
	// is where they are assembled.
	arena   []byte
	scratch []byte
	// shared holds recent attribute lists of text values, handed to every
	// record with the same values (a version and a path repeated on
	// thousands of hosts); attrBuf is where a record's list is assembled.
	shared  [attrCacheSize][]any
	attrBuf []any
	// last holds, per slot, the last value read and its text; lastNorm,
	// per normaliser, the last value normalised. A host's UUID is on each
	// of its forty software rows, a column feeds a name and a link: the
	// repeat costs a comparison with bytes already in the cache, not a
	// lookup in the tables above.
	last     []*slotMemo
	tables   []slotTable
	lastNorm []normMemo
	// normStats counts, per normaliser, how often its table is hit.
	normStats []slotTable
	// keyBuf is where a record's keys are gathered; keySlab hands out
	// their lists.
	keyBuf  []onus.Key
	keySlab []onus.Key
	// one holds the single value resolveAll returns without a transform.
	one [1]string
	// rows are the osquery rows mapped recently (osquery.go).
	rows []rowMemo
}

// keySlice returns a copy of keys carved from a slab, or nil when there
// are none.
func (in *interner) keySlice(keys []onus.Key) []onus.Key {
	if len(keys) == 0 {
		return nil
	}
	if len(keys) > slab/16 {
		return append([]onus.Key(nil), keys...)
	}
	if len(in.keySlab) < len(keys) {
		in.keySlab = make([]onus.Key, slab/4)
	}
	out := in.keySlab[:len(keys):len(keys)]
	in.keySlab = in.keySlab[len(keys):]
	copy(out, keys)
	return out
}

// slotMemo is what a slot's value gave: its text, its boxed form and its
// normalised forms. key is the value's bytes (a JSON value's literal or a
// CSV cell) as a string, so that a memo never points into a reader's
// buffer and outlives the chunk it was read from.
type slotMemo struct {
	set bool
	csv bool
	t   jsonparser.ValueType
	key string
	s   string
	err error
	box any
	// when is the value's time (type time, no layout), boxed, or the
	// error reading it: a hire date shared by many people is parsed once.
	when any
	// nfn holds the normalisers (their id plus one) whose output on s is in
	// nout: a host name feeding a link, a department a team.
	nfn  [2]int32
	nout [2]string
}

func (e *slotMemo) matches(r *raw) bool {
	if !e.set || e.csv != r.csv || e.t != r.t {
		return false
	}
	if r.csv {
		return e.key == r.cell
	}
	return e.key == string(r.b)
}

type normMemo struct {
	set      bool
	raw, out string
}

// slotTable is one slot's cache of values, direct-mapped by a hash of the
// value's bytes: a software name, a version or a path repeated across
// thousands of hosts is hashed once per row and found with its text, box
// and normalised forms, instead of being looked up once for each. A slot
// whose values rarely repeat (an e-mail address, a serial) stops using
// it after a while: then it would only cost a hash and a miss.
type slotTable struct {
	tab         []slotMemo
	wait        int
	tries, hits int
	off         bool
	// own is the memo of the last value when the table is off.
	own slotMemo
}

const (
	// A slot's table starts small, while it is not known whether its
	// values repeat, and grows once they do.
	slotTableTrialSize = 1 << 10
	slotTableSize      = 1 << 13
	// slotTableTrial is how many values a slot's table is given to show
	// that they repeat; slotTableMinHits is the share (in 1/64) of hits it
	// needs to stay on. The small table starts empty: a software name
	// repeated on every host but among 5,000 others finds one in eight of
	// its values there, a serial number none.
	slotTableTrial = 2048
	// slotTableAfter is how many changes of value a slot sees before it
	// is given a table.
	slotTableAfter   = 512
	slotTableMinHits = 3
	// A slot whose values are nearly all found in the small table (a
	// department, a status: a few dozen values) keeps it: the large one,
	// nearly a megabyte to clear, would find hardly more.
	slotTableKeepHits = 56
)

// memo returns slot's memo, filled for r: the text of r, computed only
// when r differs from the slot's last value and is not in its table.
func (in *interner) memo(slot int, r *raw) *slotMemo {
	if slot >= len(in.last) {
		in.last = append(in.last, make([]*slotMemo, slot+1-len(in.last))...)
		in.tables = append(in.tables, make([]slotTable, slot+1-len(in.tables))...)
	}
	if e := in.last[slot]; e != nil && e.matches(r) {
		return e
	}
	t := &in.tables[slot]
	var e *slotMemo
	if t.wait < slotTableAfter {
		// A slot's first values go without a table: a small file
		// (a few hundred devices) would spend more making the tables
		// than it saves.
		t.wait++
	} else if !t.off {
		if t.tab == nil {
			t.tab = make([]slotMemo, slotTableTrialSize)
		}
		var h uint64
		if r.csv {
			h = maphash.String(internSeed, r.cell)
		} else {
			h = maphash.Bytes(internSeed, r.b)
		}
		e = &t.tab[h&uint64(len(t.tab)-1)]
		t.tries++
		if e.matches(r) {
			t.hits++
			in.last[slot] = e
			return e
		}
		if t.tries == slotTableTrial {
			if t.hits*64 < t.tries*slotTableMinHits {
				t.off, t.tab, e = true, nil, nil
			} else if t.hits*64 < t.tries*slotTableKeepHits {
				t.tab = make([]slotMemo, slotTableSize)
				e = &t.tab[h&(slotTableSize-1)]
			}
		}
	}
	if e == nil {
		e = &t.own
	}
	tin := in
	if t.off {
		// Values that do not repeat are not worth sharing either.
		tin = nil
	}
	s, err := r.text(tin)
	key := r.cell
	if !r.csv {
		if key = s; err != nil || s != string(r.b) {
			key = string(r.b)
		}
	}
	*e = slotMemo{set: true, csv: r.csv, t: r.t, key: key, s: s, err: err}
	in.last[slot] = e
	return e
}

// normSlot is norm for the text s of slot's value, remembered with the
// value in the slot's memo.
func (in *interner) normSlot(fnID, slot int, s string, fn func(string) string) string {
	if in == nil || !fastPaths || slot >= len(in.last) {
		return in.norm(fnID, s, fn)
	}
	e := in.last[slot]
	if e == nil || e.err != nil || e.s != s {
		return in.norm(fnID, s, fn)
	}
	id := int32(fnID) + 1
	for i, f := range e.nfn {
		if f == id {
			return e.nout[i]
		}
	}
	out := in.norm(fnID, s, fn)
	for i, f := range e.nfn {
		if f == 0 {
			e.nfn[i], e.nout[i] = id, out
			break
		}
	}
	return out
}

// text is r.text, remembered per slot.
func (in *interner) text(slot int, r *raw) (string, error) {
	if in == nil {
		return r.text(nil)
	}
	e := in.memo(slot, r)
	return e.s, e.err
}

// convert is r.convert, remembered per slot for text values and for
// times written as text.
func (in *interner) convert(slot int, r *raw, typ, format string) (any, error) {
	if typ == "time" && format == "" && in != nil && fastPaths && (r.csv || r.t == jsonparser.String) && !r.absent() &&
		!(slot < len(in.tables) && in.tables[slot].off) {
		// Times that do not repeat (a last-seen stamp to the second)
		// are parsed each time: their memo would be one more copy.
		e := in.memo(slot, r)
		if e.when == nil {
			v, err := r.convert(typ, format, in)
			if e.when = v; err != nil {
				e.when = err
			}
		}
		if err, ok := e.when.(error); ok {
			return nil, err
		}
		return e.when, nil
	}
	if in == nil || !fastPaths || !(typ == "" || typ == "auto" || typ == "string") || !(r.csv || r.t == jsonparser.String) || r.absent() {
		return r.convert(typ, format, in)
	}
	e := in.memo(slot, r)
	if e.err != nil {
		return nil, e.err
	}
	if e.box == nil {
		e.box = in.box(e.s)
	}
	return e.box, nil
}

const attrCacheSize = 1 << 12

type entry struct {
	s   string
	box any // s as an interface value, boxed on first use
	set bool
}

type normEntry struct {
	fn       int
	raw, out string
}

const (
	cacheSize = 1 << 14
	// internMax is the longest string cached; longer ones are rarely repeated.
	internMax = 96
)

var internSeed = maphash.MakeSeed()

func newInterner() *interner { return &interner{} }

func (in *interner) slot(b []byte) *entry {
	return &in.vals[maphash.Bytes(internSeed, b)&(cacheSize-1)]
}

// bytes returns b as a string, shared with earlier equal strings.
func (in *interner) bytes(b []byte) string {
	if in == nil || len(b) > internMax {
		return string(b)
	}
	e := in.slot(b)
	if e.set && e.s == string(b) {
		return e.s
	}
	s := string(b)
	*e = entry{s: s, set: true}
	return s
}

// str returns s, shared with earlier equal strings.
func (in *interner) str(s string) string {
	if in == nil || len(s) > internMax {
		return s
	}
	e := &in.vals[maphash.String(internSeed, s)&(cacheSize-1)]
	if e.set && e.s == s {
		return e.s
	}
	*e = entry{s: s, set: true}
	return s
}

// box returns s as an interface value, boxed once per distinct string.
func (in *interner) box(s string) any {
	if in == nil || len(s) > internMax {
		return s
	}
	e := &in.vals[maphash.String(internSeed, s)&(cacheSize-1)]
	if !e.set || e.s != s {
		*e = entry{s: s, set: true}
	}
	if e.box == nil {
		e.box = e.s
	}
	return e.box
}

// norm returns fn(raw), computed once per distinct raw value while it is
// cached; fnID names fn.
func (in *interner) norm(fnID int, raw string, fn func(string) string) string {
	if in == nil || len(raw) > internMax {
		return fn(raw)
	}
	if fastPaths {
		if fnID >= len(in.lastNorm) {
			in.lastNorm = append(in.lastNorm, make([]normMemo, fnID+1-len(in.lastNorm))...)
		}
		m := &in.lastNorm[fnID]
		if m.set && m.raw == raw {
			return m.out
		}
		var out string
		if fnID >= len(in.normStats) {
			in.normStats = append(in.normStats, make([]slotTable, fnID+1-len(in.normStats))...)
		}
		if st := &in.normStats[fnID]; st.off {
			// This normaliser's inputs do not repeat (e-mail addresses,
			// employee ids): its table would only cost a hash and a miss.
			out = fn(raw)
		} else {
			var hit bool
			out, hit = in.normLookup(fnID, raw, fn)
			st.tries++
			if hit {
				st.hits++
			}
			if st.tries == slotTableTrial && st.hits*64 < st.tries*slotTableMinHits {
				st.off = true
			}
		}
		*m = normMemo{set: true, raw: raw, out: out}
		return out
	}
	return in.normTable(fnID, raw, fn)
}

func (in *interner) normTable(fnID int, raw string, fn func(string) string) string {
	out, _ := in.normLookup(fnID, raw, fn)
	return out
}

// normLookup is normTable, saying whether raw was in the table.
func (in *interner) normLookup(fnID int, raw string, fn func(string) string) (string, bool) {
	e := &in.norms[(maphash.String(internSeed, raw)+uint64(fnID)*0x9e3779b97f4a7c15)&(cacheSize-1)]
	if e.fn == fnID && e.raw == raw && (e.out != "" || raw == "") {
		return e.out, true
	}
	out := in.str(fn(raw))
	*e = normEntry{fn: fnID, raw: raw, out: out}
	return out, false
}

const slab = 4096

// arenaSize is the size of the blocks arenaString copies strings into.
const arenaSize = 64 << 10

// arenaString returns a string with b's bytes, copied into a block shared
// with the other strings of this goroutine: millions of unique short
// strings (composite ids) cost a few thousand allocations, not millions.
// The block is never written again once a string points into it.
func (in *interner) arenaString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if in == nil || len(b) > arenaSize/8 {
		return string(b)
	}
	if cap(in.arena)-len(in.arena) < len(b) {
		in.arena = make([]byte, 0, arenaSize)
	}
	n := len(in.arena)
	in.arena = append(in.arena, b...)
	return unsafe.String(&in.arena[n], len(b))
}

// anySlice returns a zeroed []any of length n carved from a slab, so that a
// record's attributes cost no allocation of their own.
func (in *interner) anySlice(n int) []any {
	if in == nil || n > slab/8 {
		return make([]any, n)
	}
	if len(in.anys) < n {
		in.anys = make([]any, slab)
	}
	s := in.anys[:n:n]
	in.anys = in.anys[n:]
	return s
}

// attrScratch returns a zeroed list of n values to assemble a record's
// attributes in, before attrs keeps them.
func (in *interner) attrScratch(n int) []any {
	if in == nil {
		return make([]any, n)
	}
	if cap(in.attrBuf) < n {
		in.attrBuf = make([]any, n)
	}
	a := in.attrBuf[:n]
	clear(a)
	return a
}

// attrs returns a record's attribute list with a's values. A list of text
// values (or none) equal to a recent one is that list, shared: records
// only read their attributes, and Skip gives a skipped record a new list.
func (in *interner) attrs(a []any) []any {
	if in == nil {
		return a
	}
	h := uint64(len(a))
	for _, v := range a {
		switch x := v.(type) {
		case nil:
			h = h*31 + 1
		case string:
			if fastPaths {
				// Equal values read through the interner share their
				// bytes: their address stands for them, and a list
				// whose equal strings are copies only misses the cache.
				h = (h ^ uint64(uintptr(unsafe.Pointer(unsafe.StringData(x))))) * 0x9e3779b97f4a7c15
				h ^= uint64(len(x))
			} else {
				h = h*31 + maphash.String(internSeed, x)
			}
		default:
			out := in.anySlice(len(a))
			copy(out, a)
			return out
		}
	}
	e := &in.shared[h&(attrCacheSize-1)]
	if len(*e) == len(a) {
		same := true
		for i, v := range *e {
			if v != a[i] {
				same = false
				break
			}
		}
		if same {
			return *e
		}
	}
	out := in.anySlice(len(a))
	copy(out, a)
	*e = out
	return out
}

// stringSlice is anySlice for strings.
func (in *interner) stringSlice(n int) []string {
	if in == nil || n > slab/8 {
		return make([]string, n)
	}
	if len(in.strSlab) < n {
		in.strSlab = make([]string, slab)
	}
	s := in.strSlab[:n:n]
	in.strSlab = in.strSlab[n:]
	return s
}

// interners hands the goroutines of one read their interners: a worker
// taking chunk after chunk of a log keeps its caches warm instead of
// starting each chunk with empty ones. An interner holds no reference to
// the bytes it was given, so it outlives the chunk it read. It is per
// read because its caches are per mapping (slots and normalisers are
// numbered by the mapping).
type interners struct {
	mu   sync.Mutex
	free []*interner
}

func (p *interners) get() *interner {
	if fastPaths {
		p.mu.Lock()
		defer p.mu.Unlock()
		if n := len(p.free); n > 0 {
			in := p.free[n-1]
			p.free = p.free[:n-1]
			return in
		}
	}
	return newInterner()
}

func (p *interners) put(in *interner) {
	p.mu.Lock()
	p.free = append(p.free, in)
	p.mu.Unlock()
}
