package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitFile(t *testing.T) {
	for _, tc := range []struct {
		name, doc, member, want, err string
	}{
		{name: "last member", member: "results",
			doc:  `{"totalCount": 2, "results": [{"a": 1}, {"a": 2}]}`,
			want: `[{"a": 1}, {"a": 2}]`},
		{name: "members before it hold brackets, braces and quotes in strings", member: "resources",
			doc: "{\n  \"meta\": {\"q\": \"a ] } \\\" [ {\", \"n\": [1, [2, {}]], \"t\": true, \"x\": null, \"f\": -1.5e3},\n" +
				"  \"errors\": [],\n  \"resources\": [\n    {\"s\": \"}]\\\\\"}\n  ],\n  \"after\": 1\n}",
			want: "[\n    {\"s\": \"}]\\\\\"}\n  ]"},
		{name: "escaped member name", member: "data", doc: `{"d\u0061ta": [1]}`, want: `[1]`},
		{name: "empty array", member: "value", doc: `{"@odata.context": "x", "value": []}`, want: `[]`},
		{name: "no such member", member: "results", doc: `{"value": [1]}`, err: `no member "results"`},
		{name: "not an array", member: "results", doc: `{"results": {"a": 1}}`, err: "not an array"},
		{name: "not an object", member: "results", doc: `[{"a": 1}]`, err: "byte 1: not a JSON object"},
		{name: "cut short", member: "results", doc: `{"results": [{"a": "x`, err: "unexpected EOF"},
		{name: "cut short before it", member: "results", doc: `{"meta": {"a": 1`, err: "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
			if err := os.WriteFile(src, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			err := splitFile(src, tc.member, dst)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), src) {
					t.Fatalf("err = %v, want one naming %s and saying %q", err, src, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
