package notify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/notify"
)

// pager is a channel config/ has never heard of: its section, its checks
// and its opener live here, registered the way every channel package
// registers itself.
type pagerSection struct {
	Service string `yaml:"service"`
	Token   string `yaml:"token"` // env:NAME or file:PATH
	Urgent  bool   `yaml:"urgent"`
}

func (p *pagerSection) Check(c *config.ChannelCheck) {
	c.Secret("token", p.Token)
	if p.Service == "" {
		c.Errorf("", "%s needs a service", c.Path(""))
	}
}

func (p *pagerSection) Files() (secrets, paths []*string) { return []*string{&p.Token}, nil }

type pagerChannel struct{ token string }

func (*pagerChannel) Send(context.Context, notify.Envelope) (string, error) { return "p1", nil }
func (*pagerChannel) Idempotent() bool                                      { return false }

func init() {
	config.RegisterChannel("pager", func() config.ChannelSection { return &pagerSection{} })
	notify.Register("pager", func(cfg *config.Nudges) (notify.Channel, error) {
		p, _ := cfg.Channels["pager"].(*pagerSection)
		if p == nil {
			return nil, nil
		}
		tok, err := notify.Secret(p.Token)
		if err != nil {
			return nil, err
		}
		return &pagerChannel{token: tok}, nil
	})
}

func loadPager(t *testing.T, section string) (*config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("pg-token\n"), 0o600)
	y := "version: 1\nnudges:\n  default_channel: pager\n  channels:\n    pager:\n" + section
	if err := os.WriteFile(filepath.Join(dir, "onus.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if cfg == nil {
		return nil, err
	}
	if probs := cfg.Validate(); len(probs) > 0 {
		// Problems other than the channel's (no sources) do not matter here.
		var mine config.Problems
		for _, p := range probs {
			if strings.Contains(p.Message, "channel") {
				mine = append(mine, p)
			}
		}
		if len(mine) > 0 {
			return cfg, mine
		}
	}
	return cfg, nil
}

// A channel registered outside config/ has its section decoded strictly
// into its own type, its file: secret found beside onus.yaml, its checks
// run with errors naming onus.yaml's lines, default_channel may name it,
// and notify.Open builds it.
func TestChannelRegisteredOutsideConfig(t *testing.T) {
	cfg, err := loadPager(t, "      service: payments\n      token: file:token\n      urgent: true\n")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cfg.Nudges.Channels["pager"].(*pagerSection)
	if !ok || p.Service != "payments" || !p.Urgent || p.Token != "file:"+filepath.Join(cfg.Dir, "token") {
		t.Fatalf("pager section = %#v", cfg.Nudges.Channels["pager"])
	}
	chans, err := notify.Open(&cfg.Nudges)
	if err != nil {
		t.Fatal(err)
	}
	if pc, ok := chans["pager"].(*pagerChannel); !ok || pc.token != "pg-token" {
		t.Fatalf("channels = %#v", chans)
	}

	for _, tt := range []struct{ name, section, want string }{
		{"an unknown key", "      service: x\n      tokn: env:T\n", `onus.yaml:7:7: unknown field "tokn"`},
		{"a value of the wrong type", "      service: x\n      urgent: [1]\n", `onus.yaml:7:15: urgent: a list is not true or false`},
		{"its own check", "      urgent: true\n", `onus.yaml:6: nudges.channels.pager needs a service`},
		{"a secret in the file", "      service: x\n      token: pg-123\n", `onus.yaml:7: nudges.channels.pager.token must be env:NAME or file:PATH; onus never reads secrets written in the config`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadPager(t, tt.section)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pg-123") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}
