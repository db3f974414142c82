package nudge_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/onus-sec/onus/notify/slack" // each channel registers its payload
	_ "github.com/onus-sec/onus/notify/teams"
	"github.com/onus-sec/onus/notify/webhook"
	"github.com/onus-sec/onus/nudge"
)

// Each channel package writes its payload; the golden files of the
// example messages' payloads stay beside the messages' text and HTML.
func TestPayloadGolden(t *testing.T) {
	out := nudge.RenderHostile(t)
	n := 0
	for name, rd := range out {
		for _, ch := range []string{"slack", "teams", "webhook"} {
			raw := rd.Payloads[ch]
			var b bytes.Buffer
			if err := json.Indent(&b, raw, "", "  "); err != nil {
				t.Fatalf("%s %s is not JSON: %v", name, ch, err)
			}
			path := filepath.Join("testdata", name+"."+ch+".json")
			got := b.String() + "\n"
			n++
			if *nudge.Update {
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
				t.Errorf("%s differs from the golden file (go test ./nudge -update, then review the diff):\n%s", path, got)
			}
		}
	}
	if n != 12 {
		t.Errorf("compared %d payloads, want 12 (four messages, three channels)", n)
	}
}

// Whatever a source sends, it cannot become a link, a mention or live
// Markdown in a channel's payload.
func TestHostileNamesInPayloads(t *testing.T) {
	rd := nudge.RenderHostile(t)["digest-jane"]
	var slack struct {
		Blocks []struct {
			Text struct{ Text string } `json:"text"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(rd.Payloads["slack"], &slack); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range slack.Blocks {
		if strings.Contains(b.Text.Text, "<!channel>") || strings.Contains(b.Text.Text, "<img") {
			t.Errorf("Slack: a control sequence survived: %q", b.Text.Text)
		}
		found = found || strings.Contains(b.Text.Text, "&lt;!channel&gt;")
	}
	if !found {
		t.Errorf("Slack: the escaped name is missing: %s", rd.Payloads["slack"])
	}
	var teams struct {
		Attachments []struct {
			Content struct {
				Body []struct{ Text string } `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(rd.Payloads["teams"], &teams); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, b := range teams.Attachments[0].Content.Body {
		all = append(all, b.Text)
	}
	joined := strings.Join(all, "\n")
	if strings.Contains(joined, "[win](") || strings.Contains(joined, "*MBP*") || !strings.Contains(joined, `\[win\]`) {
		t.Errorf("Teams: Markdown in the name is live:\n%s", joined)
	}
	var hook struct {
		Items []webhook.Item `json:"items"`
	}
	if err := json.Unmarshal(rd.Payloads["webhook"], &hook); err != nil {
		t.Fatal(err)
	}
	// JSON carries the name as data; only the unsafe runes are replaced.
	if hook.Items[0].Name != nudge.Clean(nudge.Hostile) || !strings.Contains(hook.Items[0].Name, "<!channel>") {
		t.Errorf("webhook name %q", hook.Items[0].Name)
	}
}
