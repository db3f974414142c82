package slack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/onus-sec/onus/nudge"
)

func init() {
	nudge.RegisterPayload("slack", func(m *nudge.Message, subject string) (json.RawMessage, error) {
		return json.Marshal(payload(m, subject))
	})
}

// slackEscape escapes the three characters Slack documents as control
// characters, so that a name from a source cannot become a link, a
// mention or a broadcast (<!channel>). Everything from a source (device
// and app names, fix steps) goes through it.
func slackEscape(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func payload(m *nudge.Message, subject string) map[string]any {
	// verbatim keeps Slack from turning URLs and names in the text into
	// links and mentions by itself: only the links onus writes are live.
	section := func(text string) map[string]any {
		return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": text, "verbatim": true}}
	}
	blocks := []any{map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": subject}}}
	if m.Kind == nudge.Digest {
		blocks = append(blocks, section(fmt.Sprintf("Hi %s, %s", slackEscape(m.FirstName), nudge.Intro(m))))
	}
	for _, it := range m.Items {
		text := fmt.Sprintf("*%d. %s*: %s%s\n%s", it.N, slackEscape(it.Title), slackEscape(it.Thing), nudge.StageNote(it), nudge.DueText(it))
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
			slackEscape(l.Finding.EntityName), slackEscape(nudge.Responsible(l.Finding)), nudge.Days(l.DaysLate))))
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

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
