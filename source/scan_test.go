package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/buger/jsonparser"
)

// scanCases are JSON texts that probe every rule of the grammar.
var scanCases = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+10,"b":[1,2,{"c":3}],"c":{"d":{"e":"f"}}}`,
	`{"a":"\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r","b":true,"c":false,"d":null}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":+1}`, `{"a":0x1}`,
	`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, "{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}",
	`{"a":tru}`, `{"a":nul}`, `{"a":falsey}`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":1 "b":2}`,
	`{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`, `{"a":{"b":1}`, `{"a":1}}`, `{"a":1} x`, `{"a":1}{}`,
	`[1,2,3]`, `"str"`, `12`, `true`, `null`, ``, ` `, `{`, `}`, `[`, `]`, `{"a`, `{"a":"b`, `{"a":"b\`,
	`{"a":"\ud800"}`, `{"\u0061":1,"a":2}`, `{"a\"b":1}`, `{"a":1,"a":2}`, `{"a":{"b":1},"a":{"b":2,"c":3}}`,
	"{\"a\":\"\xff\xfe\"}", "{\"a\":\"\x00\"}", "{\"a\":\"\x1f\"}", "{\"a\":\"\x7f\"}", `{"a":"12345678\"9"}`,
	`{"a":"1234567\\"}`, `{"columns":{"name":"x","path":"C:\\Program Files"},"name":"q"}`,
	`{"a":[{"b":1}],"b":{"a":[]}}`, `{"":1,"a":{"":2}}`, `{"a":1e400}`, `{"a":-0}`, `{"a":-01}`,
	`{"a":[[[[[]]]]]}`, "\ufeff{}", "{\"a\":1}\n", "\t{\"a\" : [ 1 , { \"b\" : 2 } ] }\r\n",
	` [ {"a":1} , "x" , [2] , 3 ] `, `[{"a":1,"a":2,"b":{"a":3}},{"\u0061":1},{"c":{"d":{"e":[1]}},"name":"n"},{}]`, `{"a":[{"b":1},{"a":[9]}],"a":[{"c":2}]}`, `{"b":{"a":[1]},"a":"x"}`, `[{"a":[1,2]}]`, `{"a":[]}`, `[]`,
}

// scanPaths are the paths the differential tests ask for.
var scanPaths = [][]string{
	{"a"}, {"b"}, {"c"}, {"d"}, {"a", "b"}, {"a", "c"}, {"c", "d"}, {"c", "d", "e"}, {""}, {"a", ""},
	{"columns"}, {"columns", "name"}, {"columns", "path"}, {"name"}, {"id"}, {"profile", "email"},
	{"a"}, // twice: both get the value
}

// checkScan compares the scanner with encoding/json and jsonparser on data.
func checkScan(t *testing.T, data []byte, paths [][]string) {
	t.Helper()
	if got, want := validJSON(data), json.Valid(data); got != want {
		t.Fatalf("validJSON(%q) = %v, json.Valid says %v", data, got, want)
	}
	ok, keys, complete := validDocument(data)
	if ok != json.Valid(data) {
		t.Fatalf("validDocument(%q) = %v", data, ok)
	}
	if ok && complete {
		// Every top-level key jsonparser finds is in the list, first one first.
		var names []string
		jsonparser.ObjectEach(data, func(k, _ []byte, _ jsonparser.ValueType, _ int) error {
			names = append(names, string(k))
			return nil
		})
		got := make([]string, len(keys))
		for i, k := range keys {
			got[i] = k.name
		}
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) && strings.Join(got, "\x00") != strings.Join(names, "\x00") {
			t.Fatalf("top-level keys of %q: %q, jsonparser: %q", data, got, names)
		}
		for _, k := range keys {
			v, _, _, err := jsonparser.Get(data, k.name)
			if err == nil && !bytes.Equal(rawAt(data, k.start, k.end).b, v) {
				// jsonparser returns the first value of a repeated key.
				first := true
				for _, o := range keys {
					if o.name == k.name && o.start < k.start {
						first = false
					}
				}
				if first {
					t.Fatalf("key %q of %q: %q, jsonparser: %q", k.name, data, rawAt(data, k.start, k.end).b, v)
				}
			}
		}
	}
	trie := newTrie(paths)
	got := make([]raw, len(paths))
	if scanRecord(data, trie, got) {
		want := make([]raw, len(paths))
		if err := extractJSON(data, paths, want, true); err != nil {
			t.Fatalf("scanner read %q, the general code says %v", data, err)
		}
		for i := range got {
			if got[i].t != want[i].t || !bytes.Equal(got[i].b, want[i].b) {
				t.Fatalf("%q at %v: scanner %s %q, jsonparser %s %q", data, paths[i], got[i].t, got[i].b, want[i].t, want[i].b)
			}
		}
	} else if trimmed := bytes.TrimSpace(data); json.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{' && !bytes.Contains(data, []byte(`\`)) {
		t.Fatalf("the scanner refused the well-formed object %q", data)
	}
	if json.Valid(data) {
		var want any
		werr := json.Unmarshal(data, &want)
		got, ok := decodeAny(data)
		if ok != (werr == nil) || (ok && !reflect.DeepEqual(got, want)) {
			t.Fatalf("decodeAny(%q) = %#v %v, json.Unmarshal: %#v %v", data, got, ok, want, werr)
		}
		keep := map[string]bool{"a": true, "name": true, "c": true}
		in := newInterner()
		gotK, okK := decodeKept(data, keep, in)
		if okK != (werr == nil) || (okK && !reflect.DeepEqual(gotK, project(want, keep, in))) {
			t.Fatalf("decodeKept(%q) = %#v %v, json.Unmarshal: %#v %v", data, gotK, okK, want, werr)
		}
		var gotEl, wantEl []string
		okEl := eachElement(data, func(v []byte, vt jsonparser.ValueType, off int) {
			gotEl = append(gotEl, fmt.Sprintf("%s %q line %d", vt, v, bytes.Count(data[:off], []byte("\n"))))
		})
		_, err := jsonparser.ArrayEach(data, func(v []byte, vt jsonparser.ValueType, off int, _ error) {
			// ArrayEach's offset of a string is inside it; only its line
			// matters to the readers.
			wantEl = append(wantEl, fmt.Sprintf("%s %q line %d", vt, v, bytes.Count(data[:off], []byte("\n"))))
		})
		if okEl != (err == nil) || strings.Join(gotEl, "\n") != strings.Join(wantEl, "\n") {
			t.Fatalf("elements of %q: %v %q, ArrayEach: %v %q", data, okEl, gotEl, err, wantEl)
		}
	}
	// The record list listed while the document is checked is the one
	// eachElement walks where the JSON reader finds it.
	for _, key := range []string{"", "a", "b", "c", "columns"} {
		recs := &picked{trie: newTrie(paths), width: len(paths)}
		okR, keysR, completeR, elems, at := validRecords(data, key, recs)
		if okR != ok || completeR != complete || !reflect.DeepEqual(keysR, keys) {
			t.Fatalf("validRecords(%q, %q) = %v %v %v, validDocument: %v %v %v", data, key, okR, completeR, keysR, ok, complete, keys)
		}
		if !ok || !complete {
			continue
		}
		var arr []byte
		base := -1
		trimmed := bytes.TrimSpace(data)
		if i := skipSpace(data, 0); key == "" && i < len(data) && data[i] == '[' {
			arr, base = data[i:], i
		} else if v, vt, end, err := jsonparser.Get(data, key); key != "" && err == nil && vt == jsonparser.Array && bytes.HasPrefix(trimmed, []byte("{")) {
			arr, base = v, end-len(v)
		}
		if (at >= 0) != (arr != nil) || (arr != nil && at != base) {
			t.Fatalf("validRecords(%q, %q) finds the list at %d, jsonparser at %d", data, key, at, base)
		}
		if arr == nil {
			continue
		}
		var want, got []string
		if !eachElement(arr, func(v []byte, vt jsonparser.ValueType, off int) {
			want = append(want, fmt.Sprintf("%s %q at %d", vt, v, base+off))
		}) {
			t.Fatalf("eachElement refused the list of %q", data)
		}
		for _, e := range elems {
			r := rawAt(data, e.start, e.end)
			got = append(got, fmt.Sprintf("%s %q at %d", r.t, r.b, e.start))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("validRecords(%q, %q) lists %q, eachElement %q", data, key, got, want)
		}
		// The values picked from each record are scanRecord's.
		if len(recs.ok) != len(elems) || len(recs.vals) != len(elems)*len(paths) {
			t.Fatalf("validRecords(%q, %q) picked %d records of %d values for %d elements", data, key, len(recs.ok), len(recs.vals), len(elems))
		}
		for k, e := range elems {
			obj := data[e.start:e.end]
			want := make([]raw, len(paths))
			okS := data[e.start] == '{' && scanRecord(obj, newTrie(paths), want)
			if recs.ok[k] != okS {
				t.Fatalf("record %d of %q: picked %v, scanRecord %v", k, data, recs.ok[k], okS)
			}
			if !okS {
				continue
			}
			got := make([]raw, len(paths))
			recs.raws(k, obj, got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("record %d of %q: picked %v, scanRecord %v", k, data, got, want)
			}
		}
	}
}

func TestScannerCases(t *testing.T) {
	for _, c := range scanCases {
		checkScan(t, []byte(c), scanPaths)
	}
	deep := strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth)
	checkScan(t, []byte(deep), scanPaths)
	deeper := strings.Repeat(`[`, maxDepth+1) + strings.Repeat("]", maxDepth+1)
	checkScan(t, []byte(deeper), scanPaths)
}

// TestScannerSamples reads every record of the vendors' real payloads both
// ways, asking for every path they hold.
func TestScannerSamples(t *testing.T) {
	files, _ := filepath.Glob("../testdata/samples/*/*.json")
	logs, _ := filepath.Glob("../testdata/samples/*/*.log")
	files = append(files, logs...)
	if len(files) < 10 {
		t.Fatalf("only %d sample files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkScan(t, data, scanPaths)
		for _, l := range bytes.Split(data, []byte("\n")) {
			checkScan(t, l, scanPaths)
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			continue
		}
		// Every object in the document, with every path it holds.
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				obj, _ := json.Marshal(x)
				checkScan(t, obj, objectPaths(x, nil, 3))
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
	}
}

func objectPaths(m map[string]any, prefix []string, depth int) [][]string {
	var out [][]string
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := append(append([]string(nil), prefix...), k)
		out = append(out, p)
		if sub, ok := m[k].(map[string]any); ok && depth > 1 {
			out = append(out, objectPaths(sub, p, depth-1)...)
		}
	}
	return append(out, append(append([]string(nil), prefix...), "missing"))
}

// genJSON writes a random JSON value: every number form, escapes,
// unicode, nesting, repeated keys and, with damage, a broken byte.
func genJSON(r *rand.Rand, depth int) string {
	k := r.IntN(10)
	if depth > 3 {
		k = r.IntN(6)
	}
	switch k {
	case 0:
		return []string{"0", "-0", "12", "-7", "3.25", "-0.5", "1e3", "1E-3", "2.5e+10", "123456789012345678901234567890", "1e400", "0.000001"}[r.IntN(12)]
	case 1:
		return []string{"true", "false", "null"}[r.IntN(3)]
	case 2, 3, 4, 5:
		return genString(r)
	case 6, 7:
		var b strings.Builder
		b.WriteString("[")
		for i, n := 0, r.IntN(4); i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(genSpace(r) + genJSON(r, depth+1) + genSpace(r))
		}
		return b.String() + "]"
	}
	var b strings.Builder
	b.WriteString("{")
	for i, n := 0, r.IntN(6); i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		key := []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`, `""`, `"columns"`, `"name"`, `"id"`}[r.IntN(9)]
		if r.IntN(40) == 0 {
			key = `"\u0061"`
		}
		b.WriteString(genSpace(r) + key + genSpace(r) + ":" + genSpace(r) + genJSON(r, depth+1))
	}
	return b.String() + genSpace(r) + "}"
}

func genString(r *rand.Rand) string {
	parts := []string{"plain", "é", "日本語", "😀", `\"`, `\\`, `\/`, `\n`, `\t`, `\u00e9`, `\ud83d\ude00`, `\ud800`, `\u0000`,
		"C:\\\\Program Files", "with space", "a,b", "{", "}", "[", "]", ":", "0123456789abcdef", "\xff", "\u2028"}
	var b strings.Builder
	b.WriteString(`"`)
	for i, n := 0, r.IntN(5); i < n; i++ {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String() + `"`
}

func genSpace(r *rand.Rand) string {
	return []string{"", "", "", " ", "\n", "\t", "\r\n", "  "}[r.IntN(8)]
}

func TestScannerGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if raceDetector {
		n = 2000
	}
	for i := 0; i < n; i++ {
		doc := genJSON(r, 0)
		if r.IntN(3) == 0 {
			doc = "{" + `"a":` + doc + `,"c":{"d":` + genJSON(r, 1) + "}}"
		}
		checkScan(t, []byte(doc), scanPaths)
		// Damage one byte.
		if len(doc) > 0 {
			b := []byte(doc)
			b[r.IntN(len(b))] = "\"\\{}[],:0 e.-\x01\xffx"[r.IntN(16)]
			checkScan(t, b, scanPaths)
			checkScan(t, b[:r.IntN(len(b))], scanPaths)
		}
	}
}

func FuzzScanner(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScan(t, data, scanPaths)
	})
}

// TestParseDate compares the plain-date path with the layouts.
func TestParseDate(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []string{"2026-11-30", "2024-02-29", "2023-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "0000-01-01", "9999-12-31", "2026-1-01", "2026-11-3x", "2026/11/30"}
	for i := 0; i < 5000; i++ {
		cases = append(cases, fmt.Sprintf("%04d-%02d-%02d", r.IntN(10000), r.IntN(14), r.IntN(33)))
	}
	for _, c := range cases {
		SetFastPaths(false)
		want, werr := ParseTime(c, "")
		SetFastPaths(true)
		got, gerr := ParseTime(c, "")
		if fmt.Sprint(werr) != fmt.Sprint(gerr) || !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("%q: %v %v, layouts: %v %v", c, got, gerr, want, werr)
		}
	}
}

// BenchmarkScanner compares the scanner with json.Valid and
// jsonparser.EachKey on the lines of a real osquery log, asking for the
// osquery reader's header paths.
func BenchmarkScanner(b *testing.B) {
	data, err := os.ReadFile("../testdata/samples/osquery/osqueryd.snapshots.log")
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	paths := append(append([][]string(nil), osqHeader...), []string{"decorations", "username"})
	vals := make([]raw, len(paths))
	perCPU := func(b *testing.B) func() {
		var ru0 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		return func() {
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			d := float64(ru.Utime.Nano()+ru.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / 1e9
			if d > 0 {
				b.ReportMetric(float64(len(data))*float64(b.N)/d/1e6, "MB/cpu-s")
			}
		}
	}
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer perCPU(b)()
		trie := newTrie(paths)
		for i := 0; i < b.N; i++ {
			for _, l := range lines {
				if !scanRecord(l, trie, vals) {
					b.Fatal("refused")
				}
			}
		}
	})
	b.Run("valid+eachkey", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		defer perCPU(b)()
		for i := 0; i < b.N; i++ {
			for _, l := range lines {
				if err := extractJSON(l, paths, vals, true); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
