package nudge

import (
	"strconv"
	"strings"
)

// The built-in digest templates, written in Go. A first-day plan for a
// large organisation is almost all digests, and text/template finds every
// field and calls every function by reflection: these writers produce the
// same bytes (TestNativeDigestMatchesTheTemplates compares them on every
// kind of item) without it. They are used only while the organisation
// overrides neither the digest nor any item template.

// digestSubject writes the subject of digest.txt.tmpl.
func digestSubject(v *view) string {
	var b strings.Builder
	if v.Overdue {
		b.WriteString("Overdue: ")
	}
	b.WriteString(strconv.Itoa(len(v.Items)))
	b.WriteString(" security item")
	if len(v.Items) != 1 {
		b.WriteByte('s')
	}
	b.WriteString(" for you")
	if v.First != nil {
		b.WriteString(", the first due ")
		b.WriteString(v.First.Due.Format("2 Jan"))
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// digestText writes digest.txt.tmpl.
func digestText(b *strings.Builder, v *view) {
	b.WriteString("Hi ")
	b.WriteString(v.FirstName)
	b.WriteString(",\n\n")
	writeCount(b, len(v.Items))
	b.WriteString("\n")
	for i := range v.Items {
		textItem(b, &v.Items[i])
	}
	if len(v.Thanks) > 0 {
		b.WriteString("\nFixed since last time, thank you:\n")
		for _, t := range v.Thanks {
			b.WriteString("  - ")
			b.WriteString(t.Title)
			b.WriteString(": ")
			b.WriteString(t.Thing)
			b.WriteString("\n")
		}
	}
	b.WriteString("\n-- \nonus tells you about security gaps that are yours, on working days.\n")
}

func writeCount(b *strings.Builder, n int) {
	if n == 1 {
		b.WriteString("One security item is yours to fix.")
		return
	}
	b.WriteString(strconv.Itoa(n))
	b.WriteString(" security items are yours to fix, soonest due first.")
}

// textItem writes the "item" template of digest.txt.tmpl.
func textItem(b *strings.Builder, it *Item) {
	b.WriteString("\n")
	b.WriteString(strconv.Itoa(it.N))
	b.WriteString(". ")
	b.WriteString(it.Title)
	b.WriteString(": ")
	b.WriteString(it.Thing)
	if it.Stage != "" {
		b.WriteString(" [")
		b.WriteString(stageText(*it))
		b.WriteString("]")
	}
	b.WriteString("\n   Due ")
	b.WriteString(it.Due.Format("Monday 2 January"))
	switch {
	case it.DaysLeft < 0:
		b.WriteString(" (")
		b.WriteString(days(-it.DaysLeft))
		b.WriteString(" late)")
	case it.DaysLeft == 0:
		b.WriteString(" (today)")
	default:
		b.WriteString(" (in ")
		b.WriteString(days(it.DaysLeft))
		b.WriteString(")")
	}
	b.WriteString(".")
	if !it.Yours {
		b.WriteString("\n   Why you: ")
		b.WriteString(it.Finding.OwnerReason)
		b.WriteString(".")
	}
	if it.Why != "" {
		b.WriteString("\n   Why it matters: ")
		b.WriteString(it.Why)
	}
	if it.Fix != "" {
		b.WriteString("\n   What to do:\n")
		b.WriteString(indent(it.Fix, "     "))
	}
	if it.URL != "" {
		b.WriteString("\n   Details: ")
		b.WriteString(it.URL)
	}
	b.WriteString("\n   Cannot fix it by then? Ask for an exception: ")
	if it.ExceptionURL != "" {
		b.WriteString(it.ExceptionURL)
	} else {
		b.WriteString("onus except request --finding ")
		b.WriteString(strconv.FormatInt(it.Finding.ID, 10))
		b.WriteString(` --reason "…" --expires 30d`)
	}
	if len(it.Finding.Consulted) > 0 {
		b.WriteString("\n   Questions? Ask ")
		b.WriteString(strings.Join(it.Finding.Consulted, ", "))
		b.WriteString(".")
	}
	b.WriteString("\n")
}

const htmlHead = `<!doctype html>
<html><head><meta charset="utf-8"></head><body style="font-family:system-ui,sans-serif;font-size:15px;color:#1a1a1a;max-width:640px">
`

// digestHTML writes digest.html.tmpl, escaping as html/template does.
func digestHTML(b *strings.Builder, v *view) {
	b.WriteString(htmlHead)
	b.WriteString("<p>Hi ")
	escapeHTML(b, v.FirstName)
	b.WriteString(",</p>\n<p>")
	writeCount(b, len(v.Items))
	b.WriteString("</p>\n")
	for i := range v.Items {
		htmlItem(b, &v.Items[i])
	}
	b.WriteString("\n")
	if len(v.Thanks) > 0 {
		b.WriteString("<p>Fixed since last time, thank you:</p><ul>")
		for _, t := range v.Thanks {
			b.WriteString("<li>")
			escapeHTML(b, t.Title)
			b.WriteString(": ")
			escapeHTML(b, t.Thing)
			b.WriteString("</li>")
		}
		b.WriteString("</ul>")
	}
	b.WriteString("\n<p style=\"color:#777;font-size:13px\">onus tells you about security gaps that are yours, on working days.</p>\n</body></html>\n")
}

// htmlItem writes the "item" template of digest.html.tmpl.
func htmlItem(b *strings.Builder, it *Item) {
	b.WriteString(`<div style="border-left:4px solid `)
	if it.DaysLeft < 0 {
		b.WriteString("#c62828")
	} else {
		b.WriteString("#1565c0")
	}
	b.WriteString(";padding:4px 12px;margin:12px 0\">\n<p style=\"margin:4px 0\"><strong>")
	b.WriteString(strconv.Itoa(it.N))
	b.WriteString(". ")
	escapeHTML(b, it.Title)
	b.WriteString("</strong>: ")
	escapeHTML(b, it.Thing)
	if it.Stage != "" {
		b.WriteString(" <em>(")
		escapeHTML(b, stageText(*it))
		b.WriteString(")</em>")
	}
	b.WriteString("<br>\nDue ")
	escapeHTML(b, it.Due.Format("Monday 2 January"))
	switch {
	case it.DaysLeft < 0:
		b.WriteString(", <strong>")
		b.WriteString(days(-it.DaysLeft))
		b.WriteString(" late</strong>")
	case it.DaysLeft == 0:
		b.WriteString(", today")
	default:
		b.WriteString(", in ")
		b.WriteString(days(it.DaysLeft))
	}
	b.WriteString(".</p>\n")
	if !it.Yours {
		b.WriteString(`<p style="margin:4px 0;color:#555">Why you: `)
		escapeHTML(b, it.Finding.OwnerReason)
		b.WriteString(".</p>")
	}
	b.WriteString("\n")
	if it.Why != "" {
		b.WriteString(`<p style="margin:4px 0;color:#555">Why it matters: `)
		escapeHTML(b, it.Why)
		b.WriteString("</p>")
	}
	b.WriteString("\n")
	if it.Fix != "" {
		b.WriteString(`<p style="margin:4px 0">What to do:</p><pre style="white-space:pre-wrap;font-family:inherit;margin:4px 0">`)
		escapeHTML(b, it.Fix)
		b.WriteString("</pre>")
	}
	b.WriteString("\n<p style=\"margin:4px 0\">")
	if it.URL != "" {
		b.WriteString(`<a href="`)
		escapeURLAttr(b, it.URL)
		b.WriteString(`">Details</a> · `)
	}
	b.WriteString("Cannot fix it by then? ")
	if it.ExceptionURL != "" {
		b.WriteString(`<a href="`)
		escapeURLAttr(b, it.ExceptionURL)
		b.WriteString(`">Ask for an exception</a>`)
	} else {
		b.WriteString("Ask for an exception: <code>onus except request --finding ")
		b.WriteString(strconv.FormatInt(it.Finding.ID, 10))
		b.WriteString("</code>")
	}
	if len(it.Finding.Consulted) > 0 {
		b.WriteString(" · Questions? Ask ")
		escapeHTML(b, strings.Join(it.Finding.Consulted, ", "))
	}
	b.WriteString("</p>\n</div>\n")
}

// htmlEscapes are html/template's replacements for text and quoted
// attribute values.
var htmlEscapes = [256]string{0: "\uFFFD", '"': "&#34;", '&': "&amp;", '\'': "&#39;", '+': "&#43;", '<': "&lt;", '>': "&gt;"}

// escapeHTML writes s as html/template writes a string in text or in a
// quoted attribute. The characters it replaces are ASCII, so working on
// bytes gives the same result as on runes, invalid UTF-8 included.
func escapeHTML(b *strings.Builder, s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		if r := htmlEscapes[s[i]]; r != "" {
			b.WriteString(s[written:i])
			b.WriteString(r)
			written = i + 1
		}
	}
	b.WriteString(s[written:])
}

// escapeURLAttr writes s as html/template writes it as a whole href
// value: a URL with a scheme other than http, https or mailto becomes
// "#ZgotmplZ"; the URL is normalised (percent-encoding what is not
// allowed in one, keeping valid escapes) and then escaped for the
// attribute.
func escapeURLAttr(b *strings.Builder, s string) {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") &&
		!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "mailto") {
		b.WriteString("#ZgotmplZ")
		return
	}
	const hex = "0123456789abcdef"
	var n strings.Builder
	n.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$&*+,/:;=?@[]-._~", c) >= 0:
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
		default:
			n.WriteByte('%')
			n.WriteByte(hex[c>>4])
			n.WriteByte(hex[c&15])
			continue
		}
		n.WriteByte(c)
	}
	escapeHTML(b, n.String())
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func stageText(it Item) string { return strings.Trim(StageNote(it), " ()") }

// escalationSubject writes the subject of escalation.txt.tmpl.
func escalationSubject(v *view) string {
	s := strconv.Itoa(len(v.Late)) + " security item"
	if len(v.Late) != 1 {
		s += "s are"
	} else {
		s += " is"
	}
	return s + " late on your watch"
}

const gapNote = "You get this because nobody is recorded for a role below (no manager, or no\nAccountable person for the activity): please find who should have it."

// roleText says as whom the recipient hears of a late item.
func roleText(l *Late) string {
	switch l.Role {
	case "manager":
		return "their manager"
	case "fallback":
		if l.Missing == "manager" {
			return "the fallback contact: nobody is recorded as their manager"
		}
		return "the fallback contact: nobody is recorded as the Accountable person for this activity"
	}
	return "the Accountable person for this activity"
}

// escalationText writes escalation.txt.tmpl.
func escalationText(b *strings.Builder, v *view) {
	b.WriteString("\nHi ")
	b.WriteString(v.FirstName)
	b.WriteString(",\n")
	if v.Gap {
		b.WriteString("\n" + gapNote + "\n")
	}
	b.WriteString("\nThese items are past their due date, the latest first:\n")
	for i := range v.Late {
		l := &v.Late[i]
		b.WriteString("\n")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(". ")
		b.WriteString(l.Title)
		b.WriteString(": the ")
		b.WriteString(l.Noun)
		b.WriteString(" ")
		b.WriteString(l.Finding.EntityName)
		b.WriteString("\n   ")
		b.WriteString(responsible(l.Finding))
		b.WriteString(" is responsible; it is ")
		b.WriteString(days(l.DaysLate))
		b.WriteString(" late (due ")
		b.WriteString(l.Due.Format("2 Jan"))
		b.WriteString(").\n   You hear of it as ")
		b.WriteString(roleText(l))
		b.WriteString(".")
		if l.URL != "" {
			b.WriteString("\n   Details: ")
			b.WriteString(l.URL)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nPlease check with them what stands in the way, or agree an exception.\n")
}

// escalationHTML writes escalation.html.tmpl.
func escalationHTML(b *strings.Builder, v *view) {
	b.WriteString(htmlHead)
	b.WriteString("<p>Hi ")
	escapeHTML(b, v.FirstName)
	b.WriteString(",</p>\n")
	if v.Gap {
		b.WriteString("<p><strong>You get this because nobody is recorded for a role below (no manager, or no Accountable person for the activity): please find who should have it.</strong></p>")
	}
	b.WriteString("\n<p>These items are past their due date, the latest first:</p>\n<ol>")
	for i := range v.Late {
		l := &v.Late[i]
		b.WriteString("<li><strong>")
		escapeHTML(b, l.Title)
		b.WriteString("</strong>: the ")
		escapeHTML(b, l.Noun)
		b.WriteString(" ")
		escapeHTML(b, l.Finding.EntityName)
		b.WriteString("<br>\n")
		if l.Finding.Responsible.Name != "" {
			escapeHTML(b, l.Finding.Responsible.Name)
			b.WriteString(" (")
			escapeHTML(b, l.Finding.Responsible.Email)
			b.WriteString(")")
		} else {
			escapeHTML(b, l.Finding.Responsible.Email)
		}
		b.WriteString(" is responsible; it is <strong>")
		b.WriteString(days(l.DaysLate))
		b.WriteString(" late</strong> (due ")
		b.WriteString(l.Due.Format("2 Jan"))
		b.WriteString(").\nYou hear of it as ")
		b.WriteString(roleText(l))
		b.WriteString(".\n")
		if l.URL != "" {
			b.WriteString(`<a href="`)
			escapeURLAttr(b, l.URL)
			b.WriteString(`">Details</a>`)
		}
		b.WriteString("</li>")
	}
	b.WriteString("</ol>\n<p>Please check with them what stands in the way, or agree an exception.</p>\n</body></html>\n")
}
