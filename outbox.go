package onus

import (
	"context"
	"encoding/json"
	"time"
)

// Outbox statuses. A message moves pending → claimed → sending → sent; a
// crash while sending on a channel that cannot drop duplicates leaves it
// uncertain, for a person to confirm or resend.
const (
	OutboxPending   = "pending"
	OutboxClaimed   = "claimed"
	OutboxSending   = "sending"
	OutboxSent      = "sent"
	OutboxFailed    = "failed"
	OutboxUncertain = "uncertain"
	OutboxCancelled = "cancelled"
)

// OutboxMessage is one message in the outbox.
type OutboxMessage struct {
	ID         int64            `json:"id"`
	Key        string           `json:"key"`
	Recipient  string           `json:"recipient"`
	Name       string           `json:"name,omitempty"`
	Channel    string           `json:"channel"`
	Kind       string           `json:"kind"`
	Subject    string           `json:"subject"`
	Text       string           `json:"-"`
	HTML       string           `json:"-"`
	Payload    json.RawMessage  `json:"-"`
	Items      map[int64]string `json:"items"` // finding → stage
	Reason     string           `json:"reason"`
	NotBefore  time.Time        `json:"not_before"`
	Status     string           `json:"status"`
	Attempts   int              `json:"attempts"`
	NextTry    time.Time        `json:"next_attempt_at"`
	LastError  string           `json:"last_error,omitempty"`
	ProviderID string           `json:"provider_id,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
	SentAt     *time.Time       `json:"sent_at,omitempty"`
	// LeaseHolder is the run that holds a claimed or sending message
	// ("host:pid:run"), and LeaseUntil when its hold ends unless renewed.
	LeaseHolder string     `json:"lease_holder,omitempty"`
	LeaseUntil  *time.Time `json:"lease_until,omitempty"`
}

// Lease says who holds a message and until when, in operational time.
type Lease struct {
	// Holder names the run: "host:pid:run".
	Holder string
	// Now is the operational time of the claim or renewal.
	Now time.Time
	// For is how long the hold lasts unless renewed.
	For time.Duration
}

// Held is a message another run holds: claimed or being sent.
type Held struct {
	ID     int64     `json:"id"`
	Status string    `json:"status"`
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// Recovery is what OutboxService.Recover did and found.
type Recovery struct {
	// Requeued went back to pending: claimed (nothing left the machine), or
	// sending on a channel that drops duplicates.
	Requeued int `json:"requeued"`
	// Uncertain were being sent on a channel that cannot drop duplicates.
	Uncertain int `json:"uncertain"`
	// Held are still held by a live run's lease.
	Held []Held `json:"held,omitempty"`
}

// NudgeEntry is one line of the nudge log: when a person was told of a
// finding at a stage (finding 0 is a summary).
type NudgeEntry struct {
	Finding   int64
	Recipient string
	Stage     string
	At        time.Time
}

// Delivery is a message sent to a person at a time (business time).
type Delivery struct {
	Recipient string
	At        time.Time
}

// OutboxService keeps the outbox: messages planned, claimed under lease,
// sent, retried and recovered. Every method returns an error wrapping its
// cause, with EINTERNAL for a storage failure. ECONFLICT from a method
// given a holder means another run holds the message now.
type OutboxService interface {
	// Enqueue writes a plan: each message once under its key, cancelling
	// the pending messages the plan no longer has.
	Enqueue(ctx context.Context, msgs []*OutboxMessage) (added, cancelled int, err error)
	// Claim holds the next message due at due (business time) under
	// lease, or returns nil, nil when none is due.
	Claim(ctx context.Context, due time.Time, lease Lease) (*OutboxMessage, error)
	// MarkSending renews the lease and marks the message as being handed
	// over; ECONFLICT when it is no longer claimed by lease.Holder.
	MarkSending(ctx context.Context, id int64, lease Lease) error
	// Renew extends the lease; ECONFLICT when another run took it over.
	Renew(ctx context.Context, id int64, lease Lease) error
	// MarkSent records the delivery at at (business time), the nudge log
	// and a "told" event on every finding the message is about;
	// ECONFLICT when the holder lost the message.
	MarkSent(ctx context.Context, m *OutboxMessage, providerID string, at time.Time) error
	// MarkRetry puts a held message back for another attempt at next.
	MarkRetry(ctx context.Context, id int64, holder, errMsg string, next time.Time) error
	// MarkFailed gives up on a held message.
	MarkFailed(ctx context.Context, id int64, holder, errMsg string) error
	// MarkUncertain records that a held message may or may not have
	// arrived; it is never sent again by itself.
	MarkUncertain(ctx context.Context, id int64, holder, errMsg string) error
	// Reroute sends a held message by another channel, at once.
	Reroute(ctx context.Context, id int64, holder, channel, why string) error
	// Recover handles the messages of runs that stopped (lease ran out
	// at now, operational time, or dead says the holder is gone).
	Recover(ctx context.Context, now time.Time, dead func(holder string) bool, idempotent func(channel string) bool) (Recovery, error)
	// OutboxMessage returns one message; ENOTFOUND when there is none.
	OutboxMessage(ctx context.Context, id int64) (*OutboxMessage, error)
	// OutboxMessages lists messages, newest first.
	OutboxMessages(ctx context.Context, statuses []string, recipient string, limit int) ([]*OutboxMessage, error)
	// Confirm records an uncertain message as sent, by hand; ENOTFOUND
	// or ECONFLICT when it is not uncertain.
	Confirm(ctx context.Context, id int64, actor string) error
	// Resend puts an uncertain or failed message back in the queue;
	// ECONFLICT when it is neither.
	Resend(ctx context.Context, id int64, actor string) error
	// NudgeLog returns when each person was last told of each open or
	// recently resolved finding at each stage.
	NudgeLog(ctx context.Context, resolvedSince time.Time) ([]NudgeEntry, error)
	// SentSince returns the messages sent since a time, for the daily limit.
	SentSince(ctx context.Context, since time.Time) ([]Delivery, error)
}
