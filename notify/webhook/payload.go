package webhook

import (
	"encoding/json"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/nudge"
)

func init() {
	nudge.RegisterPayload("webhook", func(m *nudge.Message, subject string) (json.RawMessage, error) {
		return json.Marshal(payload(m, subject))
	})
}

// Item is one finding in the webhook payload.
type Item struct {
	Finding  int64         `json:"finding"`
	Control  string        `json:"control"`
	Title    string        `json:"title"`
	Entity   string        `json:"entity"`
	Name     string        `json:"name"`
	Severity onus.Severity `json:"severity"`
	Due      string        `json:"due"`
	Stage    nudge.Stage   `json:"stage,omitempty"`
	Fix      string        `json:"fix,omitempty"`
	DaysLate int           `json:"days_late,omitempty"`
}

func payload(m *nudge.Message, subject string) map[string]any {
	conv := func(it nudge.Item, st nudge.Stage) Item {
		return Item{Finding: it.Finding.ID, Control: it.Finding.Control, Title: it.Title, Entity: it.Finding.Entity, Name: it.Finding.EntityName,
			Severity: it.Finding.Severity, Due: it.Finding.Due.Format("2006-01-02T15:04:05Z"), Stage: st, Fix: it.Fix}
	}
	var items []Item
	for _, it := range m.Items {
		items = append(items, conv(it, it.Stage))
	}
	for _, l := range m.Late {
		w := conv(l.Item, nudge.Escalation)
		w.DaysLate = l.DaysLate
		items = append(items, w)
	}
	var thanks []Item
	for _, it := range m.Thanks {
		thanks = append(thanks, conv(it, nudge.Thanks))
	}
	return map[string]any{"kind": m.Kind, "key": m.Key, "recipient": m.Recipient, "subject": subject, "items": items,
		"thanks": thanks, "summary": m.Summary, "ownership_gap": m.Gap}
}
