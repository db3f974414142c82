package teams

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/onus-sec/onus/nudge"
)

func init() {
	nudge.RegisterPayload("teams", func(m *nudge.Message, subject string) (json.RawMessage, error) {
		return json.Marshal(payload(m, subject))
	})
}

// teamsEscape escapes the Markdown an Adaptive Card TextBlock renders.
func teamsEscape(s string) string { return teamsEscaper.Replace(s) }

var teamsEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "#", `\#`)

func payload(m *nudge.Message, subject string) map[string]any {
	// The message posts to a channel: it mentions its recipient by
	// name, so that it reaches them.
	name := orDefault(m.Recipient.Name, m.Recipient.Email)
	at := "<at>" + teamsEscape(name) + "</at>"
	body := []any{map[string]any{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": teamsEscape(subject), "wrap": true},
		map[string]any{"type": "TextBlock", "text": at + ", this is for you.", "wrap": true}}
	add := func(s string) { body = append(body, map[string]any{"type": "TextBlock", "text": s, "wrap": true}) }
	for _, it := range m.Items {
		add(fmt.Sprintf("**%d. %s**: %s%s. %s.", it.N, teamsEscape(it.Title), teamsEscape(it.Thing), nudge.StageNote(it), nudge.DueText(it)))
		if it.Fix != "" {
			add(teamsEscape(it.Fix))
		}
	}
	for _, l := range m.Late {
		add(fmt.Sprintf("**%s**: the %s %s; %s is responsible, %s late", teamsEscape(l.Title), teamsEscape(l.Noun), teamsEscape(l.Finding.EntityName),
			teamsEscape(nudge.Responsible(l.Finding)), nudge.Days(l.DaysLate)))
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
	if u := m.FirstURL(); u != "" {
		card["actions"] = []any{map[string]any{"type": "Action.OpenUrl", "title": "Details", "url": u}}
	}
	return map[string]any{"type": "message", "attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
