package nudge

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus"
)

var update = flag.Bool("update", false, "rewrite golden files")

// hostile is a device name as a source could send it: markup, a Slack
// broadcast, Markdown, a forged line and a right-to-left override.
const hostile = "<img src=x onerror=alert(1)> <!channel> *MBP* [win](https://evil.example)\nDetails: https://phish.example \u202Egnp.exe"

func renderAll(t *testing.T, w *world) map[string]*Rendered {
	t.Helper()
	r, err := NewRenderer("", "https://onus.acme.com/findings/{{.ID}}", "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Rendered{}
	for _, m := range w.plan(t0) {
		rd, err := r.Render(&m)
		if err != nil {
			t.Fatal(err)
		}
		out[m.Kind+"-"+strings.Split(m.Recipient.Email, "@")[0]] = rd
	}
	return out
}

func hostileWorld(t *testing.T) *world {
	w := newWorld(t)
	w.cfg.Nudges.Nouns = map[string]string{"device": "laptop"}
	f := w.finding(1, "jane@acme.com", onus.High, t0.Add(-3*day))
	f.EntityName = hostile
	f.Informed = []string{"auditor@acme.com"}
	g := w.finding(2, "jane@acme.com", onus.Medium, t0.Add(12*day))
	g.Control = "edr"
	g.Responsible.Name = "Jane Doe"
	return w
}

func TestRenderGolden(t *testing.T) {
	out := renderAll(t, hostileWorld(t))
	files := map[string]string{}
	for name, rd := range out {
		files[name+".subject.txt"] = rd.Subject + "\n"
		files[name+".txt"] = rd.Text
		files[name+".html"] = rd.HTML
		// The channels' payloads are compared in payload_test.go, where
		// the channel packages that write them are linked.
	}
	for _, want := range []string{"digest-jane", "escalation-mark", "escalation-ciso", "summary-auditor"} {
		if out[want] == nil {
			t.Errorf("no %s message", want)
		}
	}
	for name, got := range files {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./nudge -update)", err)
		}
		if string(want) != got {
			t.Errorf("%s differs from the golden file (go test ./nudge -update, then review the diff):\n%s", name, got)
		}
	}
}

// Whatever a source sends, it cannot become markup, a link, a mention or
// a forged line in any format.
func TestHostileNamesAreEscaped(t *testing.T) {
	rd := renderAll(t, hostileWorld(t))["digest-jane"]
	if strings.Contains(rd.HTML, "<img") || !strings.Contains(rd.HTML, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("HTML: the name is not escaped:\n%s", rd.HTML)
	}
	for _, part := range []string{rd.Text, rd.HTML} {
		if strings.Contains(part, "\nDetails: https://phish.example") || strings.Contains(part, "\u202E") {
			t.Errorf("a newline or an override in a name reached the message:\n%s", part)
		}
	}
}

// The organisation's templates replace the built-in ones, and a
// control's item template writes that control's items.
func TestTemplateOverrides(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "item.edr.txt.tmpl"), []byte("{{.N}}. Falcon is not running on {{.Thing}}: open Self Service.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "item.edr.html.tmpl"), []byte("<p>Falcon is not running on {{.Thing}}</p>"), 0o644)
	os.WriteFile(filepath.Join(dir, "summary.txt.tmpl"), []byte(`{{define "subject"}}Weekly{{end}}Hello {{.FirstName}}: {{len .Summary}} activity.`), 0o644)
	r, err := NewRenderer(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	w := hostileWorld(t)
	var digest, summary *Rendered
	for _, m := range w.plan(t0) {
		rd, err := r.Render(&m)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Kind {
		case Digest:
			digest = rd
		case SummaryMsg:
			summary = rd
		}
	}
	if !strings.Contains(digest.Text, "2. Falcon is not running on your laptop MBP-2: open Self Service.") {
		t.Errorf("the control's text template was not used:\n%s", digest.Text)
	}
	if !strings.Contains(digest.Text, "1. Disks are encrypted") {
		t.Errorf("the other control lost the built-in item:\n%s", digest.Text)
	}
	if !strings.Contains(digest.HTML, "<p>Falcon is not running on your laptop MBP-2</p>") {
		t.Errorf("the control's HTML template was not used:\n%s", digest.HTML)
	}
	if summary.Subject != "Weekly" || summary.Text != "Hello there: 1 activity." {
		t.Errorf("summary override: %q %q", summary.Subject, summary.Text)
	}
	// A broken template is an error naming the file.
	os.WriteFile(filepath.Join(dir, "digest.html.tmpl"), []byte("{{if}}"), 0o644)
	if _, err := NewRenderer(dir, "", ""); err == nil || !strings.Contains(err.Error(), "digest.html.tmpl") {
		t.Errorf("broken template: %v", err)
	}
}
