package config_test

import (
	"os"
	"path/filepath"
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

// File secrets are found relative to the configuration directory, serve's
// as every other, and one that cannot be read here is a warning that
// names where it is used, never its content.
func TestSecretFilesRelativeAndWarned(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets/oidc", "s3cr3t-client\n", 0o600)
	write("onus.yaml", `
sources:
  - name: hr
    kind: person
    from: { file: hr.csv }
    map: { id: id, keys: { email: mail } }
serve:
  url: https://onus.acme.test
  oidc: { issuer: https://idp.acme.test, client_id: onus, client_secret: "file:secrets/oidc" }
  break_glass: { user: root, password_hash: "file:/nonexistent/onus/hash" }
  tls: { cert: tls/cert.pem, key: tls/key.pem }
`, 0o644)
	t.Chdir(t.TempDir()) // not the configuration directory
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Serve.OIDC.ClientSecret, "file:"+filepath.Join(dir, "secrets/oidc"); got != want {
		t.Errorf("client_secret = %q, want %q", got, want)
	}
	if got, want := cfg.Serve.TLS.Cert, filepath.Join(dir, "tls/cert.pem"); got != want {
		t.Errorf("tls.cert = %q, want %q", got, want)
	}
	var msgs []string
	for _, w := range cfg.Warnings() {
		msgs = append(msgs, w.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"serve.break_glass.password_hash: the secret file /nonexistent/onus/hash does not exist here",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "oidc") || strings.Contains(all, "s3cr3t") {
		t.Errorf("a readable secret file is warned about, or a secret shown:\n%s", all)
	}
}
