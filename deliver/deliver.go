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
//
// Two clocks drive it. Business time (Clock) says which messages are due:
// a message waits for its not-before, the person's working hours, in the
// time the plan was made for. Operational time (Wall) runs the machinery:
// leases, retry times and the recovery of stopped runs. A lease is taken
// at each claim and renewed while the message is handed over, so a slow
// channel never lets a second run take a message the first is sending.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/onus-sec/onus"
	leases "github.com/onus-sec/onus/lease"
	"github.com/onus-sec/onus/notify"
)

// Store is the outbox.
type Store interface {
	// Claim holds the next message due at due (business time) under lease,
	// or returns nil when none is due.
	Claim(ctx context.Context, due time.Time, lease onus.Lease) (*onus.OutboxMessage, error)
	// MarkSending renews the lease and marks the message as being handed
	// over; a conflict error means another run holds it.
	MarkSending(ctx context.Context, id int64, lease onus.Lease) error
	// Renew extends the lease; a conflict error means another run holds it.
	Renew(ctx context.Context, id int64, lease onus.Lease) error
	// MarkSent records the delivery; a conflict error means another run
	// holds the message.
	MarkSent(ctx context.Context, m *onus.OutboxMessage, providerID string, at time.Time) error
	MarkRetry(ctx context.Context, id int64, holder, errMsg string, next time.Time) error
	MarkFailed(ctx context.Context, id int64, holder, errMsg string) error
	// MarkUncertain records that a message held by holder may or may not
	// have arrived; it is never sent again by itself.
	MarkUncertain(ctx context.Context, id int64, holder, errMsg string) error
	Reroute(ctx context.Context, id int64, holder, channel, why string) error
	Recover(ctx context.Context, now time.Time, dead func(holder string) bool, idempotent func(channel string) bool) (onus.Recovery, error)
}

// The outbox service of onus is enough to send it.
var _ Store = onus.OutboxService(nil)

// Dispatcher sends the outbox.
type Dispatcher struct {
	Store    Store
	Channels map[string]notify.Channel
	// Clock is business time: what is due (not-before) and when a message
	// counts as told. A CLI run with --now sets it; nil is the machine's
	// clock.
	Clock onus.Clock
	// Wall is operational time: leases, retries, recovery. Nil is the
	// machine's clock.
	Wall onus.Clock
	// Holder names this run in leases ("host:pid:run"); see Holder.
	Holder string
	// Dead tells whether the holder of a lease has stopped (a process of
	// this host that no longer exists); nil trusts leases to run out.
	Dead func(holder string) bool
	// Lease is how long a claimed message is held before its run is
	// assumed to have stopped (2 minutes by default). It is renewed every
	// third of it while the message is being handed over.
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
	Step func(step string, m *onus.OutboxMessage)
}

// Stats counts what a run did.
type Stats struct {
	Sent, Retried, Failed, Rerouted, Requeued, Uncertain int
	// Held are messages another live run holds: it sends them, or they are
	// recovered after its lease.
	Held []onus.Held `json:",omitempty"`
}

func (d *Dispatcher) lease(for_ time.Duration) onus.Lease {
	return onus.Lease{Holder: d.Holder, Now: onus.Or(d.Wall).Now(), For: for_}
}

func (d *Dispatcher) step(name string, m *onus.OutboxMessage) {
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
	if d.Holder == "" {
		return st, errors.New("deliver: the dispatcher has no lease holder name")
	}
	rec, err := d.Store.Recover(ctx, onus.Or(d.Wall).Now(), d.Dead, func(channel string) bool {
		ch, ok := d.Channels[channel]
		return ok && ch.Idempotent()
	})
	if err != nil {
		return st, err
	}
	st.Requeued, st.Uncertain, st.Held = rec.Requeued, rec.Uncertain, rec.Held
	for ctx.Err() == nil {
		m, err := d.Store.Claim(ctx, onus.Or(d.Clock).Now(), d.lease(lease))
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
				if err := d.Store.Reroute(ctx, m.ID, d.Holder, "email", "channel "+m.Channel+" is not configured"); err != nil {
					return st, err
				}
				st.Rerouted++
				continue
			}
			if err := d.Store.MarkFailed(ctx, m.ID, d.Holder, "channel "+m.Channel+" is not configured"); err != nil {
				return st, err
			}
			st.Failed++
			continue
		}
		if err := d.Store.MarkSending(ctx, m.ID, d.lease(lease)); err != nil {
			return st, err
		}
		d.step("sending", m)
		id, sendErr, renewErr := d.send(ctx, ch, m, lease)
		if renewErr != nil {
			// Another run took the message over while this one was sending
			// it: leases are renewed every third of their length, so this
			// means the store was unreachable for a whole lease. Record
			// nothing; the other run marked it uncertain.
			return st, fmt.Errorf("deliver: outbox %d: lost the lease while sending: %w", m.ID, renewErr)
		}
		if sendErr == nil {
			d.step("sent", m)
			if err := d.Store.MarkSent(ctx, m, id, onus.Or(d.Clock).Now()); err != nil {
				return st, err
			}
			d.step("recorded", m)
			st.Sent++
			log.Info("sent", onus.LogOutbox, m.ID, onus.LogRecipient, m.Recipient, onus.LogChannel, m.Channel, onus.LogKind, m.Kind)
			continue
		}
		switch {
		case errors.Is(sendErr, notify.ErrUnreachable) && m.Channel != "email" && d.Channels["email"] != nil:
			if err := d.Store.Reroute(ctx, m.ID, d.Holder, "email", sendErr.Error()); err != nil {
				return st, err
			}
			st.Rerouted++
		case errors.Is(sendErr, notify.ErrUncertain):
			// It may have arrived: a person checks, then confirms or
			// resends (onus outbox confirm / resend).
			if err := d.Store.MarkUncertain(ctx, m.ID, d.Holder, sendErr.Error()); err != nil {
				return st, err
			}
			st.Uncertain++
			log.Warn("delivery uncertain", onus.LogOutbox, m.ID, onus.LogRecipient, m.Recipient, onus.LogChannel, m.Channel, onus.LogError, sendErr)
		case errors.Is(sendErr, notify.ErrPermanent) || errors.Is(sendErr, notify.ErrUnreachable) || m.Attempts >= maxAttempts:
			if err := d.Store.MarkFailed(ctx, m.ID, d.Holder, sendErr.Error()); err != nil {
				return st, err
			}
			st.Failed++
			log.Warn("delivery failed", onus.LogOutbox, m.ID, onus.LogRecipient, m.Recipient, onus.LogChannel, m.Channel, onus.LogError, sendErr)
		default:
			if err := d.Store.MarkRetry(ctx, m.ID, d.Holder, sendErr.Error(), onus.Or(d.Wall).Now().Add(d.backoff(m.Attempts))); err != nil {
				return st, err
			}
			st.Retried++
			log.Info("delivery will be retried", onus.LogOutbox, m.ID, onus.LogAttempt, m.Attempts, onus.LogError, sendErr)
		}
	}
	return st, ctx.Err()
}

// send hands a message to its channel while renewing its lease every third
// of the lease, so that no other run takes it over however slow the
// channel is. It returns the channel's id and error, and the renewal's
// error if the lease was lost.
func (d *Dispatcher) send(ctx context.Context, ch notify.Channel, m *onus.OutboxMessage, lease time.Duration) (string, error, error) {
	stop := leases.Keep(lease/3, func() error {
		// The renewal outlives a cancelled context: the message is still
		// being handed over and must stay held.
		err := d.Store.Renew(context.WithoutCancel(ctx), m.ID, d.lease(lease))
		if onus.ErrorCode(err) == onus.ECONFLICT {
			return err
		}
		// A transient store error: try again at the next tick; the lease
		// still has two thirds to run.
		return nil
	})
	id, err := ch.Send(ctx, notify.Envelope{Key: m.Key, To: recipient(m), Subject: m.Subject, Text: m.Text, HTML: m.HTML, Payload: m.Payload})
	return id, err, stop()
}

func recipient(m *onus.OutboxMessage) onus.Person {
	return onus.Person{Email: m.Recipient, Name: m.Name}
}
