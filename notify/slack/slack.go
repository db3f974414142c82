// Package slack sends messages as Slack direct messages from a bot: the
// person is found by e-mail, and the message is Block Kit.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goslack "github.com/slack-go/slack"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/notify"
)

func init() {
	notify.Register(Name, func(cfg *config.Nudges) (notify.Channel, error) {
		s, _ := cfg.Channels[Name].(*Config)
		if s == nil {
			return nil, nil
		}
		token, err := notify.Secret(s.Token)
		if err != nil {
			return nil, err
		}
		var opts []goslack.Option
		if s.APIURL != "" {
			opts = append(opts, goslack.OptionAPIURL(s.APIURL))
		}
		return &Channel{api: goslack.New(token, opts...), token: token}, nil
	})
}

// Channel posts direct messages.
type Channel struct {
	api   *goslack.Client
	token string // only to keep it out of errors
}

var _ notify.Channel = (*Channel)(nil)

// New returns a channel over a Slack client.
func New(api *goslack.Client) *Channel { return &Channel{api: api} }

// Idempotent is false: Slack shows a message posted twice twice.
func (c *Channel) Idempotent() bool { return false }

// Send finds the person by e-mail and posts to their direct messages.
func (c *Channel) Send(ctx context.Context, e notify.Envelope) (string, error) {
	id, err := c.send(ctx, e)
	return id, notify.Redact(err, c.token)
}

func (c *Channel) send(ctx context.Context, e notify.Envelope) (string, error) {
	user, err := c.api.GetUserByEmailContext(ctx, e.To.Email)
	if err != nil {
		var se goslack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "users_not_found" || se.Err == "user_not_found") || err.Error() == "users_not_found" {
			return "", fmt.Errorf("%w: no Slack user with the e-mail %s", notify.ErrUnreachable, e.To.Email)
		}
		return "", err
	}
	var body struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(e.Payload, &body); err != nil {
		return "", fmt.Errorf("%w: bad payload: %v", notify.ErrPermanent, err)
	}
	var blocks goslack.Blocks
	if err := json.Unmarshal(body.Blocks, &blocks); err != nil {
		return "", fmt.Errorf("%w: bad blocks: %v", notify.ErrPermanent, err)
	}
	// A user id as the channel posts to the bot's direct messages with them.
	ch, ts, err := c.api.PostMessageContext(ctx, user.ID, goslack.MsgOptionText(body.Text, false), goslack.MsgOptionBlocks(blocks.BlockSet...))
	if err != nil {
		return "", err
	}
	return ch + "/" + ts, nil
}
