package store

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/onus-sec/onus"
	"time"
)

// ReplaceDirectory writes only the difference, and what is stored after
// it is exactly the new directory: changed rows updated, missing ones
// deleted, new ones added, unchanged ones kept.
func TestReplaceDirectoryWritesTheDifference(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	left := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	first := []*onus.Member{
		{Email: "ada@acme.com", Name: "Ada", Entity: "person:employee_id:1", Status: "Active", Team: "Exec"},
		{Email: "ken@acme.com", Name: "Ken", Entity: "person:employee_id:2", Status: "Active", Manager: "ada@acme.com", Team: "IT"},
		{Email: "bob@acme.com", Name: "Bob", Entity: "person:employee_id:3", Status: "Active", Manager: "ken@acme.com", Team: "IT"},
	}
	firstAssets := []onus.Asset{
		{Person: "ken@acme.com", Entity: "device:serial:A", Kind: "device", Name: "MBP-KEN", Link: "owner"},
		{Person: "bob@acme.com", Entity: "device:serial:B", Kind: "device", Name: "MBP-BOB", Link: "owner"},
	}
	if err := db.ReplaceDirectory(ctx, first, firstAssets); err != nil {
		t.Fatal(err)
	}
	second := []*onus.Member{
		first[0], // unchanged
		{Email: "ken@acme.com", Name: "Ken", Entity: "person:employee_id:2", Status: "Terminated", LeftOn: left, Manager: "ada@acme.com", Team: "IT"},
		{Email: "eve@acme.com", Name: "Eve", Entity: "person:employee_id:4", Status: "Active", Manager: "ada@acme.com", Team: "IT", TimeZone: "Europe/Berlin"},
	}
	secondAssets := []onus.Asset{
		{Person: "ken@acme.com", Entity: "device:serial:A", Kind: "device", Name: "MBP-KEN-OLD", Link: "owner"},
		{Person: "eve@acme.com", Entity: "device:serial:B", Kind: "device", Name: "MBP-BOB", Link: "owner"},
	}
	if err := db.ReplaceDirectory(ctx, second, secondAssets); err != nil {
		t.Fatal(err)
	}
	dir, err := db.Directory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []onus.Member
	for _, p := range dir.People {
		got = append(got, *p)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Email < got[j].Email })
	want := []onus.Member{*second[0], *second[2], *second[1]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("people:\n got %+v\nwant %+v", got, want)
	}
	for _, c := range []struct {
		email string
		want  []onus.Asset
	}{
		{"ken@acme.com", secondAssets[:1]},
		{"eve@acme.com", secondAssets[1:]},
		{"bob@acme.com", nil},
	} {
		as, err := db.Assets(ctx, c.email)
		if err != nil {
			t.Fatal(err)
		}
		for i := range as {
			as[i].Person = c.email
		}
		if len(as) != len(c.want) || len(as) > 0 && !reflect.DeepEqual(as, c.want) {
			t.Errorf("assets of %s = %+v, want %+v", c.email, as, c.want)
		}
	}
}

// ReplaceUnknowns keeps exactly the new set.
func TestReplaceUnknownsWritesTheDifference(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	if err := db.ReplaceUnknowns(ctx, []onus.UnknownResult{{Control: "c1", Entity: "e1", Reason: "r1"}, {Control: "c1", Entity: "e2", Reason: "r2"}, {Control: "c2", Entity: "e1", Reason: "r3"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceUnknowns(ctx, []onus.UnknownResult{{Control: "c1", Entity: "e1", Reason: "r1"}, {Control: "c1", Entity: "e2", Reason: "other"}, {Control: "c3", Entity: "e9", Reason: "new"}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Unknowns(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []onus.UnknownResult{{Control: "c1", Entity: "e1", Reason: "r1"}, {Control: "c1", Entity: "e2", Reason: "other"}, {Control: "c3", Entity: "e9", Reason: "new"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unknowns = %+v, want %+v", got, want)
	}
}

// A directory with the digest of the last one written is not compared
// row by row: whatever its order, nothing is read or written but the
// digest. A directory that differs in any field is written.
func TestReplaceDirectorySkipsTheSameDirectory(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	people := []*onus.Member{
		{Email: "ada@acme.com", Name: "Ada", Entity: "person:employee_id:1", Status: "Active", Team: "Exec"},
		{Email: "ken@acme.com", Name: "Ken", Entity: "person:employee_id:2", Status: "Active", Manager: "ada@acme.com", Team: "IT"},
	}
	assets := []onus.Asset{
		{Person: "ken@acme.com", Entity: "device:serial:A", Kind: "device", Name: "MBP-KEN", Link: "owner"},
		{Person: "ada@acme.com", Entity: "device:serial:B", Kind: "device", Name: "MBP-ADA", Link: "owner"},
	}
	if err := db.ReplaceDirectory(ctx, people, assets); err != nil {
		t.Fatal(err)
	}
	// A row changed behind the store's back shows whether the next
	// replace looked at the rows.
	if _, err := db.db.ExecContext(ctx, `UPDATE people SET name = 'marker' WHERE email = 'ken@acme.com'`); err != nil {
		t.Fatal(err)
	}
	name := func() string {
		t.Helper()
		p, err := db.Person(ctx, "ken@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		return p.Name
	}
	reordered := []*onus.Member{people[1], people[0]}
	if err := db.ReplaceDirectory(ctx, reordered, []onus.Asset{assets[1], assets[0]}); err != nil {
		t.Fatal(err)
	}
	if got := name(); got != "marker" {
		t.Errorf("the same directory in another order was compared and written again (name %q)", got)
	}
	for _, change := range []struct {
		what   string
		people []*onus.Member
		assets []onus.Asset
	}{
		{"a team", []*onus.Member{people[0], {Email: "ken@acme.com", Name: "Ken", Entity: "person:employee_id:2", Status: "Active", Manager: "ada@acme.com", Team: "Sales"}}, assets},
		{"an asset's name", people, []onus.Asset{assets[0], {Person: "ada@acme.com", Entity: "device:serial:B", Kind: "device", Name: "MBP-ADA-2", Link: "owner"}}},
	} {
		if _, err := db.db.ExecContext(ctx, `UPDATE people SET name = 'marker' WHERE email = 'ken@acme.com'`); err != nil {
			t.Fatal(err)
		}
		if err := db.ReplaceDirectory(ctx, change.people, change.assets); err != nil {
			t.Fatal(err)
		}
		if got := name(); got != "Ken" {
			t.Errorf("%s changed, yet the directory was not written (name %q)", change.what, got)
		}
	}
}

// BenchmarkDirectoryDigest: the digest of a 100,000-person directory
// with 130,000 assets, which every evaluation computes.
//
//	go test ./store -run '^$' -bench DirectoryDigest
func BenchmarkDirectoryDigest(b *testing.B) {
	var people []*onus.Member
	var assets []onus.Asset
	for i := range 100_000 {
		email := fmt.Sprintf("person%06d@acme.com", i)
		people = append(people, &onus.Member{Email: email, Name: fmt.Sprintf("Person %d", i), Entity: fmt.Sprintf("person:employee_id:%d", i),
			Status: "Active", Manager: "boss@acme.com", Team: "Engineering", TimeZone: "Europe/Berlin"})
		assets = append(assets, onus.Asset{Person: email, Entity: fmt.Sprintf("device:serial:C02%07d", i), Kind: "device", Name: fmt.Sprintf("MBP-%d", i), Link: "owner"})
		if i%10 < 3 {
			assets = append(assets, onus.Asset{Person: email, Entity: fmt.Sprintf("device:serial:W%07d", i), Kind: "device", Name: fmt.Sprintf("WIN-%d", i), Link: "owner"})
		}
	}
	for b.Loop() {
		directoryDigest(people, assets)
	}
}
