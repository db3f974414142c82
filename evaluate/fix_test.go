package evaluate

import (
	"testing"

	"github.com/onus-sec/onus"
)

// RenderFinding writes the fields it knows without the template engine,
// and gives what the engine gives; anything else goes to the engine.
func TestFixRenderFinding(t *testing.T) {
	f := onus.Finding{ID: 42, Control: "disk-encryption", Entity: "device:serial:C02X", EntityName: "MBP <Jane> & co", EntityKind: "device"}
	for _, tc := range []struct {
		name, fix string
		plain     bool
		want      string
	}{
		{"fields", "  Open Self Service on {{.Entity.Name}} ({{.Entity.ID}}), finding #{{.Finding.ID}} of {{.Finding.Control}}.\n", true,
			"Open Self Service on MBP <Jane> & co (device:serial:C02X), finding #42 of disk-encryption."},
		{"trim markers", "Run {{- .Finding.EntityKind -}} now", true, "Rundevicenow"},
		{"no action", "Restart the laptop.", true, "Restart the laptop."},
		{"a condition", "{{if .Finding.ID}}yes {{.Entity.Name}}{{end}}", false, "yes MBP <Jane> & co"},
		{"a function", `{{printf "%05d" .Finding.ID}}`, false, "00042"},
		{"another field", "{{.Finding.Severity}}", false, ""},
		{"does not parse", "Fix {{.Entity.Name", false, "Fix {{.Entity.Name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := ParseFix(tc.fix)
			if fx.plain != tc.plain {
				t.Errorf("plain = %v, want %v", fx.plain, tc.plain)
			}
			got := fx.RenderFinding(f)
			if got != tc.want {
				t.Errorf("RenderFinding = %q, want %q", got, tc.want)
			}
			if engine := fx.Render(map[string]any{"Entity": map[string]string{"Name": f.EntityName, "ID": f.Entity}, "Finding": f}); engine != got {
				t.Errorf("the template engine gives %q, RenderFinding %q", engine, got)
			}
		})
	}
}
