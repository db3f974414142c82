package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A known secret planted in every channel (an SMTP password, a Slack
// token, the path of a Teams incoming webhook, a webhook's URL and HMAC
// key), every channel failing: the secret is in no output, no log at
// debug level, and nowhere in the database file (outbox.last_error, the
// audit log).
func TestSecretsNeverLeak(t *testing.T) {
	const secret = "Zq7SECRETxK29wV"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there: every delivery fails
	base := demo(t)
	t.Setenv("T_SMTP_PASSWORD", secret)
	t.Setenv("T_SLACK_TOKEN", "xoxb-"+secret)
	for _, channel := range []string{"email", "slack", "teams", "webhook"} {
		t.Run(channel, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
			os.WriteFile(filepath.Join(dir, "secrets", "teams"), []byte(fmt.Sprintf("http://127.0.0.1:%d/webhookb2/%s/IncomingWebhook/%s\n", closed, secret, secret)), 0o600)
			os.WriteFile(filepath.Join(dir, "secrets", "hook"), []byte(secret+"\n"), 0o600)
			channels := fmt.Sprintf(`  default_channel: %s
  channels:
    email: { host: 127.0.0.1, port: %d, tls: none, username: env:T_SMTP_PASSWORD, password: env:T_SMTP_PASSWORD, from: security@acme.com }
    slack: { token: env:T_SLACK_TOKEN, api_url: "http://127.0.0.1:%d/api/" }
    teams: { url: file:secrets/teams }
    webhook: { url: "http://127.0.0.1:%d/hooks/%s?key=%s", secret: file:secrets/hook }
`, channel, closed, closed, closed, secret, secret)
			yaml := filepath.Join(dir, "onus.yaml")
			b, _ := os.ReadFile(yaml)
			conf := strings.Replace(string(b), "  # channels:\n", channels, 1)
			if conf == string(b) {
				t.Fatal("no channels placeholder")
			}
			os.WriteFile(yaml, []byte(conf), 0o644)
			var all strings.Builder
			c := func(args ...string) {
				out, errs, _ := cli(t, append(args, "--config", dir)...)
				all.WriteString(out + errs)
			}
			c("nudge", "--now=2026-11-30T09:00:00Z", "--log-level", "debug")
			c("outbox", "--status", "pending,failed,uncertain")
			c("outbox", "-o", "json", "--status", "pending,failed,uncertain")
			c("outbox", "show", "1")
			c("outbox", "show", "1", "-o", "json")
			if !strings.Contains(all.String(), "connection refused") {
				t.Fatalf("no delivery failed, the test proves nothing:\n%.2000s", all.String())
			}
			if strings.Contains(all.String(), secret) {
				i := strings.Index(all.String(), secret)
				t.Errorf("the secret is in the output: …%s…", all.String()[max(0, i-200):i+20])
			}
			for _, f := range []string{"onus.db", "onus.db-wal"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil && f == "onus.db" {
					t.Fatal(err)
				}
				if strings.Contains(string(b), secret) {
					i := strings.Index(string(b), secret)
					t.Errorf("the secret is in %s: …%q…", f, string(b)[max(0, i-200):i+20])
				}
			}
		})
	}
}
