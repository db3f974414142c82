// Package inventory correlates records from every source into entities: one
// per real-world thing, merged by identity keys, strongest key first, and
// linked to each other (device → owner, person → manager, software →
// device). Building an inventory is pure: the same snapshots and settings
// give the same entities with the same ids.
//
// Entities are kept compact because an organisation has millions of
// software records: an entity is a few indexes into the snapshots, and its
// id, name and attributes are derived when asked for.
package inventory

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/identity"
)

// SourceInput is one source's snapshot as the inventory sees it.
type SourceInput struct {
	Name string
	Kind string
	// Creates is false for a source whose records may only add to entities
	// other sources know.
	Creates bool
	// Healthy is false when the last sync failed or looked wrong; the
	// snapshot is then the last good one, kept in force.
	Healthy bool
	// Reason says why the source is unhealthy.
	Reason   string
	Snapshot *onus.Snapshot
}

// Input is everything an inventory is built from.
type Input struct {
	// Sources in priority order: when merged attributes disagree, the
	// earlier source wins.
	Sources []SourceInput
	// Correlate lists, per kind, the keys that merge records, strongest first.
	Correlate map[string][]string
	// Strong reports whether a key is single-valued for the life of a thing
	// (a serial number, a hardware UUID, an employee id): only such a key
	// vetoes a merge. By default, the keys named serial, uuid and
	// employee_id.
	Strong func(key string) bool
	// Hints lists, per kind, keys that never merge records but make a
	// possible match: a Checkr candidate with no employee id whose name is
	// a person's name. The match is shown, not made, until an admin links
	// or unlinks the two by hand.
	Hints map[string][]string
	// Manual are the links and unlinks an admin made by hand, applied
	// before any key.
	Manual []Manual
}

// Manual is a link or an unlink made by hand between two references: a
// record ("source:record-id") or an entity id ("kind:key:value", all the
// records with that key).
type Manual struct {
	A, B string
	// Linked is true for "the same thing", false for "never the same".
	Linked bool
}

// RecRef points at one record: the source's position and the record's.
type RecRef struct {
	Src uint16
	Idx uint32
}

// Entity is one real-world thing. Use the Inventory's methods to read it.
// It is 24 bytes: an inventory holds millions.
type Entity struct {
	kind uint16
	// linkN links are inv.links[linkOff:]; moreN further records, in
	// priority order, are inv.more[moreOff:].
	linkN   uint16
	linkOff int32
	first   RecRef
	moreOff int32
	moreN   int32
}

// Source is a source as held in the inventory.
type Source struct {
	SourceInput
	// Unmatched counts records of a non-creating source that joined no entity.
	Unmatched int
	// owner maps each record to its entity (-1 when unmatched).
	owner []int32
	// fields maps an attribute name to its position in the schema.
	fields map[string]int
}

// Link is a resolved link from an entity.
type Link struct {
	Target int32
	name   uint16
}

// NearMatch is two records that share a key but were not merged because a
// stronger key says they are different things.
type NearMatch struct {
	Kind     string
	Key      string // the shared key
	Value    string
	A, B     RecRef
	Conflict string   // the stronger key that disagrees
	AValues  []string // its values on A's side
	BValues  []string // and on B's
}

// Merge is one union of two groups of records, for explain.
type Merge struct {
	A, B  RecRef
	Key   string
	Value string
}

// Ambiguity is a record that shares a key value with several entities that
// cannot be one thing: onus does not guess, and keeps it apart.
type Ambiguity struct {
	Kind  string
	Key   string
	Value string
	Rec   RecRef
	// Candidates holds one record of each entity it could belong to.
	Candidates []RecRef
}

type kindData struct {
	name     string
	keys     []string // correlate keys, strongest first
	entities []int32
	// index maps key name → normalised value → entity; an ambiguous value
	// (two entities) maps to -2.
	index map[string]map[string]int32
	mu    sync.Mutex
	// keyNames are the identity keys any record of the kind has.
	keyNames map[string]bool
}

// Inventory is the correlated graph of entities.
type Inventory struct {
	Sources  []*Source
	entities []Entity
	more     []RecRef
	// synthetic holds the ids of entities made by a link with create; they
	// have no record.
	synthetic map[int32]string
	kinds     []*kindData
	kindByNm  map[string]uint16
	links     []Link
	linkNames []string
	linkByNm  map[string]uint16
	near      []NearMatch
	merges    []Merge
	ambiguous []Ambiguity
	// ambiguousBy indexes the ambiguities by the entities they involve.
	ambiguousBy map[int32][]int32
	strong      func(string) bool
	manual      []Manual
	hints       map[string][]string
	// manualUsed counts, per manual link, the records it matched.
	manualUsed []int
	// idOverride holds the ids of entities whose strongest key value is
	// another entity's too (two records kept apart as ambiguous that share
	// a MAC): they are named by source and record instead.
	idOverride map[int32]string
	// linkStats counts, per link name, the entities that declare the link
	// and those whose link found a target.
	linkStats map[string]*LinkStat
}

// LinkStat counts one link's resolution.
type LinkStat struct {
	Declared int `json:"declared"`
	Resolved int `json:"resolved"`
}

// Len returns the number of entities.
func (inv *Inventory) Len() int { return len(inv.entities) }

// Kinds returns the entity kinds, sorted.
func (inv *Inventory) Kinds() []string {
	out := make([]string, len(inv.kinds))
	for i, k := range inv.kinds {
		out[i] = k.name
	}
	sort.Strings(out)
	return out
}

// OfKind returns the entities of a kind, in a stable order.
func (inv *Inventory) OfKind(kind string) []int32 {
	k, ok := inv.kindByNm[kind]
	if !ok {
		return nil
	}
	return inv.kinds[k].entities
}

// Kind returns an entity's kind.
func (inv *Inventory) Kind(e int32) string { return inv.kinds[inv.entities[e].kind].name }

func (inv *Inventory) moreOf(ent *Entity) []RecRef {
	return inv.more[ent.moreOff : ent.moreOff+ent.moreN]
}

func (inv *Inventory) synth(e int32) string {
	if inv.entities[e].first.Src != noSource {
		return ""
	}
	return inv.synthetic[e]
}

// noSource marks the first record of a synthetic entity.
const noSource = 1<<16 - 1

// Records returns an entity's records, in priority order.
func (inv *Inventory) Records(e int32) []RecRef {
	ent := &inv.entities[e]
	if ent.first.Src == noSource {
		return nil
	}
	out := make([]RecRef, 0, 1+ent.moreN)
	out = append(out, ent.first)
	return append(out, inv.moreOf(ent)...)
}

// eachRecord calls fn for each record of an entity without allocating.
func (inv *Inventory) eachRecord(e int32, fn func(RecRef) bool) {
	ent := &inv.entities[e]
	if ent.first.Src == noSource {
		return
	}
	if !fn(ent.first) {
		return
	}
	for _, r := range inv.moreOf(ent) {
		if !fn(r) {
			return
		}
	}
}

// Record returns a copy of the record a reference points at, for
// explanations; hot paths read its columns through RecordsOf.
func (inv *Inventory) Record(r RecRef) onus.Record {
	return inv.RecordsOf(r).At(int(r.Idx))
}

// RecordsOf returns the records of the source a reference points into:
// the record is RecordsOf(r)'s r.Idx-th.
func (inv *Inventory) RecordsOf(r RecRef) *onus.Records {
	return inv.Sources[r.Src].Snapshot.Records
}

// SourceOf returns the source of a record.
func (inv *Inventory) SourceOf(r RecRef) *Source { return inv.Sources[r.Src] }

// Source returns the source with the given name, or nil.
func (inv *Inventory) Source(name string) *Source {
	for _, s := range inv.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// SourceIndex returns the position of the named source, or -1.
func (inv *Inventory) SourceIndex(name string) int {
	for i, s := range inv.Sources {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// Name returns an entity's display name: the first record name in source
// priority order, or its strongest key value.
func (inv *Inventory) Name(e int32) string {
	if id := inv.synth(e); id != "" {
		_, _, v := splitID(id)
		return v
	}
	name := ""
	inv.eachRecord(e, func(r RecRef) bool {
		if n := inv.RecordsOf(r).Name(int(r.Idx)); n != "" {
			name = n
			return false
		}
		return true
	})
	if name != "" {
		return name
	}
	_, _, v := splitID(inv.ID(e))
	return v
}

// ID returns an entity's stable id: "kind:key:value" for the strongest
// correlation key it has (the smallest value when it has several), or
// "kind:source:record-id" for an entity with no such key.
func (inv *Inventory) ID(e int32) string {
	if id := inv.synth(e); id != "" {
		return id
	}
	if len(inv.idOverride) > 0 {
		if id, ok := inv.idOverride[e]; ok {
			return id
		}
	}
	return inv.keyID(e)
}

// keyID is an entity's id by its strongest key.
func (inv *Inventory) keyID(e int32) string {
	ent := &inv.entities[e]
	kd := inv.kinds[ent.kind]
	for _, key := range kd.keys {
		best := ""
		inv.eachRecord(e, func(r RecRef) bool {
			for _, k := range inv.RecordsOf(r).Keys(int(r.Idx)) {
				if k.Name == key && (best == "" || k.Value < best) {
					best = k.Value
				}
			}
			return true
		})
		if best != "" {
			return kd.name + ":" + key + ":" + best
		}
	}
	r := ent.first
	return kd.name + ":" + inv.Sources[r.Src].Name + ":" + inv.RecordsOf(r).ID(int(r.Idx))
}

// splitID splits "kind:key:value"; the value may itself contain colons.
func splitID(id string) (kind, key, value string) {
	parts := strings.SplitN(id, ":", 3)
	if len(parts) < 3 {
		return "", "", id
	}
	return parts[0], parts[1], parts[2]
}

// Keys returns an entity's identity keys, deduplicated, in record order.
func (inv *Inventory) Keys(e int32) []onus.Key {
	if id := inv.synth(e); id != "" {
		_, k, v := splitID(id)
		return []onus.Key{{Name: k, Value: v}}
	}
	var out []onus.Key
	seen := map[onus.Key]bool{}
	inv.eachRecord(e, func(r RecRef) bool {
		for _, k := range inv.RecordsOf(r).Keys(int(r.Idx)) {
			if !seen[k] && !ignored(k) {
				seen[k] = true
				out = append(out, k)
			}
		}
		return true
	})
	return out
}

// Key returns the value of the first of an entity's identity keys called
// name, in the order Keys lists them ("" when it has none), without
// building the list: owners look one key up for each failing entity.
func (inv *Inventory) Key(e int32, name string) string {
	if id := inv.synth(e); id != "" {
		if _, k, v := splitID(id); k == name {
			return v
		}
		return ""
	}
	out := ""
	inv.eachRecord(e, func(r RecRef) bool {
		for _, k := range inv.RecordsOf(r).Keys(int(r.Idx)) {
			if k.Name == name && !ignored(k) {
				out = k.Value
				return false
			}
		}
		return true
	})
	return out
}

// InSource returns the record that speaks for an entity in source src:
// the one with the latest seen time; among records with the same seen
// time, or when the source maps no seen, the one read last (the last line
// of the file, the last element of the array). ok is false when the entity
// has no record from it.
func (inv *Inventory) InSource(e int32, src int) (RecRef, bool) {
	var best RecRef
	found := false
	inv.eachRecord(e, func(r RecRef) bool {
		if int(r.Src) != src {
			return true
		}
		if !found || inv.RecordsOf(r).Seen(int(r.Idx)) > inv.RecordsOf(best).Seen(int(best.Idx)) ||
			(inv.RecordsOf(r).Seen(int(r.Idx)) == inv.RecordsOf(best).Seen(int(best.Idx)) && r.Idx > best.Idx) {
			best, found = r, true
		}
		return true
	})
	return best, found
}

// InSourceAll returns every record an entity has from source src, in the
// order InSource ranks them: by seen time, then by position in the
// snapshot; the record InSource picks is the last.
func (inv *Inventory) InSourceAll(e int32, src int) []RecRef {
	var out []RecRef
	inv.eachRecord(e, func(r RecRef) bool {
		if int(r.Src) == src {
			out = append(out, r)
		}
		return true
	})
	sort.SliceStable(out, func(i, j int) bool {
		a, b := inv.RecordsOf(out[i]).Seen(int(out[i].Idx)), inv.RecordsOf(out[j]).Seen(int(out[j].Idx))
		if a != b {
			return a < b
		}
		return out[i].Idx < out[j].Idx
	})
	return out
}

// SourcesOf returns the positions of the sources an entity has records in.
func (inv *Inventory) SourcesOf(e int32) []int {
	var out []int
	inv.eachRecord(e, func(r RecRef) bool {
		if len(out) == 0 || out[len(out)-1] != int(r.Src) {
			dup := false
			for _, s := range out {
				if s == int(r.Src) {
					dup = true
				}
			}
			if !dup {
				out = append(out, int(r.Src))
			}
		}
		return true
	})
	return out
}

// Attr returns the merged value of an attribute: the value from the first
// source, in priority order, whose record has it. src is that source.
func (inv *Inventory) Attr(e int32, name string) (v any, src int, ok bool) {
	if inv.entities[e].first.Src == noSource {
		return nil, -1, false
	}
	// Records are in priority order; duplicates from one source are
	// resolved by freshness.
	var last = -1
	inv.eachRecord(e, func(r RecRef) bool {
		if int(r.Src) == last {
			return true
		}
		last = int(r.Src)
		s := inv.Sources[r.Src]
		i, has := s.fields[name]
		if !has {
			return true
		}
		best, _ := inv.InSource(e, int(r.Src))
		if val := inv.RecordsOf(best).Attr(int(best.Idx), i); val != nil {
			v, src, ok = val, int(r.Src), true
			return false
		}
		return true
	})
	return v, src, ok
}

// RecordAttr returns the value of attribute name in a record.
func (inv *Inventory) RecordAttr(r RecRef, name string) (any, bool) {
	s := inv.Sources[r.Src]
	i, ok := s.fields[name]
	if !ok {
		return nil, false
	}
	v := inv.RecordsOf(r).Attr(int(r.Idx), i)
	return v, v != nil
}

// HasAttr reports whether any source of the entity's kind maps the attribute.
func (inv *Inventory) HasAttr(kind, name string) bool {
	for _, s := range inv.Sources {
		if s.Kind == kind {
			if _, ok := s.fields[name]; ok {
				return true
			}
		}
	}
	return false
}

// Link returns the entity a link points at.
func (inv *Inventory) Link(e int32, name string) (int32, bool) {
	id, ok := inv.linkByNm[name]
	if !ok {
		return -1, false
	}
	ent := &inv.entities[e]
	for _, l := range inv.links[ent.linkOff : ent.linkOff+int32(ent.linkN)] {
		if l.name == id {
			return l.Target, true
		}
	}
	return -1, false
}

// IsLink reports whether name is a link of any source of the kind.
func (inv *Inventory) IsLink(kind, name string) bool {
	for _, s := range inv.Sources {
		if s.Kind != kind {
			continue
		}
		for _, l := range s.Snapshot.Schema.Links {
			if l.Name == name {
				return true
			}
		}
	}
	return false
}

// Lookup returns the entity of a kind with a normalised key value.
// ok is false when there is none, or when the value is ambiguous.
func (inv *Inventory) Lookup(kind, key, value string) (int32, bool) {
	k, has := inv.kindByNm[kind]
	if !has {
		return -1, false
	}
	idx := inv.index(k, key)
	e, ok := idx[value]
	if !ok || e < 0 {
		return -1, false
	}
	return e, true
}

// index returns (building it once) the map from a key's values to
// entities of a kind.
func (inv *Inventory) index(k uint16, key string) map[string]int32 {
	kd := inv.kinds[k]
	kd.mu.Lock()
	defer kd.mu.Unlock()
	if idx, ok := kd.index[key]; ok {
		return idx
	}
	idx := map[string]int32{}
	for _, e := range kd.entities {
		if id := inv.synth(e); id != "" {
			if _, sk, v := splitID(id); sk == key {
				idx[v] = e
			}
			continue
		}
		inv.eachRecord(e, func(r RecRef) bool {
			for _, kv := range inv.RecordsOf(r).Keys(int(r.Idx)) {
				if kv.Name != key || ignored(kv) {
					continue
				}
				if prev, ok := idx[kv.Value]; ok && prev != e {
					idx[kv.Value] = -2
				} else if !ok {
					idx[kv.Value] = e
				}
			}
			return true
		})
	}
	kd.index[key] = idx
	return idx
}

// Resolve finds the current entities for ids from an earlier evaluation.
// An id whose key now belongs to an entity with a different id (a stronger
// key appeared) resolves to that entity; ids that name nothing are absent
// from the result.
func (inv *Inventory) Resolve(ids []string) map[string]int32 {
	out := make(map[string]int32, len(ids))
	bySource := map[int]map[string][]string{} // source → record id → entity ids
	for _, id := range ids {
		kind, key, value := splitID(id)
		k, ok := inv.kindByNm[kind]
		if !ok {
			continue
		}
		if si := inv.SourceIndex(key); si >= 0 && inv.Sources[si].Kind == kind {
			if bySource[si] == nil {
				bySource[si] = map[string][]string{}
			}
			bySource[si][value] = append(bySource[si][value], id)
			continue
		}
		if e, ok := inv.index(k, key)[value]; ok && e >= 0 {
			out[id] = e
		}
	}
	var buf []byte
	for si, want := range bySource {
		s := inv.Sources[si]
		for i := range s.Snapshot.Records.Len() {
			// The id is written into buf, not joined into a string: a
			// software row's id is kept in two parts.
			buf = s.Snapshot.Records.AppendID(buf[:0], i)
			if ids, ok := want[string(buf)]; ok && s.owner[i] >= 0 {
				for _, id := range ids {
					out[id] = s.owner[i]
				}
			}
		}
	}
	return out
}

// Owner returns the entity a record belongs to, or -1.
func (inv *Inventory) Owner(r RecRef) int32 { return inv.Sources[r.Src].owner[r.Idx] }

// NearMatches returns the refused merges that involve an entity.
func (inv *Inventory) NearMatches(e int32) []NearMatch {
	var out []NearMatch
	for _, n := range inv.near {
		if inv.Owner(n.A) == e || inv.Owner(n.B) == e {
			out = append(out, n)
		}
	}
	return out
}

// Merges returns the merges that built an entity.
func (inv *Inventory) Merges(e int32) []Merge {
	var out []Merge
	for _, m := range inv.merges {
		if inv.Owner(m.A) == e {
			out = append(out, m)
		}
	}
	return out
}

// CountBySource returns, per kind, the number of entities and, per source,
// how many of them it has a record of.
func (inv *Inventory) CountBySource() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, kd := range inv.kinds {
		out[kd.name] = map[string]int{"": len(kd.entities)}
	}
	stamp := make([]int32, len(inv.entities))
	for si, s := range inv.Sources {
		counts := out[s.Kind]
		for _, e := range s.owner {
			if e >= 0 && stamp[e] != int32(si+1) {
				stamp[e] = int32(si + 1)
				counts[s.Name]++
			}
		}
	}
	return out
}

// NearCount returns how many merges were refused.
func (inv *Inventory) NearCount() int { return len(inv.near) }

// LinkStats returns, per link name, how many entities declare the link and
// how many of those links found their target.
func (inv *Inventory) LinkStats() map[string]*LinkStat { return inv.linkStats }

// Build correlates the sources into an inventory.
func Build(in Input) (*Inventory, error) {
	if len(in.Sources) > 1<<16-1 {
		return nil, fmt.Errorf("inventory: too many sources")
	}
	inv := &Inventory{kindByNm: map[string]uint16{}, linkByNm: map[string]uint16{}, linkStats: map[string]*LinkStat{}, synthetic: map[int32]string{}, strong: in.Strong, manual: in.Manual, hints: in.Hints, manualUsed: make([]int, len(in.Manual))}
	if inv.strong == nil {
		inv.strong = identity.StrongType
	}
	for _, si := range in.Sources {
		if si.Snapshot == nil {
			si.Snapshot = &onus.Snapshot{Source: si.Name, Kind: si.Kind}
		}
		s := &Source{SourceInput: si, fields: map[string]int{}}
		for i, f := range si.Snapshot.Schema.Fields {
			s.fields[f] = i
		}
		s.owner = make([]int32, si.Snapshot.Records.Len())
		for i := range s.owner {
			s.owner[i] = -1
		}
		inv.Sources = append(inv.Sources, s)
		kd := inv.kinds[inv.kind(si.Kind, in.Correlate[si.Kind])]
		for i := range si.Snapshot.Records.Len() {
			for _, k := range si.Snapshot.Records.Keys(i) {
				if !ignored(k) {
					kd.keyNames[k.Name] = true
				}
			}
		}
		for _, l := range si.Snapshot.Schema.Links {
			if _, ok := inv.linkByNm[l.Name]; !ok {
				inv.linkByNm[l.Name] = uint16(len(inv.linkNames))
				inv.linkNames = append(inv.linkNames, l.Name)
			}
		}
	}
	// Correlate each kind; kinds are independent.
	for k := range inv.kinds {
		inv.correlate(uint16(k))
	}
	inv.dedupeNear()
	inv.possibleMatches()
	inv.dedupeAmbiguous()
	inv.uniqueIDs()
	inv.link()
	return inv, nil
}

// dedupeNear keeps one near match per pair of entities and shared key:
// two machines with one hostname are one near match, however many of
// their records share it.
func (inv *Inventory) dedupeNear() {
	type pair struct {
		a, b int32
		key  string
	}
	seen := map[pair]bool{}
	out := inv.near[:0]
	for _, n := range inv.near {
		a, b := inv.Owner(n.A), inv.Owner(n.B)
		if a > b {
			a, b = b, a
		}
		p := pair{a, b, n.Key}
		if a == b || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, n)
	}
	inv.near = out
}

// manualNodes is a manual link resolved to the nodes of one kind.
type manualNodes struct {
	id     int32
	a, b   []int32
	linked bool
}

// manualNodes resolves the manual links and unlinks whose both sides name
// records of a kind.
func (inv *Inventory) manualNodes(kd *kindData, refs []RecRef) []manualNodes {
	if len(inv.manual) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, m := range inv.manual {
		want[m.A], want[m.B] = true, true
	}
	found := map[string][]int32{}
	var buf []byte
	for nd, r := range refs {
		s := inv.Sources[r.Src]
		// "kind:source:id", and its "source:id" tail, written into buf.
		buf = append(append(append(append(buf[:0], kd.name...), ':'), s.Name...), ':')
		buf = s.Snapshot.Records.AppendID(buf, int(r.Idx))
		if l := buf[len(kd.name)+1:]; want[string(l)] {
			found[string(l)] = append(found[string(l)], int32(nd))
		}
		if want[string(buf)] {
			found[string(buf)] = append(found[string(buf)], int32(nd))
		}
		for _, k := range s.Snapshot.Records.Keys(int(r.Idx)) {
			if l := kd.name + ":" + k.Name + ":" + k.Value; want[l] {
				found[l] = append(found[l], int32(nd))
			}
		}
	}
	var out []manualNodes
	for i, m := range inv.manual {
		a, b := found[m.A], found[m.B]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		inv.manualUsed[i] = len(a) + len(b)
		out = append(out, manualNodes{id: int32(i), a: a, b: b, linked: m.Linked})
	}
	return out
}

// ManualApplied reports, for each manual link of the input, whether both
// of its sides named records.
func (inv *Inventory) ManualApplied() []bool {
	out := make([]bool, len(inv.manualUsed))
	for i, n := range inv.manualUsed {
		out[i] = n > 0
	}
	return out
}

// possibleMatches finds, for the hint keys of each kind, records that
// share a hint value with an entity but joined none (or only their own):
// the match is shown, not made.
func (inv *Inventory) possibleMatches() {
	for kind, keys := range inv.hints {
		k, ok := inv.kindByNm[kind]
		if !ok {
			continue
		}
		kd := inv.kinds[k]
		for _, key := range keys {
			// value → the entities with a record carrying it
			byValue := map[string][]int32{}
			for _, e := range kd.entities {
				inv.eachRecord(e, func(r RecRef) bool {
					for _, kv := range inv.RecordsOf(r).Keys(int(r.Idx)) {
						if kv.Name == key {
							if l := byValue[kv.Value]; len(l) == 0 || l[len(l)-1] != e {
								byValue[kv.Value] = append(l, e)
							}
						}
					}
					return true
				})
			}
			for si, s := range inv.Sources {
				if s.Kind != kind {
					continue
				}
				for i := range s.Snapshot.Records.Len() {
					r := RecRef{Src: uint16(si), Idx: uint32(i)}
					mine := s.owner[i]
					for _, kv := range s.Snapshot.Records.Keys(i) {
						if kv.Name != key {
							continue
						}
						var cands []RecRef
						for _, e := range byValue[kv.Value] {
							if e == mine {
								continue
							}
							// Only an entity with no record of this source
							// can be what this record describes.
							if _, has := inv.InSource(e, si); has {
								continue
							}
							cands = append(cands, inv.entities[e].first)
						}
						if len(cands) > 0 && (mine < 0 || len(inv.Records(mine)) == 1 || inv.onlySource(mine, si)) {
							inv.ambiguous = append(inv.ambiguous, Ambiguity{Kind: kind, Key: key, Value: kv.Value, Rec: r, Candidates: cands})
						}
					}
				}
			}
		}
	}
}

// onlySource reports whether all of an entity's records come from source si.
func (inv *Inventory) onlySource(e int32, si int) bool {
	only := true
	inv.eachRecord(e, func(r RecRef) bool {
		if int(r.Src) != si {
			only = false
		}
		return only
	})
	return only
}

// uniqueIDs names by source and record the entities whose id by key
// another entity has too. Only kinds with ambiguous records can have such
// entities: elsewhere records sharing a key value are one entity, or a
// strong key keeps them apart and names each.
func (inv *Inventory) uniqueIDs() {
	kinds := map[string]bool{}
	for _, a := range inv.ambiguous {
		kinds[a.Kind] = true
	}
	for kind := range kinds {
		k := inv.kindByNm[kind]
		byID := map[string][]int32{}
		for _, e := range inv.kinds[k].entities {
			id := inv.keyID(e)
			byID[id] = append(byID[id], e)
		}
		for id, es := range byID {
			// An id whose key value is shared with other entities would
			// not resolve back to its entity either.
			if _, key, value := splitID(id); len(es) < 2 && inv.SourceIndex(key) < 0 {
				if t, ok := inv.index(k, key)[value]; !ok || t == es[0] {
					continue
				}
			} else if len(es) < 2 {
				continue
			}
			if inv.idOverride == nil {
				inv.idOverride = map[int32]string{}
			}
			for _, e := range es {
				r := inv.entities[e].first
				inv.idOverride[e] = kind + ":" + inv.Sources[r.Src].Name + ":" + inv.RecordsOf(r).ID(int(r.Idx))
			}
		}
	}
}

// dedupeAmbiguous drops the ambiguities that a later key resolved (the
// record was merged into one of its candidates after all) and keeps one
// per record and key.
func (inv *Inventory) dedupeAmbiguous() {
	type k struct {
		r   RecRef
		key string
	}
	seen := map[k]bool{}
	out := inv.ambiguous[:0]
	for _, a := range inv.ambiguous {
		mine := inv.Owner(a.Rec)
		resolved := false
		for _, c := range a.Candidates {
			if o := inv.Owner(c); o >= 0 && o == mine {
				resolved = true
			}
		}
		if resolved || seen[k{a.Rec, a.Key}] {
			continue
		}
		seen[k{a.Rec, a.Key}] = true
		out = append(out, a)
	}
	inv.ambiguous = out
	inv.ambiguousBy = map[int32][]int32{}
	for i, a := range out {
		add := func(e int32) {
			if l := inv.ambiguousBy[e]; e >= 0 && (len(l) == 0 || l[len(l)-1] != int32(i)) {
				inv.ambiguousBy[e] = append(l, int32(i))
			}
		}
		add(inv.Owner(a.Rec))
		for _, c := range a.Candidates {
			add(inv.Owner(c))
		}
	}
}

// Ambiguities returns the ambiguous records that belong to an entity, or
// whose candidates do.
func (inv *Inventory) Ambiguities(e int32) []Ambiguity {
	var out []Ambiguity
	for _, i := range inv.ambiguousBy[e] {
		out = append(out, inv.ambiguous[i])
	}
	return out
}

// PossibleMatchOfRecord says which entities a record that joined none
// may belong to.
func (inv *Inventory) PossibleMatchOfRecord(r RecRef) (ids []string, text string, ok bool) {
	var parts []string
	for _, a := range inv.ambiguous {
		if a.Rec != r {
			continue
		}
		for _, c := range a.Candidates {
			if o := inv.Owner(c); o >= 0 {
				ids = append(ids, inv.ID(o))
				parts = append(parts, fmt.Sprintf("%s (%s) shares %s=%s", inv.ID(o), inv.Name(o), a.Key, a.Value))
			}
		}
	}
	if len(parts) == 0 {
		return nil, "", false
	}
	return ids, "possible match: " + strings.Join(parts, "; ") + "; confirm with onus link or reject with onus unlink", true
}

// PossibleMatch says, for an entity involved in an ambiguity, which record
// might belong to it (or which entities it might belong to), in a
// sentence; srcs are the sources whose absence from the entity the match
// may explain. ok is false when there is none.
func (inv *Inventory) PossibleMatch(e int32) (srcs []int, text string, ok bool) {
	var parts []string
	for _, i := range inv.ambiguousBy[e] {
		a := inv.ambiguous[i]
		if inv.Owner(a.Rec) == e {
			var others []string
			for _, c := range a.Candidates {
				if o := inv.Owner(c); o >= 0 {
					others = append(others, inv.ID(o))
					srcs = append(srcs, inv.SourcesOf(o)...)
				}
			}
			parts = append(parts, fmt.Sprintf("%s shares %s=%s with %s", inv.recLabel(a.Rec), a.Key, a.Value, strings.Join(others, " and ")))
			continue
		}
		// The record's source; and when it joined no entity, the records
		// it came with may be the entity's too (a candidate's reports):
		// every source of its kind that only joins entities.
		srcs = append(srcs, int(a.Rec.Src))
		if inv.Owner(a.Rec) < 0 {
			for si, s := range inv.Sources {
				if s.Kind == a.Kind && !s.Creates {
					srcs = append(srcs, si)
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s (%s=%s)", inv.recLabel(a.Rec), a.Key, a.Value))
	}
	if len(parts) == 0 {
		return nil, "", false
	}
	return srcs, "possible match: " + strings.Join(parts, "; ") + "; confirm with onus link or reject with onus unlink", true
}

// AmbiguousCount returns how many records were kept apart as ambiguous.
func (inv *Inventory) AmbiguousCount() int { return len(inv.ambiguous) }

func (inv *Inventory) kind(name string, keys []string) uint16 {
	if k, ok := inv.kindByNm[name]; ok {
		return k
	}
	k := uint16(len(inv.kinds))
	inv.kinds = append(inv.kinds, &kindData{name: name, keys: keys, index: map[string]map[string]int32{}, keyNames: map[string]bool{}})
	inv.kindByNm[name] = k
	return k
}

// correlate merges the records of one kind into entities.
func (inv *Inventory) correlate(k uint16) {
	kd := inv.kinds[k]
	var srcs []int
	base := map[int]int{}
	n := 0
	for i, s := range inv.Sources {
		if s.Kind == kd.name {
			srcs = append(srcs, i)
			base[i] = n
			n += s.Snapshot.Records.Len()
		}
	}
	defer inv.countUnmatched(srcs)
	if len(kd.keys) == 0 {
		// Nothing merges: each record of a creating source is an entity.
		// Growing the lists once, not by doubling, spares copying millions
		// of entities (software records) several times over.
		add := 0
		for _, si := range srcs {
			if inv.Sources[si].Creates {
				add += inv.Sources[si].Snapshot.Records.Len()
			}
		}
		inv.entities = slices.Grow(inv.entities, add)
		kd.entities = slices.Grow(kd.entities, add)
		for _, si := range srcs {
			s := inv.Sources[si]
			if !s.Creates {
				continue
			}
			for i := range s.Snapshot.Records.Len() {
				e := int32(len(inv.entities))
				inv.entities = append(inv.entities, Entity{kind: k, first: RecRef{Src: uint16(si), Idx: uint32(i)}})
				kd.entities = append(kd.entities, e)
				s.owner[i] = e
			}
		}
		return
	}
	// Node i is the record at ref(i); nodes are in priority order.
	refs := make([]RecRef, 0, n)
	for _, si := range srcs {
		for i := range inv.Sources[si].Snapshot.Records.Len() {
			refs = append(refs, RecRef{Src: uint16(si), Idx: uint32(i)})
		}
	}
	ref := func(node int) RecRef { return refs[node] }
	uf := newUnionFind(n)
	inv.unionByKeys(kd, srcs, base, uf, ref, inv.manualNodes(kd, refs))
	// Group nodes by root, in node order.
	root := make([]int32, n)
	for i := 0; i < n; i++ {
		root[i] = uf.find(int32(i))
	}
	members := map[int32][]int32{}
	for i := 0; i < n; i++ {
		if r := root[i]; uf.size[r] > 1 {
			members[r] = append(members[r], int32(i))
		}
	}
	var single [1]int32
	for i := 0; i < n; i++ {
		r := root[i]
		nodes := single[:]
		if uf.size[r] > 1 {
			if members[r][0] != int32(i) {
				continue // the cluster was made at its first node
			}
			nodes = members[r]
		} else {
			single[0] = int32(i)
		}
		creates := false
		for _, nd := range nodes {
			if inv.Sources[refs[nd].Src].Creates {
				creates = true
				break
			}
		}
		if !creates {
			continue
		}
		e := int32(len(inv.entities))
		ent := Entity{kind: k, first: refs[nodes[0]], moreOff: int32(len(inv.more)), moreN: int32(len(nodes) - 1)}
		for _, nd := range nodes[1:] {
			inv.more = append(inv.more, refs[nd])
		}
		inv.entities = append(inv.entities, ent)
		kd.entities = append(kd.entities, e)
		for _, nd := range nodes {
			rr := refs[nd]
			inv.Sources[rr.Src].owner[rr.Idx] = e
		}
	}
}

// countUnmatched counts the records of non-creating sources that joined
// no entity.
func (inv *Inventory) countUnmatched(srcs []int) {
	for _, si := range srcs {
		s := inv.Sources[si]
		if s.Creates {
			continue
		}
		for _, o := range s.owner {
			if o < 0 {
				s.Unmatched++
			}
		}
	}
}

// ignored reports whether a key is kept only to explain a junk value.
func ignored(k onus.Key) bool { return len(k.Name) > 0 && k.Name[0] == onus.IgnoredKeyPrefix[0] }

// unionByKeys merges records that share a key, strongest key first. Only a
// strong key (single-valued for the thing's life: a serial number, a
// hardware UUID) can keep two groups apart: when both have values for it
// and none in common they are different things, whatever weaker key they
// share. A MAC address or a host name that differs proves nothing: a
// laptop has several network interfaces, and gets renamed.
//
// The records sharing one value are merged only when they can all be one
// thing. When they fall into several groups that a strong key keeps apart
// (two laptops that both used one USB Ethernet adapter), a record that
// could belong to more than one of them is not guessed into either: it is
// kept apart as an ambiguity, and explain names the possible matches.
func (inv *Inventory) unionByKeys(kd *kindData, srcs []int, base map[int]int, uf *unionFind, ref func(int) RecRef, manual []manualNodes) {
	rank := map[string]int{}
	var vetoes []string
	for i, key := range kd.keys {
		rank[key] = i
		if inv.strong(key) {
			vetoes = append(vetoes, key)
		}
	}
	// own holds each record's correlate keys; group holds, for each root,
	// the keys of its whole group.
	// A record whose keys all correlate shares its list with the
	// snapshot's columns (nothing below appends to it in place); the
	// others' are carved from slabs. total bounds the (value, node) pairs
	// of any one key.
	own := make([][]onus.Key, uf.n())
	total := 0
	var slab []onus.Key
	for _, si := range srcs {
		recs := inv.Sources[si].Snapshot.Records
		for i := range recs.Len() {
			keys := recs.Keys(i)
			n := 0
			for _, kv := range keys {
				if _, ok := rank[kv.Name]; ok {
					n++
				}
			}
			total += n
			switch {
			case n == 0:
			case n == len(keys):
				own[base[si]+i] = keys[:n:n]
			default:
				if cap(slab)-len(slab) < n {
					slab = make([]onus.Key, 0, max(4096, n))
				}
				start := len(slab)
				for _, kv := range keys {
					if _, ok := rank[kv.Name]; ok {
						slab = append(slab, kv)
					}
				}
				own[base[si]+i] = slab[start:len(slab):len(slab)]
			}
		}
	}
	group := make([][]onus.Key, len(own))
	copy(group, own)
	// Links made by hand come first, whatever the keys say; unlinks tag
	// both sides so that no key merges them later.
	tags := map[int32][]int32{}
	for _, mn := range manual {
		if !mn.linked {
			for _, a := range mn.a {
				tags[a] = append(tags[a], mn.id+1)
			}
			for _, b := range mn.b {
				tags[b] = append(tags[b], -(mn.id + 1))
			}
			continue
		}
		all := append(append([]int32(nil), mn.a...), mn.b...)
		for _, nd := range all[1:] {
			ra, rb := uf.find(all[0]), uf.find(nd)
			if ra == rb {
				continue
			}
			inv.merges = append(inv.merges, Merge{A: ref(int(all[0])), B: ref(int(nd)), Key: "link", Value: "by hand: onus link " + inv.manual[mn.id].A + " " + inv.manual[mn.id].B})
			keep, gone := uf.union(ra, rb)
			group[keep] = append(append([]onus.Key(nil), group[keep]...), group[gone]...)
			group[gone] = nil
		}
	}
	for nd, ts := range tags {
		if r := uf.find(nd); r != nd {
			tags[r] = append(tags[r], ts...)
			delete(tags, nd)
		}
	}
	apart := func(a, b int32) bool {
		for _, x := range tags[a] {
			for _, y := range tags[b] {
				if x == -y {
					return true
				}
			}
		}
		return false
	}
	anchored := func(root int32) bool {
		for _, kv := range group[root] {
			if inv.strong(kv.Name) {
				return true
			}
		}
		return false
	}
	// occs lists a key's (value, node) pairs, sorted: the nodes that share
	// a value are neighbours, in node order. One sort instead of a map of
	// lists by value, its keys sorted, then each looked up again.
	type occ struct {
		v    string
		node int32
	}
	occs := make([]occ, 0, total)
	var g []int32
	for _, key := range kd.keys {
		occs = occs[:0]
		for node, ks := range own {
			for _, kv := range ks {
				if kv.Name == key {
					occs = append(occs, occ{kv.Value, int32(node)})
				}
			}
		}
		slices.SortFunc(occs, func(a, b occ) int { return cmp.Or(strings.Compare(a.v, b.v), cmp.Compare(a.node, b.node)) })
		// ms and cs are reused for every value: most values are shared by
		// two or three records.
		type member struct {
			root, node int32
		}
		var ms, cs []member
		var fits []int
		for i, j := 0, 0; i < len(occs); i = j {
			for j = i + 1; j < len(occs) && occs[j].v == occs[i].v; j++ {
			}
			if j-i < 2 {
				continue
			}
			v := occs[i].v
			g = g[:0]
			for _, o := range occs[i:j] {
				g = append(g, o.node)
			}
			// The distinct groups sharing v, with a node of each; groups
			// that a strong key anchors come first, so that a record with
			// no strong key is never merged into whichever came first.
			ms = ms[:0]
			first := uf.find(g[0])
			same := true
			for _, nd := range g[1:] {
				if uf.find(nd) != first {
					same = false
					break
				}
			}
			if same {
				continue
			}
			for pass := 0; pass < 2; pass++ {
				for _, nd := range g {
					r := uf.find(nd)
					dup := false
					for _, m := range ms {
						if m.root == r {
							dup = true
							break
						}
					}
					if dup || anchored(r) != (pass == 0) {
						continue
					}
					ms = append(ms, member{r, nd})
				}
			}
			if len(ms) < 2 {
				continue
			}
			// cs are the groups v ends up in, each with its first node.
			cs = cs[:0]
			for _, m := range ms {
				fits = fits[:0]
				var conflict string
				var av, bv []string
				for ci, c := range cs {
					root := uf.find(c.root)
					if apart(root, m.root) {
						if conflict == "" {
							conflict = "unlink"
							inv.near = append(inv.near, NearMatch{Kind: kd.name, Key: key, Value: v, A: ref(int(c.node)), B: ref(int(m.node)), Conflict: "unlinked by hand"})
						}
						continue
					}
					if k, x, y := disagree(group[root], group[m.root], vetoes); k != "" {
						if conflict == "" {
							conflict, av, bv = k, x, y
							inv.near = append(inv.near, NearMatch{Kind: kd.name, Key: key, Value: v, A: ref(int(c.node)), B: ref(int(m.node)), Conflict: k, AValues: av, BValues: bv})
						}
						continue
					}
					fits = append(fits, ci)
				}
				switch len(fits) {
				case 0:
					cs = append(cs, member{m.root, m.node})
				case 1:
					c := cs[fits[0]]
					ra := uf.find(c.root)
					inv.merges = append(inv.merges, Merge{A: ref(int(c.node)), B: ref(int(m.node)), Key: key, Value: v})
					keep, gone := uf.union(ra, m.root)
					group[keep] = append(append([]onus.Key(nil), group[keep]...), group[gone]...)
					group[gone] = nil
					if len(tags[gone]) > 0 {
						tags[keep] = append(tags[keep], tags[gone]...)
						delete(tags, gone)
					}
				default:
					a := Ambiguity{Kind: kd.name, Key: key, Value: v, Rec: ref(int(m.node))}
					for _, ci := range fits {
						a.Candidates = append(a.Candidates, ref(int(cs[ci].node)))
					}
					inv.ambiguous = append(inv.ambiguous, a)
				}
			}
		}
	}
}

// disagree returns the strong key that keeps two groups apart: the
// strongest one both have values for decides, and they are apart when they
// share none of its values. A re-imaged laptop has two MDM UDIDs and one
// serial number: the serial, stronger, says it is one machine.
func disagree(a, b []onus.Key, strong []string) (string, []string, []string) {
	for _, key := range strong {
		var av, bv []string
		for _, kv := range a {
			if kv.Name == key {
				av = append(av, kv.Value)
			}
		}
		for _, kv := range b {
			if kv.Name == key {
				bv = append(bv, kv.Value)
			}
		}
		if len(av) == 0 || len(bv) == 0 {
			continue
		}
		shared := false
		for _, x := range av {
			for _, y := range bv {
				if x == y {
					shared = true
				}
			}
		}
		if !shared {
			return key, dedupe(av), dedupe(bv)
		}
		return "", nil, nil
	}
	return "", nil, nil
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// link resolves every entity's links. For each link name the first
// record, in priority order, whose link finds a target wins; alternatives
// of one record (owner by e-mail, else by username) are tried in order.
func (inv *Inventory) link() {
	type result struct {
		links []Link
		stats map[string]*LinkStat
	}
	// Synthetic targets are created first, single-threaded, so that the
	// parallel pass only reads.
	synth := map[string]int32{}
	for _, s := range inv.Sources {
		for li, spec := range s.Snapshot.Schema.Links {
			if !spec.Create {
				continue
			}
			tk := inv.kind(spec.To, nil)
			for i := range s.Snapshot.Records.Len() {
				if s.owner[i] < 0 {
					continue
				}
				v := s.Snapshot.Records.Link(i, li)
				if v == "" {
					continue
				}
				if _, ok := inv.Lookup(spec.To, spec.Key, v); ok {
					continue
				}
				id := spec.To + ":" + spec.Key + ":" + v
				if _, ok := synth[id]; ok {
					continue
				}
				inv.kinds[tk].keyNames[spec.Key] = true
				e := int32(len(inv.entities))
				inv.entities = append(inv.entities, Entity{kind: tk, first: RecRef{Src: noSource}})
				inv.synthetic[e] = id
				inv.kinds[tk].entities = append(inv.kinds[tk].entities, e)
				synth[id] = e
			}
			kd := inv.kinds[tk]
			kd.mu.Lock()
			delete(kd.index, spec.Key) // rebuilt with the new entities
			kd.mu.Unlock()
		}
	}
	// Build every index the links need before going parallel.
	for _, s := range inv.Sources {
		for _, spec := range s.Snapshot.Schema.Links {
			if k, ok := inv.kindByNm[spec.To]; ok {
				inv.index(k, spec.Key)
			}
		}
	}
	n := len(inv.entities)
	workers := runtime.GOMAXPROCS(0)
	per := (n + workers - 1) / workers
	results := make([]result, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, n)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			res := result{stats: map[string]*LinkStat{}}
			found := make([]bool, len(inv.linkNames))
			tried := make([]bool, len(inv.linkNames))
			for e := lo; e < hi; e++ {
				ent := &inv.entities[e]
				ent.linkOff = int32(len(res.links))
				if ent.first.Src == noSource {
					continue
				}
				clear(found)
				clear(tried)
				inv.eachRecord(int32(e), func(r RecRef) bool {
					s := inv.Sources[r.Src]
					for li, spec := range s.Snapshot.Schema.Links {
						name := inv.linkByNm[spec.Name]
						if found[name] {
							continue
						}
						v := s.Snapshot.Records.Link(int(r.Idx), li)
						if v == "" {
							continue
						}
						tried[name] = true
						k, ok := inv.kindByNm[spec.To]
						if !ok {
							continue
						}
						t, ok := inv.kinds[k].index[spec.Key][v]
						if !ok || t < 0 {
							continue
						}
						found[name] = true
						res.links = append(res.links, Link{name: name, Target: t})
					}
					return true
				})
				ent.linkN = uint16(len(res.links) - int(ent.linkOff))
				for name, t := range tried {
					if !t {
						continue
					}
					st := res.stats[inv.linkNames[name]]
					if st == nil {
						st = &LinkStat{}
						res.stats[inv.linkNames[name]] = st
					}
					st.Declared++
					if found[name] {
						st.Resolved++
					}
				}
			}
			results[w] = res
		}(w, lo, hi)
	}
	wg.Wait()
	// Stitch the per-worker link arrays into one.
	off := int32(0)
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, n)
		for e := lo; e < hi; e++ {
			inv.entities[e].linkOff += off
		}
		inv.links = append(inv.links, results[w].links...)
		off += int32(len(results[w].links))
		for k, c := range results[w].stats {
			st := inv.linkStats[k]
			if st == nil {
				st = &LinkStat{}
				inv.linkStats[k] = st
			}
			st.Declared += c.Declared
			st.Resolved += c.Resolved
		}
	}
}

// LinkVia describes how a link was made, for explain and evidence: the
// first record, in priority order, whose link value finds the target.
func (inv *Inventory) LinkVia(e int32, name string) (target int32, source, key, value string, ok bool) {
	target, ok = inv.Link(e, name)
	if !ok {
		return -1, "", "", "", false
	}
	inv.eachRecord(e, func(r RecRef) bool {
		s := inv.Sources[r.Src]
		for li, spec := range s.Snapshot.Schema.Links {
			v := inv.RecordsOf(r).Link(int(r.Idx), li)
			if spec.Name != name || v == "" {
				continue
			}
			if k, has := inv.kindByNm[spec.To]; has && inv.index(k, spec.Key)[v] == target {
				source, key, value = s.Name, spec.Key, v
				return false
			}
		}
		return true
	})
	return target, source, key, value, true
}

// LinkNames returns the names of the links an entity's records declare.
func (inv *Inventory) LinkNames(e int32) []string {
	seen := map[string]bool{}
	var out []string
	inv.eachRecord(e, func(r RecRef) bool {
		for _, spec := range inv.Sources[r.Src].Snapshot.Schema.Links {
			if !seen[spec.Name] {
				seen[spec.Name] = true
				out = append(out, spec.Name)
			}
		}
		return true
	})
	sort.Strings(out)
	return out
}

// unionFind is a disjoint-set forest with union by size.
type unionFind struct {
	parent []int32
	size   []int32
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int32, n), size: make([]int32, n)}
	for i := range u.parent {
		u.parent[i] = int32(i)
		u.size[i] = 1
	}
	return u
}

func (u *unionFind) n() int { return len(u.parent) }

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

// union joins two roots and returns the root kept and the one absorbed.
func (u *unionFind) union(a, b int32) (keep, gone int32) {
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
	u.size[b] = 0
	return a, b
}
