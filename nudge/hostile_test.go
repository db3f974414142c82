package nudge

import (
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/raci"
)

// A person's name from a source, with a line break and a header after it,
// or a right-to-left override, reaches no message raw: not the text or
// HTML part, the Slack blocks, the Teams card or the webhook body, nor
// the recipient's name that becomes the To: header.
func TestHostileNamesAreCleaned(t *testing.T) {
	w := newWorld(t)
	evil := "Jane\r\nBcc: all@evil.example\u202Egnp.exe"
	w.dir = raci.NewDirectory([]*raci.Person{
		{Email: "jane@acme.com", Name: evil, Manager: "mark@acme.com", Status: raci.Active},
		{Email: "mark@acme.com", Name: "Mark\nBoss\u202E", Status: raci.Active},
		{Email: "ciso@acme.com", Name: "Cleo Iso", Status: raci.Active},
	})
	f := w.finding(1, "jane@acme.com", onus.High, t0.Add(-3*day))
	f.Responsible.Name = evil
	f.FirstFailed = t0.Add(-10 * day)
	msgs := w.run(t0)
	if len(msgs) < 2 {
		t.Fatalf("want a digest and escalations, got %s", describe(msgs))
	}
	r, err := NewRenderer("", "https://onus.example/f/{{.ID}}", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.ContainsAny(m.Recipient.Name, "\r\n\u202E") || strings.ContainsAny(m.FirstName, "\r\n\u202E") {
			t.Errorf("%s to %s: recipient name %q, first name %q", m.Kind, m.Recipient.Email, m.Recipient.Name, m.FirstName)
		}
		out, err := r.Render(&m)
		if err != nil {
			t.Fatal(err)
		}
		parts := map[string]string{"subject": out.Subject, "text": out.Text, "html": out.HTML}
		for ch, p := range out.Payloads {
			parts[ch] = string(p)
		}
		for part, s := range parts {
			if strings.Contains(s, "\u202E") || strings.Contains(s, `\u202e`) || strings.Contains(s, "\nBcc:") || strings.Contains(s, `\nBcc:`) || strings.Contains(s, `\r\nBcc`) {
				t.Errorf("%s to %s: the %s holds the raw name:\n%s", m.Kind, m.Recipient.Email, part, s)
			}
		}
	}
}
