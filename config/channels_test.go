package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
	// The channels register their sections, as in the onus program.
	_ "github.com/onus-sec/onus/notify/slack"
	"github.com/onus-sec/onus/notify/smtp"
	_ "github.com/onus-sec/onus/notify/teams"
	_ "github.com/onus-sec/onus/notify/webhook"
)

// Each channel's section is decoded strictly into its package's type and
// checked by it; the errors still name onus.yaml's line (and column when
// the decoder gives one) in onus's words.
func TestChannelSectionErrors(t *testing.T) {
	for _, tt := range []struct {
		name, channels, want string
	}{
		{"a from that is not an address", "    email: { host: smtp.acme.com, from: not an address }\n", `onus.yaml:4: nudges.channels.email.from: "not an address" is not an e-mail address`},
		{"an email without host", "    email: { from: security@acme.com }\n", `onus.yaml:4: nudges.channels.email needs host and from`},
		{"an unknown tls mode", "    email:\n      host: h\n      from: a@b.c\n      tls: ssl\n", `onus.yaml:7: nudges.channels.email.tls: "ssl" is not starttls, tls or none`},
		{"a password in the file", "    email: { host: h, from: a@b.c, password: hunter2 }\n", `onus.yaml:4: nudges.channels.email.password must be env:NAME or file:PATH; onus never reads secrets written in the config`},
		{"a slack token in the file", "    slack:\n      token: xoxb-1\n", `onus.yaml:5: nudges.channels.slack.token must be env:NAME or file:PATH`},
		{"a teams url in the file", "    teams: { url: https://x.webhook.office.com/1 }\n", `onus.yaml:4: nudges.channels.teams.url must be env:NAME or file:PATH`},
		{"a webhook without secret", "    webhook: { url: https://hooks.example/x }\n", `onus.yaml:4: nudges.channels.webhook needs url and secret: receivers check the signature`},
		{"an unknown channel", "    sms: { x: 1 }\n", `onus.yaml:4:5: unknown field "sms"`},
		{"an unknown key in a section", "    email: { hots: 1 }\n", `onus.yaml:4:14: unknown field "hots"`},
		{"a port in words", "    email: { port: two }\n", `onus.yaml:4:20: port: "two" is not a whole number`},
		{"a section that is a list", "    email: [1]\n", `onus.yaml:4:12: sequence was used where mapping is expected`},
		{"channels that are a list", " [1]\n", `onus.yaml:3:13: sequence was used where mapping is expected`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := "version: 1\nnudges:\n  channels:\n" + tt.channels
			if strings.HasPrefix(tt.channels, " [") {
				y = "version: 1\nnudges:\n  channels:" + tt.channels
			}
			cfg, err := config.ParseMain("onus.yaml", strings.NewReader(y))
			if err == nil {
				if probs := cfg.Validate(); len(probs) > 0 {
					err = probs
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "Go struct") || strings.Contains(err.Error(), "unmarshal") {
				t.Errorf("the error speaks Go: %v", err)
			}
		})
	}
}

// A good section is decoded into its channel's own type, an empty one
// sets nothing up, and its file: secrets and CA file are found relative
// to the configuration directory.
func TestChannelSectionDecoded(t *testing.T) {
	dir := t.TempDir()
	y := "version: 1\nnudges:\n  default_channel: slack\n  channels:\n" +
		"    email: { host: smtp.acme.com, port: 2525, tls: none, username: env:U, password: file:secrets/pw, from: security@acme.com, ca_file: ca.pem }\n" +
		"    teams:\n"
	if err := os.WriteFile(filepath.Join(dir, "onus.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if cfg == nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Validate() {
		if strings.Contains(p.Message, "channel") {
			t.Errorf("problem with a good channel section: %v", p)
		}
	}
	if _, ok := cfg.Nudges.Channels["teams"]; ok {
		t.Error("an empty teams section set the channel up")
	}
	e, ok := cfg.Nudges.Channels["email"].(*smtp.Config)
	if !ok {
		t.Fatalf("email section = %#v, want *smtp.Config", cfg.Nudges.Channels["email"])
	}
	want := smtp.Config{Host: "smtp.acme.com", Port: 2525, TLS: "none", Username: "env:U",
		Password: "file:" + filepath.Join(dir, "secrets/pw"), From: "security@acme.com", CAFile: filepath.Join(dir, "ca.pem")}
	if *e != want {
		t.Errorf("email section = %+v\nwant %+v", *e, want)
	}
}

// default_channel names a registered channel; the message lists them.
func TestDefaultChannelRegistered(t *testing.T) {
	cfg, err := config.ParseMain("onus.yaml", strings.NewReader("version: 1\nnudges:\n  default_channel: sms\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `onus.yaml:3: nudges.default_channel: "sms" is not email, slack, teams or webhook`
	if err := cfg.Validate(); !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %q", err, want)
	}
}
