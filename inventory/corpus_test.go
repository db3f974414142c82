package inventory_test

import (
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/inventory"
)

// fleetKeys is the order docs/correlation.md recommends for devices.
var fleetKeys = map[string][]string{"device": {"serial", "uuid", "mac", "hostname"}}

// TestCorrelationCorpus holds the cases real fleets are made of: each
// with the entities a person would draw by hand.
func TestCorrelationCorpus(t *testing.T) {
	jamf := func(recs ...onus.Record) src { return src{name: "jamf", kind: "device", creates: true, recs: recs} }
	edr := func(recs ...onus.Record) src { return src{name: "edr", kind: "device", creates: true, recs: recs} }
	osq := func(recs ...onus.Record) src { return src{name: "osquery", kind: "device", creates: true, recs: recs} }
	tests := []struct {
		name      string
		sources   []src
		want      []string
		near      int
		ambiguous int
	}{
		{
			// The EDR reports the dock's Ethernet MAC, which Jamf never saw,
			// no serial and a fully qualified host name: the differing MAC is
			// no proof of another machine, and the host name matches.
			name: "multi-NIC Mac: EDR reports another MAC and an FQDN",
			sources: []src{
				jamf(rec("#j1", "serial=C02AWOOD", "uuid=11111111-2222-3333-4444-555555555555", "mac=a4:83:e7:00:00:01", "mac=a4:83:e7:00:00:02", "hostname=awood-mbp")),
				edr(rec("#e1", "mac=00-e0-4c-68-00-99", "hostname=AWOOD-MBP.corp.acme.com")),
			},
			want: []string{"jamf:j1+edr:e1"},
		},
		{
			name: "host names: .local, trailing dot, case, macOS computer name",
			sources: []src{
				jamf(rec("#j1", "serial=S1", "hostname=Jane’s MacBook Pro")),
				edr(rec("#e1", "hostname=janes-macbook-pro.local.")),
			},
			want: []string{"jamf:j1+edr:e1"},
		},
		{
			// Two laptops used one USB Ethernet adapter: Jamf lists its MAC
			// on both. A serial-less EDR record with that MAC and its own
			// host name goes where the host name says; one with nothing
			// else is not guessed into either.
			name: "dock adapter MAC on two laptops",
			sources: []src{
				jamf(rec("#j1", "serial=S1", "mac=00:e0:4c:68:00:01", "hostname=mbp-a"),
					rec("#j2", "serial=S2", "mac=00:e0:4c:68:00:01", "hostname=mbp-b")),
				edr(rec("#e1", "mac=00:e0:4c:68:00:01", "hostname=mbp-b"),
					rec("#e2", "mac=00:e0:4c:68:00:01")),
			},
			want:      []string{"edr:e2", "jamf:j1", "jamf:j2+edr:e1"},
			near:      1,
			ambiguous: 1,
		},
		{
			name: "re-imaged laptop: new UDID, same serial, osquery by the new UUID",
			sources: []src{
				jamf(rec("#old", "serial=S1", "uuid=aaaaaaaa-0000-0000-0000-000000000001", "hostname=mbp-old"),
					rec("#new", "serial=S1", "uuid=aaaaaaaa-0000-0000-0000-000000000002", "hostname=mbp-new")),
				osq(rec("#o1", "uuid=aaaaaaaa-0000-0000-0000-000000000002", "hostname=mbp-new")),
			},
			want: []string{"jamf:old+jamf:new+osquery:o1"},
		},
		{
			// Factory names are junk: they neither merge the EDR records
			// with each other nor with the Jamf laptop called MacBook-Pro.
			name: "factory host names",
			sources: []src{
				jamf(rec("#j1", "serial=S1", "hostname=MacBook-Pro")),
				edr(rec("#e1", "mac=00:e0:4c:00:00:01", "hostname=MacBook-Pro"),
					rec("#e2", "mac=00:e0:4c:00:00:02", "hostname=macbook-pro.local"),
					rec("#e3", "mac=00:e0:4c:00:00:03", "hostname=MacBook-Pro-2")),
			},
			want: []string{"edr:e1", "edr:e2", "edr:e3", "jamf:j1"},
		},
		{
			// Every T2 Mac reports ac:de:48:00:11:22 for its internal
			// bridge: it is junk, not a near match and not a merge.
			name: "shared virtual MAC",
			sources: []src{
				jamf(rec("#j1", "serial=S1", "mac=ac:de:48:00:11:22", "hostname=mbp-a"),
					rec("#j2", "serial=S2", "mac=ac:de:48:00:11:22", "hostname=mbp-b")),
				edr(rec("#e1", "mac=AC-DE-48-00-11-22")),
			},
			want: []string{"edr:e1", "jamf:j1", "jamf:j2"},
		},
		{
			name: "same host name, different serials: still two machines",
			sources: []src{
				jamf(rec("#j1", "serial=S1", "hostname=mbp-esmith"), rec("#j2", "serial=S2", "hostname=mbp-esmith")),
			},
			want: []string{"jamf:j1", "jamf:j2"},
			near: 1,
		},
		{
			// An EDR record without a serial named like two laptops that
			// serials keep apart could be either: kept apart, not guessed.
			name: "host name shared by two laptops, EDR without serial",
			sources: []src{
				jamf(rec("#j1", "serial=S1", "hostname=mbp-esmith"), rec("#j2", "serial=S2", "hostname=mbp-esmith")),
				edr(rec("#e1", "hostname=MBP-ESMITH")),
			},
			want:      []string{"edr:e1", "jamf:j1", "jamf:j2"},
			near:      1,
			ambiguous: 1,
		},
		{
			// A renamed laptop: the serial agrees, the host names differ.
			name: "a differing host name never vetoes",
			sources: []src{
				jamf(rec("#j1", "serial=S1", "mac=a4:83:e7:00:00:01", "hostname=mbp-new-name")),
				edr(rec("#e1", "serial=s1", "mac=a4:83:e7:00:00:09", "hostname=mbp-old-name")),
			},
			want: []string{"jamf:j1+edr:e1"},
		},
		{
			name: "a differing hardware UUID vetoes",
			sources: []src{
				jamf(rec("#j1", "uuid=aaaaaaaa-0000-0000-0000-000000000001", "hostname=mbp-x")),
				osq(rec("#o1", "uuid=aaaaaaaa-0000-0000-0000-000000000002", "hostname=mbp-x")),
			},
			want: []string{"jamf:j1", "osquery:o1"},
			near: 1,
		},
		{
			name: "placeholder serials from firmware",
			sources: []src{
				edr(rec("#e1", "serial=Default string", "hostname=desktop-7a1b2c3"),
					rec("#e2", "serial=0123456789", "hostname=desktop-9z8y7x6"),
					rec("#e3", "serial=Not Specified", "hostname=desktop-7a1b2c3")),
			},
			want: []string{"edr:e1+edr:e3", "edr:e2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := build(t, fleetKeys, tt.sources...)
			got := groups(inv, "device")
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("entities = %v, want %v", got, tt.want)
			}
			if inv.NearCount() != tt.near {
				t.Errorf("near matches = %d, want %d", inv.NearCount(), tt.near)
			}
			if inv.AmbiguousCount() != tt.ambiguous {
				t.Errorf("ambiguous = %d, want %d", inv.AmbiguousCount(), tt.ambiguous)
			}
			// Key finds, without building the list, the first key of a
			// name that Keys lists, and nothing for a name it lacks.
			for e := range int32(inv.Len()) {
				first := map[string]string{}
				for _, k := range inv.Keys(e) {
					if _, ok := first[k.Name]; !ok {
						first[k.Name] = k.Value
					}
				}
				for _, name := range []string{"serial", "mac", "hostname", "uuid", "email", "none"} {
					if got := inv.Key(e, name); got != first[name] {
						t.Errorf("entity %d: Key(%s) = %q, Keys says %q", e, name, got, first[name])
					}
				}
			}
		})
	}
}

// Explain says which keys agreed, which differed and were ignored, which
// values were junk, and which records were kept apart as ambiguous.
func TestExplainSaysWhy(t *testing.T) {
	inv := build(t, fleetKeys,
		src{name: "jamf", kind: "device", creates: true, recs: []onus.Record{
			rec("#j1", "serial=S1", "mac=a4:83:e7:00:00:01", "hostname=awood-mbp"),
			rec("#j2", "serial=S2", "mac=00:e0:4c:68:00:01", "hostname=mbp-b"),
			rec("#j3", "serial=S3", "mac=00:e0:4c:68:00:01", "hostname=mbp-c"),
		}},
		src{name: "edr", kind: "device", creates: true, recs: []onus.Record{
			rec("#e1", "mac=00-e0-4c-68-00-99", "hostname=AWOOD-MBP.corp.acme.com", "serial=To be filled by O.E.M."),
			rec("#e2", "mac=00:e0:4c:68:00:01", "hostname=MacBook-Pro"),
		}},
	)
	e, _ := inv.Lookup("device", "serial", "S1")
	x := inv.Explain(e)
	if len(x.Merges) != 1 {
		t.Fatalf("merges = %+v", x.Merges)
	}
	m := x.Merges[0]
	if m.Key != "hostname" || strings.Join(m.Agreed, ",") != "hostname=awood-mbp" ||
		len(m.Ignored) != 1 || !strings.Contains(m.Ignored[0], "mac differs") || !strings.Contains(m.Ignored[0], "not a strong key") {
		t.Errorf("merge = %+v", m)
	}
	var ig []string
	for _, r := range x.Records {
		for _, i := range r.Ignored {
			ig = append(ig, r.Source+":"+r.ID+" "+i.Key+"="+i.Value+": "+i.Why)
		}
	}
	if len(ig) != 1 || !strings.Contains(ig[0], `edr:e1 serial=To be filled by O.E.M.: placeholder serial`) {
		t.Errorf("ignored = %q", ig)
	}
	// e2 shares the adapter MAC of j2 and j3, and has a factory name.
	e2, ok := inv.Lookup("device", "mac", "00:e0:4c:68:00:01")
	if ok {
		t.Fatalf("the shared MAC resolved to %s", inv.ID(e2))
	}
	var amb []inventory.ExplainAmbig
	for _, d := range inv.OfKind("device") {
		if r := inv.Records(d); inv.Record(r[0]).ID == "e2" {
			amb = inv.Explain(d).Ambiguous
		}
	}
	if len(amb) != 1 || amb[0].Key != "mac" || len(amb[0].Possible) != 2 ||
		!strings.HasPrefix(amb[0].Possible[0], "device:serial:S2") || !strings.HasPrefix(amb[0].Possible[1], "device:serial:S3") {
		t.Errorf("ambiguous = %+v", amb)
	}
	for _, k := range inv.Keys(e) {
		if strings.HasPrefix(k.Name, onus.IgnoredKeyPrefix) {
			t.Errorf("an ignored key is among the entity's keys: %v", k)
		}
	}
}

func buildWith(t *testing.T, in inventory.Input, sources ...src) *inventory.Inventory {
	t.Helper()
	base := build(t, nil, sources...) // fills ids, locations and slices
	in.Sources = nil
	for _, s := range base.Sources {
		in.Sources = append(in.Sources, s.SourceInput)
	}
	inv, err := inventory.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// Links and unlinks made by hand override the keys, and explain shows them.
func TestManualLinks(t *testing.T) {
	sources := []src{
		{name: "jamf", kind: "device", creates: true, recs: []onus.Record{
			rec("#j1", "serial=S1", "mac=00:e0:4c:68:00:01", "hostname=mbp-a"),
			rec("#j2", "serial=S2", "mac=00:e0:4c:68:00:01", "hostname=mbp-b"),
		}},
		{name: "edr", kind: "device", creates: true, recs: []onus.Record{
			rec("#e1", "mac=00:e0:4c:68:00:01"),
			rec("#e2", "hostname=mbp-a"),
		}},
	}
	// Without a decision, e1 is ambiguous and e2 joins mbp-a by host name.
	inv := buildWith(t, inventory.Input{Correlate: fleetKeys}, sources...)
	if got := strings.Join(groups(inv, "device"), " "); got != "edr:e1 jamf:j1+edr:e2 jamf:j2" {
		t.Fatalf("before: %s", got)
	}
	inv = buildWith(t, inventory.Input{Correlate: fleetKeys, Manual: []inventory.Manual{
		{A: "edr:e1", B: "device:serial:S2", Linked: true},
		{A: "jamf:j1", B: "edr:e2", Linked: false},
	}}, sources...)
	if got := strings.Join(groups(inv, "device"), " "); got != "edr:e2 jamf:j1 jamf:j2+edr:e1" {
		t.Errorf("after: %s", got)
	}
	if inv.AmbiguousCount() != 0 {
		t.Errorf("the link left %d ambiguities", inv.AmbiguousCount())
	}
	s2, _ := inv.Lookup("device", "serial", "S2")
	x := inv.Explain(s2)
	if len(x.Merges) != 1 || x.Merges[0].Key != "link" || !strings.Contains(x.Merges[0].Value, "onus link edr:e1 device:serial:S2") {
		t.Errorf("merges = %+v", x.Merges)
	}
	s1, _ := inv.Lookup("device", "serial", "S1")
	near := inv.Explain(s1).NearMatches
	if len(near) != 2 || near[1].Conflict != "unlinked by hand" || near[1].Other != "edr:e2" {
		t.Errorf("near = %+v", near)
	}
	if got := inv.ManualApplied(); len(got) != 2 || !got[0] || !got[1] {
		t.Errorf("applied = %v", got)
	}
	// A record named with its kind ("device:edr:e1") is the same record.
	byKind := buildWith(t, inventory.Input{Correlate: fleetKeys, Manual: []inventory.Manual{
		{A: "device:edr:e1", B: "device:serial:S2", Linked: true},
	}}, sources...)
	if got := strings.Join(groups(byKind, "device"), " "); got != "jamf:j1+edr:e2 jamf:j2+edr:e1" {
		t.Errorf("linked by kind:source:id: %s", got)
	}
	// A decision about a record that left its source does nothing.
	stale := buildWith(t, inventory.Input{Correlate: fleetKeys, Manual: []inventory.Manual{{A: "edr:gone", B: "jamf:j1", Linked: true}}}, sources...)
	if got := stale.ManualApplied(); len(got) != 1 || got[0] {
		t.Errorf("applied = %v", got)
	}
}

// A background check filed under a personal address, with no employee id,
// shares only a name with a person: a possible match, not a merge.
func TestPossibleMatchByName(t *testing.T) {
	sources := []src{
		{name: "hr", kind: "person", creates: true, recs: []onus.Record{
			rec("#1150", "employee_id=1150", "email=ada.rahman@acme.com", "name=Ada Rahman"),
			rec("#1151", "employee_id=1151", "email=bo.li@acme.com", "name=Bo Li"),
		}},
		{name: "checkr", kind: "person", recs: []onus.Record{
			rec("#cand_1", "email=ada.r@gmail.com", "name=ada  rahman", "checkr_candidate=cand_1"),
			rec("#cand_2", "employee_id=1151", "name=Bo Li", "checkr_candidate=cand_2"),
		}},
	}
	keys := map[string][]string{"person": {"employee_id", "email", "checkr_candidate"}}
	inv := buildWith(t, inventory.Input{Correlate: keys, Hints: map[string][]string{"person": {"name"}}}, sources...)
	if got := strings.Join(groups(inv, "person"), " "); got != "hr:1150 hr:1151+checkr:cand_2" {
		t.Fatalf("entities: %s", got)
	}
	ada, _ := inv.Lookup("person", "employee_id", "1150")
	_, text, ok := inv.PossibleMatch(ada)
	if !ok || !strings.Contains(text, "possible match: checkr:cand_1 (name=ada rahman)") {
		t.Errorf("possible match = %q", text)
	}
	bo, _ := inv.Lookup("person", "employee_id", "1151")
	if _, text, ok := inv.PossibleMatch(bo); ok {
		t.Errorf("Bo Li is matched, yet: %s", text)
	}
	// Confirmed by hand: merged, and no longer a possible match.
	inv = buildWith(t, inventory.Input{Correlate: keys, Hints: map[string][]string{"person": {"name"}},
		Manual: []inventory.Manual{{A: "person:employee_id:1150", B: "checkr:cand_1", Linked: true}}}, sources...)
	if got := strings.Join(groups(inv, "person"), " "); got != "hr:1150+checkr:cand_1 hr:1151+checkr:cand_2" {
		t.Errorf("after link: %s", got)
	}
	ada, _ = inv.Lookup("person", "employee_id", "1150")
	if _, text, ok := inv.PossibleMatch(ada); ok {
		t.Errorf("still a possible match after the link: %s", text)
	}
	// Found by its record id, for explain.
	if got := inv.Find("checkr:cand_1", nil); len(got) != 1 || got[0] != ada {
		t.Errorf("find by record id = %v", got)
	}
}

// Two ambiguous records that share only a MAC are two entities with two
// ids, not one id for both.
func TestAmbiguousRecordsKeepDistinctIDs(t *testing.T) {
	inv := build(t, fleetKeys,
		src{name: "jamf", kind: "device", creates: true, recs: []onus.Record{
			rec("#j1", "serial=S1", "mac=00:e0:4c:68:00:01"),
			rec("#j2", "serial=S2", "mac=00:e0:4c:68:00:01"),
		}},
		src{name: "edr", kind: "device", creates: true, recs: []onus.Record{
			rec("#e1", "mac=00:e0:4c:68:00:01", "hostname=MacBook-Pro"),
			rec("#e2", "mac=00:e0:4c:68:00:01", "hostname=MacBook-Air"),
		}},
	)
	ids := map[string]bool{}
	for _, e := range inv.OfKind("device") {
		ids[inv.ID(e)] = true
	}
	if len(ids) != 4 || !ids["device:edr:e1"] || !ids["device:edr:e2"] || !ids["device:serial:S1"] {
		t.Errorf("ids = %v", ids)
	}
	// One ambiguous record alone is named by its record too: its MAC is
	// the laptops' as well, and would not find it again.
	one := build(t, fleetKeys,
		src{name: "jamf", kind: "device", creates: true, recs: []onus.Record{
			rec("#j1", "serial=S1", "mac=00:e0:4c:68:00:01"),
			rec("#j2", "serial=S2", "mac=00:e0:4c:68:00:01"),
		}},
		src{name: "edr", kind: "device", creates: true, recs: []onus.Record{rec("#e1", "mac=00:e0:4c:68:00:01")}},
	)
	if got := one.Find("device:edr:e1", nil); len(got) != 1 || one.ID(got[0]) != "device:edr:e1" {
		t.Errorf("the lone ambiguous record: %v", got)
	}
	if res := inv.Resolve([]string{"device:edr:e2"}); len(res) != 1 {
		t.Errorf("device:edr:e2 does not resolve: %v", res)
	}
}
