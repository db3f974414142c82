package nudge

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"

	"github.com/onus-sec/onus"
)

//go:embed templates/*.tmpl
var builtin embed.FS

// Rendered is a message written for its channels.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
	// Payloads are the channels' own bodies, by channel name: Block Kit
	// for Slack, an Adaptive Card for Teams, JSON for the webhook. E-mail
	// has none: it sends Text and HTML.
	Payloads map[string]json.RawMessage
}

// Payload writes a message as a channel's own body. subject is the
// message's subject; the message's items have their numbers and links.
// It returns an error only for a message it cannot encode.
type Payload func(m *Message, subject string) (json.RawMessage, error)

var payloads = map[string]Payload{}

// RegisterPayload makes channel's payload writer known: each channel
// package registers its own (notify/slack, notify/teams, notify/webhook),
// so adding a channel does not touch this package. It panics when the
// name is taken, a programming error.
func RegisterPayload(channel string, p Payload) {
	if _, dup := payloads[channel]; dup {
		panic("nudge: payload " + channel + " registered twice")
	}
	payloads[channel] = p
}

// Renderer writes messages with the built-in templates or the
// organisation's overrides.
type Renderer struct {
	text map[string]*template.Template
	html map[string]*htmltemplate.Template
	urls struct{ finding, exception *linkTemplate }
	// native holds the templates ("digest.txt", "escalation.html"…) that
	// are the built-in ones: those are written by Go code (native.go)
	// instead of text/template and html/template. The digest's is
	// dropped too when an item template is overridden.
	native map[string]bool
}

// NewRenderer loads the templates; dir, when not empty, holds overrides
// (digest.txt.tmpl, digest.html.tmpl, escalation…, summary…).
func NewRenderer(dir, findingURL, exceptionURL string) (*Renderer, error) {
	r := &Renderer{text: map[string]*template.Template{}, html: map[string]*htmltemplate.Template{},
		native: map[string]bool{"digest.txt": true, "digest.html": true, "escalation.txt": true, "escalation.html": true}}
	var err error
	if r.urls.finding, err = parseLink(findingURL); err != nil {
		return nil, fmt.Errorf("nudges.finding_url: %w", err)
	}
	if r.urls.exception, err = parseLink(exceptionURL); err != nil {
		return nil, fmt.Errorf("nudges.exception_url: %w", err)
	}
	funcs := map[string]any{
		"add":       func(a, b int) int { return a + b },
		"days":      days,
		"neg":       func(a int) int { return -a },
		"join":      strings.Join,
		"indent":    indent,
		"stageText": stageText,
		"trend": func(c ActivityCount) string {
			switch d := c.Open - c.LastWeek; {
			case d < 0:
				return fmt.Sprintf("down %d from last week", -d)
			case d > 0:
				return fmt.Sprintf("up %d from last week", d)
			}
			return "as many as last week"
		},
		"findingURL":   func(f onus.Finding) string { return r.urls.finding.render(&f) },
		"exceptionURL": func(f onus.Finding) string { return r.urls.exception.render(&f) },
	}
	for _, kind := range []string{Digest, EscalationMsg, SummaryMsg} {
		src := func(ext string) (string, error) {
			name := kind + "." + ext + ".tmpl"
			if dir != "" {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
					delete(r.native, kind+"."+ext)
					return string(b), nil
				} else if !os.IsNotExist(err) {
					return "", err
				}
			}
			b, err := builtin.ReadFile("templates/" + name)
			return string(b), err
		}
		t, err := src("txt")
		if err != nil {
			return nil, err
		}
		tt := template.New(kind).Funcs(funcs).Funcs(map[string]any{"item": r.textItem})
		if r.text[kind], err = tt.Option("missingkey=zero").Parse(t); err != nil {
			return nil, fmt.Errorf("template %s.txt.tmpl: %w", kind, err)
		}
		h, err := src("html")
		if err != nil {
			return nil, err
		}
		ht := htmltemplate.New(kind).Funcs(funcs).Funcs(map[string]any{"item": r.htmlItem})
		if r.html[kind], err = ht.Option("missingkey=zero").Parse(h); err != nil {
			return nil, fmt.Errorf("template %s.html.tmpl: %w", kind, err)
		}
	}
	// Per-control item templates: item.CONTROL.txt.tmpl and
	// item.CONTROL.html.tmpl write that control's items in digests.
	if dir != "" {
		for _, ext := range []string{"txt", "html"} {
			files, _ := filepath.Glob(filepath.Join(dir, "item.*."+ext+".tmpl"))
			for _, file := range files {
				b, err := os.ReadFile(file)
				if err != nil {
					return nil, err
				}
				name := strings.TrimSuffix(filepath.Base(file), "."+ext+".tmpl")
				delete(r.native, Digest+"."+ext)
				if ext == "txt" {
					_, err = r.text[Digest].New(name).Parse(string(b))
				} else {
					_, err = r.html[Digest].New(name).Parse(string(b))
				}
				if err != nil {
					return nil, fmt.Errorf("template %s: %w", filepath.Base(file), err)
				}
			}
		}
	}
	return r, nil
}

// textItem writes one digest item with its control's template, or the
// digest's "item" template.
func (r *Renderer) textItem(it Item) (string, error) {
	t := r.text[Digest].Lookup("item." + it.Finding.Control)
	if t == nil {
		t = r.text[Digest].Lookup("item")
	}
	if t == nil {
		return "", fmt.Errorf("digest.txt.tmpl defines no \"item\" template")
	}
	var b strings.Builder
	err := t.Execute(&b, it)
	return b.String(), err
}

// htmlItem is textItem for HTML; the item template escapes what it writes.
func (r *Renderer) htmlItem(it Item) (htmltemplate.HTML, error) {
	t := r.html[Digest].Lookup("item." + it.Finding.Control)
	if t == nil {
		t = r.html[Digest].Lookup("item")
	}
	if t == nil {
		return "", fmt.Errorf("digest.html.tmpl defines no \"item\" template")
	}
	var b strings.Builder
	err := t.Execute(&b, it)
	return htmltemplate.HTML(b.String()), err
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// view is what templates see.
type view struct {
	*Message
	Overdue bool
	First   *Item
}

// Render writes a message for every channel.
func (r *Renderer) Render(m *Message) (*Rendered, error) { return r.RenderFor(m, "") }

// RenderFor writes a message's subject, text and HTML (which every
// message needs: e-mail is the fallback of every channel) and the payload
// of its channel; "" writes every payload.
func (r *Renderer) RenderFor(m *Message, channel string) (*Rendered, error) {
	v := view{Message: m}
	for i := range m.Items {
		it := &m.Items[i]
		it.N = i + 1
		it.URL, it.ExceptionURL = r.urls.finding.render(&it.Finding), r.urls.exception.render(&it.Finding)
		if it.DaysLeft < 0 {
			v.Overdue = true
		}
	}
	for i := range m.Late {
		m.Late[i].URL = r.urls.finding.render(&m.Late[i].Finding)
	}
	if len(m.Items) > 0 {
		v.First = &m.Items[0]
	}
	out := &Rendered{}
	if err := r.textParts(m, &v, out); err != nil {
		return nil, err
	}
	if r.native[m.Kind+".html"] {
		var b strings.Builder
		b.Grow(2048 * (1 + len(m.Items) + len(m.Late)/4))
		if m.Kind == Digest {
			digestHTML(&b, &v)
		} else {
			escalationHTML(&b, &v)
		}
		out.HTML = b.String()
	} else {
		var html bytes.Buffer
		if err := r.html[m.Kind].Execute(&html, v); err != nil {
			return nil, fmt.Errorf("render %s html: %w", m.Kind, err)
		}
		out.HTML = html.String()
	}
	for name, p := range payloads {
		if channel != "" && channel != name {
			continue
		}
		body, err := p(m, out.Subject)
		if err != nil {
			return nil, fmt.Errorf("render %s for %s: %w", m.Kind, name, err)
		}
		if out.Payloads == nil {
			out.Payloads = map[string]json.RawMessage{}
		}
		out.Payloads[name] = body
	}
	return out, nil
}

// textParts writes a message's subject and text.
func (r *Renderer) textParts(m *Message, v *view, out *Rendered) error {
	if r.native[m.Kind+".txt"] {
		var b strings.Builder
		b.Grow(1024 * (1 + len(m.Items) + len(m.Late)/4))
		if m.Kind == Digest {
			digestText(&b, v)
			out.Subject = digestSubject(v)
		} else {
			escalationText(&b, v)
			out.Subject = escalationSubject(v)
		}
		out.Text = strings.TrimLeft(b.String(), "\n")
		return nil
	}
	var text, subject bytes.Buffer
	if err := r.text[m.Kind].Execute(&text, *v); err != nil {
		return fmt.Errorf("render %s: %w", m.Kind, err)
	}
	if err := r.text[m.Kind].ExecuteTemplate(&subject, "subject", *v); err != nil {
		return fmt.Errorf("render %s subject: %w", m.Kind, err)
	}
	out.Subject = strings.Join(strings.Fields(subject.String()), " ")
	out.Text = strings.TrimLeft(text.String(), "\n")
	return nil
}

// Intro is the digest's first sentence after the greeting.
func Intro(m *Message) string {
	if len(m.Items) == 1 {
		return "one security item is yours to fix."
	}
	return fmt.Sprintf("%d security items are yours to fix, soonest due first.", len(m.Items))
}

// StageNote says, in parentheses after an item, why it is brought up:
// " (new)", " (due soon)", " (due today)", " (overdue)"; "" for none.
func StageNote(it Item) string {
	switch it.Stage {
	case Notice:
		return " (new)"
	case Reminder:
		return " (due soon)"
	case Due:
		return " (due today)"
	case Overdue:
		return " (overdue)"
	}
	return ""
}

// DueText says when an item is due: "Due Mon 7 Dec, in 7 days".
func DueText(it Item) string {
	d := "Due " + it.Due.Format("Mon 2 Jan")
	switch {
	case it.DaysLeft < 0:
		return d + ", " + days(-it.DaysLeft) + " late"
	case it.DaysLeft == 0:
		return d + ", today"
	}
	return d + ", in " + days(it.DaysLeft)
}

// Days writes a number of days: "1 day", "3 days".
func Days(n int) string { return days(n) }

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// Responsible names a finding's Responsible person: "Jane Doe
// (jane@acme.com)", or the address alone.
func Responsible(f onus.Finding) string { return responsible(f) }

func responsible(f onus.Finding) string {
	if f.Responsible.Name != "" {
		return f.Responsible.Name + " (" + f.Responsible.Email + ")"
	}
	return f.Responsible.Email
}

// FirstURL is the link to the first finding of a message; "" when there
// is none.
func (m *Message) FirstURL() string {
	switch {
	case len(m.Items) > 0:
		return m.Items[0].URL
	case len(m.Late) > 0:
		return m.Late[0].URL
	}
	return ""
}

// RenderPlan writes every message of a plan for its channel, on all
// cores: templates are safe to run concurrently, and a plan for a large
// organisation is mostly template work. Only messages for which keep
// returns true are written (nil keeps all); the others stay nil.
func (r *Renderer) RenderPlan(plan []Message, keep func(*Message) bool) ([]*Rendered, error) {
	out := make([]*Rendered, len(plan))
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(plan) || errs[w] != nil {
					return
				}
				if keep != nil && !keep(&plan[i]) {
					continue
				}
				out[i], errs[w] = r.RenderFor(&plan[i], plan[i].Channel)
			}
		}(w)
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
