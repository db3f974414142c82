package config_test

import (
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
)

func TestWarnsWhenSeveralRecordsAndNoSeen(t *testing.T) {
	cfg, err := config.ParseMain("onus.yaml", strings.NewReader(`
sources:
  - name: hr
    kind: person
    from: { file: hr.csv }
    map: { id: id, keys: { employee_id: id, email: mail } }
  - name: checkr
    kind: person
    from: { file: reports.json }
    map: { id: id, keys: { email: candidate_email } }
  - name: checkr_dated
    kind: person
    from: { file: reports.json }
    map: { id: id, seen: created_at, keys: { email: candidate_email } }
  - name: osquery
    kind: software
    from: { file: osq.log }
    map: { id: "{h}/{p}" }
correlate:
  person: [employee_id, email]
`))
	if err != nil {
		t.Fatal(err)
	}
	ws := cfg.Warnings()
	if len(ws) != 1 {
		t.Fatalf("warnings = %v", ws)
	}
	if w := ws[0].Error(); !strings.Contains(w, "source checkr: one entity can have several records") ||
		!strings.Contains(w, "entity.sources.checkr.records") || !strings.HasPrefix(w, "onus.yaml:10:") {
		t.Errorf("warning = %s", w)
	}
}
