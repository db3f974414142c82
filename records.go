package onus

import (
	"hash/maphash"
	"strings"
	"time"
	"unsafe"
)

// Records holds the records of one snapshot column by column. A software
// inventory is millions of records that repeat the same few thousand
// names, versions and paths: as Go values (a Record, its lists of links
// and attributes, each boxed value) they took about 290 bytes each and
// gave the collector six pointers to follow; here a record is a 64-bit id
// reference, a few fixed-size columns and 4-byte codes into dictionaries
// of the distinct names, link values and attribute values, about 46 bytes
// (BenchmarkRecordsSoftware), with no pointer of its own.
//
// Records are appended, never changed in place. The accessors return
// values that share the columns' memory: strings and key lists must not
// be modified. A nil *Records is an empty snapshot.
type Records struct {
	// ids holds each record's id: where its bytes are in the arenas, or
	// the dictionary codes of its two parts (see SplitIDs), or one
	// dictionary code, as the record's flags say.
	ids    []uint64
	arenas [][]byte
	idSep  string
	// names and links are codes into strs; attrs into vals. Where each
	// record's list of links, attributes and keys is, its lists say.
	names     []uint32
	links     []uint32
	linkLists lists
	attrs     []uint32
	attrLists lists
	keys      []Key
	keyLists  lists
	locs      []int32
	// seen is nil while every record's is 0 (a software row's).
	seen  []int64
	flags []uint8
	// strs[0] is "" and vals[0] is nil: a missing link or attribute.
	strs []string
	vals []any
	// strIdx and valIdx find a value's code while records are appended;
	// Compact drops them.
	strIdx map[string]uint32
	valIdx map[any]uint32
	// tr is the last store records were copied from (AppendFrom).
	tr *translation
	// strPC and valPC find the codes of repeated strings by pointer.
	strPC, valPC *ptrCache
	strCC        *contentCache
	// The memos say which positions' values are worth looking up.
	nameMemo             memo
	idMemos              [2]memo
	keyNameMemo          memo
	linkMemos, attrMemos []memo
}

const (
	flagSkipped = 1 << iota
	flagNilLinks
	flagNilAttrs
	flagNilKeys
	// flagIDJoin: the id is strs[ref>>32] + idSep + strs[uint32(ref)].
	flagIDJoin
	// flagIDDict: the id is strs[uint32(ref)].
	flagIDDict
	idFlags = flagIDJoin | flagIDDict
)

// An id in the arenas is referred to by its chunk, offset and length.
const (
	idLenBits  = 20
	idOffBits  = 20
	maxArenaID = 1<<idLenBits - 1
)

// arenaChunk is the size of the chunks ids are copied into: large enough
// that a chunk holds thousands of ids, small enough that the last one's
// spare room does not matter.
const arenaChunk = 1 << 20

// NewRecords returns an empty column store with room for n records.
func NewRecords(n int) *Records {
	rs := &Records{}
	rs.grow(n)
	return rs
}

// RecordsOf copies recs into a column store.
func RecordsOf(recs []Record) *Records {
	rs := &Records{}
	rs.AppendAll(recs)
	return rs
}

func (rs *Records) grow(n int) {
	if n <= 0 {
		return
	}
	rs.ids = growTo(rs.ids, n)
	rs.names = growTo(rs.names, n)
	rs.locs = growTo(rs.locs, n)
	rs.flags = growTo(rs.flags, n)
}

func growTo[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	// At least doubling: records copied in many small runs (a filter, a
	// replay) must not copy the columns again for each.
	out := make([]T, len(s), max(len(s)+n, 2*cap(s)))
	copy(out, s)
	return out
}

// GrowLike makes room for n more records with as many links, attributes
// and keys each as src's have on average: a snapshot assembled from a
// reader's chunks then does not grow its columns by doubling.
func (rs *Records) GrowLike(src *Records, n int) {
	m := src.Len()
	rs.grow(n)
	if m > 0 && n > 0 {
		rs.links = growTo(rs.links, n*len(src.links)/m+1)
		rs.attrs = growTo(rs.attrs, n*len(src.attrs)/m+1)
		rs.keys = growTo(rs.keys, n*len(src.keys)/m+1)
	}
}

// Len returns the number of records.
func (rs *Records) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.ids)
}

// Append adds a copy of r.
func (rs *Records) Append(r *Record) {
	rs.init()
	i := rs.Len()
	idf := rs.appendID(r.ID)
	rs.names = append(rs.names, rs.strIn(&rs.nameMemo, r.Name))
	for j, l := range r.Links {
		rs.links = append(rs.links, rs.strIn(memoAt(&rs.linkMemos, j), l))
	}
	rs.links = pad(rs.links, rs.linkLists.add(i, len(r.Links), r.Links == nil, len(rs.links)))
	for j, a := range r.Attrs {
		rs.attrs = append(rs.attrs, rs.valIn(memoAt(&rs.attrMemos, j), a))
	}
	rs.attrs = pad(rs.attrs, rs.attrLists.add(i, len(r.Attrs), r.Attrs == nil, len(rs.attrs)))
	for _, k := range r.Keys {
		rs.keys = append(rs.keys, rs.ownKey(k))
	}
	rs.keys = pad(rs.keys, rs.keyLists.add(i, len(r.Keys), r.Keys == nil, len(rs.keys)))
	rs.locs = append(rs.locs, int32(r.Loc))
	rs.addSeen(i, r.Seen)
	f := idf
	if r.Skipped {
		f |= flagSkipped
	}
	if r.Links == nil {
		f |= flagNilLinks
	}
	if r.Attrs == nil {
		f |= flagNilAttrs
	}
	if r.Keys == nil {
		f |= flagNilKeys
	}
	rs.flags = append(rs.flags, f)
}

// init makes the dictionaries ready for appending: their first entries,
// and their indexes (dropped by Compact).
func (rs *Records) init() {
	if rs.strs == nil {
		rs.strs = []string{""}
		rs.vals = []any{nil}
		rs.idMemos[0].long, rs.idMemos[1].long = true, true
	}
	if rs.strIdx == nil {
		rs.strPC, rs.valPC, rs.strCC = new(ptrCache), new(ptrCache), new(contentCache)
		rs.strIdx = make(map[string]uint32, len(rs.strs))
		for i, s := range rs.strs {
			rs.strIdx[s] = uint32(i)
		}
		rs.valIdx = make(map[any]uint32, len(rs.vals))
		for i, v := range rs.vals {
			if t, ok := v.(time.Time); ok && t.Location() == time.UTC {
				rs.valIdx[timeKey{t.Unix(), int32(t.Nanosecond())}] = uint32(i)
			} else if comparable(v) {
				rs.valIdx[v] = uint32(i)
			}
		}
	}
}

// AppendAll adds a copy of each of recs.
func (rs *Records) AppendAll(recs []Record) {
	rs.grow(len(recs))
	nl, na, nk := 0, 0, 0
	for i := range recs {
		nl += len(recs[i].Links)
		na += len(recs[i].Attrs)
		nk += len(recs[i].Keys)
	}
	rs.links = growTo(rs.links, nl)
	rs.attrs = growTo(rs.attrs, na)
	rs.keys = growTo(rs.keys, nk)
	for i := range recs {
		rs.Append(&recs[i])
	}
}

// Compact drops what only appending needs (the dictionaries' indexes) and
// the columns' spare room. Appending again afterwards works, a little
// slower at first.
func (rs *Records) Compact() {
	if rs == nil {
		return
	}
	rs.strIdx, rs.valIdx = nil, nil
	rs.strPC, rs.valPC, rs.strCC = nil, nil, nil
	rs.tr = nil
	rs.ids = trim(rs.ids)
	rs.names = trim(rs.names)
	rs.links = trim(rs.links)
	rs.linkLists.end = trim(rs.linkLists.end)
	rs.attrs = trim(rs.attrs)
	rs.attrLists.end = trim(rs.attrLists.end)
	rs.keys = trim(rs.keys)
	rs.keyLists.end = trim(rs.keyLists.end)
	rs.locs = trim(rs.locs)
	rs.seen = trim(rs.seen)
	rs.flags = trim(rs.flags)
	rs.strs = trim(rs.strs)
	rs.vals = trim(rs.vals)
}

// trim returns s without spare room, copying it only when the room is
// more than an eighth of it.
func trim[T any](s []T) []T {
	if cap(s)-len(s) <= len(s)/8 {
		return s
	}
	out := make([]T, len(s))
	copy(out, s)
	return out
}

func comparable(v any) bool {
	switch v.(type) {
	case nil, string, int64, float64, bool, int:
		return true
	}
	return false
}

// ptrCache remembers the codes of the strings last looked up, by where
// their bytes are: the readers hand out one string for each repeated value
// (their interners) and a decoded chunk holds each value once per record,
// so a repeat is mostly found by its pointer, without hashing its bytes.
// A pointer held here keeps its bytes alive, so it never stands for
// other text; Compact drops the caches.
type ptrCache [ptrCacheSize]pcEntry

type pcEntry struct {
	p *byte
	n int
	c uint32
}

const ptrCacheSize = 1 << 12

// contentCache finds the codes of recent strings by their text, hashed,
// before the dictionary's map: an id's parts are new strings each time
// (cut from the id) but repeat a few thousand hosts and paths.
type contentCache [ptrCacheSize]ccEntry

type ccEntry struct {
	s string
	c uint32
}

var ccSeed = maphash.MakeSeed()

func (pc *ptrCache) slot(s string) *pcEntry {
	h := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	h ^= h>>12 ^ uintptr(len(s))<<7
	return &pc[(h>>3)&(ptrCacheSize-1)]
}

// memo says whether the values of one position (the name, the j-th link,
// the j-th attribute) repeat enough to be worth looking up: a host name,
// a serial or a timestamp rarely repeats, and looking each up in a
// dictionary of hundreds of thousands cost more than the rest of a load.
// After a window of lookups that mostly missed, the position's values
// are added without one (the dictionary then holds some values twice,
// which only costs their room).
type memo struct {
	tries, hits uint32
	off         bool
	// long is an id part's memo: it judges over a longer window, and
	// gives up only when hardly anything repeats. The first window of a
	// snapshot meets each host and path for the first time, and a split
	// id saves 60 bytes a record once they repeat.
	long bool
}

const (
	memoWindow   = 4096
	idMemoWindow = 1 << 16
)

func (m *memo) note(hit bool) {
	m.tries++
	if hit {
		m.hits++
	}
	window, part := uint32(memoWindow), uint32(8)
	if m.long {
		window, part = idMemoWindow, 16
	}
	if m.tries == window {
		m.off = m.hits < window/part
		m.tries, m.hits = 0, 0
	}
}

func memoAt(ms *[]memo, j int) *memo {
	for len(*ms) <= j {
		*ms = append(*ms, memo{})
	}
	return &(*ms)[j]
}

// str returns the code of s, adding it to the dictionary if need be.
func (rs *Records) str(s string) uint32 { return rs.strIn(nil, s) }

// strIn is str for a position's value; m nil always looks the value up
// (an id's parts, whose codes are compared).
func (rs *Records) strIn(m *memo, s string) uint32 {
	if s == "" {
		return 0
	}
	var e *pcEntry
	var ce *ccEntry
	if m == nil || !m.off {
		e = rs.strPC.slot(s)
		if e.p == unsafe.StringData(s) && e.n == len(s) {
			if m != nil {
				m.note(true)
			}
			return e.c
		}
		ce = &rs.strCC[maphash.String(ccSeed, s)&(ptrCacheSize-1)]
		c, ok := ce.c, ce.s == s
		if !ok {
			c, ok = rs.strIdx[s]
		}
		if m != nil {
			m.note(ok)
		}
		if ok {
			*e = pcEntry{unsafe.StringData(s), len(s), c}
			*ce = ccEntry{rs.strs[c], c}
			return c
		}
	}
	// A dictionary value may be a slice of a much larger buffer (a decoded
	// chunk): it is copied, so that it does not keep the buffer alive.
	s = strings.Clone(s)
	c := uint32(len(rs.strs))
	rs.strs = append(rs.strs, s)
	if e != nil {
		rs.strIdx[s] = c
		*ce = ccEntry{s, c}
	}
	return c
}

func (rs *Records) valIn(m *memo, v any) uint32 {
	if v == nil {
		return 0
	}
	var key any
	var pe *pcEntry
	switch x := v.(type) {
	case string:
		// "" is a value, not a missing one; its pointer may be nil, as in
		// an empty cache entry.
		if x != "" && (m == nil || !m.off) {
			pe = rs.valPC.slot(x)
			if pe.p == unsafe.StringData(x) && pe.n == len(x) {
				if m != nil {
					m.note(true)
				}
				return pe.c
			}
		}
		key = x
	case time.Time:
		// Times are compared by instant, and only in UTC, as every
		// reader and the store produce them.
		if x.Location() == time.UTC {
			key = timeKey{x.Unix(), int32(x.Nanosecond())}
		}
	default:
		if comparable(v) {
			key = v
		}
	}
	look := key != nil && (m == nil || !m.off)
	if look {
		c, ok := rs.valIdx[key]
		if m != nil {
			m.note(ok)
		}
		if ok {
			if pe != nil {
				*pe = pcEntry{unsafe.StringData(key.(string)), len(key.(string)), c}
			}
			return c
		}
	}
	if x, ok := v.(string); ok {
		v = strings.Clone(x)
		if look {
			key = v
		}
	}
	c := uint32(len(rs.vals))
	rs.vals = append(rs.vals, v)
	if look {
		rs.valIdx[key] = c
	}
	return c
}

type timeKey struct {
	sec  int64
	nsec int32
}

// SplitIDs makes the ids appended from now on that contain sep be kept as
// two dictionary codes, the text before its first occurrence and the text
// after, instead of their bytes. A software row's id ("{host uuid}/{path}")
// is then 8 bytes: its host and its path are already in the dictionary,
// shared by thousands of other records.
func (rs *Records) SplitIDs(sep string) { rs.idSep = sep }

func (rs *Records) appendID(id string) uint8 {
	// The parts are split while both repeat: ids whose parts are each
	// new (two serial numbers) are cheaper as text.
	if rs.idSep != "" && !rs.idMemos[0].off && !rs.idMemos[1].off {
		if a, b, ok := strings.Cut(id, rs.idSep); ok {
			rs.ids = append(rs.ids, uint64(rs.strIn(&rs.idMemos[0], a))<<32|uint64(rs.strIn(&rs.idMemos[1], b)))
			return flagIDJoin
		}
	}
	if id == "" || len(id) > arenaChunk/16 {
		rs.ids = append(rs.ids, uint64(rs.str(id)))
		return flagIDDict
	}
	chunk, off := rs.toArena(id)
	rs.ids = append(rs.ids, uint64(chunk)<<(idOffBits+idLenBits)|uint64(off)<<idLenBits|uint64(len(id)))
	return 0
}

// toArena copies s (at most arenaChunk bytes) into the arenas and says
// where it is.
func (rs *Records) toArena(s string) (chunk, off int) {
	n := len(rs.arenas)
	if n == 0 || cap(rs.arenas[n-1])-len(rs.arenas[n-1]) < len(s) {
		rs.arenas = append(rs.arenas, make([]byte, 0, arenaChunk))
		n++
	}
	ar := rs.arenas[n-1]
	off = len(ar)
	rs.arenas[n-1] = append(ar, s...)
	return n - 1, off
}

// ownKey returns k with text of the store's own: the name from the
// dictionary, the value copied into the arenas. Keeping the caller's
// strings would keep what they point into alive (a reader's byte slabs,
// a decoded chunk), most of it ids and values already copied.
func (rs *Records) ownKey(k Key) Key {
	k.Name = rs.strs[rs.strIn(&rs.keyNameMemo, k.Name)]
	switch {
	case k.Value == "":
	case len(k.Value) > arenaChunk/16:
		k.Value = strings.Clone(k.Value)
	default:
		chunk, off := rs.toArena(k.Value)
		k.Value = unsafeString(rs.arenas[chunk][off : off+len(k.Value) : off+len(k.Value)])
	}
	return k
}

// idBytes returns the bytes of an id kept in the arenas.
func (rs *Records) idBytes(ref uint64) []byte {
	chunk := ref >> (idOffBits + idLenBits)
	off := ref >> idLenBits & (1<<idOffBits - 1)
	n := ref & maxArenaID
	return rs.arenas[chunk][off : off+n : off+n]
}

// lists says where each record's list (its links, its attributes, its
// keys) is in a column of values. While every list has the same length
// (a schema's links and fields; no keys at all) that is all it keeps, and
// a nil list takes that many zero values; once lengths differ, end holds
// where each list ends.
type lists struct {
	// w is the lists' length while end is nil; 0 until a list that is not
	// nil is added. nils counts the nil lists added before that: they
	// take no room.
	w, nils int
	known   bool
	end     []uint32
}

// add notes that the list of record i, k values long, ends at total. It
// returns how many zero values the caller appends after it: a nil list's
// room while lengths are the same.
func (l *lists) add(i, k int, isNil bool, total int) int {
	if l.end == nil {
		switch {
		case isNil && !l.known:
			l.nils++
			return 0
		case isNil:
			return l.w
		case !l.known:
			l.w, l.known = k, true
			return 0
		case k == l.w:
			return 0
		}
		// Lengths differ from now on: every list so far gets its end.
		l.end = make([]uint32, i, max(2*i, 16))
		for j := range i {
			if j >= l.nils {
				l.end[j] = uint32((j - l.nils + 1) * l.w)
			}
		}
	}
	l.end = append(l.end, uint32(total))
	return 0
}

// span returns where record i's list is.
func (l *lists) span(i int) (int, int) {
	if l.end != nil {
		return span(l.end, i)
	}
	if i < l.nils {
		return 0, 0
	}
	lo := (i - l.nils) * l.w
	return lo, lo + l.w
}

func pad[T any](s []T, n int) []T {
	var zero T
	for range n {
		s = append(s, zero)
	}
	return s
}

func (rs *Records) addSeen(i int, v int64) {
	if rs.seen == nil && v == 0 {
		return
	}
	if rs.seen == nil {
		rs.seen = make([]int64, i, cap(rs.locs))
	}
	rs.seen = append(rs.seen, v)
}

// listSpan returns where record i's list is, empty for a nil list.
func (rs *Records) listSpan(l *lists, i int, nilFlag uint8) (int, int) {
	lo, hi := l.span(i)
	if rs.flags[i]&nilFlag != 0 {
		return lo, lo
	}
	return lo, hi
}

func span(end []uint32, i int) (int, int) {
	lo := 0
	if i > 0 {
		lo = int(end[i-1])
	}
	return lo, int(end[i])
}

// ID returns record i's id. An id kept in two parts is joined again, a
// new string each time: loops over millions of records use AppendID or
// SameID instead.
func (rs *Records) ID(i int) string {
	ref := rs.ids[i]
	switch rs.flags[i] & idFlags {
	case flagIDJoin:
		return rs.strs[ref>>32] + rs.idSep + rs.strs[uint32(ref)]
	case flagIDDict:
		return rs.strs[uint32(ref)]
	}
	return unsafeString(rs.idBytes(ref))
}

// AppendID appends record i's id to dst.
func (rs *Records) AppendID(dst []byte, i int) []byte {
	ref := rs.ids[i]
	switch rs.flags[i] & idFlags {
	case flagIDJoin:
		dst = append(dst, rs.strs[ref>>32]...)
		dst = append(dst, rs.idSep...)
		return append(dst, rs.strs[uint32(ref)]...)
	case flagIDDict:
		return append(dst, rs.strs[uint32(ref)]...)
	}
	return append(dst, rs.idBytes(ref)...)
}

// IDHash returns a hash of record i's id, equal for equal ids however
// they are kept, computed without joining an id kept in two parts.
func (rs *Records) IDHash(seed maphash.Seed, i int) uint64 {
	ref := rs.ids[i]
	switch rs.flags[i] & idFlags {
	case flagIDJoin:
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(rs.strs[ref>>32])
		h.WriteString(rs.idSep)
		h.WriteString(rs.strs[uint32(ref)])
		return h.Sum64()
	case flagIDDict:
		return maphash.String(seed, rs.strs[uint32(ref)])
	}
	return maphash.Bytes(seed, rs.idBytes(ref))
}

// HasID reports whether record i's id is id, without joining an id kept
// in two parts.
func (rs *Records) HasID(i int, id string) bool {
	ref := rs.ids[i]
	switch rs.flags[i] & idFlags {
	case flagIDJoin:
		a, b := rs.strs[ref>>32], rs.strs[uint32(ref)]
		return len(id) == len(a)+len(rs.idSep)+len(b) && strings.HasPrefix(id, a) &&
			strings.HasPrefix(id[len(a):], rs.idSep) && strings.HasSuffix(id, b)
	case flagIDDict:
		return rs.strs[uint32(ref)] == id
	}
	return string(rs.idBytes(ref)) == id
}

// SameID reports whether records i and j have the same id.
func (rs *Records) SameID(i, j int) bool {
	switch {
	case rs.flags[i]&idFlags == flagIDJoin && rs.flags[j]&idFlags == flagIDJoin && rs.ids[i] == rs.ids[j]:
		return true
	case rs.flags[i]&idFlags == flagIDJoin:
		return rs.HasID(i, rs.ID(j))
	}
	// ID(i) is not joined: it costs nothing.
	return rs.HasID(j, rs.ID(i))
}

// Name returns record i's name.
func (rs *Records) Name(i int) string { return rs.strs[rs.names[i]] }

// Loc returns where record i was read (a line, or an index in an array).
func (rs *Records) Loc(i int) int { return int(rs.locs[i]) }

// Seen returns when the source last saw record i's thing (unix seconds).
func (rs *Records) Seen(i int) int64 {
	if rs.seen == nil {
		return 0
	}
	return rs.seen[i]
}

// Skipped reports whether record i could not be read (Record.Skipped).
func (rs *Records) Skipped(i int) bool { return rs.flags[i]&flagSkipped != 0 }

// Keys returns record i's identity keys. The list must not be modified.
func (rs *Records) Keys(i int) []Key {
	lo, hi := rs.listSpan(&rs.keyLists, i, flagNilKeys)
	if lo == hi {
		if rs.flags[i]&flagNilKeys != 0 {
			return nil
		}
		return []Key{}
	}
	return rs.keys[lo:hi:hi]
}

// NumLinks returns how many link values record i has: the schema's links,
// or none for a skipped record.
func (rs *Records) NumLinks(i int) int {
	lo, hi := rs.listSpan(&rs.linkLists, i, flagNilLinks)
	return hi - lo
}

// Link returns record i's value of the schema's j-th link ("" when absent).
func (rs *Records) Link(i, j int) string {
	lo, hi := rs.listSpan(&rs.linkLists, i, flagNilLinks)
	if lo+j >= hi {
		return ""
	}
	return rs.strs[rs.links[lo+j]]
}

// NumAttrs returns how many attribute values record i has: the schema's
// fields, or none for a skipped record.
func (rs *Records) NumAttrs(i int) int {
	lo, hi := rs.listSpan(&rs.attrLists, i, flagNilAttrs)
	return hi - lo
}

// Attr returns record i's value of the schema's j-th field (nil when absent).
func (rs *Records) Attr(i, j int) any {
	lo, hi := rs.listSpan(&rs.attrLists, i, flagNilAttrs)
	if lo+j >= hi {
		return nil
	}
	return rs.vals[rs.attrs[lo+j]]
}

// HasAttr reports whether record i has a value for the schema's j-th field.
func (rs *Records) HasAttr(i, j int) bool {
	lo, hi := rs.listSpan(&rs.attrLists, i, flagNilAttrs)
	return lo+j < hi && rs.attrs[lo+j] != 0
}

// At returns a copy of record i as a Record. Its lists are new; its
// strings and keys share the columns' memory.
func (rs *Records) At(i int) Record {
	r := Record{ID: rs.ID(i), Name: rs.Name(i), Loc: rs.Loc(i), Seen: rs.Seen(i), Skipped: rs.Skipped(i), Keys: rs.Keys(i)}
	if lo, hi := rs.listSpan(&rs.linkLists, i, flagNilLinks); rs.flags[i]&flagNilLinks == 0 {
		r.Links = make([]string, hi-lo)
		for j := range r.Links {
			r.Links[j] = rs.strs[rs.links[lo+j]]
		}
	}
	if lo, hi := rs.listSpan(&rs.attrLists, i, flagNilAttrs); rs.flags[i]&flagNilAttrs == 0 {
		r.Attrs = make([]any, hi-lo)
		for j := range r.Attrs {
			r.Attrs[j] = rs.vals[rs.attrs[lo+j]]
		}
	}
	return r
}

// All returns a copy of every record as a Record: for tests and small
// snapshots, never for a large one.
func (rs *Records) All() []Record {
	out := make([]Record, rs.Len())
	for i := range out {
		out[i] = rs.At(i)
	}
	return out
}

// Filter returns the records for which keep is true, in a new store that
// shares this one's dictionaries' values.
func (rs *Records) Filter(keep func(i int) bool) *Records {
	out := NewRecords(0)
	out.idSep = rs.idSep
	for i := 0; i < rs.Len(); {
		if !keep(i) {
			i++
			continue
		}
		j := i + 1
		for j < rs.Len() && keep(j) {
			j++
		}
		out.AppendFrom(rs, i, j)
		i = j
	}
	out.Compact()
	return out
}

// unsafeString returns b's bytes as a string without copying them; b is
// never written again.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// translation maps the dictionary codes of another column store to this
// one's, filled as codes are met: copying records between stores (a
// reader's chunk into the snapshot) looks each distinct value up once,
// not once per record.
type translation struct {
	src        *Records
	strs, vals []uint32
}

const unset = ^uint32(0)

func (rs *Records) translate(src *Records) *translation {
	if rs.tr != nil && rs.tr.src == src && len(rs.tr.strs) == len(src.strs) && len(rs.tr.vals) == len(src.vals) {
		return rs.tr
	}
	t := &translation{src: src, strs: make([]uint32, len(src.strs)), vals: make([]uint32, len(src.vals))}
	for i := range t.strs {
		t.strs[i] = unset
	}
	for i := range t.vals {
		t.vals[i] = unset
	}
	rs.tr = t
	return t
}

func (rs *Records) trStr(t *translation, m *memo, c uint32) uint32 {
	if c == 0 {
		return 0
	}
	if d := t.strs[c]; d != unset {
		// A repeat within the source store is a repeat: the memo counts
		// records, not distinct values.
		if m != nil {
			m.note(true)
		}
		return d
	}
	d := rs.strIn(m, t.src.strs[c])
	t.strs[c] = d
	return d
}

func (rs *Records) trVal(t *translation, m *memo, c uint32) uint32 {
	if c == 0 {
		return 0
	}
	if d := t.vals[c]; d != unset {
		if m != nil {
			m.note(true)
		}
		return d
	}
	d := rs.valIn(m, t.src.vals[c])
	t.vals[c] = d
	return d
}

// AppendFrom adds copies of src's records lo to hi.
func (rs *Records) AppendFrom(src *Records, lo, hi int) {
	if hi <= lo {
		return
	}
	rs.init()
	rs.grow(hi - lo)
	t := rs.translate(src)
	for i := lo; i < hi; i++ {
		var idf uint8
		switch src.flags[i] & idFlags {
		case flagIDJoin:
			if src.idSep == rs.idSep && !rs.idMemos[0].off && !rs.idMemos[1].off {
				ref := src.ids[i]
				rs.ids = append(rs.ids, uint64(rs.trStr(t, &rs.idMemos[0], uint32(ref>>32)))<<32|uint64(rs.trStr(t, &rs.idMemos[1], uint32(ref))))
				idf = flagIDJoin
				break
			}
			idf = rs.appendID(src.ID(i))
		case flagIDDict:
			idf = rs.appendID(src.strs[uint32(src.ids[i])])
		default:
			idf = rs.appendID(unsafeString(src.idBytes(src.ids[i])))
		}
		f := src.flags[i]&^idFlags | idf
		rs.flags = append(rs.flags, f)
		at := len(rs.names) // the copy's index
		rs.names = append(rs.names, rs.trStr(t, &rs.nameMemo, src.names[i]))
		l0, l1 := src.listSpan(&src.linkLists, i, flagNilLinks)
		for j, c := range src.links[l0:l1] {
			rs.links = append(rs.links, rs.trStr(t, memoAt(&rs.linkMemos, j), c))
		}
		rs.links = pad(rs.links, rs.linkLists.add(at, l1-l0, f&flagNilLinks != 0, len(rs.links)))
		a0, a1 := src.listSpan(&src.attrLists, i, flagNilAttrs)
		for j, c := range src.attrs[a0:a1] {
			rs.attrs = append(rs.attrs, rs.trVal(t, memoAt(&rs.attrMemos, j), c))
		}
		rs.attrs = pad(rs.attrs, rs.attrLists.add(at, a1-a0, f&flagNilAttrs != 0, len(rs.attrs)))
		k0, k1 := src.listSpan(&src.keyLists, i, flagNilKeys)
		for _, k := range src.keys[k0:k1] {
			rs.keys = append(rs.keys, rs.ownKey(k))
		}
		rs.keys = pad(rs.keys, rs.keyLists.add(at, k1-k0, f&flagNilKeys != 0, len(rs.keys)))
		rs.addSeen(at, src.Seen(i))
	}
	rs.locs = append(rs.locs, src.locs[lo:hi]...)
}
