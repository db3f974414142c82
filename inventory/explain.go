package inventory

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// Explanation says how an entity was built: from which records, merged by
// which keys, which near matches were kept apart and why, what it links
// to, and each source's attributes side by side.
type Explanation struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	Name        string          `json:"name"`
	Keys        []onus.Key      `json:"keys"`
	Records     []ExplainRecord `json:"records"`
	Merges      []ExplainMerge  `json:"merges,omitempty"`
	NearMatches []ExplainNear   `json:"near_matches,omitempty"`
	Ambiguous   []ExplainAmbig  `json:"possible_matches,omitempty"`
	Links       []ExplainLink   `json:"links,omitempty"`
	Attributes  []ExplainAttr   `json:"attributes"`
	// Unhealthy are the sources of the entity's kind that are not in
	// force (never synced, failed, skipped records): what they know of
	// the entity may be missing or old.
	Unhealthy []ExplainSource `json:"unhealthy_sources,omitempty"`
}

// ExplainSource is a source that was not read as it should have been.
type ExplainSource struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// ExplainRecord is one source record of the entity.
type ExplainRecord struct {
	Source string     `json:"source"`
	ID     string     `json:"id"`
	Name   string     `json:"name,omitempty"`
	Line   int        `json:"line"`
	Seen   *time.Time `json:"seen,omitempty"`
	Keys   []onus.Key `json:"keys"`
	// Ignored are the key values read but not used, and why.
	Ignored []ExplainIgnored `json:"ignored_keys,omitempty"`
	Healthy bool             `json:"source_healthy"`
}

// ExplainIgnored is a key value that was read but is no identity.
type ExplainIgnored struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Why   string `json:"why"`
}

// ExplainAmbig is a record that shares a key value with several entities
// that cannot be one thing; onus kept it apart rather than guess.
type ExplainAmbig struct {
	Record   string   `json:"record"`
	Entity   string   `json:"entity,omitempty"`
	Key      string   `json:"shared_key"`
	Value    string   `json:"shared_value"`
	Possible []string `json:"possible_matches"`
}

// ExplainMerge is one merge of two records.
type ExplainMerge struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Key   string `json:"key"`
	Value string `json:"value"`
	// Agreed are the keys the two records share a value of.
	Agreed []string `json:"agreed,omitempty"`
	// Ignored are the keys on which they differ, with why that did not
	// keep them apart.
	Ignored []string `json:"ignored,omitempty"`
}

// ExplainNear is a record that shares a key with the entity but was kept
// apart because a stronger key disagrees.
type ExplainNear struct {
	Mine     string   `json:"record"`
	Other    string   `json:"other_record"`
	OtherID  string   `json:"other_entity,omitempty"`
	Key      string   `json:"shared_key"`
	Value    string   `json:"shared_value"`
	Conflict string   `json:"conflicting_key"`
	MineVals []string `json:"our_values"`
	Theirs   []string `json:"their_values"`
}

// ExplainLink is a link of the entity, resolved or not.
type ExplainLink struct {
	Name       string `json:"name"`
	Target     string `json:"target,omitempty"`
	TargetName string `json:"target_name,omitempty"`
	Source     string `json:"source,omitempty"`
	Key        string `json:"key,omitempty"`
	Value      string `json:"value,omitempty"`
	Problem    string `json:"problem,omitempty"`
}

// ExplainAttr is one attribute: its merged value and each source's value.
type ExplainAttr struct {
	Name       string         `json:"name"`
	Merged     any            `json:"merged"`
	MergedFrom string         `json:"merged_from,omitempty"`
	BySource   map[string]any `json:"by_source"`
}

func (inv *Inventory) recLabel(r RecRef) string {
	return inv.Sources[r.Src].Name + ":" + inv.RecordsOf(r).ID(int(r.Idx))
}

// Explain explains an entity.
func (inv *Inventory) Explain(e int32) *Explanation {
	x := &Explanation{ID: inv.ID(e), Kind: inv.Kind(e), Name: inv.Name(e), Keys: inv.Keys(e)}
	for _, s := range inv.Sources {
		if s.Kind == x.Kind && !s.Healthy {
			x.Unhealthy = append(x.Unhealthy, ExplainSource{Source: s.Name, Reason: s.Reason})
		}
	}
	for _, r := range inv.Records(e) {
		rec := inv.Record(r)
		s := inv.Sources[r.Src]
		er := ExplainRecord{Source: s.Name, ID: rec.ID, Name: rec.Name, Line: rec.Loc, Healthy: s.Healthy}
		for _, k := range rec.Keys {
			if name, raw, why, ok := k.Ignored(); ok {
				er.Ignored = append(er.Ignored, ExplainIgnored{Key: name, Value: raw, Why: why})
			} else {
				er.Keys = append(er.Keys, k)
			}
		}
		if rec.Seen != 0 {
			t := time.Unix(rec.Seen, 0).UTC()
			er.Seen = &t
		}
		x.Records = append(x.Records, er)
	}
	for _, m := range inv.Merges(e) {
		em := ExplainMerge{A: inv.recLabel(m.A), B: inv.recLabel(m.B), Key: m.Key, Value: m.Value}
		em.Agreed, em.Ignored = inv.compareKeys(m.A, m.B)
		x.Merges = append(x.Merges, em)
	}
	for _, a := range inv.Ambiguities(e) {
		ea := ExplainAmbig{Record: inv.recLabel(a.Rec), Key: a.Key, Value: a.Value}
		if o := inv.Owner(a.Rec); o >= 0 {
			ea.Entity = inv.ID(o)
		}
		for _, c := range a.Candidates {
			if o := inv.Owner(c); o >= 0 {
				ea.Possible = append(ea.Possible, inv.ID(o)+" ("+inv.Name(o)+")")
			} else {
				ea.Possible = append(ea.Possible, inv.recLabel(c))
			}
		}
		x.Ambiguous = append(x.Ambiguous, ea)
	}
	for _, n := range inv.NearMatches(e) {
		mine, other := n.A, n.B
		mv, ov := n.AValues, n.BValues
		if inv.Owner(n.B) == e {
			mine, other, mv, ov = n.B, n.A, n.BValues, n.AValues
		}
		en := ExplainNear{Mine: inv.recLabel(mine), Other: inv.recLabel(other), Key: n.Key, Value: n.Value, Conflict: n.Conflict, MineVals: mv, Theirs: ov}
		if oe := inv.Owner(other); oe >= 0 && oe != e {
			en.OtherID = inv.ID(oe)
		}
		x.NearMatches = append(x.NearMatches, en)
	}
	for _, name := range inv.LinkNames(e) {
		l := ExplainLink{Name: name}
		if t, src, key, val, ok := inv.LinkVia(e, name); ok {
			l.Target, l.TargetName, l.Source, l.Key, l.Value = inv.ID(t), inv.Name(t), src, key, val
		} else {
			l.Problem = inv.unresolvedWhy(e, name)
		}
		x.Links = append(x.Links, l)
	}
	attrs := map[string]bool{}
	for _, r := range inv.Records(e) {
		for _, f := range inv.Sources[r.Src].Snapshot.Schema.Fields {
			attrs[f] = true
		}
	}
	names := make([]string, 0, len(attrs))
	for a := range attrs {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		ea := ExplainAttr{Name: a, BySource: map[string]any{}}
		if v, src, ok := inv.Attr(e, a); ok {
			ea.Merged, ea.MergedFrom = v, inv.Sources[src].Name
		}
		for _, si := range inv.SourcesOf(e) {
			r, _ := inv.InSource(e, si)
			if v, ok := inv.RecordAttr(r, a); ok {
				ea.BySource[inv.Sources[si].Name] = v
			}
		}
		x.Attributes = append(x.Attributes, ea)
	}
	return x
}

// compareKeys says which correlation keys two merged records agree on,
// and on which they differ without it keeping them apart.
func (inv *Inventory) compareKeys(a, b RecRef) (agreed, ignored []string) {
	kd := inv.kinds[inv.kindByNm[inv.Sources[a.Src].Kind]]
	ra, rb := inv.Record(a), inv.Record(b)
	for _, key := range kd.keys {
		var av, bv []string
		for _, k := range ra.Keys {
			if k.Name == key {
				av = append(av, k.Value)
			}
		}
		for _, k := range rb.Keys {
			if k.Name == key {
				bv = append(bv, k.Value)
			}
		}
		if len(av) == 0 || len(bv) == 0 {
			continue
		}
		shared := ""
		for _, x := range av {
			for _, y := range bv {
				if x == y && shared == "" {
					shared = x
				}
			}
		}
		switch {
		case shared != "":
			agreed = append(agreed, key+"="+shared)
		case inv.strong(key):
			ignored = append(ignored, fmt.Sprintf("%s differs (%s here, %s there): a stronger key agrees, so the records are one thing with several %s values",
				key, strings.Join(av, ","), strings.Join(bv, ","), key))
		default:
			ignored = append(ignored, fmt.Sprintf("%s differs (%s here, %s there): ignored, %s is not a strong key (a thing can have several)",
				key, strings.Join(av, ","), strings.Join(bv, ","), key))
		}
	}
	return agreed, ignored
}

// unresolvedWhy says why a declared link found nothing.
func (inv *Inventory) unresolvedWhy(e int32, name string) string {
	var tried []string
	inv.eachRecord(e, func(r RecRef) bool {
		s := inv.Sources[r.Src]
		for i, spec := range s.Snapshot.Schema.Links {
			if spec.Name != name {
				continue
			}
			v := inv.RecordsOf(r).Link(int(r.Idx), i)
			if v == "" {
				tried = append(tried, fmt.Sprintf("%s has no %s value", s.Name, spec.Key))
				continue
			}
			k, ok := inv.kindByNm[spec.To]
			if !ok {
				tried = append(tried, fmt.Sprintf("no %s entities", spec.To))
				continue
			}
			if t, ok := inv.index(k, spec.Key)[v]; ok && t == -2 {
				tried = append(tried, fmt.Sprintf("%s %s=%s matches more than one %s", s.Name, spec.Key, v, spec.To))
			} else {
				tried = append(tried, fmt.Sprintf("no %s with %s=%s", spec.To, spec.Key, v))
			}
		}
		return true
	})
	return strings.Join(tried, "; ")
}

// FindRecord returns the record a "source:record-id" label names.
func (inv *Inventory) FindRecord(label string) (RecRef, bool) {
	name, id, ok := strings.Cut(label, ":")
	if !ok {
		return RecRef{}, false
	}
	si := inv.SourceIndex(name)
	if si < 0 {
		return RecRef{}, false
	}
	for i := range inv.Sources[si].Snapshot.Records.Len() {
		if inv.Sources[si].Snapshot.Records.HasID(i, id) {
			return RecRef{Src: uint16(si), Idx: uint32(i)}, true
		}
	}
	return RecRef{}, false
}

// RefExists reports whether a reference of onus link names something: a
// record ("source:record-id") or an entity id.
func (inv *Inventory) RefExists(ref string) bool {
	if _, ok := inv.FindRecord(ref); ok {
		return true
	}
	return len(inv.Resolve([]string{ref})) > 0
}

// KeyNormalizer normalises a raw key value for lookups.
type KeyNormalizer interface {
	Normalize(key, value string) string
}

// Find returns the entities a user's query names: an entity id, any
// identity key value (a serial, an e-mail, a hostname), or a name.
func (inv *Inventory) Find(query string, norm KeyNormalizer) []int32 {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil
	}
	if m := inv.Resolve([]string{query}); len(m) > 0 {
		return []int32{m[query]}
	}
	// A record id: "osquery:<host uuid>/<path>".
	if r, ok := inv.FindRecord(query); ok {
		if e := inv.Owner(r); e >= 0 {
			return []int32{e}
		}
	}
	seen := map[int32]bool{}
	var out []int32
	add := func(e int32) {
		if e >= 0 && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for k, kd := range inv.kinds {
		keys := make([]string, 0, len(kd.keyNames))
		for key := range kd.keyNames {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			if e, ok := inv.index(uint16(k), key)[norm.Normalize(key, query)]; ok {
				add(e)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for e := range inv.entities {
		if strings.EqualFold(inv.Name(int32(e)), query) {
			add(int32(e))
		}
	}
	return out
}
