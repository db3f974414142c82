package nudge

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// The Go writers of the built-in digest give the same bytes as the
// templates they replace, for every branch of the templates and for text
// that html/template escapes (quotes, ampersands, plus signs, tags, NUL,
// invalid UTF-8, URLs with spaces, escapes and unsafe schemes).
func TestNativeDigestMatchesTheTemplates(t *testing.T) {
	native, err := NewRenderer("", "https://onus.acme.com/findings/{{.ID}}?a=1&b=2", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(native.native) != 4 {
		t.Fatalf("natively written: %v, want the digest and the escalation in text and HTML", native.native)
	}
	tmpl, _ := NewRenderer("", "https://onus.acme.com/findings/{{.ID}}?a=1&b=2", "")
	tmpl.native = nil
	bare, _ := NewRenderer("", "", "")
	bareTmpl, _ := NewRenderer("", "", "")
	bareTmpl.native = nil
	odd, _ := NewRenderer("", "{{.EntityName}}", "javascript:alert({{.ID}})")
	oddTmpl, _ := NewRenderer("", "{{.EntityName}}", "javascript:alert({{.ID}})")
	oddTmpl.native = nil

	hostile := []string{"MBP-JANE", `Jane "JD" O'Brien & co <b>+1</b>`, "nul\x00byte", "bad\xffutf8", "a b/c?d=%41%zz#frag", "ünïcødé ✓", "mailto:x@y.z", "HTTPS://ok", "data:text/html,<x>"}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	stages := []Stage{"", Notice, Reminder, Due, Overdue}
	n := 0
	for i, name := range hostile {
		for j, days := range []int{-3, -1, 0, 1, 12} {
			var items []Item
			for k := 0; k <= (i+j)%3; k++ {
				f := onus.Finding{ID: int64(100*i + 10*j + k), Control: "ctl", Entity: "e", EntityName: name, Due: now.AddDate(0, 0, days)}
				if (i+k)%2 == 0 {
					f.Consulted = []string{"it@acme.com", name}
				}
				f.OwnerReason = "owner (" + name + ")"
				it := Item{Finding: f, Stage: stages[(i+j+k)%len(stages)], Title: "Title " + name, Thing: "the laptop " + name,
					Due: f.Due, DaysLeft: days, Yours: (j+k)%2 == 0}
				if k%2 == 0 {
					it.Why = "Because " + name
				}
				if (i+j)%2 == 0 {
					it.Fix = "Step one on " + name + "\nStep two\n"
				}
				items = append(items, it)
			}
			m := Message{Kind: Digest, FirstName: name, Items: items}
			if j%2 == 1 {
				m.Thanks = []Item{{Title: "Fixed " + name, Thing: "your app " + name}}
			}
			esc := Message{Kind: EscalationMsg, FirstName: name, Gap: j%2 == 0}
			for k, it := range items {
				it.Finding.Responsible = onus.Person{Email: "jane@acme.com"}
				if k%2 == 0 {
					it.Finding.Responsible.Name = name
				}
				l := Late{Item: it, Role: []string{"manager", "accountable", "fallback", "fallback"}[(i+k)%4], DaysLate: k + j, Noun: "laptop " + name}
				if l.Role == "fallback" {
					l.Missing = []string{"manager", "accountable"}[(i+j+k)%2]
				}
				esc.Late = append(esc.Late, l)
			}
			for _, m := range []Message{m, esc} {
				for _, pair := range [][2]*Renderer{{native, tmpl}, {bare, bareTmpl}, {odd, oddTmpl}} {
					n++
					a, b := m, m
					a.Items, b.Items = append([]Item(nil), m.Items...), append([]Item(nil), m.Items...)
					got, err := pair[0].RenderFor(&a, "email")
					if err != nil {
						t.Fatal(err)
					}
					want, err := pair[1].RenderFor(&b, "email")
					if err != nil {
						t.Fatal(err)
					}
					for _, part := range [][3]string{{"subject", got.Subject, want.Subject}, {"text", got.Text, want.Text}, {"html", got.HTML, want.HTML}} {
						if part[1] != part[2] {
							t.Errorf("message %d (%s), %s differs:\n%s", n, m.Kind, part[0], firstDiff(part[1], part[2]))
						}
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("compared %d messages, want at least 100", n)
	}
}

func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-60)
	return fmt.Sprintf("native:   %q\ntemplate: %q", clip(got[from:], 140), clip(want[from:], 140))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// An organisation that overrides a template, or an item template, gets its
// templates, not the built-in writers.
func TestOverridesTurnOffTheNativeDigest(t *testing.T) {
	for _, tc := range []struct{ file, content string }{
		{"digest.txt.tmpl", `{{define "subject"}}S{{end}}{{define "item"}}I{{end}}custom {{.FirstName}}`},
		{"item.ctl.html.tmpl", `<b>{{.Title}}</b>`},
	} {
		dir := t.TempDir()
		writeFile(t, dir+"/"+tc.file, tc.content)
		r, err := NewRenderer(dir, "", "")
		if err != nil {
			t.Fatal(err)
		}
		off := "digest.txt"
		if strings.HasSuffix(tc.file, ".html.tmpl") {
			off = "digest.html"
		}
		if r.native[off] || len(r.native) != 3 {
			t.Errorf("%s: natively written %v, want all but %s", tc.file, r.native, off)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Links made of text and a finding's fields are written without the
// template engine, with the engine's result; others go to the engine.
func TestLinkTemplates(t *testing.T) {
	f := onus.Finding{ID: 7, Control: "disk", Entity: "device:serial:C02", EntityName: "MBP <x>", EntityKind: "device", Severity: onus.High}
	for _, tc := range []struct {
		src   string
		plain bool
		want  string
	}{
		{"https://onus.acme.com/findings/{{.ID}}", true, "https://onus.acme.com/findings/7"},
		{"https://x/{{.Control}}/{{.Entity}}?n={{.EntityName}}&k={{.EntityKind}}", true, "https://x/disk/device:serial:C02?n=MBP <x>&k=device"},
		{"https://x/{{.Severity}}", false, "https://x/high"},
		{`https://x/{{printf "%03d" .ID}}`, false, "https://x/007"},
	} {
		l, err := parseLink(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		var engine strings.Builder
		if err := l.t.Execute(&engine, f); err != nil {
			t.Fatal(err)
		}
		if got := l.render(&f); l.plain != tc.plain || got != tc.want || got != engine.String() {
			t.Errorf("%s: plain %v, render %q, engine %q; want plain %v, %q", tc.src, l.plain, got, engine.String(), tc.plain, tc.want)
		}
	}
}
