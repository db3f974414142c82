package onus_test

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

func sampleRecords() []onus.Record {
	paris, _ := time.LoadLocation("Europe/Paris")
	if paris == nil {
		paris = time.FixedZone("CET", 3600)
	}
	t0 := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	return []onus.Record{
		{ID: "a", Name: "MBP-JANE", Loc: 2, Seen: 1796007600, Keys: []onus.Key{{Name: "serial", Value: "C02X"}, {Name: "mac", Value: "aa:bb"}},
			Links: []string{"jane@acme.com", ""}, Attrs: []any{t0, "15.1", true, int64(3), 2.5, nil}},
		// The same values again: they share the dictionaries' entries.
		{ID: "b", Name: "MBP-JANE", Loc: 3, Keys: []onus.Key{{Name: "serial", Value: "C02Y"}},
			Links: []string{"jane@acme.com", "x"}, Attrs: []any{t0, "15.1", false, int64(3), 2.5, "C02Y"}},
		// A time in another zone keeps its zone; lists and maps are kept as they are.
		{ID: "c", Loc: 4, Links: []string{"", ""}, Attrs: []any{t0.In(paris), []any{"a", int64(1)}, map[string]any{"k": "v"}, nil, nil, nil}},
		// A skipped record: no links, no attributes, only what could be read.
		{ID: "d", Loc: 5, Skipped: true, Keys: []onus.Key{{Name: "serial", Value: "C02Z"}}},
		// Empty but present lists stay empty, not nil.
		{ID: "", Loc: 6, Keys: []onus.Key{}, Links: []string{}, Attrs: []any{}},
	}
}

func TestRecordsKeepEveryField(t *testing.T) {
	in := sampleRecords()
	rs := onus.RecordsOf(in)
	if rs.Len() != len(in) {
		t.Fatalf("Len = %d, want %d", rs.Len(), len(in))
	}
	check := func(when string) {
		t.Helper()
		if got := rs.All(); !reflect.DeepEqual(got, in) {
			for i := range in {
				if !reflect.DeepEqual(got[i], in[i]) {
					t.Errorf("%s: record %d = %#v, want %#v", when, i, got[i], in[i])
				}
			}
		}
		for i, r := range in {
			if rs.ID(i) != r.ID || rs.Name(i) != r.Name || rs.Loc(i) != r.Loc || rs.Seen(i) != r.Seen || rs.Skipped(i) != r.Skipped {
				t.Errorf("%s: record %d's scalar columns differ", when, i)
			}
			if rs.NumLinks(i) != len(r.Links) || rs.NumAttrs(i) != len(r.Attrs) {
				t.Errorf("%s: record %d has %d links and %d attributes, want %d and %d", when, i, rs.NumLinks(i), rs.NumAttrs(i), len(r.Links), len(r.Attrs))
			}
			for j := range 6 {
				want := ""
				if j < len(r.Links) {
					want = r.Links[j]
				}
				if got := rs.Link(i, j); got != want {
					t.Errorf("%s: Link(%d, %d) = %q, want %q", when, i, j, got, want)
				}
				var wantA any
				if j < len(r.Attrs) {
					wantA = r.Attrs[j]
				}
				if got := rs.Attr(i, j); !reflect.DeepEqual(got, wantA) || rs.HasAttr(i, j) != (wantA != nil) {
					t.Errorf("%s: Attr(%d, %d) = %#v, want %#v", when, i, j, got, wantA)
				}
			}
		}
	}
	check("built")
	rs.Compact()
	check("compacted")
	// Appending after Compact keeps working, with codes for old and new values.
	more := onus.Record{ID: "e", Name: "MBP-JANE", Links: []string{"jane@acme.com", "y"}, Attrs: []any{"15.1", "new"}}
	rs.Append(&more)
	in = append(in, more)
	check("appended after compact")
}

func TestRecordsFilter(t *testing.T) {
	in := sampleRecords()
	rs := onus.RecordsOf(in)
	kept := rs.Filter(func(i int) bool { return i%2 == 0 })
	want := []onus.Record{in[0], in[2], in[4]}
	if got := kept.All(); !reflect.DeepEqual(got, want) {
		t.Errorf("Filter kept %#v, want %#v", got, want)
	}
	var none *onus.Records
	if none.Len() != 0 {
		t.Error("a nil *Records is not empty")
	}
}

// A random round trip: whatever goes in comes out, across many records
// that share and do not share values.
func TestRecordsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		if r.IntN(5) == 0 {
			return ""
		}
		return fmt.Sprintf("w%d", r.IntN(50))
	}
	var in []onus.Record
	for i := range 5000 {
		rec := onus.Record{ID: fmt.Sprintf("id-%d-%s", i, word()), Name: word(), Loc: i, Seen: r.Int64N(1e9), Skipped: r.IntN(20) == 0}
		for range r.IntN(3) {
			rec.Keys = append(rec.Keys, onus.Key{Name: word(), Value: word()})
		}
		if !rec.Skipped {
			rec.Links = []string{word(), word()}
			rec.Attrs = []any{word(), int64(r.IntN(10)), r.IntN(2) == 0, time.Unix(r.Int64N(1e6), 0).UTC()}
			if r.IntN(3) == 0 {
				rec.Attrs[0] = nil
			}
		}
		in = append(in, rec)
	}
	rs := onus.RecordsOf(in)
	rs.Compact()
	if got := rs.All(); !reflect.DeepEqual(got, in) {
		for i := range in {
			if !reflect.DeepEqual(got[i], in[i]) {
				t.Fatalf("record %d = %#v, want %#v", i, got[i], in[i])
			}
		}
	}
}

// BenchmarkRecordsSoftware measures the heap a column store of
// software-inventory-shaped records holds, per record, against the same
// records as Go values.
func BenchmarkRecordsSoftware(b *testing.B) {
	const n = 200_000
	apps := make([]string, 300)
	for i := range apps {
		apps[i] = fmt.Sprintf("App %d.app", i)
	}
	hosts := make([]string, n/40)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("%08x-17a8-efcd-0465-1e59c51aba%02x", i, i%256)
	}
	// Values repeat as the readers hand them out: one string per host
	// name, bundle id, version and path, shared by every record.
	hostNames, bundles, versions, paths := map[string]string{}, map[string]string{}, map[string]any{}, map[string]any{}
	for _, h := range hosts {
		hostNames[h] = "MBP-" + h[:8]
	}
	for _, a := range apps {
		bundles[a], versions[a], paths[a] = "com.vendor."+a, "1.2."+a[4:6], "/Applications/"+a
	}
	mk := func(i int) onus.Record {
		h, a := hosts[i/40], apps[(i*7)%len(apps)]
		return onus.Record{ID: h + "/Applications/" + a, Name: a, Loc: i + 1,
			Links: []string{h, hostNames[h], bundles[a], a},
			Attrs: []any{versions[a], paths[a]}}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	b.Run("values", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			recs := make([]onus.Record, n)
			for i := range recs {
				recs[i] = mk(i)
			}
			b.ReportMetric(float64(heap()-before)/n, "heap-B/record")
			runtime.KeepAlive(recs)
		}
	})
	for _, sep := range []string{"", "/"} {
		name := "columns"
		if sep != "" {
			name = "columns-split-ids"
		}
		b.Run(name, func(b *testing.B) { benchColumns(b, n, sep, mk, heap) })
	}
	// As the osquery reader builds a snapshot: chunks of 8,000 rows, each
	// its own store, copied into the snapshot's (no host repeats across
	// chunks; within one, each host's 40 rows are together).
	b.Run("columns-split-ids-from-chunks", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			out := onus.NewRecords(0)
			out.SplitIDs("/")
			for lo := 0; lo < n; lo += 8000 {
				c := onus.NewRecords(8000)
				c.SplitIDs("/")
				for i := lo; i < min(lo+8000, n); i++ {
					r := mk(i)
					c.Append(&r)
				}
				c.Compact()
				out.AppendFrom(c, 0, c.Len())
			}
			out.Compact()
			b.ReportMetric(float64(heap()-before)/n, "heap-B/record")
			runtime.KeepAlive(out)
		}
	})
}

func benchColumns(b *testing.B, n int, sep string, mk func(int) onus.Record, heap func() uint64) {
	for b.Loop() {
		before := heap()
		rs := onus.NewRecords(n)
		rs.SplitIDs(sep)
		for i := range n {
			r := mk(i)
			rs.Append(&r)
		}
		rs.Compact()
		b.ReportMetric(float64(heap()-before)/float64(n), "heap-B/record")
		runtime.KeepAlive(rs)
	}
}

// Ids split in two parts (SplitIDs) read back whole, compare and hash as
// the same text, and survive copies into stores that split them
// otherwise or not at all.
func TestRecordsSplitIDs(t *testing.T) {
	ids := []string{"host-1/Applications/Zoom.app", "host-1/Applications/Slack.app", "host-2/Applications/Zoom.app",
		"no-separator", "", "/leading", "trailing/", "a/b/c", "host-1/Applications/Zoom.app", string(make([]byte, 70_000))}
	rs := onus.NewRecords(0)
	rs.SplitIDs("/")
	for i, id := range ids {
		rs.Append(&onus.Record{ID: id, Loc: i + 1, Links: []string{"host-1"}, Attrs: []any{"x"}})
	}
	seed := maphash.MakeSeed()
	for i, id := range ids {
		if got := rs.ID(i); got != id {
			t.Errorf("ID(%d) = %q, want %q", i, got, id)
		}
		if got := string(rs.AppendID([]byte("pre:"), i)); got != "pre:"+id {
			t.Errorf("AppendID(%d) = %q", i, got)
		}
		for _, other := range []string{id, id + "x", "x" + id, "host-1", "host-1/", "host-1/Applications/Zoom.ap", "host-1-Applications/Zoom.app"} {
			if got := rs.HasID(i, other); got != (other == id) {
				t.Errorf("HasID(%d, %q) = %v for id %q", i, other, got, id)
			}
		}
		for j, other := range ids {
			if same := rs.SameID(i, j); same != (id == other) {
				t.Errorf("SameID(%d, %d) = %v for %q and %q", i, j, same, id, other)
			}
			if id == other && rs.IDHash(seed, i) != rs.IDHash(seed, j) {
				t.Errorf("equal ids %d and %d hash differently", i, j)
			}
		}
	}
	for _, sep := range []string{"/", "-", ""} {
		out := onus.NewRecords(0)
		out.SplitIDs(sep)
		out.AppendFrom(rs, 0, rs.Len())
		for i, id := range ids {
			if got := out.ID(i); got != id {
				t.Errorf("copied with separator %q: ID(%d) = %q, want %q", sep, i, got, id)
			}
		}
	}
	kept := rs.Filter(func(i int) bool { return i%3 == 0 })
	for k, i := range []int{0, 3, 6, 9} {
		if kept.ID(k) != ids[i] {
			t.Errorf("filtered ID(%d) = %q, want %q", k, kept.ID(k), ids[i])
		}
	}
}

// Lists of one length take no offsets, nil lists among them take the
// length's room, and a list of another length switches to offsets at any
// point: every sequence of shapes reads back as it went in.
func TestRecordsListShapes(t *testing.T) {
	shapes := [][]int{ // -1 is a nil list
		{-1, -1, 2, 2, -1, 2},
		{-1, -1, 2, 2, -1, 3, -1, 0, 2},
		{0, 0, -1, 1},
		{2, 2, 2},
		{-1, -1},
		{3, -1, 1, -1, 3},
	}
	for _, shape := range shapes {
		var in []onus.Record
		for i, n := range shape {
			r := onus.Record{ID: fmt.Sprint(i), Loc: i}
			if n >= 0 {
				r.Links, r.Attrs, r.Keys = make([]string, n), make([]any, n), make([]onus.Key, n)
				for j := range n {
					r.Links[j], r.Attrs[j], r.Keys[j] = fmt.Sprint("l", i, j), int64(i*10+j), onus.Key{Name: "k", Value: fmt.Sprint(i, j)}
				}
			}
			in = append(in, r)
		}
		rs := onus.NewRecords(0)
		for i := range in {
			rs.Append(&in[i])
		}
		if got := rs.All(); !reflect.DeepEqual(got, in) {
			t.Errorf("shape %v: got %#v, want %#v", shape, got, in)
		}
		copied := onus.NewRecords(0)
		copied.AppendFrom(rs, 0, 1)
		copied.AppendFrom(rs, 1, rs.Len())
		if got := copied.All(); !reflect.DeepEqual(got, in) {
			t.Errorf("shape %v, copied: got %#v, want %#v", shape, got, in)
		}
	}
}

// Ids whose parts do not repeat stop being split after a window, and an
// id kept in two parts still equals, and hashes as, the same id kept as
// text.
func TestRecordsSplitIDsOfUniqueParts(t *testing.T) {
	rs := onus.NewRecords(0)
	rs.SplitIDs("/")
	const n = 10_000
	for i := range n {
		rs.Append(&onus.Record{ID: fmt.Sprintf("serial-%d/udid-%d", i, i)})
	}
	rs.Append(&onus.Record{ID: "serial-0/udid-0"})
	seed := maphash.MakeSeed()
	if !rs.SameID(0, n) || rs.IDHash(seed, 0) != rs.IDHash(seed, n) || rs.ID(n) != "serial-0/udid-0" {
		t.Errorf("the same id kept two ways: SameID %v, hashes %x and %x", rs.SameID(0, n), rs.IDHash(seed, 0), rs.IDHash(seed, n))
	}
	if rs.SameID(1, n) {
		t.Error("different ids compare equal")
	}
	for i := range n {
		if got, want := rs.ID(i), fmt.Sprintf("serial-%d/udid-%d", i, i); got != want {
			t.Fatalf("ID(%d) = %q, want %q", i, got, want)
		}
	}
}
