package source

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"sort"
	"strings"
	"sync"

	"github.com/buger/jsonparser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
)

// A Mapping turns the values found at configured paths into an onus record.
// It is compiled once per sync and used from several goroutines.
type Mapping struct {
	source string
	// maxValue is the longest value a record may hold, in bytes.
	maxValue int
	kind     string
	slots    []slot
	id       ref
	name     ref
	seen     ref
	keys     []keyMap
	fields   []fieldMap
	links    []linkMap
	schema   onus.Schema
	// where keeps only the records it is true of; nil keeps all.
	where cel.Program

	trieOnce sync.Once
	pathTrie *pathTrie
}

// slot is one distinct path the reader must fetch from every record.
type slot struct {
	path string
	segs []string
}

// ref refers to a value: one slot, or a template joining slots and text.
// slot is -1 for "not mapped".
type ref struct {
	slot   int
	pieces []piece
	// xf are the transforms after the path ("columns.name | lower").
	xf []transform
}

type piece struct {
	lit  string
	slot int // -1 for literal text
}

type keyMap struct {
	name  string
	norm  identity.Func
	check identity.Check
	refs  []ref
}

type fieldMap struct {
	name     string
	path     string
	ref      ref
	typ      string
	format   string
	required bool
	keep     map[string]bool
	// split is set when a transform splits the value: it is a list even
	// with one element.
	split bool
}

type linkMap struct {
	path string
	ref  ref
	norm identity.Func
}

// NewMapping compiles a source's map and links. norm normalises keys.
func NewMapping(src *config.Source, norm *identity.Normalizer) (*Mapping, error) {
	m := &Mapping{source: src.Name, kind: src.Kind, maxValue: config.DefaultMaxValueBytes}
	if src.From != nil && src.From.MaxValueBytes > 0 {
		m.maxValue = src.From.MaxValueBytes
	}
	index := map[string]int{}
	add := func(path string) int {
		path = strings.TrimSpace(path)
		if i, ok := index[path]; ok {
			return i
		}
		m.slots = append(m.slots, slot{path: path, segs: splitPath(path)})
		index[path] = len(m.slots) - 1
		return len(m.slots) - 1
	}
	var compile func(path string) (ref, error)
	compile = func(path string) (ref, error) {
		if path == "" {
			return ref{slot: -1}, nil
		}
		if parts := splitPipes(path); len(parts) > 1 {
			r, err := compile(parts[0])
			if err != nil {
				return r, err
			}
			if r.slot < 0 && r.pieces == nil {
				return r, fmt.Errorf("%q: transforms need a path before the first |", path)
			}
			for _, p := range parts[1:] {
				t, err := parseTransform(p)
				if err != nil {
					return r, err
				}
				r.xf = append(r.xf, t)
			}
			return r, nil
		}
		if !strings.Contains(path, "{") {
			return ref{slot: add(path)}, nil
		}
		r := ref{slot: -1}
		rest := path
		for rest != "" {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				r.pieces = append(r.pieces, piece{lit: rest, slot: -1})
				break
			}
			if i > 0 {
				r.pieces = append(r.pieces, piece{lit: rest[:i], slot: -1})
			}
			j := strings.IndexByte(rest[i:], '}')
			if j < 0 {
				return r, fmt.Errorf("template %q has an unclosed {", path)
			}
			inner := strings.TrimSpace(rest[i+1 : i+j])
			if inner == "" {
				return r, fmt.Errorf("template %q has an empty {}", path)
			}
			r.pieces = append(r.pieces, piece{slot: add(inner)})
			rest = rest[i+j+1:]
		}
		return r, nil
	}
	var err error
	fail := func(what string, e error) error {
		return fmt.Errorf("source %s: %s: %w", src.Name, what, e)
	}
	if m.id, err = compile(src.Map.ID); err != nil {
		return nil, fail("map.id", err)
	}
	if p := m.id.pieces; len(p) == 3 && len(m.id.xf) == 0 && p[0].slot >= 0 && p[1].slot < 0 && p[1].lit != "" && p[2].slot >= 0 {
		m.schema.IDSep = p[1].lit
	}
	if m.name, err = compile(src.Map.Name); err != nil {
		return nil, fail("map.name", err)
	}
	if m.seen, err = compile(src.Map.Seen); err != nil {
		return nil, fail("map.seen", err)
	}
	for _, name := range sortedKeys(src.Map.Keys) {
		km := keyMap{name: name, norm: norm.Func(name), check: norm.Check(name)}
		for _, p := range src.Map.Keys[name] {
			r, err := compile(p)
			if err != nil {
				return nil, fail("key "+name, err)
			}
			km.refs = append(km.refs, r)
		}
		m.keys = append(m.keys, km)
	}
	for _, name := range sortedKeys(src.Map.Fields) {
		f := src.Map.Fields[name]
		r, err := compile(f.Path)
		if err != nil {
			return nil, fail("field "+name, err)
		}
		fm := fieldMap{name: name, path: f.Path, ref: r, typ: f.Type, format: f.Format, required: f.Required}
		for _, t := range r.xf {
			fm.split = fm.split || t.many
		}
		if r.xf != nil && f.Type != "" && f.Type != "auto" && f.Type != "string" && f.Type != "list" {
			return nil, fail("field "+name, fmt.Errorf("transforms give text; type %s cannot follow them", f.Type))
		}
		if len(f.Keep) > 0 {
			fm.keep = map[string]bool{}
			for _, k := range f.Keep {
				fm.keep[k] = true
			}
		}
		m.fields = append(m.fields, fm)
		m.schema.Fields = append(m.schema.Fields, name)
	}
	for _, name := range sortedKeys(src.Links) {
		for _, l := range src.Links[name] {
			r, err := compile(l.Path)
			if err != nil {
				return nil, fail("link "+name, err)
			}
			m.links = append(m.links, linkMap{path: l.Path, ref: r, norm: norm.Func(l.By)})
			m.schema.Links = append(m.schema.Links, onus.LinkSpec{Name: name, To: l.To, Key: l.By, Create: l.Create})
		}
	}
	if !src.Where.IsZero() {
		p, err := compileWhere(src.Where.Src)
		if err != nil {
			return nil, fmt.Errorf("source %s: where (line %d): %w", src.Name, src.Where.Line, err)
		}
		m.where = p
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// splitPath splits "a.b.c" into segments. A segment may be written in
// brackets to hold dots: a.["b.c"].
func splitPath(p string) []string {
	var segs []string
	for p != "" {
		if strings.HasPrefix(p, `["`) {
			if end := strings.Index(p, `"]`); end > 0 {
				segs = append(segs, p[2:end])
				p = strings.TrimPrefix(p[end+2:], ".")
				continue
			}
		}
		i := strings.IndexByte(p, '.')
		if i < 0 {
			segs = append(segs, p)
			break
		}
		segs = append(segs, p[:i])
		p = p[i+1:]
	}
	return segs
}

// Schema returns the schema of the records this mapping builds.
func (m *Mapping) Schema() onus.Schema { return m.schema }

// columns copies recs into a column store that keeps composite ids as
// their two parts, as the schema says.
func (m *Mapping) columns(recs []onus.Record) *onus.Records {
	rs := onus.NewRecords(len(recs))
	rs.SplitIDs(m.schema.IDSep)
	rs.AppendAll(recs)
	return rs
}

// Slots returns the distinct paths readers must fetch, in slot order.
func (m *Mapping) Slots() []string {
	out := make([]string, len(m.slots))
	for i, s := range m.slots {
		out[i] = s.path
	}
	return out
}

// resolve returns the text of a ref, and whether it was present. A
// template is present when any slot in it is; absent slots render empty,
// because exports leave some columns of a composite id blank.
func (m *Mapping) resolve(r ref, vals []raw, in *interner) (string, bool, error) {
	s, ok, err := m.resolveRaw(r, vals, in)
	if err != nil || !ok || r.xf == nil {
		return s, ok, err
	}
	out := apply(r.xf, s)
	if len(out) == 0 {
		return "", false, nil
	}
	return out[0], true, nil
}

// resolveAll returns every value of a ref: one, or several after a split.
func (m *Mapping) resolveAll(r ref, vals []raw, in *interner) ([]string, error) {
	s, ok, err := m.resolveRaw(r, vals, in)
	if err != nil || !ok {
		return nil, err
	}
	if r.xf == nil {
		if in != nil && fastPaths {
			// The list is read before the next call: one value needs
			// no list of its own.
			in.one[0] = s
			return in.one[:], nil
		}
		return []string{s}, nil
	}
	return apply(r.xf, s), nil
}

// resolveRaw returns the text of a ref before its transforms.
func (m *Mapping) resolveRaw(r ref, vals []raw, in *interner) (string, bool, error) {
	if r.pieces == nil {
		if r.slot < 0 || vals[r.slot].absent() {
			return "", false, nil
		}
		var s string
		var err error
		if fastPaths {
			s, err = in.text(r.slot, &vals[r.slot])
		} else {
			s, err = vals[r.slot].text(in)
		}
		return s, err == nil && s != "", err
	}
	// The pieces are appended straight into the interner's byte arena:
	// a composite id ("{host_uuid}/{path}") is unique per record, and
	// building it costs no allocation of its own.
	var buf []byte
	if in != nil {
		buf = in.scratch[:0]
	}
	present := false
	for _, p := range r.pieces {
		if p.slot < 0 {
			buf = append(buf, p.lit...)
			continue
		}
		v := &vals[p.slot]
		if v.absent() {
			continue
		}
		var err error
		if buf, err = v.appendText(buf); err != nil {
			return "", false, err
		}
		present = true
	}
	if in != nil {
		in.scratch = buf[:0]
	}
	return in.arenaString(buf), present, nil
}

// build maps one record's values. presence counts, per field, the records
// in which the field was present. When the record cannot be mapped, build
// returns a problem and, if the record's id could be read, a stub: the
// record marked Skipped with the identity keys that could be read, so that
// it still joins its entity and makes the results that read it unknown.
func (m *Mapping) build(vals []raw, loc int, presence []int, in *interner) (onus.Record, *Problem) {
	rec := onus.Record{Loc: loc}
	id, ok, err := m.resolve(m.id, vals, in)
	if err != nil {
		return rec, &Problem{Loc: loc, Field: "id", Message: fmt.Sprintf("id %s (path %s)", err.Error(), m.slotPath(m.id))}
	}
	if !ok {
		return rec, &Problem{Loc: loc, Field: "id", Message: fmt.Sprintf("no id at %s", m.slotPath(m.id))}
	}
	rec.ID = id
	if prob := m.checkSizes(vals, loc, id); prob != nil {
		return m.stub(rec, vals, in), prob
	}
	if m.name.slot >= 0 || m.name.pieces != nil {
		name, _, err := m.resolve(m.name, vals, in)
		if err != nil {
			return m.stub(rec, vals, in), &Problem{Loc: loc, ID: id, Field: "name", Message: fmt.Sprintf("name %s (path %s)", err.Error(), m.slotPath(m.name))}
		}
		rec.Name = name
	}
	if m.seen.slot >= 0 {
		v := &vals[m.seen.slot]
		if !v.absent() {
			t, err := v.time("", in)
			if err != nil {
				return m.stub(rec, vals, in), &Problem{Loc: loc, ID: id, Field: "seen", Message: err.Error()}
			}
			rec.Seen = t.Unix()
		}
	}
	// Keys are gathered in the interner's scratch list and copied into a
	// slab once: one record's few keys cost no allocation of their own.
	if fastPaths && in != nil && len(m.keys) > 0 {
		rec.Keys = in.keyBuf[:0]
	}
	for ki, k := range m.keys {
		for _, r := range k.refs {
			all, err := m.resolveAll(r, vals, in)
			if err != nil {
				return m.stub(rec, vals, in), &Problem{Loc: loc, ID: id, Field: "key " + k.name, Message: fmt.Sprintf("%s (path %s)", err.Error(), m.slotPath(r))}
			}
			for _, s := range all {
				var v string
				if r.pieces == nil && r.xf == nil {
					v = in.normSlot(ki, r.slot, s, k.norm)
				} else {
					v = in.norm(ki, s, k.norm)
				}
				if v != "" && !hasKey(rec.Keys, k.name, v) {
					rec.Keys = append(rec.Keys, onus.Key{Name: k.name, Value: v})
				} else if v == "" {
					// Keep why a value was ignored, for explain.
					if _, why := k.check(s); why != "" {
						if raw := strings.TrimSpace(s); !hasKey(rec.Keys, onus.IgnoredKeyPrefix+k.name, raw+"\t"+why) {
							rec.Keys = append(rec.Keys, onus.Key{Name: onus.IgnoredKeyPrefix + k.name, Value: raw + "\t" + why})
						}
					}
				}
			}
		}
	}
	if fastPaths && in != nil && len(m.keys) > 0 {
		in.keyBuf = rec.Keys[:0]
		rec.Keys = in.keySlice(rec.Keys)
	}
	if len(m.links) > 0 {
		rec.Links = in.stringSlice(len(m.links))
		for i, l := range m.links {
			s, ok, err := m.resolve(l.ref, vals, in)
			if err != nil {
				return m.stub(rec, vals, in), &Problem{Loc: loc, ID: id, Field: "link " + l.path, Message: err.Error()}
			}
			if ok {
				if l.ref.pieces == nil && l.ref.xf == nil {
					rec.Links[i] = in.normSlot(len(m.keys)+i, l.ref.slot, s, l.norm)
				} else {
					rec.Links[i] = in.norm(len(m.keys)+i, s, l.norm)
				}
			}
		}
	}
	if len(m.fields) > 0 {
		attrs := in.attrScratch(len(m.fields))
		for i, f := range m.fields {
			var v any
			var err error
			if f.ref.xf != nil {
				// Transformed values are text: one, or a list after a split.
				var all []string
				all, err = m.resolveAll(f.ref, vals, in)
				switch {
				case len(all) == 1 && !f.split:
					v = in.box(all[0])
				case len(all) > 0:
					l := make([]any, len(all))
					for i, s := range all {
						l[i] = s
					}
					v = l
				}
			} else if f.ref.pieces != nil {
				var s string
				var ok bool
				s, ok, err = m.resolve(f.ref, vals, in)
				if ok {
					v = in.box(s)
				}
			} else {
				if r := &vals[f.ref.slot]; f.keep != nil && keptDecode(r, f.typ) {
					// Only the kept keys are built.
					v, err = r.decodeKept(f.keep, in)
				} else {
					v, err = in.convert(f.ref.slot, r, f.typ, f.format)
					if f.keep != nil && err == nil {
						v = project(v, f.keep, in)
					}
				}
			}
			if err != nil {
				return m.stub(rec, vals, in), &Problem{Loc: loc, ID: id, Field: f.name, Message: fmt.Sprintf("%s (path %s)", err.Error(), f.path)}
			}
			if v == nil {
				if f.required {
					return m.stub(rec, vals, in), &Problem{Loc: loc, ID: id, Field: f.name, Message: fmt.Sprintf("required field is empty or missing (path %s)", f.path)}
				}
				continue
			}
			presence[i]++
			attrs[i] = v
		}
		rec.Attrs = in.attrs(attrs)
	}
	return rec, nil
}

// checkSizes refuses a record holding a value longer than the limit.
func (m *Mapping) checkSizes(vals []raw, loc int, id string) *Problem {
	for i := range vals {
		n := len(vals[i].b) + len(vals[i].cell)
		if n > m.maxValue {
			return &Problem{Loc: loc, ID: id, Field: m.slots[i].path,
				Message: fmt.Sprintf("the value at %s is %d bytes, more than the limit of %d (from.max_value_bytes)", m.slots[i].path, n, m.maxValue)}
		}
	}
	return nil
}

// stub returns the skipped record for rec: its id and location, and the
// identity keys that can be read; no name, link or attribute.
func (m *Mapping) stub(rec onus.Record, vals []raw, in *interner) onus.Record {
	st := onus.Record{ID: rec.ID, Loc: rec.Loc, Skipped: true}
	for ki, k := range m.keys {
		for _, r := range k.refs {
			s, ok, err := m.resolve(r, vals, in)
			if err != nil || !ok {
				continue
			}
			if v := in.norm(ki, s, k.norm); v != "" && !hasKey(st.Keys, k.name, v) {
				st.Keys = append(st.Keys, onus.Key{Name: k.name, Value: v})
			}
		}
	}
	if len(m.links) > 0 {
		st.Links = make([]string, len(m.links))
	}
	if len(m.fields) > 0 {
		st.Attrs = make([]any, len(m.fields))
	}
	return st
}

// Skip turns rec into the stub of a skipped record: its id, location and
// keys stay, its name, links and attributes go.
func Skip(rec *onus.Record) {
	rec.Skipped, rec.Name, rec.Seen = true, "", 0
	for i := range rec.Links {
		rec.Links[i] = ""
	}
	if rec.Attrs != nil {
		rec.Attrs = make([]any, len(rec.Attrs))
	}
}

// project keeps only the wanted keys of an object, or of each object in a
// list, and shares their string values through the interner.
func project(v any, keep map[string]bool, in *interner) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(keep))
		for k, val := range x {
			if keep[k] {
				if s, ok := val.(string); ok {
					val = in.box(s)
				}
				out[in.str(k)] = val
			}
		}
		return out
	case []any:
		for i, el := range x {
			x[i] = project(el, keep, in)
		}
		return x
	}
	return v
}

func (m *Mapping) slotPath(r ref) string {
	if r.slot >= 0 {
		return m.slots[r.slot].path
	}
	var parts []string
	for _, p := range r.pieces {
		if p.slot >= 0 {
			parts = append(parts, m.slots[p.slot].path)
		}
	}
	return strings.Join(parts, ", ")
}

func hasKey(keys []onus.Key, name, value string) bool {
	for _, k := range keys {
		if k.Name == name && k.Value == value {
			return true
		}
	}
	return false
}

// dropKeys removes from rec the keys read from slot s, whose value is
// damaged.
func (m *Mapping) dropKeys(rec *onus.Record, s int) {
	for _, k := range m.keys {
		uses := false
		for _, r := range k.refs {
			if r.slot == s {
				uses = true
			}
			for _, p := range r.pieces {
				if p.slot == s {
					uses = true
				}
			}
		}
		if !uses {
			continue
		}
		kept := rec.Keys[:0]
		for _, key := range rec.Keys {
			if key.Name != k.name {
				kept = append(kept, key)
			}
		}
		rec.Keys = kept
	}
}

// Value classes, for the consistency check across a batch.
const (
	clsAbsent uint8 = iota
	clsNull
	clsEmpty
	clsString
	clsNumber
	clsBool
	clsObject
	clsArray
	nClasses
)

var clsNames = [nClasses]string{"absent", "null", "empty", "text", "a number", "true or false", "an object", "a list"}

func (r *raw) class() uint8 {
	if r.csv {
		if strings.TrimSpace(r.cell) == "" {
			return clsEmpty
		}
		return clsString
	}
	switch r.t {
	case jsonparser.Null:
		return clsNull
	case jsonparser.String:
		if len(r.b) == 0 {
			return clsEmpty
		}
		return clsString
	case jsonparser.Number:
		return clsNumber
	case jsonparser.Boolean:
		return clsBool
	case jsonparser.Object:
		return clsObject
	case jsonparser.Array:
		return clsArray
	}
	return clsAbsent
}

// sig appends the class of every value of a record to dst.
func sig(vals []raw, dst []uint8) []uint8 {
	for i := range vals {
		dst = append(dst, vals[i].class())
	}
	return dst
}

// consistent checks every record of a batch against the others: a value
// of another type than the same path holds in (nearly) every other record
// (the number 1 where every report has a status such as "clear"), or an
// empty name or identity key where (nearly) every other record has one,
// is damage, and the record is skipped. sigs holds, per record, the class
// of each slot's value. It returns the problems, and marks the records.
func (m *Mapping) consistent(recs []onus.Record, sigs []uint8, file string) (probs []*Problem, warnings []string) {
	w := len(m.slots)
	if w == 0 || len(sigs) != len(recs)*w {
		return nil, nil
	}
	bad := func(i int, field, msg string) {
		if recs[i].Skipped {
			return
		}
		Skip(&recs[i])
		probs = append(probs, &Problem{File: file, Line: recs[i].Loc, ID: recs[i].ID, Field: field, Message: msg})
	}
	// Types, per path.
	counts := make([][nClasses]int, w)
	for i := range recs {
		if recs[i].Skipped {
			continue
		}
		for s := 0; s < w; s++ {
			counts[s][sigs[i*w+s]]++
		}
	}
	for s := 0; s < w; s++ {
		dom, n := clsString, 0
		for c := clsString; c < nClasses; c++ {
			if counts[s][c] > n {
				dom, n = c, counts[s][c]
			}
		}
		for c := clsString; c < nClasses; c++ {
			if c == dom || counts[s][c] == 0 || counts[s][c]*10 >= n {
				continue
			}
			for i := range recs {
				if sigs[i*w+s] == c {
					m.dropKeys(&recs[i], s)
					bad(i, m.slots[s].path, fmt.Sprintf("the value at %s is %s where %d other records hold %s", m.slots[s].path, clsNames[c], n, clsNames[dom]))
				}
			}
		}
	}
	// Names and identity keys that are empty where the others have one.
	type group struct {
		what  string
		slots []int
	}
	var groups, warnGroups []group
	refSlots := func(r ref) []int {
		if r.slot >= 0 {
			return []int{r.slot}
		}
		var out []int
		for _, p := range r.pieces {
			if p.slot >= 0 {
				out = append(out, p.slot)
			}
		}
		return out
	}
	if sl := refSlots(m.name); len(sl) > 0 {
		groups = append(groups, group{"name", sl})
	}
	// A record with no identity key at all cannot join its entity; an
	// empty key where the others have one is common in real exports (a
	// virtual machine with no serial) and only warned about.
	var all []int
	for _, k := range m.keys {
		var sl []int
		for _, r := range k.refs {
			sl = append(sl, refSlots(r)...)
		}
		all = append(all, sl...)
		warnGroups = append(warnGroups, group{"key " + k.name, sl})
	}
	if len(all) > 0 {
		groups = append(groups, group{"every identity key", all})
	}
	isEmpty := func(g group, i int) bool {
		for _, s := range g.slots {
			if sigs[i*w+s] >= clsString {
				return false
			}
		}
		return true
	}
	paths := func(g group) string {
		p := make([]string, len(g.slots))
		for j, s := range g.slots {
			p[j] = m.slots[s].path
		}
		return strings.Join(p, ", ")
	}
	count := func(g group) (present int, missing []int) {
		for i := range recs {
			if recs[i].Skipped {
				continue
			}
			if isEmpty(g, i) {
				missing = append(missing, i)
			} else {
				present++
			}
		}
		return present, missing
	}
	for _, g := range groups {
		present, missing := count(g)
		if len(missing) == 0 || len(missing)*10 >= present {
			continue
		}
		for _, i := range missing {
			bad(i, g.what, fmt.Sprintf("%s is empty (path %s) where %d other records have one", g.what, paths(g), present))
		}
	}
	for _, g := range warnGroups {
		present, missing := count(g)
		if len(missing) == 0 || present == 0 {
			continue
		}
		var lines []string
		for _, i := range missing[:min(len(missing), 5)] {
			lines = append(lines, fmt.Sprint(recs[i].Loc))
		}
		more := ""
		if len(missing) > 5 {
			more = ", …"
		}
		warnings = append(warnings, fmt.Sprintf("%s (path %s) was empty in %d of %d records (at %s%s); they are matched by their other keys",
			g.what, paths(g), len(missing), len(missing)+present, strings.Join(lines, ", "), more))
	}
	return probs, warnings
}
