package source

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"sort"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/identity"
)

// A Mapping turns the values found at configured paths into an onus record.
// It is compiled once per sync and used from several goroutines.
type Mapping struct {
	source string
	kind   string
	slots  []slot
	id     ref
	name   ref
	seen   ref
	keys   []keyMap
	fields []fieldMap
	links  []linkMap
	schema onus.Schema
	// where keeps only the records it is true of; nil keeps all.
	where cel.Program
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
	m := &Mapping{source: src.Name, kind: src.Kind}
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
		s, err := vals[r.slot].text(in)
		return s, err == nil && s != "", err
	}
	var b strings.Builder
	size := 0
	for _, p := range r.pieces {
		if p.slot < 0 {
			size += len(p.lit)
		} else {
			size += len(vals[p.slot].b) + len(vals[p.slot].cell)
		}
	}
	b.Grow(size)
	present := false
	for _, p := range r.pieces {
		if p.slot < 0 {
			b.WriteString(p.lit)
			continue
		}
		v := &vals[p.slot]
		if v.absent() {
			continue
		}
		s, err := v.text(nil)
		if err != nil {
			return "", false, err
		}
		present = true
		b.WriteString(s)
	}
	return b.String(), present, nil
}

// build maps one record's values. presence counts, per field, the records
// in which the field was present.
func (m *Mapping) build(vals []raw, loc int, presence []int, in *interner) (onus.Record, *Problem) {
	rec := onus.Record{Loc: loc}
	id, ok, err := m.resolve(m.id, vals, in)
	if err != nil {
		return rec, &Problem{Loc: loc, Field: "id", Message: "id " + err.Error()}
	}
	if !ok {
		return rec, &Problem{Loc: loc, Field: "id", Message: fmt.Sprintf("no id at %s", m.slotPath(m.id))}
	}
	rec.ID = id
	if m.name.slot >= 0 || m.name.pieces != nil {
		name, _, err := m.resolve(m.name, vals, in)
		if err != nil {
			return rec, &Problem{Loc: loc, ID: id, Field: "name", Message: "name " + err.Error()}
		}
		rec.Name = name
	}
	if m.seen.slot >= 0 {
		v := &vals[m.seen.slot]
		if !v.absent() {
			t, err := v.time("", in)
			if err != nil {
				return rec, &Problem{Loc: loc, ID: id, Field: "seen", Message: err.Error()}
			}
			rec.Seen = t.Unix()
		}
	}
	for ki, k := range m.keys {
		for _, r := range k.refs {
			all, err := m.resolveAll(r, vals, in)
			if err != nil {
				return rec, &Problem{Loc: loc, ID: id, Field: "key " + k.name, Message: err.Error()}
			}
			for _, s := range all {
				v := in.norm(ki, s, k.norm)
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
	if len(m.links) > 0 {
		rec.Links = in.stringSlice(len(m.links))
		for i, l := range m.links {
			s, ok, err := m.resolve(l.ref, vals, in)
			if err != nil {
				return rec, &Problem{Loc: loc, ID: id, Field: "link " + l.path, Message: err.Error()}
			}
			if ok {
				rec.Links[i] = in.norm(len(m.keys)+i, s, l.norm)
			}
		}
	}
	if len(m.fields) > 0 {
		rec.Attrs = in.anySlice(len(m.fields))
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
				v, err = vals[f.ref.slot].convert(f.typ, f.format, in)
				if f.keep != nil && err == nil {
					v = project(v, f.keep, in)
				}
			}
			if err != nil {
				return rec, &Problem{Loc: loc, ID: id, Field: f.name, Message: fmt.Sprintf("%s (path %s)", err.Error(), f.path)}
			}
			if v == nil {
				if f.required {
					return rec, &Problem{Loc: loc, ID: id, Field: f.name, Message: fmt.Sprintf("required field is missing (path %s)", f.path)}
				}
				continue
			}
			presence[i]++
			rec.Attrs[i] = v
		}
	}
	return rec, nil
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
