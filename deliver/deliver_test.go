package deliver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/testclock"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/store"
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

// t0 is the business time the messages are planned for; the machine's
// clock (wall0) is years away from it, so that a mix-up of the two fails.
var (
	t0    = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	wall0 = time.Date(2031, 3, 3, 14, 0, 0, 0, time.UTC)
)

// dispatcher returns a dispatcher at business time t0 on the wall clock.
func dispatcher(db *store.DB, wall onus.Clock, channels map[string]notify.Channel) *Dispatcher {
	return &Dispatcher{Store: db, Channels: channels, Clock: onus.FixedClock(t0), Wall: wall, Holder: "test:1:run"}
}

// setup stores msgs in a real SQLite file whose clock is the fake wall
// clock it returns.
func setup(t *testing.T, msgs ...*onus.OutboxMessage) *store.DB {
	t.Helper()
	db, _ := setupClock(t, msgs...)
	return db
}

func setupClock(t *testing.T, msgs ...*onus.OutboxMessage) (*store.DB, *testclock.Fake) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := testclock.New(wall0)
	db.Clock = clk
	if _, _, err := db.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	return db, clk
}

func message(key, channel string) *onus.OutboxMessage {
	return &onus.OutboxMessage{Key: key, Recipient: key + "@acme.com", Channel: channel, Kind: "digest", Subject: "s", Text: "t",
		NotBefore: t0}
}

func only(t *testing.T, db *store.DB) *onus.OutboxMessage {
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
	db, clk := setupClock(t, message("jane", "email"))
	temp := errors.New("421 4.7.0 try again later")
	ch := &flaky{errs: []error{temp, temp, temp}}
	d := dispatcher(db, clk, map[string]notify.Channel{"email": ch})
	var waits []time.Duration
	last := clk.Now()
	for i := 0; i < 20 && len(ch.sent) == 0; i++ {
		st, err := d.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Retried+st.Sent > 0 {
			waits = append(waits, clk.Now().Sub(last))
			last = clk.Now()
		}
		clk.Add(30 * time.Second)
	}
	// Attempts at 0, then after 1, 2 and 4 minutes.
	want := []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("attempts after %v, want %v", waits, want)
	}
	m := only(t, db)
	if len(ch.sent) != 1 || m.Status != onus.OutboxSent || m.Attempts != 4 || m.ProviderID != "id-1" {
		t.Errorf("sent %d, message %+v", len(ch.sent), m)
	}
}

// A permanent error fails at once and is shown; too many temporary ones
// fail too.
func TestPermanentFailure(t *testing.T) {
	db := setup(t, message("jane", "email"))
	ch := &flaky{errs: []error{fmt.Errorf("%w: 550 5.1.1 no such user", notify.ErrPermanent)}}
	d := dispatcher(db, testclock.New(wall0), map[string]notify.Channel{"email": ch})
	st, err := d.Run(context.Background())
	if err != nil || st.Failed != 1 {
		t.Fatalf("%+v, %v", st, err)
	}
	if m := only(t, db); m.Status != onus.OutboxFailed || m.LastError == "" {
		t.Errorf("message %+v", m)
	}

	db, clk := setupClock(t, message("bob", "email"))
	temp := errors.New("timeout")
	ch = &flaky{errs: []error{temp, temp, temp}}
	d = dispatcher(db, clk, map[string]notify.Channel{"email": ch})
	d.MaxAttempts, d.Backoff = 3, func(int) time.Duration { return time.Second }
	for i := 0; i < 5; i++ {
		if _, err := d.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
	}
	if m := only(t, db); m.Status != onus.OutboxFailed || m.Attempts != 3 || len(ch.sent) != 0 {
		t.Errorf("after 3 attempts: %+v", m)
	}
}

// A person Slack does not know, or a channel that is not configured,
// gets the message by e-mail.
func TestRerouteToEmail(t *testing.T) {
	db := setup(t, message("jane", "slack"), message("bob", "teams"))
	email := &flaky{}
	slack := &flaky{errs: []error{fmt.Errorf("%w: no Slack user", notify.ErrUnreachable)}}
	d := dispatcher(db, testclock.New(wall0), map[string]notify.Channel{"email": email, "slack": slack})
	st, err := d.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rerouted != 2 || st.Sent != 2 || len(email.sent) != 2 || len(slack.sent) != 0 {
		t.Errorf("stats %+v, e-mails %d", st, len(email.sent))
	}
	ms, _ := db.OutboxMessages(context.Background(), []string{onus.OutboxSent}, "", 0)
	for _, m := range ms {
		if m.Channel != "email" {
			t.Errorf("%s sent by %s", m.Recipient, m.Channel)
		}
	}
}

// slow is an e-mail channel that takes its time over every message and
// counts what it was given, safely across dispatchers.
type slow struct {
	mu    sync.Mutex
	delay time.Duration
	sent  map[string]int
}

func (s *slow) Idempotent() bool { return false }

func (s *slow) Send(ctx context.Context, e notify.Envelope) (string, error) {
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[e.Key]++
	return "id-" + e.Key, nil
}

// Two dispatchers on one outbox, the first slower than the lease on every
// message: a lease is counted from its own claim and renewed while the
// message is handed over, so the second never takes over a message the
// first is sending; every message goes exactly once and none is uncertain.
// This runs on the machine's clock, as two processes would.
func TestSlowerThanTheLease(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var msgs []*onus.OutboxMessage
	for i := range 4 {
		msgs = append(msgs, message(fmt.Sprintf("p%d", i), "email"))
	}
	if _, _, err := db.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	const lease = 600 * time.Millisecond
	ch := &slow{delay: 1500 * time.Millisecond, sent: map[string]int{}}
	first := &Dispatcher{Store: db, Channels: map[string]notify.Channel{"email": ch}, Clock: onus.FixedClock(t0), Holder: "test:1:first", Lease: lease}
	second := &Dispatcher{Store: db, Channels: map[string]notify.Channel{"email": ch}, Clock: onus.FixedClock(t0), Holder: "test:2:second", Lease: lease}
	var wg sync.WaitGroup
	var st1 Stats
	var err1 error
	wg.Add(1)
	go func() {
		defer wg.Done()
		st1, err1 = first.Run(context.Background())
	}()
	// The second starts while the first is in the middle of its first
	// message, well past that message's first lease, and tries again and
	// again while the first goes on.
	time.Sleep(lease + 300*time.Millisecond)
	var total Stats
	for i := 0; i < 6; i++ {
		st2, err := second.Run(context.Background())
		if err != nil {
			t.Fatalf("second dispatcher: %v", err)
		}
		total.Sent += st2.Sent
		total.Uncertain += st2.Uncertain
		total.Requeued += st2.Requeued
		time.Sleep(lease / 2)
	}
	wg.Wait()
	if err1 != nil {
		t.Fatalf("first dispatcher: %v", err1)
	}
	if total.Uncertain+total.Requeued+st1.Uncertain+st1.Requeued != 0 {
		t.Errorf("a message held by a live run was taken over: first %+v, second %+v", st1, total)
	}
	if st1.Sent+total.Sent != 4 || st1.Sent == 0 || total.Sent == 0 {
		t.Errorf("sent %d by the first and %d by the second, want 4 shared between them", st1.Sent, total.Sent)
	}
	for _, m := range msgs {
		if n := ch.sent[m.Key]; n != 1 {
			t.Errorf("%s sent %d times", m.Key, n)
		}
	}
	sent, _ := db.OutboxMessages(context.Background(), []string{onus.OutboxSent}, "", 0)
	if len(sent) != 4 {
		t.Errorf("%d messages recorded as sent, want 4", len(sent))
	}
}
