package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

func init() {
	RegisterFormat("json", []string{".json"}, func(src *config.Source, dir string) (Reader, error) {
		return &jsonReader{dir: dir, file: src.From.File, records: src.From.Records}, nil
	})
}

// jsonReader reads a JSON document holding an array of records, at the top
// level or at a path such as "results" (Jamf), "resources" (CrowdStrike)
// or "data" (Checkr).
type jsonReader struct {
	dir, file, records string
}

func (r *jsonReader) Read(ctx context.Context, m *Mapping, p Progress) (*Batch, error) {
	data, path, err := readAll(r.dir, r.file, p)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// A JSON document is all or nothing: an export or API response that
	// is damaged anywhere is not trusted anywhere, so the source fails and
	// its last good snapshot stays in force.
	var recs *picked
	if fastPaths {
		recs = &picked{trie: m.trie(), width: len(m.slots)}
	}
	doc, err := wholeDocument(data, path, r.records, recs)
	if err != nil {
		return nil, err
	}
	arr, base, err := r.locateIn(doc, data, path)
	if err != nil {
		return nil, err
	}
	var elems [][]byte
	var lines, index []int
	var pre *picked
	line, last := 1, 0
	var bad []*Problem
	each := func(v []byte, t jsonparser.ValueType, off int) {
		start := base + off
		if start >= last && start <= len(data) {
			line += bytes.Count(data[last:start], []byte{'\n'})
			last = start
		}
		if t != jsonparser.Object {
			bad = append(bad, &Problem{File: path, Line: line, Index: len(elems) + len(bad) + 1, Message: fmt.Sprintf("record is a %s, not an object", t)})
			return
		}
		elems = append(elems, v)
		lines = append(lines, line)
		index = append(index, len(elems)+len(bad))
	}
	// The document is well-formed: its lists are walked by the scanner,
	// or were listed when it was checked.
	if !fastPaths {
		_, err = jsonparser.ArrayEach(arr, func(v []byte, t jsonparser.ValueType, off int, _ error) { each(v, t, off) })
	} else if doc.elems != nil && doc.complete && doc.list == base+skipSpace(arr, 0) {
		// The records' values were picked as well, when the scanner
		// could: a record's number in the list is its number in recs.
		if recs == nil || len(recs.ok) != len(doc.elems) {
			recs = nil
		}
		var kept []int
		for k, e := range doc.elems {
			v := rawAt(data, e.start, e.end)
			n := len(elems)
			each(v.b, v.t, e.start-base)
			if len(elems) > n {
				kept = append(kept, k)
			}
		}
		if recs != nil {
			pre = &picked{trie: recs.trie, width: recs.width, vals: recs.vals, ok: make([]bool, len(kept))}
			pre.index = kept
			for i, k := range kept {
				pre.ok[i] = recs.ok[k]
			}
		}
	} else if !eachElement(arr, each) {
		err = jsonparser.MalformedArrayError
	}
	if err != nil {
		return nil, syntaxError(data, path)
	}
	if err := doc.checkCount(data, path, len(elems)+len(bad)); err != nil {
		return nil, err
	}
	b := mapJSON(ctx, m, elems, lines, index, path, pre)
	b.Problems = append(b.Problems, bad...)
	b.File = path
	return b, ctx.Err()
}

// wholeDocument checks that data is one well-formed JSON document and not
// an error a vendor's API returned in place of the records, and says which
// in the vendor's words.
func wholeDocument(data []byte, path, records string, recs *picked) (docKeys, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return docKeys{}, onus.Errorf(onus.EINVALID, "%s: the file is empty", path)
	}
	if trimmed[0] == '<' {
		return docKeys{}, onus.Errorf(onus.EINVALID, "%s: the file is an HTML page, not JSON%s: the export or API call returned an error page", path, htmlTitle(trimmed))
	}
	var ok, complete bool
	var keys []topKey
	doc := docKeys{list: -1}
	// The record list is listed as the document is checked when it is
	// the document or under one top-level key, the cases locateIn answers.
	if segs := splitPath(records); records == "" || len(segs) == 1 {
		key := ""
		if records != "" {
			key = segs[0]
		}
		ok, keys, complete, doc.elems, doc.list = validRecords(data, key, recs)
	} else {
		ok, keys, complete = validDocument(data)
	}
	if !fastPaths {
		ok, keys, complete, doc.elems = json.Valid(data), nil, false, nil
	}
	if !ok {
		return docKeys{}, syntaxError(data, path)
	}
	doc.keys, doc.complete = keys, complete
	if trimmed[0] != '{' {
		return doc, nil
	}
	return doc, vendorError(data, path, doc)
}

// docKeys are the keys of a document's top-level object, so that looking
// for a key the document does not have costs no pass over it.
type docKeys struct {
	keys []topKey
	// complete is false when a key holds escapes: then any may be there.
	complete bool
	// elems are the elements of the record list, which starts at list,
	// when the scanner could list them as it checked the document.
	elems []span
	list  int
}

// has reports whether the top-level object may hold key.
func (d docKeys) has(key string) bool {
	if !d.complete {
		return true
	}
	for _, k := range d.keys {
		if k.name == key {
			return true
		}
	}
	return false
}

// vendorError returns the error a vendor's API wrote in place of the
// records, if the document is one.
func vendorError(data []byte, path string, doc docKeys) error {
	// Okta: {"errorCode": "E0000011", "errorSummary": "Invalid token provided", …}
	if !doc.has("errorCode") {
	} else if code, err := jsonparser.GetString(data, "errorCode"); err == nil {
		summary, _ := jsonparser.GetString(data, "errorSummary")
		return onus.Errorf(onus.EINVALID, "%s: the document is an error, not records: %s (errorCode %s)", path, quoteVendor(summary), code)
	}
	// CrowdStrike Falcon: {"errors": [{"code": 403, "message": "access denied, authorization failed"}], "resources": []}
	if !doc.has("errors") {
	} else if v, t, _, err := jsonparser.Get(data, "errors"); err == nil && t == jsonparser.Array {
		var msgs []string
		jsonparser.ArrayEach(v, func(e []byte, et jsonparser.ValueType, _ int, _ error) {
			switch et {
			case jsonparser.Object:
				msg, _ := jsonparser.GetString(e, "message")
				code, _, _, _ := jsonparser.Get(e, "code")
				if len(code) > 0 {
					msg = fmt.Sprintf("%s (code %s)", msg, code)
				}
				msgs = append(msgs, msg)
			case jsonparser.String:
				msgs = append(msgs, string(e))
			}
		})
		if len(msgs) > 0 {
			return onus.Errorf(onus.EINVALID, "%s: the API returned errors, not records: %s", path, quoteVendor(strings.Join(msgs, "; ")))
		}
	}
	// Microsoft Graph: {"error": {"code": "InvalidAuthenticationToken", "message": "…"}};
	// others: {"error": "Not authorized"}.
	if !doc.has("error") {
	} else if v, t, _, err := jsonparser.Get(data, "error"); err == nil {
		switch t {
		case jsonparser.Object:
			code, _ := jsonparser.GetString(v, "code")
			msg, _ := jsonparser.GetString(v, "message")
			return onus.Errorf(onus.EINVALID, "%s: the document is an error, not records: %s (code %s)", path, quoteVendor(msg), code)
		case jsonparser.String:
			msg, _ := jsonparser.ParseString(v)
			return onus.Errorf(onus.EINVALID, "%s: the document is an error, not records: %s", path, quoteVendor(msg))
		}
	}
	return nil
}

// quoteVendor quotes a vendor's message, cut to a readable length.
func quoteVendor(s string) string {
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// htmlTitle returns ` (title "…")` for an HTML page that has one.
func htmlTitle(page []byte) string {
	lower := bytes.ToLower(page)
	i := bytes.Index(lower, []byte("<title>"))
	j := bytes.Index(lower, []byte("</title>"))
	if i < 0 || j < i {
		return ""
	}
	t := strings.Join(strings.Fields(string(page[i+len("<title>"):j])), " ")
	return fmt.Sprintf(" (title %s)", quoteVendor(t))
}

// checkCount compares the total a paginated API states with the records
// the document holds: Jamf's totalCount, Checkr's count. A difference
// means a page is missing or the export was cut. (CrowdStrike's
// meta.pagination.total counts the whole query, not what was fetched.)
func (d docKeys) checkCount(data []byte, path string, n int) error {
	for _, p := range [][]string{{"totalCount"}, {"count"}} {
		if !d.has(p[0]) {
			continue
		}
		v, err := jsonparser.GetInt(data, p...)
		if err != nil {
			continue
		}
		if int(v) != n {
			return onus.Errorf(onus.EINVALID, "%s: %s says the API holds %d records but the document has %d: a page is missing or the export was cut; export every page", path, strings.Join(p, "."), v, n)
		}
		return nil
	}
	return nil
}

// locateIn is locate, answered from the document's top-level keys when
// the records are under one of them.
func (r *jsonReader) locateIn(doc docKeys, data []byte, path string) ([]byte, int, error) {
	if fastPaths && doc.complete && r.records != "" {
		if segs := splitPath(r.records); len(segs) == 1 {
			for _, k := range doc.keys {
				if k.name != segs[0] {
					continue
				}
				v := rawAt(data, k.start, k.end)
				if v.t != jsonparser.Array {
					return nil, 0, onus.Errorf(onus.EINVALID, "%s: %q is a %s, not a list of records", path, r.records, v.t)
				}
				return v.b, k.start, nil
			}
		}
	}
	return r.locate(data, path)
}

// locate returns the record array and its offset in data.
func (r *jsonReader) locate(data []byte, path string) ([]byte, int, error) {
	if r.records == "" {
		i := bytes.IndexAny(data, "[{")
		if i < 0 {
			return nil, 0, syntaxError(data, path)
		}
		if data[i] == '{' {
			return nil, 0, onus.Errorf(onus.EINVALID, "%s: the document is an object, not a list of records; set from.records to the path of the record list (top-level keys: %s)", path, topKeys(data))
		}
		return data, 0, nil
	}
	v, t, end, err := jsonparser.Get(data, splitPath(r.records)...)
	if err == jsonparser.KeyPathNotFoundError {
		if !json.Valid(data) {
			return nil, 0, syntaxError(data, path)
		}
		return nil, 0, onus.Errorf(onus.EINVALID, "%s: no %q in the document (top-level keys: %s)", path, r.records, topKeys(data))
	}
	if err != nil {
		return nil, 0, syntaxError(data, path)
	}
	if t != jsonparser.Array {
		return nil, 0, onus.Errorf(onus.EINVALID, "%s: %q is a %s, not a list of records", path, r.records, t)
	}
	// Get returns the offset just past the value.
	return v, end - len(v), nil
}

func topKeys(data []byte) string {
	var keys []string
	_ = jsonparser.ObjectEach(data, func(k, _ []byte, t jsonparser.ValueType, _ int) error {
		keys = append(keys, fmt.Sprintf("%s (%s)", k, t))
		return nil
	})
	sort.Strings(keys)
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// syntaxError finds where a JSON document is broken and says so with a
// line and column.
func syntaxError(data []byte, path string) error {
	var v json.RawMessage
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if ok := asSyntax(err, &se); ok {
		line, col := lineCol(data, int(se.Offset))
		return onus.Errorf(onus.EINVALID, "%s:%d:%d: malformed JSON: %v", path, line, col, se)
	}
	if err != nil {
		return onus.Errorf(onus.EINVALID, "%s: malformed JSON: %v", path, err)
	}
	return onus.Errorf(onus.EINVALID, "%s: malformed JSON", path)
}

func asSyntax(err error, se **json.SyntaxError) bool {
	if e, ok := err.(*json.SyntaxError); ok {
		*se = e
		return true
	}
	return false
}

func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// mapJSON maps JSON objects in parallel; lines and index say where each
// object is in the file and in its list.
func mapJSON(ctx context.Context, m *Mapping, elems [][]byte, lines, index []int, file string, pre *picked) *Batch {
	workers := runtime.GOMAXPROCS(0)
	if len(elems) < 256 {
		workers = 1
	}
	type part struct {
		recs     []onus.Record
		probs    []*Problem
		presence []int
		sigs     []uint8
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	per := (len(elems) + workers - 1) / workers
	paths, trie := m.jsonPaths(), m.trie()
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(elems))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			pt := part{recs: make([]onus.Record, 0, hi-lo), presence: make([]int, len(m.fields))}
			vals := make([]raw, len(m.slots))
			in := newInterner()
			for i := lo; i < hi; i++ {
				if i%4096 == 0 && ctx.Err() != nil {
					return
				}
				if pre != nil && pre.ok[i] {
					pre.raws(pre.index[i], elems[i], vals)
				} else if err := extract(elems[i], trie, paths, vals, false); err != nil {
					pt.probs = append(pt.probs, &Problem{File: file, Line: lines[i], Index: index[i], Message: err.Error()})
					continue
				}
				rec, prob := m.build(vals, lines[i], pt.presence, in)
				if prob != nil {
					prob.File, prob.Line, prob.Index = file, lines[i], index[i]
					pt.probs = append(pt.probs, prob)
					if rec.ID == "" {
						continue
					}
				}
				pt.recs = append(pt.recs, rec)
				pt.sigs = sig(vals, pt.sigs)
			}
			parts[w] = pt
		}(w, lo, hi)
	}
	wg.Wait()
	b := &Batch{Presence: make([]int, len(m.fields))}
	n := 0
	for _, pt := range parts {
		n += len(pt.recs)
	}
	b.Records = make([]onus.Record, 0, n)
	for _, pt := range parts {
		b.Records = append(b.Records, pt.recs...)
		b.Sigs = append(b.Sigs, pt.sigs...)
		b.Problems = append(b.Problems, pt.probs...)
		for i, c := range pt.presence {
			b.Presence[i] += c
		}
	}
	return b
}

// jsonPaths returns the slot paths split into segments.
func (m *Mapping) jsonPaths() [][]string {
	paths := make([][]string, len(m.slots))
	for i, s := range m.slots {
		paths[i] = s.segs
	}
	return paths
}

// trie returns the mapping's paths as a tree for the scanner.
func (m *Mapping) trie() *pathTrie {
	m.trieOnce.Do(func() { m.pathTrie = newTrie(m.jsonPaths()) })
	return m.pathTrie
}

// extract fills vals with the values found at paths in obj: with the
// scanner, or when it cannot, with extractJSON.
func extract(obj []byte, t *pathTrie, paths [][]string, vals []raw, validate bool) error {
	if fastPaths && scanRecord(obj, t, vals) {
		return nil
	}
	return extractJSON(obj, paths, vals, validate)
}

// extractJSON fills vals with the values found at paths in obj. Unless the
// caller has already done so, it checks that obj is well-formed JSON,
// because the path scanner alone would skip over some damage.
func extractJSON(obj []byte, paths [][]string, vals []raw, validate bool) error {
	if validate && !json.Valid(obj) {
		var v json.RawMessage
		err := json.Unmarshal(obj, &v)
		if se, ok := err.(*json.SyntaxError); ok {
			return fmt.Errorf("malformed JSON at byte %d of the record: %v", se.Offset, se)
		}
		return fmt.Errorf("malformed JSON record")
	}
	for i := range vals {
		vals[i] = raw{}
	}
	var perr error
	jsonparser.EachKey(obj, func(idx int, v []byte, t jsonparser.ValueType, err error) {
		if err != nil {
			perr = err
			return
		}
		vals[idx] = raw{b: v, t: t}
	}, paths...)
	if perr != nil {
		return fmt.Errorf("malformed JSON record: %v", perr)
	}
	return nil
}
