package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/inventory"
)

var now = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func findings() []onus.Finding {
	return []onus.Finding{
		{ID: 1, Control: "edr", Severity: onus.High, State: onus.StateOpen, Entity: "device:serial:A", EntityName: "MBP-JANE",
			Person: &onus.Subject{ID: "person:employee_id:1", Name: "Jane Doe"}, Responsible: onus.Person{Email: "jane@acme.com"},
			FirstFailed: now.Add(-10 * 24 * time.Hour), Due: now.Add(-24 * time.Hour)},
		{ID: 2, Control: "disk", Severity: onus.Low, State: onus.StateOpen, Entity: "device:serial:B",
			EntityName: "KIOSK\x1b[31m-" + strings.Repeat("X", 50), Device: &onus.Subject{ID: "device:serial:B", Name: "KIOSK"},
			Responsible: onus.Person{Email: "security@acme.com"}, OwnershipGap: true, FirstFailed: now, Due: now.Add(7 * 24 * time.Hour)},
	}
}

// The findings table: overdue and ownership gaps marked, the subject
// named, long names clipped, terminal escapes from a source removed.
func TestWriteFindingsText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFindings(&b, findings(), "text", now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("want a header and two rows:\n%s", out)
	}
	for _, want := range []string{"2026-11-29 (overdue)", "Jane Doe", "security@acme.com (gap)", "on KIOSK", "…", "2026-12-07"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("a terminal escape from a source reached the table: %q", out)
	}
	if strings.Contains(lines[2], "(overdue)") {
		t.Errorf("a finding due next week is marked overdue: %s", lines[2])
	}
	b.Reset()
	WriteFindings(&b, nil, "text", now)
	if b.String() != "No findings match.\n" {
		t.Errorf("empty list: %q", b.String())
	}
}

// JSON carries each finding with whether it is overdue at now.
func TestWriteFindingsJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFindings(&b, findings(), JSON, now); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID      int64 `json:"id"`
		Overdue bool  `json:"overdue"`
	}
	if err := json.Unmarshal(b.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].ID != 1 || !rows[0].Overdue || rows[1].Overdue {
		t.Errorf("rows = %+v, want #1 overdue and #2 not", rows)
	}
}

// onus explain names the sources of the entity's kind that are not in
// force, and why; it says nothing of them when all are.
func TestWriteExplainUnhealthySources(t *testing.T) {
	x := &inventory.Explanation{ID: "device:serial:A", Kind: "device", Name: "MBP-JANE",
		Records:   []inventory.ExplainRecord{{Source: "jamf", ID: "1", Line: 2, Healthy: true}},
		Unhealthy: []inventory.ExplainSource{{Source: "edr", Reason: "never synced"}}}
	var b bytes.Buffer
	WriteExplain(&b, x, nil, now)
	if !strings.Contains(b.String(), "Sources not in force") || !strings.Contains(b.String(), "  edr: never synced\n") {
		t.Errorf("explain does not show the source not in force:\n%s", b.String())
	}
	x.Unhealthy = nil
	b.Reset()
	WriteExplain(&b, x, nil, now)
	if strings.Contains(b.String(), "not in force") {
		t.Errorf("explain shows sources not in force when all are:\n%s", b.String())
	}
}
