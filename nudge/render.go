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

// Rendered is a message written for every channel.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
	// Slack is a chat.postMessage body (Block Kit); Teams an incoming
	// webhook body (an Adaptive Card); Webhook the generic JSON payload.
	Slack   json.RawMessage
	Teams   json.RawMessage
	Webhook json.RawMessage
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
	var err error
	if channel == "" || channel == "slack" {
		if out.Slack, err = json.Marshal(r.slack(m, out.Subject)); err != nil {
			return nil, err
		}
	}
	if channel == "" || channel == "teams" {
		if out.Teams, err = json.Marshal(r.teams(m, out.Subject)); err != nil {
			return nil, err
		}
	}
	if channel == "" || channel == "webhook" {
		if out.Webhook, err = json.Marshal(r.webhook(m, out.Subject)); err != nil {
			return nil, err
		}
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

// slackEscape escapes the three characters Slack documents as control
// characters, so that a name from a source cannot become a link, a
// mention or a broadcast (<!channel>). Everything from a source (device
// and app names, fix steps) goes through it.
func slackEscape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func (r *Renderer) slack(m *Message, subject string) map[string]any {
	// verbatim keeps Slack from turning URLs and names in the text into
	// links and mentions by itself: only the links onus writes are live.
	section := func(text string) map[string]any {
		return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text, "verbatim": true}}
	}
	blocks := []any{map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": subject}}}
	if m.Kind == Digest {
		blocks = append(blocks, section(fmt.Sprintf("Hi %s, %s", slackEscape(m.FirstName), intro(m))))
	}
	for _, it := range m.Items {
		text := fmt.Sprintf("*%d. %s*: %s%s\n%s", it.N, slackEscape(it.Title), slackEscape(it.Thing), stageNote(it), dueText(it))
		if it.Fix != "" {
			text += "\n" + slackEscape(it.Fix)
		}
		var links []string
		if u := it.URL; u != "" {
			links = append(links, fmt.Sprintf("<%s|Details>", slackEscape(u)))
		}
		if u := it.ExceptionURL; u != "" {
			links = append(links, fmt.Sprintf("<%s|Ask for an exception>", slackEscape(u)))
		}
		if len(links) > 0 {
			text += "\n" + strings.Join(links, " · ")
		}
		blocks = append(blocks, section(text))
	}
	for _, l := range m.Late {
		blocks = append(blocks, section(fmt.Sprintf("*%s*: the %s %s; %s is responsible, %s late", slackEscape(l.Title), slackEscape(l.Noun),
			slackEscape(l.Finding.EntityName), slackEscape(responsible(l.Finding)), days(l.DaysLate))))
	}
	for _, s := range m.Summary {
		blocks = append(blocks, section(fmt.Sprintf("*%s*: %d open, %d overdue; %d new, %d fixed this week", slackEscape(orDefault(s.Title, s.Activity)), s.Open, s.Overdue, s.Opened, s.Resolved)))
	}
	if len(m.Thanks) > 0 {
		var names []string
		for _, t := range m.Thanks {
			names = append(names, slackEscape(t.Thing))
		}
		blocks = append(blocks, section("Fixed since last time, thank you: "+strings.Join(names, ", ")))
	}
	return map[string]any{"text": subject, "blocks": blocks}
}

func intro(m *Message) string {
	if len(m.Items) == 1 {
		return "one security item is yours to fix."
	}
	return fmt.Sprintf("%d security items are yours to fix, soonest due first.", len(m.Items))
}

func stageNote(it Item) string {
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

func dueText(it Item) string {
	d := "Due " + it.Due.Format("Mon 2 Jan")
	switch {
	case it.DaysLeft < 0:
		return d + ", " + days(-it.DaysLeft) + " late"
	case it.DaysLeft == 0:
		return d + ", today"
	}
	return d + ", in " + days(it.DaysLeft)
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func responsible(f onus.Finding) string {
	if f.Responsible.Name != "" {
		return f.Responsible.Name + " (" + f.Responsible.Email + ")"
	}
	return f.Responsible.Email
}

// teamsEscape escapes the Markdown an Adaptive Card TextBlock renders.
func teamsEscape(s string) string { return teamsEscaper.Replace(s) }

var teamsEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "#", `\#`)

func (r *Renderer) teams(m *Message, subject string) map[string]any {
	// The message posts to a channel: it mentions its recipient by
	// name, so that it reaches them.
	name := orDefault(m.Recipient.Name, m.Recipient.Email)
	at := "<at>" + teamsEscape(name) + "</at>"
	body := []any{map[string]any{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": teamsEscape(subject), "wrap": true},
		map[string]any{"type": "TextBlock", "text": at + ", this is for you.", "wrap": true}}
	add := func(s string) { body = append(body, map[string]any{"type": "TextBlock", "text": s, "wrap": true}) }
	for _, it := range m.Items {
		add(fmt.Sprintf("**%d. %s**: %s%s. %s.", it.N, teamsEscape(it.Title), teamsEscape(it.Thing), stageNote(it), dueText(it)))
		if it.Fix != "" {
			add(teamsEscape(it.Fix))
		}
	}
	for _, l := range m.Late {
		add(fmt.Sprintf("**%s**: the %s %s; %s is responsible, %s late", teamsEscape(l.Title), teamsEscape(l.Noun), teamsEscape(l.Finding.EntityName),
			teamsEscape(responsible(l.Finding)), days(l.DaysLate)))
	}
	for _, s := range m.Summary {
		add(fmt.Sprintf("**%s**: %d open, %d overdue; %d new, %d fixed this week", teamsEscape(orDefault(s.Title, s.Activity)), s.Open, s.Overdue, s.Opened, s.Resolved))
	}
	if len(m.Thanks) > 0 {
		var names []string
		for _, t := range m.Thanks {
			names = append(names, teamsEscape(t.Thing))
		}
		add("Fixed since last time, thank you: " + strings.Join(names, ", "))
	}
	card := map[string]any{"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.4", "body": body,
		"msteams": map[string]any{"entities": []any{map[string]any{"type": "mention", "text": at,
			"mentioned": map[string]any{"id": m.Recipient.Email, "name": name}}}}}
	if u := r.firstURL(m); u != "" {
		card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Details", "url": u}}
	}
	return map[string]any{"type": "message", "attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}}
}

// firstURL is the link to the first finding of a message.
func (r *Renderer) firstURL(m *Message) string {
	switch {
	case len(m.Items) > 0:
		return m.Items[0].URL
	case len(m.Late) > 0:
		return m.Late[0].URL
	}
	return ""
}

// WebhookItem is one finding in the generic webhook payload.
type WebhookItem struct {
	Finding  int64         `json:"finding"`
	Control  string        `json:"control"`
	Title    string        `json:"title"`
	Entity   string        `json:"entity"`
	Name     string        `json:"name"`
	Severity onus.Severity `json:"severity"`
	Due      string        `json:"due"`
	Stage    Stage         `json:"stage,omitempty"`
	Fix      string        `json:"fix,omitempty"`
	DaysLate int           `json:"days_late,omitempty"`
}

func (r *Renderer) webhook(m *Message, subject string) map[string]any {
	conv := func(it Item, st Stage) WebhookItem {
		return WebhookItem{Finding: it.Finding.ID, Control: it.Finding.Control, Title: it.Title, Entity: it.Finding.Entity, Name: it.Finding.EntityName,
			Severity: it.Finding.Severity, Due: it.Finding.Due.Format("2006-01-02T15:04:05Z"), Stage: st, Fix: it.Fix}
	}
	var items []WebhookItem
	for _, it := range m.Items {
		items = append(items, conv(it, it.Stage))
	}
	for _, l := range m.Late {
		w := conv(l.Item, Escalation)
		w.DaysLate = l.DaysLate
		items = append(items, w)
	}
	var thanks []WebhookItem
	for _, it := range m.Thanks {
		thanks = append(thanks, conv(it, Thanks))
	}
	return map[string]any{"kind": m.Kind, "key": m.Key, "recipient": m.Recipient, "subject": subject, "items": items,
		"thanks": thanks, "summary": m.Summary, "ownership_gap": m.Gap}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
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
