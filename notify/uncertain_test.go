package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/notify/teams"
	"github.com/onus-sec/onus/notify/webhook"
)

// The receiver takes the request but answers too late: on Teams, which
// shows a card posted twice twice, the post is uncertain and not retried;
// on the webhook, whose receivers drop a key they have seen, it is a
// temporary failure, retried. A server that cannot be reached at all is
// a temporary failure on both.
func TestAnswerTooLate(t *testing.T) {
	var got atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		got.Add(1)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	client := &http.Client{Timeout: 200 * time.Millisecond}
	env := notify.Envelope{Key: "k", Payload: json.RawMessage(`{"type":"message","attachments":[]}`)}

	_, err := (&teams.Channel{URL: srv.URL, Client: client}).Send(context.Background(), env)
	if !errors.Is(err, notify.ErrUncertain) {
		t.Errorf("teams: %v, want uncertain", err)
	}
	_, err = (&webhook.Channel{URL: srv.URL, Client: client}).Send(context.Background(), env)
	if err == nil || errors.Is(err, notify.ErrUncertain) || errors.Is(err, notify.ErrPermanent) {
		t.Errorf("webhook: %v, want a temporary failure", err)
	}
	if got.Load() != 2 {
		t.Errorf("the receiver got %d requests, want 2", got.Load())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	_, err = (&teams.Channel{URL: url, Client: client}).Send(context.Background(), env)
	if err == nil || errors.Is(err, notify.ErrUncertain) {
		t.Errorf("teams, nothing listening: %v, want a temporary failure", err)
	}
}
