package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/notify/slack"
	"github.com/onus-sec/onus/notify/teams"
	"github.com/onus-sec/onus/notify/webhook"
)

// A receiver checks the signature and the timestamp, and drops a key it
// has seen: what the channel's documentation asks of receivers.
func TestWebhookSignedAndIdempotent(t *testing.T) {
	secret := []byte("s3cret")
	var mu sync.Mutex
	seen := map[string]int{}
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r, body, 5*time.Minute, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seen[r.Header.Get(webhook.HeaderKey)]++
		if seen[r.Header.Get(webhook.HeaderKey)] == 1 {
			bodies = append(bodies, string(body))
		}
		w.Header().Set("X-Request-Id", "r1")
	}))
	defer srv.Close()
	ch := &webhook.Channel{URL: srv.URL, Secret: secret, Client: srv.Client()}
	env := notify.Envelope{Key: "k1", To: onus.Person{Email: "jane@acme.com"}, Payload: json.RawMessage(`{"kind":"digest"}`)}
	id, err := ch.Send(context.Background(), env)
	if err != nil || id != "r1" {
		t.Fatalf("send: %q, %v", id, err)
	}
	if _, err := ch.Send(context.Background(), env); err != nil { // a resend after a crash
		t.Fatal(err)
	}
	if len(bodies) != 1 || seen["k1"] != 2 || bodies[0] != `{"kind":"digest"}` {
		t.Errorf("bodies %v, seen %v", bodies, seen)
	}
	// A wrong secret is refused by the receiver: a permanent failure.
	bad := &webhook.Channel{URL: srv.URL, Secret: []byte("other"), Client: srv.Client()}
	if _, err := bad.Send(context.Background(), env); !errors.Is(err, notify.ErrPermanent) {
		t.Errorf("wrong secret: %v", err)
	}
	// A replayed request, signed an hour ago, is refused.
	old := &webhook.Channel{URL: srv.URL, Secret: secret, Client: srv.Client(), Now: func() time.Time { return time.Now().Add(-time.Hour) }}
	if _, err := old.Send(context.Background(), env); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Errorf("replay: %v", err)
	}
}

func TestWebhookRetryableFailures(t *testing.T) {
	code := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
	defer srv.Close()
	ch := &webhook.Channel{URL: srv.URL, Secret: []byte("s"), Client: srv.Client()}
	env := notify.Envelope{Key: "k", Payload: json.RawMessage(`{}`)}
	if _, err := ch.Send(context.Background(), env); err == nil || errors.Is(err, notify.ErrPermanent) {
		t.Errorf("503: %v, want a retryable error", err)
	}
	code = http.StatusBadRequest
	if _, err := ch.Send(context.Background(), env); !errors.Is(err, notify.ErrPermanent) {
		t.Errorf("400: %v, want a permanent error", err)
	}
}

func TestTeams(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&got)
		w.Write([]byte("1"))
	}))
	defer srv.Close()
	ch := &teams.Channel{URL: srv.URL, Client: srv.Client()}
	if _, err := ch.Send(context.Background(), notify.Envelope{Key: "k", Payload: json.RawMessage(`{"type":"message","attachments":[]}`)}); err != nil {
		t.Fatal(err)
	}
	if got["type"] != "message" {
		t.Errorf("posted %v", got)
	}
}

// Slack through slack-go's slacktest server: the person is found by
// e-mail and messaged directly, with the Block Kit blocks as sent.
func TestSlack(t *testing.T) {
	var mu sync.Mutex
	var posted []url.Values
	// Custom handlers are bound before the defaults: slacktest keeps the
	// first handler registered for a path.
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/users.lookupByEmail", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if r.Form.Get("email") != "jane@acme.com" {
				w.Write([]byte(`{"ok":false,"error":"users_not_found"}`))
				return
			}
			w.Write([]byte(`{"ok":true,"user":{"id":"U123JANE","name":"jane"}}`))
		})
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			posted = append(posted, r.Form)
			mu.Unlock()
			w.Write([]byte(`{"ok":true,"channel":"D42","ts":"1700000000.0001"}`))
		})
	})
	srv.Start()
	defer srv.Stop()
	ch := slack.New(goslack.New("xoxb-test", goslack.OptionAPIURL(srv.GetAPIURL())))
	payload := json.RawMessage(`{"text":"1 item","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*Disk encryption*: MBP-&lt;!channel&gt;"}}]}`)
	id, err := ch.Send(context.Background(), notify.Envelope{Key: "k", To: onus.Person{Email: "jane@acme.com"}, Payload: payload})
	if err != nil || id != "D42/1700000000.0001" {
		t.Fatalf("send: %q, %v", id, err)
	}
	if len(posted) != 1 || posted[0].Get("channel") != "U123JANE" || !strings.Contains(posted[0].Get("blocks"), `MBP-\u0026lt;!channel\u0026gt;`) {
		t.Errorf("posted %v", posted)
	}
	_, err = ch.Send(context.Background(), notify.Envelope{Key: "k", To: onus.Person{Email: "bob@acme.com"}, Payload: payload})
	if !errors.Is(err, notify.ErrUnreachable) {
		t.Errorf("a person without Slack: %v, want unreachable (falls back to e-mail)", err)
	}
}
