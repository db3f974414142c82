// Package teams posts messages to a Microsoft Teams incoming webhook as
// Adaptive Cards that mention the person.
package teams

import (
	"context"
	"net/http"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/notify/webhook"
)

func init() {
	notify.Register(Name, func(cfg *config.Nudges) (notify.Channel, error) {
		t, _ := cfg.Channels[Name].(*Config)
		if t == nil {
			return nil, nil
		}
		url, err := notify.Secret(t.URL)
		if err != nil {
			return nil, err
		}
		return &Channel{URL: url, Client: &http.Client{Timeout: 30 * time.Second}}, nil
	})
}

// Channel posts to a Teams incoming webhook. Its URL is a secret: whoever
// has it can post.
type Channel struct {
	URL    string
	Client *http.Client
}

var _ notify.Channel = (*Channel)(nil)

// Idempotent is false: Teams shows a card posted twice twice.
func (c *Channel) Idempotent() bool { return false }

// Send posts one card.
func (c *Channel) Send(ctx context.Context, e notify.Envelope) (string, error) {
	return webhook.Post(ctx, c.Client, c.URL, nil, e.Key, e.Payload, nil)
}
