package source

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/buger/jsonparser"
)

// This file is the readers' JSON scanner: one pass over a record that
// checks it is well-formed JSON, exactly as encoding/json.Valid does, and
// picks out the values at the mapped paths, exactly as
// jsonparser.EachKey does, without allocating. Everything else is
// skipped. A record it does not handle (a key written with escapes where
// a path could match it, a record that is not an object) or a document
// that is not well-formed goes back to the general code, which says what
// is wrong; the scanner only ever answers for the common case.
//
// scan_test.go checks it against encoding/json and jsonparser.

// fastPaths turns on the scanner and the readers' other fast paths; the
// differential tests turn it off to compare with the general code.
var fastPaths = true

// pathTrie holds a mapping's paths as a tree of object keys.
type pathTrie struct {
	nodes []trieNode
	// general is set when a path needs what only jsonparser does (an array
	// index segment such as "[0]"): every record goes the general way.
	general bool
}

type trieNode struct {
	keys  []string
	kids  []int32
	slots []int // the paths that end here
}

// newTrie builds the tree of paths; paths[i] fills vals[i].
func newTrie(paths [][]string) *pathTrie {
	t := &pathTrie{nodes: []trieNode{{}}}
	for pi, p := range paths {
		if len(p) == 0 {
			continue // EachKey never matches an empty path
		}
		n := int32(0)
		for _, seg := range p {
			if len(seg) > 0 && seg[0] == '[' {
				t.general = true
			}
			next := int32(-1)
			for k, key := range t.nodes[n].keys {
				if key == seg {
					next = t.nodes[n].kids[k]
				}
			}
			if next < 0 {
				t.nodes = append(t.nodes, trieNode{})
				next = int32(len(t.nodes) - 1)
				t.nodes[n].keys = append(t.nodes[n].keys, seg)
				t.nodes[n].kids = append(t.nodes[n].kids, next)
			}
			n = next
		}
		t.nodes[n].slots = append(t.nodes[n].slots, pi)
	}
	return t
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// scanner walks one JSON text.
type scanner struct {
	data  []byte
	trie  *pathTrie
	vals  []raw
	depth int
	// bail is set when the record needs the general code.
	bail bool
	// keys, when not nil, collects the keys of the top-level object.
	keys *[]topKey
	// elems, when not nil, collects the elements of the array starting at
	// elemsAt: the document's record list. elemsKey names the top-level
	// key holding the list ("" for a document that is the list).
	elems    *[]span
	elemsAt  int
	elemsKey string
	// recs, when not nil, picks each listed record's values at the
	// paths of its trie as the record is checked (see picked).
	recs *picked
	// spans, when not nil, is where object puts the values of the
	// record starting at base, in place of vals.
	spans []valSpan
	base  int
}

// picked holds the values at a mapping's paths in each record of a
// document's record list, found while the document was checked: the
// record need not be walked again. vals holds width spans per record;
// ok is false for a record the scanner could not read (the general code
// reads it).
type picked struct {
	trie  *pathTrie
	width int
	vals  []valSpan
	ok    []bool
	// index, when not nil, maps a record to its number in vals.
	index []int
}

// valSpan is where a value is in its record; end is 0 when the record
// has no value at the path.
type valSpan struct{ start, end int32 }

// raws fills vals with record k's values, obj being the record.
func (p *picked) raws(k int, obj []byte, vals []raw) {
	for j, v := range p.vals[k*p.width : (k+1)*p.width] {
		if v.end == 0 {
			vals[j] = raw{}
		} else {
			vals[j] = rawAt(obj, int(v.start), int(v.end))
		}
	}
}

// span is where a value is in a document.
type span struct{ start, end int }

// topKey is a key of a document's top-level object and where its value is.
type topKey struct {
	name       string
	start, end int
}

// scanRecord fills vals with the values at the trie's paths in obj and
// reports whether obj is well-formed JSON the scanner could read; when it
// is not, vals are undefined and the caller uses the general code.
func scanRecord(obj []byte, t *pathTrie, vals []raw) bool {
	if t.general {
		return false
	}
	for i := range vals {
		vals[i] = raw{}
	}
	s := scanner{data: obj, trie: t, vals: vals}
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	end := s.object(i, 0)
	if end < 0 || s.bail {
		return false
	}
	return skipSpace(obj, end) == len(obj)
}

// validJSON reports whether data is one well-formed JSON value, as
// encoding/json.Valid does.
func validJSON(data []byte) bool {
	s := scanner{data: data}
	i := skipSpace(data, 0)
	end := s.value(i, -1)
	return end >= 0 && skipSpace(data, end) == len(data)
}

// validDocument is validJSON that also returns the keys of a top-level
// object; complete is false when a key holds escapes and the list cannot
// be relied on.
func validDocument(data []byte) (ok bool, keys []topKey, complete bool) {
	s := scanner{data: data, keys: &keys}
	i := skipSpace(data, 0)
	end := s.value(i, -1)
	return end >= 0 && skipSpace(data, end) == len(data), keys, !s.bail
}

// validRecords is validDocument that also lists the elements of the
// record list, as eachElement would: the document itself when key is "",
// or the array under the top-level key (its first occurrence). at is
// where the list starts, -1 when it is not an array or not there.
func validRecords(data []byte, key string, recs *picked) (ok bool, keys []topKey, complete bool, elems []span, at int) {
	elems = []span{}
	s := scanner{data: data, keys: &keys, elems: &elems, elemsAt: -1, elemsKey: key}
	if recs != nil && !recs.trie.general && int64(len(data)) < 1<<31 {
		s.recs = recs
	}
	i := skipSpace(data, 0)
	if key == "" {
		s.elemsAt = i
	}
	end := s.value(i, -1)
	if s.elemsAt < 0 || s.elemsAt >= len(data) || data[s.elemsAt] != '[' {
		return end >= 0 && skipSpace(data, end) == len(data), keys, !s.bail, nil, -1
	}
	return end >= 0 && skipSpace(data, end) == len(data), keys, !s.bail, elems, s.elemsAt
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\r', '\t':
			i++
			// Pretty-printed documents indent with runs of spaces.
			for i+8 <= len(b) && binary.LittleEndian.Uint64(b[i:]) == ' '*lsb {
				i += 8
			}
		default:
			return i
		}
	}
	return i
}

// value checks the value at i (after any space) and returns the index just
// past it, or -1. node is the trie node whose keys an object here holds,
// or -1.
func (s *scanner) value(i int, node int32) int {
	d := s.data
	if i >= len(d) {
		return -1
	}
	switch c := d[i]; {
	case c == '{':
		return s.object(i, node)
	case c == '[':
		return s.array(i)
	case c == '"':
		end, _ := s.str(i + 1)
		return end
	case c == 't':
		if i+4 <= len(d) && string(d[i:i+4]) == "true" {
			return i + 4
		}
	case c == 'f':
		if i+5 <= len(d) && string(d[i:i+5]) == "false" {
			return i + 5
		}
	case c == 'n':
		if i+4 <= len(d) && string(d[i:i+4]) == "null" {
			return i + 4
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(i)
	}
	return -1
}

// number checks the number at i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number(i int) int {
	d := s.data
	if d[i] == '-' {
		i++
	}
	if i >= len(d) {
		return -1
	}
	if d[i] == '0' {
		i++
	} else if d[i] >= '1' && d[i] <= '9' {
		for i++; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		}
	} else {
		return -1
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return -1
		}
		for i++; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return -1
		}
		for i++; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		}
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// str checks the string whose content starts at i and returns the index
// past its closing quote, and whether it holds escapes.
func (s *scanner) str(i int) (int, bool) {
	d := s.data
	escaped := false
	for {
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character.
		for i+8 <= len(d) {
			x := binary.LittleEndian.Uint64(d[i:])
			q := x ^ ('"' * lsb)
			b := x ^ ('\\' * lsb)
			m := ((q - lsb) &^ q) | ((b - lsb) &^ b) | ((x - 0x20*lsb) &^ x)
			if m&msb == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m&msb) / 8
			break
		}
		if i >= len(d) {
			return -1, false
		}
		switch c := d[i]; {
		case c == '"':
			return i + 1, escaped
		case c == '\\':
			escaped = true
			i++
			if i >= len(d) {
				return -1, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 > len(d) || !isHex(d[i+1]) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) {
					return -1, false
				}
				i += 5
			default:
				return -1, false
			}
		case c < 0x20:
			return -1, false
		default:
			// A byte the word test flagged in error (the test can, after a
			// byte it did flag): step over it.
			i++
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) array(i int) int {
	if s.depth++; s.depth > maxDepth {
		return -1
	}
	d := s.data
	collect := s.elems != nil && i == s.elemsAt
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		s.depth--
		return i + 1
	}
	for {
		start := i
		if collect && s.recs != nil {
			i = s.pick(i)
		} else {
			i = s.value(i, -1)
		}
		if i < 0 {
			return -1
		}
		if collect {
			*s.elems = append(*s.elems, span{start, i})
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case ']':
			s.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// pick checks the record list's element at i and, when it is an object,
// picks its values as scanRecord would.
func (s *scanner) pick(i int) int {
	p := s.recs
	n := len(p.vals)
	p.vals = append(p.vals, make([]valSpan, p.width)...)
	if i >= len(s.data) || s.data[i] != '{' {
		p.ok = append(p.ok, false)
		return s.value(i, -1)
	}
	bail, trie := s.bail, s.trie
	s.bail, s.trie, s.spans, s.base = false, p.trie, p.vals[n:n+p.width], i
	end := s.object(i, 0)
	p.ok = append(p.ok, !s.bail)
	s.bail, s.trie, s.spans = bail, trie, nil
	return end
}

// object checks the object at i, filling the values of node's paths.
func (s *scanner) object(i int, node int32) int {
	if s.depth++; s.depth > maxDepth {
		return -1
	}
	d := s.data
	var n *trieNode
	if node >= 0 && s.trie != nil {
		n = &s.trie.nodes[node]
	}
	top := s.keys != nil && s.depth == 1
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		s.depth--
		return i + 1
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return -1
		}
		kstart := i + 1
		kend, escaped := s.str(kstart)
		if kend < 0 {
			return -1
		}
		i = skipSpace(d, kend)
		if i >= len(d) || d[i] != ':' {
			return -1
		}
		i = skipSpace(d, i+1)
		key := d[kstart : kend-1]
		kid := int32(-1)
		if n != nil && len(n.keys) > 0 {
			if escaped {
				// Keys are compared unescaped; the general code does that.
				s.bail = true
			} else {
				for k, name := range n.keys {
					if name == string(key) {
						kid = n.kids[k]
						break
					}
				}
			}
		}
		if top && escaped {
			s.bail = true
		}
		vstart := i
		if top && s.elems != nil && s.elemsAt < 0 && s.elemsKey != "" && string(key) == s.elemsKey {
			s.elemsAt = vstart
		}
		if kid >= 0 {
			i = s.value(i, kid)
		} else {
			i = s.value(i, -1)
		}
		if i < 0 {
			return -1
		}
		if kid >= 0 && s.spans != nil {
			for _, slot := range s.trie.nodes[kid].slots {
				if s.spans[slot].end == 0 {
					s.spans[slot] = valSpan{int32(vstart - s.base), int32(i - s.base)}
				}
			}
		} else if kid >= 0 {
			for _, slot := range s.trie.nodes[kid].slots {
				if s.vals[slot].t == jsonparser.NotExist {
					s.vals[slot] = rawAt(d, vstart, i)
				}
			}
		}
		if top {
			*s.keys = append(*s.keys, topKey{name: string(key), start: vstart, end: i})
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return -1
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case '}':
			s.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// rawAt is the well-formed value d[start:end] as jsonparser.Get returns it.
func rawAt(d []byte, start, end int) raw {
	switch d[start] {
	case '"':
		return raw{b: d[start+1 : end-1], t: jsonparser.String}
	case '{':
		return raw{b: d[start:end], t: jsonparser.Object}
	case '[':
		return raw{b: d[start:end], t: jsonparser.Array}
	case 't', 'f':
		return raw{b: d[start:end], t: jsonparser.Boolean}
	case 'n':
		return raw{b: d[start:end], t: jsonparser.Null}
	}
	return raw{b: d[start:end], t: jsonparser.Number}
}

// eachElement calls fn with each element of the well-formed JSON array arr
// and its offset in arr, typed as jsonparser.ArrayEach types them.
func eachElement(arr []byte, fn func(v []byte, t jsonparser.ValueType, off int)) bool {
	s := scanner{data: arr}
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return false
	}
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return true
	}
	for {
		end := s.value(i, -1)
		if end < 0 {
			return false
		}
		r := rawAt(arr, i, end)
		fn(r.b, r.t, i)
		i = skipSpace(arr, end)
		if i >= len(arr) {
			return false
		}
		switch arr[i] {
		case ',':
			i = skipSpace(arr, i+1)
		case ']':
			return true
		default:
			return false
		}
	}
}

// decodeAny decodes the well-formed JSON value b as json.Unmarshal into an
// any does: objects as map[string]any (the last of a repeated key wins),
// lists as []any, numbers as float64. Strings with escapes are left to
// encoding/json itself. ok is false when encoding/json would fail (a
// number out of range) or b is not well-formed.
func decodeAny(b []byte) (v any, ok bool) {
	d := decoder{data: b}
	i := skipSpace(b, 0)
	v, end := d.value(i)
	if end < 0 || skipSpace(b, end) != len(b) {
		return nil, false
	}
	return v, true
}

type decoder struct{ data []byte }

func (d *decoder) value(i int) (any, int) {
	b := d.data
	if i >= len(b) {
		return nil, -1
	}
	switch c := b[i]; {
	case c == '{':
		m := map[string]any{}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return m, i + 1
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return nil, -1
			}
			k, end := d.str(i)
			if end < 0 {
				return nil, -1
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return nil, -1
			}
			var v any
			v, i = d.value(skipSpace(b, i+1))
			if i < 0 {
				return nil, -1
			}
			m[k] = v
			i = skipSpace(b, i)
			if i >= len(b) {
				return nil, -1
			}
			if b[i] == '}' {
				return m, i + 1
			}
			if b[i] != ',' {
				return nil, -1
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		l := []any{}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return l, i + 1
		}
		for {
			var v any
			v, i = d.value(i)
			if i < 0 {
				return nil, -1
			}
			l = append(l, v)
			i = skipSpace(b, i)
			if i >= len(b) {
				return nil, -1
			}
			if b[i] == ']' {
				return l, i + 1
			}
			if b[i] != ',' {
				return nil, -1
			}
			i = skipSpace(b, i+1)
		}
	case c == '"':
		return d.str(i)
	case c == 't', c == 'f', c == 'n':
		s := scanner{data: d.data}
		end := s.value(i, -1)
		if end < 0 {
			return nil, -1
		}
		if c == 'n' {
			return nil, end
		}
		return c == 't', end
	}
	s := scanner{data: d.data}
	end := s.number(i)
	if end < 0 {
		return nil, -1
	}
	f, err := strconv.ParseFloat(string(d.data[i:end]), 64)
	if err != nil {
		return nil, -1
	}
	return f, end
}

// plain returns the content of the string at i when it holds no escape
// and is valid UTF-8, as the bytes str would decode it to, and the index
// past it; nil otherwise.
func (d *decoder) plain(i int) ([]byte, int) {
	if i >= len(d.data) || d.data[i] != '"' {
		return nil, -1
	}
	s := scanner{data: d.data}
	end, escaped := s.str(i + 1)
	if end < 0 || escaped || !utf8.Valid(d.data[i+1:end-1]) {
		return nil, -1
	}
	return d.data[i+1 : end-1], end
}

// str decodes the string at i.
func (d *decoder) str(i int) (string, int) {
	s := scanner{data: d.data}
	end, escaped := s.str(i + 1)
	if end < 0 {
		return "", -1
	}
	if !escaped && utf8.Valid(d.data[i+1:end-1]) {
		return string(d.data[i+1 : end-1]), end
	}
	var out string
	if json.Unmarshal(d.data[i:end], &out) != nil {
		return "", -1
	}
	return out, end
}

// decodeKept is decodeAny followed by project(v, keep, in): the objects
// of the value (or of its lists) keep only the wanted keys, and the
// others are checked but not built. ok is false when decodeAny would
// fail.
func decodeKept(b []byte, keep map[string]bool, in *interner) (v any, ok bool) {
	d := decoder{data: b}
	i := skipSpace(b, 0)
	v, end := d.kept(i, keep, in)
	if end < 0 || skipSpace(b, end) != len(b) {
		return nil, false
	}
	return v, true
}

// kept decodes the value at i as project sees it: an object keeps the
// wanted keys, a list has each element kept, anything else is decoded.
func (d *decoder) kept(i int, keep map[string]bool, in *interner) (any, int) {
	b := d.data
	if i >= len(b) {
		return nil, -1
	}
	switch b[i] {
	case '[':
		l := []any{}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return l, i + 1
		}
		for {
			var v any
			v, i = d.kept(i, keep, in)
			if i < 0 {
				return nil, -1
			}
			l = append(l, v)
			i = skipSpace(b, i)
			if i >= len(b) {
				return nil, -1
			}
			if b[i] == ']' {
				return l, i + 1
			}
			if b[i] != ',' {
				return nil, -1
			}
			i = skipSpace(b, i+1)
		}
	case '{':
		m := make(map[string]any, len(keep))
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return m, i + 1
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return nil, -1
			}
			// A key without escapes is compared as it is written, and
			// made a string only when it is kept.
			var k string
			kb, end := d.plain(i)
			if kb == nil {
				if k, end = d.str(i); end < 0 {
					return nil, -1
				}
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return nil, -1
			}
			i = skipSpace(b, i+1)
			if kb != nil && keep[string(kb)] || kb == nil && keep[k] {
				if kb != nil {
					k = in.bytes(kb)
				}
				var v any
				if vb, vend := d.plain(i); vb != nil {
					// A text value is found in the interner by its bytes.
					v, i = in.box(in.bytes(vb)), vend
				} else {
					if v, i = d.value(i); i < 0 {
						return nil, -1
					}
					if s, ok := v.(string); ok {
						v = in.box(s)
					}
				}
				m[in.str(k)] = v
			} else if i = d.check(i); i < 0 {
				return nil, -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return nil, -1
			}
			if b[i] == '}' {
				return m, i + 1
			}
			if b[i] != ',' {
				return nil, -1
			}
			i = skipSpace(b, i+1)
		}
	}
	return d.value(i)
}

// check skips the well-formed value at i, failing where decoding it would:
// on a number too large for a float64.
func (d *decoder) check(i int) int {
	b := d.data
	s := scanner{data: b}
	switch c := b[i]; {
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == close {
			return i + 1
		}
		for {
			if c == '{' {
				end, _ := s.str(i + 1)
				if end < 0 {
					return -1
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = d.check(i); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == close {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		end := s.number(i)
		if end < 0 {
			return -1
		}
		// Only an exponent or a very long number can be out of range.
		if n := b[i:end]; end-i > 300 || bytes.ContainsAny(n, "eE") {
			if _, err := strconv.ParseFloat(string(n), 64); err != nil {
				return -1
			}
		}
		return end
	}
	return s.value(i, -1)
}
