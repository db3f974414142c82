package deliver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/sqlite"
)

// flaky is a channel that fails with the errors it is given, in turn,
// then succeeds.
type flaky struct {
	errs []error
	sent []notify.Envelope
	idem bool
}

func (f *flaky) Idempotent() bool { return f.idem }

func (f *flaky) Send(_ context.Context, e notify.Envelope) (string, error) {
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return "", err
	}
	f.sent = append(f.sent, e)
	return fmt.Sprintf("id-%d", len(f.sent)), nil
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func setup(t *testing.T, msgs ...*sqlite.OutboxMessage) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, err := db.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	return db
}

func message(key, channel string) *sqlite.OutboxMessage {
	return &sqlite.OutboxMessage{Key: key, Recipient: key + "@acme.com", Channel: channel, Kind: "digest", Subject: "s", Text: "t",
		NotBefore: t0}
}

func only(t *testing.T, db *sqlite.DB) *sqlite.OutboxMessage {
	t.Helper()
	ms, err := db.OutboxMessages(context.Background(), nil, "", 0)
	if err != nil || len(ms) != 1 {
		t.Fatalf("outbox: %d messages, %v", len(ms), err)
	}
	return ms[0]
}

// Temporary failures are retried with exponential backoff on a fake
// clock: not before their time, and sent once they go through.
func TestRetryWithBackoff(t *testing.T) {
	db := setup(t, message("jane", "email"))
	temp := errors.New("421 4.7.0 try again later")
	ch := &flaky{errs: []error{temp, temp, temp}}
	now := t0
	d := &Dispatcher{Store: db, Channels: map[string]notify.Channel{"email": ch}, Now: func() time.Time { return now }}
	var waits []time.Duration
	last := now
	for i := 0; i < 20 && len(ch.sent) == 0; i++ {
		st, err := d.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Retried+st.Sent > 0 {
			waits = append(waits, now.Sub(last))
			last = now
		}
		now = now.Add(30 * time.Second)
	}
	// Attempts at 0, then after 1, 2 and 4 minutes.
	want := []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("attempts after %v, want %v", waits, want)
	}
	m := only(t, db)
	if len(ch.sent) != 1 || m.Status != sqlite.OutboxSent || m.Attempts != 4 || m.ProviderID != "id-1" {
		t.Errorf("sent %d, message %+v", len(ch.sent), m)
	}
}

// A permanent error fails at once and is shown; too many temporary ones
// fail too.
func TestPermanentFailure(t *testing.T) {
	db := setup(t, message("jane", "email"))
	ch := &flaky{errs: []error{fmt.Errorf("%w: 550 5.1.1 no such user", notify.ErrPermanent)}}
	d := &Dispatcher{Store: db, Channels: map[string]notify.Channel{"email": ch}, Now: func() time.Time { return t0 }}
	st, err := d.Run(context.Background())
	if err != nil || st.Failed != 1 {
		t.Fatalf("%+v, %v", st, err)
	}
	if m := only(t, db); m.Status != sqlite.OutboxFailed || m.LastError == "" {
		t.Errorf("message %+v", m)
	}

	db = setup(t, message("bob", "email"))
	temp := errors.New("timeout")
	ch = &flaky{errs: []error{temp, temp, temp}}
	now := t0
	d = &Dispatcher{Store: db, Channels: map[string]notify.Channel{"email": ch}, Now: func() time.Time { return now }, MaxAttempts: 3,
		Backoff: func(int) time.Duration { return time.Second }}
	for i := 0; i < 5; i++ {
		if _, err := d.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if m := only(t, db); m.Status != sqlite.OutboxFailed || m.Attempts != 3 || len(ch.sent) != 0 {
		t.Errorf("after 3 attempts: %+v", m)
	}
}

// A person Slack does not know, or a channel that is not configured,
// gets the message by e-mail.
func TestRerouteToEmail(t *testing.T) {
	db := setup(t, message("jane", "slack"), message("bob", "teams"))
	email := &flaky{}
	slack := &flaky{errs: []error{fmt.Errorf("%w: no Slack user", notify.ErrUnreachable)}}
	d := &Dispatcher{Store: db, Channels: map[string]notify.Channel{"email": email, "slack": slack}, Now: func() time.Time { return t0 }}
	st, err := d.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rerouted != 2 || st.Sent != 2 || len(email.sent) != 2 || len(slack.sent) != 0 {
		t.Errorf("stats %+v, e-mails %d", st, len(email.sent))
	}
	ms, _ := db.OutboxMessages(context.Background(), []string{sqlite.OutboxSent}, "", 0)
	for _, m := range ms {
		if m.Channel != "email" {
			t.Errorf("%s sent by %s", m.Recipient, m.Channel)
		}
	}
}
