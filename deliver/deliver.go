// Package deliver sends the outbox: it claims due messages one at a time,
// hands each to its channel, records the result, retries with exponential
// backoff, and recovers what a crashed run left behind. A message moves
//
//	pending → claimed → sending → sent
//
// and a crash can leave it claimed (nothing left the machine: it is sent
// again) or sending (ambiguous: sent again only on channels that drop
// duplicates, marked uncertain otherwise). Nothing is lost and nothing is
// sent twice.
package deliver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/sqlite"
)

// Store is the outbox.
type Store interface {
	// Claim returns the next due message, or nil when none is due.
	Claim(ctx context.Context, now time.Time, lease time.Duration) (*sqlite.OutboxMessage, error)
	MarkSending(ctx context.Context, id int64) error
	MarkSent(ctx context.Context, m *sqlite.OutboxMessage, providerID string, at time.Time) error
	MarkRetry(ctx context.Context, id int64, errMsg string, next time.Time) error
	MarkFailed(ctx context.Context, id int64, errMsg string) error
	MarkUncertain(ctx context.Context, id int64, errMsg string) error
	Reroute(ctx context.Context, id int64, channel, why string) error
	Recover(ctx context.Context, now time.Time, idempotent func(channel string) bool) (requeued, uncertain int, err error)
}

var _ Store = (*sqlite.DB)(nil)

// Dispatcher sends the outbox.
type Dispatcher struct {
	Store    Store
	Channels map[string]notify.Channel
	Now      func() time.Time
	// Lease is how long a claimed message is held before a crash is
	// assumed (2 minutes by default).
	Lease time.Duration
	// MaxAttempts before a message fails for good (8 by default).
	MaxAttempts int
	// Backoff returns the wait before attempt n+1; exponential from one
	// minute, at most six hours, by default.
	Backoff func(attempt int) time.Duration
	Log     *slog.Logger
	// Step, when set, is called after each step of a delivery: "claimed",
	// "sending", "sent" (the channel accepted it, not yet recorded),
	// "recorded". Tests stop the process there to prove recovery.
	Step func(step string, m *sqlite.OutboxMessage)
}

// Stats counts what a run did.
type Stats struct {
	Sent, Retried, Failed, Rerouted, Requeued, Uncertain int
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Dispatcher) step(name string, m *sqlite.OutboxMessage) {
	if d.Step != nil {
		d.Step(name, m)
	}
}

func (d *Dispatcher) backoff(n int) time.Duration {
	if d.Backoff != nil {
		return d.Backoff(n)
	}
	b := time.Minute << min(n-1, 9)
	return min(b, 6*time.Hour)
}

// Run recovers what a crash left, then sends every message due now.
func (d *Dispatcher) Run(ctx context.Context) (Stats, error) {
	var st Stats
	lease := d.Lease
	if lease == 0 {
		lease = 2 * time.Minute
	}
	maxAttempts := d.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 8
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Channels that hold connections close them when the run ends.
	defer func() {
		for _, ch := range d.Channels {
			if c, ok := ch.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	var err error
	st.Requeued, st.Uncertain, err = d.Store.Recover(ctx, d.now(), func(channel string) bool {
		ch, ok := d.Channels[channel]
		return ok && ch.Idempotent()
	})
	if err != nil {
		return st, err
	}
	for ctx.Err() == nil {
		m, err := d.Store.Claim(ctx, d.now(), lease)
		if err != nil {
			return st, err
		}
		if m == nil {
			break
		}
		d.step("claimed", m)
		ch, ok := d.Channels[m.Channel]
		if !ok {
			if _, email := d.Channels["email"]; email && m.Channel != "email" {
				if err := d.Store.Reroute(ctx, m.ID, "email", "channel "+m.Channel+" is not configured"); err != nil {
					return st, err
				}
				st.Rerouted++
				continue
			}
			if err := d.Store.MarkFailed(ctx, m.ID, "channel "+m.Channel+" is not configured"); err != nil {
				return st, err
			}
			st.Failed++
			continue
		}
		if err := d.Store.MarkSending(ctx, m.ID); err != nil {
			return st, err
		}
		d.step("sending", m)
		id, sendErr := ch.Send(ctx, notify.Envelope{Key: m.Key, To: recipient(m), Subject: m.Subject, Text: m.Text, HTML: m.HTML, Payload: m.Payload})
		if sendErr == nil {
			d.step("sent", m)
			if err := d.Store.MarkSent(ctx, m, id, d.now()); err != nil {
				return st, err
			}
			d.step("recorded", m)
			st.Sent++
			log.Info("sent", "outbox", m.ID, "recipient", m.Recipient, "channel", m.Channel, "kind", m.Kind)
			continue
		}
		switch {
		case errors.Is(sendErr, notify.ErrUnreachable) && m.Channel != "email" && d.Channels["email"] != nil:
			if err := d.Store.Reroute(ctx, m.ID, "email", sendErr.Error()); err != nil {
				return st, err
			}
			st.Rerouted++
		case errors.Is(sendErr, notify.ErrUncertain):
			// It may have arrived: a person checks, then confirms or
			// resends (onus outbox confirm / resend).
			if err := d.Store.MarkUncertain(ctx, m.ID, sendErr.Error()); err != nil {
				return st, err
			}
			st.Uncertain++
			log.Warn("delivery uncertain", "outbox", m.ID, "recipient", m.Recipient, "channel", m.Channel, "error", sendErr)
		case errors.Is(sendErr, notify.ErrPermanent) || errors.Is(sendErr, notify.ErrUnreachable) || m.Attempts >= maxAttempts:
			if err := d.Store.MarkFailed(ctx, m.ID, sendErr.Error()); err != nil {
				return st, err
			}
			st.Failed++
			log.Warn("delivery failed", "outbox", m.ID, "recipient", m.Recipient, "channel", m.Channel, "error", sendErr)
		default:
			if err := d.Store.MarkRetry(ctx, m.ID, sendErr.Error(), d.now().Add(d.backoff(m.Attempts))); err != nil {
				return st, err
			}
			st.Retried++
			log.Info("delivery will be retried", "outbox", m.ID, "attempt", m.Attempts, "error", sendErr)
		}
	}
	return st, ctx.Err()
}

func recipient(m *sqlite.OutboxMessage) onus.Person {
	return onus.Person{Email: m.Recipient, Name: m.Name}
}
