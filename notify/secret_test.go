package notify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/notify/webhook"
)

// An empty or blank secret, from a file or the environment, is refused:
// an empty HMAC key signs webhooks anyone can forge.
func TestEmptySecretsRefused(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "", "blank": " \n\t\n", "good": "s3cret\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"empty", "blank"} {
		if v, err := notify.Secret("file:" + filepath.Join(dir, name)); err == nil || !strings.Contains(err.Error(), "is empty") {
			t.Errorf("%s file: %q, %v; want refused", name, v, err)
		}
	}
	if v, err := notify.Secret("file:" + filepath.Join(dir, "good")); err != nil || v != "s3cret" {
		t.Errorf("good file: %q, %v", v, err)
	}
	t.Setenv("ONUS_TEST_BLANK", "  ")
	if _, err := notify.Secret("env:ONUS_TEST_BLANK"); err == nil {
		t.Error("a blank environment variable was accepted")
	}
}

// file: secrets are found relative to the configuration directory, not
// the directory onus runs in.
func TestSecretFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(filepath.Join(dir, "secrets", "hook"), []byte("hook-key\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "onus.yaml"), []byte("version: 1\nnudges:\n  channels:\n    webhook: { url: https://hooks.example/x, secret: file:secrets/hook }\n"), 0o644)
	cfg, err := config.Load(dir)
	if cfg == nil {
		t.Fatal(err)
	}
	t.Chdir("/")
	w, ok := cfg.Nudges.Channels[webhook.Name].(*webhook.Config)
	if !ok {
		t.Fatalf("channels = %#v; want the webhook section", cfg.Nudges.Channels)
	}
	v, err := notify.Secret(w.Secret)
	if err != nil || v != "hook-key" {
		t.Fatalf("secret = %q, %v", v, err)
	}
}
