package policy

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/inventory"
)

// Read is one value a check read, kept as evidence.
type Read struct {
	Path    string
	Value   any
	Present bool
}

// Tracker records what an evaluation read: values for evidence, and the
// sources they came from, so that a result that depends on an unhealthy
// source can be called unknown.
type Tracker struct {
	Reads   []Read
	Sources map[int]bool
}

// absent records, for a link or attribute the entity does not have, the
// sources that could have given it: a value missing because its source
// is unhealthy is not evidence.
func (t *Tracker) absent(inv *inventory.Inventory, kind, name string, link bool) {
	if t == nil {
		return
	}
	if t.Sources == nil {
		t.Sources = map[int]bool{}
	}
	for i, s := range inv.Sources {
		if s.Snapshot == nil {
			continue
		}
		if s.Kind == kind {
			if link {
				for _, l := range s.Snapshot.Schema.Links {
					if l.Name == name {
						t.Sources[i] = true
						for j, o := range inv.Sources {
							if o.Kind == l.To {
								t.Sources[j] = true
							}
						}
					}
				}
			} else if s.Snapshot.Schema.FieldIndex(name) >= 0 {
				t.Sources[i] = true
			}
		}
	}
}

func (t *Tracker) read(path string, v any, present bool, src int) {
	if t == nil {
		return
	}
	if src >= 0 {
		if t.Sources == nil {
			t.Sources = map[int]bool{}
		}
		t.Sources[src] = true
	}
	for _, r := range t.Reads {
		if r.Path == path {
			return
		}
	}
	t.Reads = append(t.Reads, Read{Path: path, Value: v, Present: present})
}

// Evidence renders the reads as evidence, with times relative to now.
func (t *Tracker) Evidence(now time.Time) []onus.Evidence {
	if t == nil {
		return nil
	}
	out := make([]onus.Evidence, 0, len(t.Reads))
	for _, r := range t.Reads {
		out = append(out, onus.Evidence{Path: r.Path, Value: FormatValue(r.Value, r.Present, now)})
	}
	return out
}

// FormatValue renders a value for people: times with their age, lists by
// size, absence as "absent".
func FormatValue(v any, present bool, now time.Time) string {
	if !present {
		return "absent"
	}
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339) + " (" + Ago(x, now) + ")"
	case string:
		return strconv.Quote(x)
	case []any:
		return summarizeList(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "{" + strings.Join(keys, ", ") + "}"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "absent"
	}
	return fmt.Sprint(v)
}

// summarizeList shows a list briefly: its size and, for lists of objects
// (factors, policies), each object's short scalar fields, leaving out ids,
// links and times, which say little about why a check failed.
func summarizeList(l []any) string {
	if len(l) == 0 {
		return "an empty list"
	}
	var items []string
	for i, el := range l {
		if i == 3 {
			items = append(items, fmt.Sprintf("… %d more", len(l)-3))
			break
		}
		m, ok := el.(map[string]any)
		if !ok {
			items = append(items, fmt.Sprint(el))
			continue
		}
		var fields []string
		for k, v := range m {
			sv, ok := v.(string)
			if !ok || k == "id" || strings.HasPrefix(k, "_") || len(sv) > 32 || looksLikeTime(sv) {
				continue
			}
			fields = append(fields, k+": "+sv)
		}
		sort.Strings(fields)
		items = append(items, "{"+strings.Join(fields, ", ")+"}")
	}
	return fmt.Sprintf("%d: [%s]", len(l), strings.Join(items, ", "))
}

func looksLikeTime(s string) bool {
	return len(s) >= 10 && s[4] == '-' && s[7] == '-' && s[0] >= '0' && s[0] <= '9'
}

// Ago says how long before now t was, in days when it is a day or more.
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d >= 48*time.Hour:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 24*time.Hour:
		s = "1 day"
	case d >= 2*time.Hour:
		s = fmt.Sprintf("%d hours", int(d/time.Hour))
	case d >= time.Minute:
		s = fmt.Sprintf("%d minutes", int(d/time.Minute))
	default:
		return "now"
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// scope is what values need to read the inventory during one evaluation.
type scope struct {
	inv     *inventory.Inventory
	members map[string]map[string]member // kind → name → what it is
	tracker *Tracker
}

type member uint8

const (
	memberNone member = iota
	memberAttr
	memberLink
	memberKey
)

var (
	mapType       = types.MapType
	errNotEntity  = fmt.Errorf("not an entity")
	reservedNames = []string{"id", "kind", "name", "keys", "sources"}
)

// EntityVal is an entity as CEL sees it.
type EntityVal struct {
	s    *scope
	E    int32
	path string
}

var _ traits.Mapper = (*EntityVal)(nil)

func (v *EntityVal) sub(name string) string {
	if v.path == "" {
		return name
	}
	return v.path + "." + name
}

// ConvertToNative is not supported: entities stay inside CEL.
func (v *EntityVal) ConvertToNative(reflect.Type) (any, error) { return nil, errNotEntity }

// ConvertToType supports type(entity).
func (v *EntityVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return mapType
	}
	return types.NewErr("cannot convert an entity to %s", t.TypeName())
}

// Equal compares entities by identity.
func (v *EntityVal) Equal(o ref.Val) ref.Val {
	other, ok := o.(*EntityVal)
	return types.Bool(ok && other.E == v.E)
}

// Type is map: entities behave like maps of their fields.
func (v *EntityVal) Type() ref.Type { return mapType }

// Value returns the entity id.
func (v *EntityVal) Value() any { return v.s.inv.ID(v.E) }

// Contains reports whether a field is present.
func (v *EntityVal) Contains(key ref.Val) ref.Val {
	_, found := v.Find(key)
	return types.Bool(found)
}

// Get returns a field or a "no such key" error.
func (v *EntityVal) Get(key ref.Val) ref.Val {
	val, found := v.Find(key)
	if !found {
		if types.IsError(val) {
			return val
		}
		return types.NewErr("no such key: %v", key)
	}
	return val
}

// Find looks up a field: a reserved one, a link or a merged attribute.
func (v *EntityVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.NewErr("entity fields are strings, not %s", key.Type().TypeName()), false
	}
	name := string(k)
	inv := v.s.inv
	switch name {
	case "id":
		return types.String(inv.ID(v.E)), true
	case "kind":
		return types.String(inv.Kind(v.E)), true
	case "name":
		n := inv.Name(v.E)
		v.s.tracker.read(v.sub("name"), n, true, -1)
		return types.String(n), true
	case "keys":
		m := map[string][]string{}
		for _, kv := range inv.Keys(v.E) {
			m[kv.Name] = append(m[kv.Name], kv.Value)
		}
		return types.DefaultTypeAdapter.NativeToValue(m), true
	case "sources":
		return &sourcesVal{s: v.s, e: v.E, path: v.sub("sources")}, true
	}
	switch v.s.members[inv.Kind(v.E)][name] {
	case memberLink:
		t, ok := inv.Link(v.E, name)
		if v.s.tracker != nil {
			// Which source made the link matters only when tracking.
			_, _, src, _, _ := inv.LinkVia(v.E, name)
			if !ok {
				v.s.tracker.read(v.sub(name), nil, false, -1)
				// An absent link depends on every source that could have
				// made it: those that map it, and those of its target kind.
				v.s.tracker.absent(v.s.inv, inv.Kind(v.E), name, true)
			} else {
				v.s.tracker.read(v.sub(name), inv.ID(t), true, inv.SourceIndex(src))
			}
		}
		if !ok {
			return nil, false
		}
		return &EntityVal{s: v.s, E: t, path: v.sub(name)}, true
	case memberKey:
		for _, kv := range inv.Keys(v.E) {
			if kv.Name == name {
				v.s.tracker.read(v.sub(name), kv.Value, true, -1)
				return types.String(kv.Value), true
			}
		}
		v.s.tracker.read(v.sub(name), nil, false, -1)
		return nil, false
	case memberAttr:
		val, src, ok := inv.Attr(v.E, name)
		if !ok {
			v.s.tracker.read(v.sub(name), nil, false, -1)
			v.s.tracker.absent(v.s.inv, inv.Kind(v.E), name, false)
			return nil, false
		}
		v.s.tracker.read(v.sub(name), val, true, src)
		return native(val), true
	}
	return nil, false
}

// Iterator lists the fields present.
func (v *EntityVal) Iterator() traits.Iterator {
	names := append([]string(nil), reservedNames...)
	for name, m := range v.s.members[v.s.inv.Kind(v.E)] {
		if _, found := v.Find(types.String(name)); found && m != memberNone {
			names = append(names, name)
		}
	}
	sort.Strings(names[len(reservedNames):])
	return newStringIterator(names)
}

// Size counts the fields present.
func (v *EntityVal) Size() ref.Val {
	n := 0
	it := v.Iterator()
	for it.HasNext() == types.True {
		it.Next()
		n++
	}
	return types.Int(n)
}

// sourcesVal is entity.sources: a map from source name to the entity's
// freshest record in that source.
type sourcesVal struct {
	s    *scope
	e    int32
	path string
}

func (v *sourcesVal) ConvertToNative(reflect.Type) (any, error) { return nil, errNotEntity }
func (v *sourcesVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return mapType
	}
	return types.NewErr("cannot convert sources to %s", t.TypeName())
}
func (v *sourcesVal) Equal(o ref.Val) ref.Val { return types.False }
func (v *sourcesVal) Type() ref.Type          { return mapType }
func (v *sourcesVal) Value() any              { return nil }

func (v *sourcesVal) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.NewErr("source names are strings")
	}
	si := v.s.inv.SourceIndex(string(k))
	if si < 0 {
		return types.False
	}
	_, has := v.s.inv.InSource(v.e, si)
	v.s.tracker.read(v.path+"."+string(k), presence(has), true, si)
	return types.Bool(has)
}

func presence(has bool) string {
	if has {
		return "present"
	}
	return "absent"
}

func (v *sourcesVal) Get(key ref.Val) ref.Val {
	val, found := v.Find(key)
	if !found {
		return types.NewErr("no such key: %v (the entity has no record in that source)", key)
	}
	return val
}

func (v *sourcesVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.NewErr("source names are strings"), false
	}
	si := v.s.inv.SourceIndex(string(k))
	if si < 0 {
		return nil, false
	}
	r, has := v.s.inv.InSource(v.e, si)
	if !has {
		v.s.tracker.read(v.path+"."+string(k), "absent", true, si)
		return nil, false
	}
	return &recordVal{s: v.s, r: r, e: v.e, path: v.path + "." + string(k)}, true
}

func (v *sourcesVal) Iterator() traits.Iterator {
	var names []string
	for _, si := range v.s.inv.SourcesOf(v.e) {
		names = append(names, v.s.inv.Sources[si].Name)
	}
	return newStringIterator(names)
}

func (v *sourcesVal) Size() ref.Val { return types.Int(len(v.s.inv.SourcesOf(v.e))) }

// recordVal is one record's attributes. The record that speaks for a
// source also holds `records`: every record the entity has in that source,
// oldest first, the speaking one last.
type recordVal struct {
	s    *scope
	r    inventory.RecRef
	e    int32 // the entity, for records; -1 inside records
	path string
}

func (v *recordVal) ConvertToNative(reflect.Type) (any, error) { return nil, errNotEntity }
func (v *recordVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return mapType
	}
	return types.NewErr("cannot convert a record to %s", t.TypeName())
}
func (v *recordVal) Equal(o ref.Val) ref.Val { return types.False }
func (v *recordVal) Type() ref.Type          { return mapType }
func (v *recordVal) Value() any              { return nil }

func (v *recordVal) Contains(key ref.Val) ref.Val {
	_, found := v.Find(key)
	return types.Bool(found)
}

func (v *recordVal) Get(key ref.Val) ref.Val {
	val, found := v.Find(key)
	if !found {
		return types.NewErr("no such key: %v", key)
	}
	return val
}

func (v *recordVal) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.NewErr("field names are strings"), false
	}
	name := string(k)
	switch name {
	case "id":
		return types.String(v.s.inv.RecordsOf(v.r).ID(int(v.r.Idx))), true
	case "name":
		return types.String(v.s.inv.RecordsOf(v.r).Name(int(v.r.Idx))), true
	case "records":
		if v.e < 0 {
			return nil, false
		}
		refs := v.s.inv.InSourceAll(v.e, int(v.r.Src))
		vals := make([]ref.Val, len(refs))
		for i, r := range refs {
			vals[i] = &recordVal{s: v.s, r: r, e: -1, path: fmt.Sprintf("%s.records[%d]", v.path, i)}
		}
		v.s.tracker.read(v.path+".records", plural(len(refs), "record"), true, int(v.r.Src))
		return types.NewRefValList(types.DefaultTypeAdapter, vals), true
	}
	val, has := v.s.inv.RecordAttr(v.r, name)
	v.s.tracker.read(v.path+"."+name, val, has, int(v.r.Src))
	if !has {
		return nil, false
	}
	return native(val), true
}

func (v *recordVal) Iterator() traits.Iterator {
	s := v.s.inv.SourceOf(v.r)
	var names []string
	for i, f := range s.Snapshot.Schema.Fields {
		if v.s.inv.RecordsOf(v.r).Attr(int(v.r.Idx), i) != nil {
			names = append(names, f)
		}
	}
	return newStringIterator(names)
}

func (v *recordVal) Size() ref.Val {
	n := 0
	for _, a := range v.s.inv.Record(v.r).Attrs {
		if a != nil {
			n++
		}
	}
	return types.Int(n)
}

// native converts an attribute value to CEL.
func native(v any) ref.Val {
	switch x := v.(type) {
	case string:
		return types.String(x)
	case int64:
		return types.Int(x)
	case float64:
		return types.Double(x)
	case bool:
		return types.Bool(x)
	case time.Time:
		return types.Timestamp{Time: x}
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}

type stringIterator struct {
	names []string
	i     int
}

func newStringIterator(names []string) traits.Iterator { return &stringIterator{names: names} }

func (it *stringIterator) ConvertToNative(reflect.Type) (any, error) { return nil, errNotEntity }
func (it *stringIterator) ConvertToType(ref.Type) ref.Val            { return types.NewErr("iterator") }
func (it *stringIterator) Equal(ref.Val) ref.Val                     { return types.False }
func (it *stringIterator) Type() ref.Type                            { return types.IteratorType }
func (it *stringIterator) Value() any                                { return nil }
func (it *stringIterator) HasNext() ref.Val                          { return types.Bool(it.i < len(it.names)) }
func (it *stringIterator) Next() ref.Val {
	if it.i >= len(it.names) {
		return nil
	}
	it.i++
	return types.String(it.names[it.i-1])
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
