package inventory_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/identity"
	"github.com/onus-sec/onus/inventory"
)

// rec builds a record from "key=value" pairs; keys are normalised as a
// source would normalise them. "@name" sets the name, "#id" the id,
// "+link=value" a link value, "field:=value" an attribute, "seen=n" the
// seen time.
func rec(parts ...string) onus.Record {
	n := identity.New(identity.Options{})
	r := onus.Record{}
	for _, p := range parts {
		switch {
		case strings.HasPrefix(p, "#"):
			r.ID = p[1:]
		case strings.HasPrefix(p, "@"):
			r.Name = p[1:]
		default:
			k, raw, _ := strings.Cut(p, "=")
			if v, why := n.Why(k, raw); v != "" {
				r.Keys = append(r.Keys, onus.Key{Name: k, Value: v})
			} else if why != "" {
				r.Keys = append(r.Keys, onus.Key{Name: onus.IgnoredKeyPrefix + k, Value: strings.TrimSpace(raw) + "\t" + why})
			}
		}
	}
	return r
}

type src struct {
	name, kind string
	creates    bool
	fields     []string
	links      []onus.LinkSpec
	recs       []onus.Record
}

func build(t *testing.T, correlate map[string][]string, sources ...src) *inventory.Inventory {
	t.Helper()
	var in inventory.Input
	in.Correlate = correlate
	for _, s := range sources {
		for i := range s.recs {
			if s.recs[i].ID == "" {
				s.recs[i].ID = s.name + "-" + string(rune('a'+i))
			}
			s.recs[i].Loc = i + 2
			if s.recs[i].Attrs == nil {
				s.recs[i].Attrs = make([]any, len(s.fields))
			}
			if s.recs[i].Links == nil {
				s.recs[i].Links = make([]string, len(s.links))
			}
		}
		in.Sources = append(in.Sources, inventory.SourceInput{
			Name: s.name, Kind: s.kind, Creates: s.creates, Healthy: true,
			Snapshot: &onus.Snapshot{Source: s.name, Kind: s.kind, Schema: onus.Schema{Fields: s.fields, Links: s.links}, Records: onus.RecordsOf(s.recs)},
		})
	}
	inv, err := inventory.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// groups renders the entities of a kind as sorted "src:id+src:id" groups.
func groups(inv *inventory.Inventory, kind string) []string {
	var out []string
	for _, e := range inv.OfKind(kind) {
		var members []string
		for _, r := range inv.Records(e) {
			members = append(members, inv.SourceOf(r).Name+":"+inv.Record(r).ID)
		}
		out = append(out, strings.Join(members, "+"))
	}
	sort.Strings(out)
	return out
}

var deviceKeys = map[string][]string{"device": {"serial", "mac", "hostname"}}

func TestCorrelate(t *testing.T) {
	tests := []struct {
		name      string
		sources   []src
		want      []string
		near      int
		unmatched int
	}{
		{
			name: "serials differ in case and padding",
			sources: []src{
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=c02zc2qylvdl", "hostname=MBP-JANE")}},
				{name: "edr", kind: "device", creates: true, recs: []onus.Record{rec("#e1", "serial= C02ZC2QYLVDL ", "hostname=mbp-jane.corp.acme.com")}},
			},
			want: []string{"mdm:m1+edr:e1"},
		},
		{
			name: "MACs in different notations, no serial on one side",
			sources: []src{
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=S1", "mac=6A:2C:4B:B7:65:B5")}},
				{name: "edr", kind: "device", creates: true, recs: []onus.Record{rec("#e1", "mac=6a-2c-4b-b7-65-b5")}},
			},
			want: []string{"mdm:m1+edr:e1"},
		},
		{
			name: "same hostname, different serials: two machines",
			sources: []src{
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=S1", "hostname=LAPTOP"), rec("#m2", "serial=S2", "hostname=laptop")}},
			},
			want: []string{"mdm:m1", "mdm:m2"},
			near: 1,
		},
		{
			name: "same hostname, one side has no serial: merged",
			sources: []src{
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=S1", "hostname=LAPTOP")}},
				{name: "osq", kind: "device", creates: true, recs: []onus.Record{rec("#o1", "hostname=laptop.local")}},
			},
			want: []string{"mdm:m1+osq:o1"},
		},
		{
			name: "re-imaged laptop: two MDM records with one serial",
			sources: []src{
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#old", "serial=S1", "hostname=old-name"), rec("#new", "serial=S1", "hostname=new-name")}},
				{name: "edr", kind: "device", creates: true, recs: []onus.Record{rec("#e1", "hostname=new-name")}},
			},
			want: []string{"mdm:old+mdm:new+edr:e1"},
		},
		{
			name: "junk serials never merge",
			sources: []src{
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=To Be Filled By O.E.M.", "hostname=a"), rec("#m2", "serial=To Be Filled By O.E.M.", "hostname=b")}},
			},
			want: []string{"mdm:m1", "mdm:m2"},
		},
		{
			name: "a weaker key bridges a group only without conflict",
			sources: []src{
				// m1 and e1 share a MAC; e2 shares the hostname but has another serial.
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=S1", "mac=aa:bb:cc:dd:ee:01", "hostname=h")}},
				{name: "edr", kind: "device", creates: true, recs: []onus.Record{rec("#e1", "mac=aa:bb:cc:dd:ee:01", "hostname=h"), rec("#e2", "serial=S2", "hostname=h")}},
			},
			want: []string{"edr:e2", "mdm:m1+edr:e1"},
			near: 1,
		},
		{
			name: "a source that may not create entities only joins them",
			sources: []src{
				{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=S1", "hostname=h1")}},
				{name: "scan", kind: "device", creates: false, recs: []onus.Record{rec("#10.0.0.5", "hostname=H1"), rec("#10.0.0.9", "hostname=unknown-box")}},
			},
			want:      []string{"mdm:m1+scan:10.0.0.5"},
			unmatched: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := build(t, deviceKeys, tt.sources...)
			got := groups(inv, "device")
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("entities = %v, want %v", got, tt.want)
			}
			if inv.NearCount() != tt.near {
				t.Errorf("near matches = %d, want %d", inv.NearCount(), tt.near)
			}
			unmatched := 0
			for _, s := range inv.Sources {
				unmatched += s.Unmatched
			}
			if unmatched != tt.unmatched {
				t.Errorf("unmatched = %d, want %d", unmatched, tt.unmatched)
			}
		})
	}
}

func TestNearMatchExplains(t *testing.T) {
	inv := build(t, deviceKeys, src{name: "mdm", kind: "device", creates: true,
		recs: []onus.Record{rec("#m1", "serial=S1", "hostname=LAPTOP"), rec("#m2", "serial=S2", "hostname=laptop")}})
	e, ok := inv.Lookup("device", "serial", "S1")
	if !ok {
		t.Fatal("no entity with serial S1")
	}
	near := inv.NearMatches(e)
	if len(near) != 1 {
		t.Fatalf("near = %v", near)
	}
	n := near[0]
	if n.Key != "hostname" || n.Value != "laptop" || n.Conflict != "serial" ||
		strings.Join(n.AValues, ",") != "S1" || strings.Join(n.BValues, ",") != "S2" {
		t.Errorf("near match = %+v", n)
	}
}

func TestIDsAreStable(t *testing.T) {
	// First seen only by hostname, in EDR.
	before := build(t, deviceKeys, src{name: "edr", kind: "device", creates: true, recs: []onus.Record{rec("#e1", "hostname=MBP-JANE")}})
	oldID := before.ID(before.OfKind("device")[0])
	if oldID != "device:hostname:mbp-jane" {
		t.Fatalf("id = %s", oldID)
	}
	// Then MDM reports it with its serial: the id moves to the stronger
	// key, and the old id still resolves to the same machine.
	after := build(t, deviceKeys,
		src{name: "mdm", kind: "device", creates: true, recs: []onus.Record{rec("#m1", "serial=S1", "hostname=mbp-jane")}},
		src{name: "edr", kind: "device", creates: true, recs: []onus.Record{rec("#e1", "hostname=MBP-JANE")}},
	)
	e := after.OfKind("device")[0]
	if got := after.ID(e); got != "device:serial:S1" {
		t.Errorf("id = %s", got)
	}
	res := after.Resolve([]string{oldID, "device:serial:S1", "device:serial:GONE", "device:edr:e1", "nokind:x:y"})
	if res[oldID] != e || res["device:serial:S1"] != e || res["device:edr:e1"] != e {
		t.Errorf("resolve = %v", res)
	}
	if _, ok := res["device:serial:GONE"]; ok {
		t.Error("a gone entity resolved")
	}
	// Without any correlation key the id names the source and record.
	sw := build(t, nil, src{name: "osq", kind: "software", creates: true, recs: []onus.Record{rec("#h1/Chrome")}})
	if got := sw.ID(sw.OfKind("software")[0]); got != "software:osq:h1/Chrome" {
		t.Errorf("software id = %s", got)
	}
}

func TestLinks(t *testing.T) {
	ownerLinks := []onus.LinkSpec{{Name: "owner", To: "person", Key: "email"}, {Name: "owner", To: "person", Key: "username"}}
	personLinks := []onus.LinkSpec{{Name: "manager", To: "person", Key: "email"}, {Name: "team", To: "team", Key: "name", Create: true}}
	d1 := rec("#d1", "serial=S1")
	d1.Links = []string{"jane@acme.com", ""}
	d2 := rec("#d2", "serial=S2")
	d2.Links = []string{"", "bob"} // no e-mail: found by username
	d3 := rec("#d3", "serial=S3")
	d3.Links = []string{"ghost@acme.com", ""} // nobody
	jane := rec("#1", "email=jane@acme.com", "username=jane")
	jane.Links = []string{"boss@acme.com", "engineering"}
	bob := rec("#2", "email=bob@acme.com", "username=bob")
	bob.Links = []string{"boss@acme.com", "engineering"}
	boss := rec("#3", "email=boss@acme.com", "username=boss")
	boss.Links = []string{"", "leadership"}
	inv := build(t, map[string][]string{"device": {"serial"}, "person": {"email"}},
		src{name: "mdm", kind: "device", creates: true, links: ownerLinks, recs: []onus.Record{d1, d2, d3}},
		src{name: "hr", kind: "person", creates: true, links: personLinks, recs: []onus.Record{jane, bob, boss}},
	)
	owner := func(serial string) string {
		d, _ := inv.Lookup("device", "serial", serial)
		p, ok := inv.Link(d, "owner")
		if !ok {
			return ""
		}
		return inv.ID(p)
	}
	if got := owner("S1"); got != "person:email:jane@acme.com" {
		t.Errorf("S1 owner = %s", got)
	}
	if got := owner("S2"); got != "person:email:bob@acme.com" {
		t.Errorf("S2 owner = %s (want the username fallback)", got)
	}
	if got := owner("S3"); got != "" {
		t.Errorf("S3 owner = %s, want none", got)
	}
	if got := inv.LinkStats()["owner"]; got == nil || got.Declared != 3 || got.Resolved != 2 {
		t.Errorf("owner link stats = %+v, want 2 of 3 resolved", got)
	}
	j, _ := inv.Lookup("person", "email", "jane@acme.com")
	m, ok := inv.Link(j, "manager")
	if !ok || inv.ID(m) != "person:email:boss@acme.com" {
		t.Errorf("jane's manager = %v", m)
	}
	team, ok := inv.Link(j, "team")
	if !ok || inv.ID(team) != "team:name:engineering" || inv.Kind(team) != "team" {
		t.Fatalf("jane's team = %v", team)
	}
	b, _ := inv.Lookup("person", "email", "bob@acme.com")
	if bt, _ := inv.Link(b, "team"); bt != team {
		t.Errorf("bob's team %d is not jane's %d: one team entity per name", bt, team)
	}
	if got := len(inv.OfKind("team")); got != 2 {
		t.Errorf("teams = %d, want 2", got)
	}
	_, via, key, value, _ := inv.LinkVia(j, "manager")
	if via != "hr" || key != "email" || value != "boss@acme.com" {
		t.Errorf("via = %s %s %s", via, key, value)
	}
}

func TestMergedAttributes(t *testing.T) {
	fields := []string{"os", "last_seen"}
	old := rec("#old", "serial=S1")
	old.Attrs = []any{"13.1", int64(100)}
	old.Seen = 100
	fresh := rec("#new", "serial=S1")
	fresh.Attrs = []any{"14.2", nil}
	fresh.Seen = 200
	e1 := rec("#e1", "serial=S1")
	e1.Attrs = []any{"14.0", int64(300)}
	inv := build(t, map[string][]string{"device": {"serial"}},
		src{name: "mdm", kind: "device", creates: true, fields: fields, recs: []onus.Record{old, fresh}},
		src{name: "edr", kind: "device", creates: true, fields: fields, recs: []onus.Record{e1}},
	)
	e := inv.OfKind("device")[0]
	// The freshest MDM record speaks for MDM; MDM comes first.
	if v, src, _ := inv.Attr(e, "os"); v != "14.2" || inv.Sources[src].Name != "mdm" {
		t.Errorf("os = %v from %d", v, src)
	}
	// The fresh MDM record lacks last_seen, so EDR's value is used.
	if v, src, _ := inv.Attr(e, "last_seen"); v != int64(300) || inv.Sources[src].Name != "edr" {
		t.Errorf("last_seen = %v from %d", v, src)
	}
	r, ok := inv.InSource(e, inv.SourceIndex("mdm"))
	if !ok || inv.Record(r).ID != "new" {
		t.Errorf("freshest mdm record = %v", inv.Record(r).ID)
	}
}
