package source

// Objects maps JSON objects that arrive a page at a time, from a live
// connector rather than a file. Records are mapped as each page arrives so
// that only the mapped fields stay in memory, never the vendor's whole
// response. It is not safe for concurrent use.
type Objects struct {
	m     *Mapping
	paths [][]string
	trie  *pathTrie
	vals  []raw
	in    *interner
	n     int
	batch Batch
}

// NewObjects starts mapping objects with m.
func (m *Mapping) NewObjects() *Objects {
	return &Objects{
		m:     m,
		paths: m.jsonPaths(),
		trie:  m.trie(),
		vals:  make([]raw, len(m.slots)),
		in:    newInterner(),
		batch: Batch{Presence: make([]int, len(m.fields))},
	}
}

// Add maps the objects of one page. where names the page (the connector
// and the request) in the problems of records that cannot be mapped; each
// problem also gives the record's 1-based position in the page. The
// objects must be well-formed JSON: the caller validates each page whole.
func (o *Objects) Add(where string, objs [][]byte) {
	for i, obj := range objs {
		o.n++
		if err := extract(obj, o.trie, o.paths, o.vals, false); err != nil {
			o.batch.Problems = append(o.batch.Problems, &Problem{File: where, Index: i + 1, Loc: o.n, Message: err.Error()})
			continue
		}
		rec, prob := o.m.build(o.vals, o.n, o.batch.Presence, o.in)
		if prob != nil {
			prob.File, prob.Index = where, i+1
			o.batch.Problems = append(o.batch.Problems, prob)
			continue
		}
		o.batch.Records = append(o.batch.Records, rec)
	}
}

// Count returns how many objects were added.
func (o *Objects) Count() int { return o.n }

// Batch returns everything mapped so far; file names the source in
// problems found after reading (duplicate ids).
func (o *Objects) Batch(file string) *Batch {
	b := o.batch
	b.File = file
	return &b
}
