// Package notify delivers messages over channels. Each channel is a
// package that registers itself by name (email, slack, teams, webhook);
// adding one is adding a package.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// Envelope is one message to deliver.
type Envelope struct {
	// Key is the message's idempotency key: receivers that deduplicate
	// (the webhook) get it, and e-mail uses it in its Message-ID.
	Key     string
	To      onus.Person
	Subject string
	Text    string
	HTML    string
	// Payload is the channel's own body (Block Kit, Adaptive Card, JSON).
	Payload json.RawMessage
}

// Channel delivers messages.
type Channel interface {
	// Send delivers one message and returns the provider's id for it. An
	// error wrapping ErrPermanent means retrying cannot help; one wrapping
	// ErrUnreachable means the person cannot be reached on this channel
	// (no Slack account): the message falls back to e-mail; one wrapping
	// ErrUncertain means the receiver may have the message (the connection
	// failed after it was handed over): it must not be sent again by
	// itself.
	Send(ctx context.Context, e Envelope) (string, error)
	// Idempotent reports whether the receiver drops a message it already
	// has with the same key, so that resending after a crash is safe.
	Idempotent() bool
}

// Errors channels wrap.
var (
	ErrPermanent   = errors.New("permanent delivery failure")
	ErrUnreachable = errors.New("recipient not reachable on this channel")
	ErrUncertain   = errors.New("the message may have been delivered")
)

// Opener builds a channel from the configuration, reading secrets with
// Secret.
type Opener func(cfg *config.Nudges) (Channel, error)

var openers = map[string]Opener{}

// Register makes a channel available under name.
func Register(name string, open Opener) {
	if _, dup := openers[name]; dup {
		panic("notify: " + name + " registered twice")
	}
	openers[name] = open
}

// Open builds every channel the configuration sets up.
func Open(cfg *config.Nudges) (map[string]Channel, error) {
	out := map[string]Channel{}
	names := make([]string, 0, len(openers))
	for n := range openers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ch, err := openers[name](cfg)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", name, err)
		}
		if ch != nil {
			out[name] = ch
		}
	}
	return out, nil
}

// Secret reads a credential given as env:NAME or file:PATH. The value is
// never logged; an error names the reference, not the value.
func Secret(ref string) (string, error) {
	switch {
	case ref == "":
		return "", nil
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || strings.TrimSpace(v) == "" {
			return "", onus.Errorf(onus.EINVALID, "the environment variable %s is not set", name)
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return "", onus.Errorf(onus.EINVALID, "cannot read the secret file %s", path)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			// An empty key would sign webhooks that anyone can forge.
			return "", onus.Errorf(onus.EINVALID, "the secret file %s is empty", path)
		}
		return v, nil
	}
	return "", onus.Errorf(onus.EINVALID, "a secret must be env:NAME or file:PATH")
}
