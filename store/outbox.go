package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// Outbox statuses, as stored; see migration 00003 for their meaning.
const (
	OutboxPending   = onus.OutboxPending
	OutboxClaimed   = onus.OutboxClaimed
	OutboxSending   = onus.OutboxSending
	OutboxSent      = onus.OutboxSent
	OutboxFailed    = onus.OutboxFailed
	OutboxUncertain = onus.OutboxUncertain
	OutboxCancelled = onus.OutboxCancelled
)

const outboxCols = `id, key, recipient, channel, kind, subject, body_text, body_html, payload, items, reason, not_before, status,
	attempts, next_attempt_at, last_error, provider_id, created_at, COALESCE(sent_at, ''), lease_holder, COALESCE(lease_until, '')`

func scanOutbox(sc interface{ Scan(...any) error }) (*onus.OutboxMessage, error) {
	var m onus.OutboxMessage
	var payload, items, notBefore, next, created, sent, leaseUntil string
	if err := sc.Scan(&m.ID, &m.Key, &m.Recipient, &m.Channel, &m.Kind, &m.Subject, &m.Text, &m.HTML, &payload, &items, &m.Reason,
		&notBefore, &m.Status, &m.Attempts, &next, &m.LastError, &m.ProviderID, &created, &sent, &m.LeaseHolder, &leaseUntil); err != nil {
		return nil, fmt.Errorf("store: scan outbox: %w", err)
	}
	m.Payload = json.RawMessage(payload)
	raw := map[string]string{}
	_ = json.Unmarshal([]byte(items), &raw)
	m.Items = map[int64]string{}
	for k, v := range raw {
		id, _ := strconv.ParseInt(k, 10, 64)
		m.Items[id] = v
	}
	m.NotBefore, m.NextTry, m.CreatedAt = parseTime(notBefore), parseTime(next), parseTime(created)
	if sent != "" {
		t := parseTime(sent)
		m.SentAt = &t
	}
	if leaseUntil != "" && (m.Status == OutboxClaimed || m.Status == OutboxSending) {
		t := parseTime(leaseUntil)
		m.LeaseUntil = &t
	} else {
		m.LeaseHolder = ""
	}
	return &m, nil
}

// Enqueue writes a plan into the outbox: each message once, under its key
// (a message planned again is left as it is), and cancels the pending
// messages the plan no longer has, whose findings were fixed, exempted or
// moved. It returns how many it added and cancelled.
func (s *DB) Enqueue(ctx context.Context, msgs []*onus.OutboxMessage) (added, cancelled int, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		added, cancelled = 0, 0 // a retried transaction counts again
		keys := map[string]bool{}
		for _, m := range msgs {
			keys[m.Key] = true
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, key FROM outbox WHERE status = 'pending'`)
		if err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
		var stale []int64
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return err
			}
			if !keys[key] {
				stale = append(stale, id)
			}
		}
		rows.Close()
		for _, id := range stale {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'cancelled' WHERE id = ? AND status = 'pending'`, id); err != nil {
				return fmt.Errorf("store: enqueue: %w", err)
			}
		}
		cancelled = len(stale)
		ins, err := tx.PrepareContext(ctx, `INSERT INTO outbox (key, recipient, channel, kind, subject, body_text, body_html, payload, items, reason, not_before, status, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
		defer ins.Close()
		now := fmtTime(s.now())
		for _, m := range msgs {
			items := map[string]string{}
			for id, st := range m.Items {
				items[strconv.FormatInt(id, 10)] = st
			}
			b, _ := json.Marshal(items)
			// not_before is business time (the person's calendar, compared
			// with the plan's now); next_attempt_at is operational time
			// (retries, compared with the machine's clock): a new message
			// may be tried at once.
			res, err := ins.ExecContext(ctx, m.Key, m.Recipient, m.Channel, m.Kind, m.Subject, m.Text, m.HTML, string(m.Payload), string(b), m.Reason,
				fmtTime(m.NotBefore), now, now)
			if err != nil {
				return fmt.Errorf("store: enqueue: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				added++
			}
		}
		return nil
	})
	return added, cancelled, err
}

// until is when the lease ends, to the millisecond: leases are compared
// in Go, never in SQL, so they may be finer than the store's other times.
func (l storedLease) until() string { return l.Now.Add(l.For).UTC().Format("2006-01-02T15:04:05.000Z") }

// storedLease is an onus.Lease as the store writes it.
type storedLease struct{ onus.Lease }

// Claim takes the next message due for delivery and holds it under lease.
// A message is due when its not-before (business time) is not after due
// and its next attempt (operational time) is not after lease.Now. It
// returns nil when nothing is due.
func (s *DB) Claim(ctx context.Context, due time.Time, l onus.Lease) (*onus.OutboxMessage, error) {
	lease := storedLease{l}
	m, err := scanOutbox(s.db.QueryRowContext(ctx, `UPDATE outbox SET status = 'claimed', attempts = attempts + 1, lease_until = ?, lease_holder = ?
		WHERE id = (SELECT id FROM outbox WHERE status = 'pending' AND not_before <= ? AND next_attempt_at <= ? ORDER BY not_before, id LIMIT 1`+s.skipLocked()+`)
		AND status = 'pending'
		RETURNING `+outboxCols, lease.until(), lease.Holder, fmtTime(due), fmtTime(lease.Now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	return m, nil
}

// MarkSending records that a message is being handed to its channel, and
// renews its lease from now: from here, a crash leaves it uncertain. It
// fails with a conflict when the message is no longer claimed by
// lease.Holder.
func (s *DB) MarkSending(ctx context.Context, id int64, l onus.Lease) error {
	lease := storedLease{l}
	res, err := s.db.ExecContext(ctx, `UPDATE outbox SET status = 'sending', lease_until = ? WHERE id = ? AND status = 'claimed' AND lease_holder = ?`,
		lease.until(), id, lease.Holder)
	if err != nil {
		return fmt.Errorf("store: outbox %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return onus.Errorf(onus.ECONFLICT, "outbox message %d is no longer claimed by %s", id, lease.Holder)
	}
	return nil
}

// Renew extends the lease of a message that lease.Holder is still
// sending. It fails with a conflict when another run took it over.
func (s *DB) Renew(ctx context.Context, id int64, l onus.Lease) error {
	lease := storedLease{l}
	res, err := s.db.ExecContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id = ? AND status IN ('claimed', 'sending') AND lease_holder = ?`,
		lease.until(), id, lease.Holder)
	if err != nil {
		return fmt.Errorf("store: renew outbox %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return onus.Errorf(onus.ECONFLICT, "outbox message %d is no longer held by %s", id, lease.Holder)
	}
	return nil
}

// MarkSent records a delivery: the message, the nudge log its planner
// reads, and a line in the history of every finding it told about, in
// one transaction.
func (s *DB) MarkSent(ctx context.Context, m *onus.OutboxMessage, providerID string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return markSent(ctx, tx, m, providerID, at, "told", OutboxSending, OutboxClaimed)
	})
}

// MarkSent records a delivery at at (business time: the planner counts
// reminders and the daily limit from it); only the run that holds the
// message may record it.

func markSent(ctx context.Context, tx *sql.Tx, m *onus.OutboxMessage, providerID string, at time.Time, verb string, from ...string) error {
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'sent', provider_id = ?, sent_at = ?, last_error = '' WHERE id = ? AND status IN (?, ?)
		AND (status = 'uncertain' OR lease_holder = ?)`,
		providerID, fmtTime(at), m.ID, from[0], from[len(from)-1], m.LeaseHolder)
	if err != nil {
		return fmt.Errorf("store: mark sent: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return onus.Errorf(onus.ECONFLICT, "outbox message %d is no longer %s", m.ID, strings.Join(from, " or "))
	}
	ids := make([]int64, 0, len(m.Items))
	for id := range m.Items {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		stage := m.Items[id]
		if _, err := tx.ExecContext(ctx, `INSERT INTO nudge_log (finding_id, recipient, stage, at, outbox_id) VALUES (?, ?, ?, ?, ?)`,
			id, m.Recipient, stage, fmtTime(at), m.ID); err != nil {
			return fmt.Errorf("store: mark sent: %w", err)
		}
		note := fmt.Sprintf("%s %s by %s (%s, %s; outbox %d)", verb, m.Recipient, m.Channel, m.Kind, stage, m.ID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO finding_events (finding_id, at, type, to_value, note) SELECT id, ?, 'told', ?, ? FROM findings WHERE id = ?`,
			fmtTime(at), m.Recipient, note, id); err != nil {
			return fmt.Errorf("store: mark sent: %w", err)
		}
	}
	return nil
}

// Confirm records an uncertain message as sent, by hand: someone checked
// that it arrived. It counts as told when it was due (its not-before, in
// the business time it was planned in), or now for a message resent by
// hand. It is audited.
func (s *DB) Confirm(ctx context.Context, id int64, actor string) error {
	m, err := s.OutboxMessage(ctx, id)
	if err != nil {
		return fmt.Errorf("store: confirm: %w", err)
	}
	at := m.NotBefore
	if at.IsZero() {
		at = s.now()
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := markSent(ctx, tx, m, "confirmed by "+actor, at, "told (confirmed by "+actor+")", OutboxUncertain); err != nil {
			return fmt.Errorf("store: confirm: %w", err)
		}
		return s.audit(ctx, tx, actor, "outbox.confirm", fmt.Sprintf("outbox %d", id), "")
	})
}

// OutboxMessage returns one message.
func (s *DB) OutboxMessage(ctx context.Context, id int64) (*onus.OutboxMessage, error) {
	m, err := scanOutbox(s.db.QueryRowContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, onus.Errorf(onus.ENOTFOUND, "no outbox message %d", id)
	}
	return m, err
}

// MarkRetry puts a message held by holder back for another attempt at
// next (operational time).
func (s *DB) MarkRetry(ctx context.Context, id int64, holder, errMsg string, next time.Time) error {
	return s.release(ctx, id, holder, `status = 'pending', next_attempt_at = ?, last_error = ?`, fmtTime(next), errMsg)
}

// MarkUncertain records that a message held by holder may or may not have
// arrived (the connection failed after the message was handed over); it is
// never sent again by itself.
func (s *DB) MarkUncertain(ctx context.Context, id int64, holder, errMsg string) error {
	return s.release(ctx, id, holder, `status = 'uncertain', last_error = ?`,
		errMsg+"; it may or may not have arrived: check, then onus outbox confirm or resend")
}

// MarkFailed gives up on a message held by holder.
func (s *DB) MarkFailed(ctx context.Context, id int64, holder, errMsg string) error {
	return s.release(ctx, id, holder, `status = 'failed', last_error = ?`, errMsg)
}

// Reroute sends a message held by holder by another channel, at once: the
// person could not be reached on theirs.
func (s *DB) Reroute(ctx context.Context, id int64, holder, channel, why string) error {
	return s.release(ctx, id, holder, `status = 'pending', channel = ?, last_error = ?, attempts = 0`, channel, why)
}

// release ends holder's hold on a message with an update; it fails with a
// conflict when another run holds the message now.
func (s *DB) release(ctx context.Context, id int64, holder, set string, args ...any) error {
	args = append(args, id, holder)
	res, err := s.db.ExecContext(ctx, `UPDATE outbox SET `+set+`, lease_holder = '', lease_until = NULL
		WHERE id = ? AND status IN ('claimed', 'sending') AND lease_holder = ?`, args...)
	if err != nil {
		return fmt.Errorf("store: outbox %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return onus.Errorf(onus.ECONFLICT, "outbox message %d is no longer held by %s", id, holder)
	}
	return nil
}

// Recover handles messages whose dispatcher stopped: a lease that ran out
// before now (operational time), or one whose holder is dead (a process of
// this host that no longer exists, as told by dead). Claimed ones go back
// to pending (nothing left the machine); ones being sent go back to
// pending when their channel deduplicates, and are marked uncertain
// otherwise, never resent by themselves. Messages still held by a live run
// are listed, untouched.
func (s *DB) Recover(ctx context.Context, now time.Time, dead func(holder string) bool, idempotent func(channel string) bool) (onus.Recovery, error) {
	var rec onus.Recovery
	rows, err := s.db.QueryContext(ctx, `SELECT id, status, channel, lease_holder, COALESCE(lease_until, '') FROM outbox WHERE status IN ('claimed', 'sending')`)
	if err != nil {
		return rec, fmt.Errorf("store: recover: %w", err)
	}
	type held struct {
		onus.Held
		channel string
	}
	var hs []held
	for rows.Next() {
		var h held
		var until string
		if err := rows.Scan(&h.ID, &h.Status, &h.channel, &h.Holder, &until); err != nil {
			rows.Close()
			return rec, err
		}
		h.Until = parseTime(until)
		hs = append(hs, h)
	}
	rows.Close()
	for _, h := range hs {
		expired := !h.Until.After(now)
		if !expired && (dead == nil || h.Holder == "" || !dead(h.Holder)) {
			rec.Held = append(rec.Held, h.Held)
			continue
		}
		why := "recovered: the lease of " + h.Holder + " ran out"
		if !expired {
			why = "recovered: " + h.Holder + " stopped"
		}
		if h.Status == OutboxClaimed || idempotent(h.channel) {
			if err := s.takeOver(ctx, h.Held, OutboxPending, why); err == nil {
				rec.Requeued++
			}
			continue
		}
		if err := s.takeOver(ctx, h.Held, OutboxUncertain, why+" while sending: the message may or may not have arrived; check, then onus outbox confirm or resend"); err == nil {
			rec.Uncertain++
		}
	}
	return rec, nil
}

// takeOver moves a message whose holder stopped, unless it changed hands
// since it was read.
func (s *DB) takeOver(ctx context.Context, h onus.Held, to, why string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE outbox SET status = ?, last_error = ?, lease_holder = '', lease_until = NULL
		WHERE id = ? AND status = ? AND lease_holder = ?`, to, why, h.ID, h.Status, h.Holder)
	if err != nil {
		return fmt.Errorf("store: take over: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return onus.Errorf(onus.ECONFLICT, "outbox message %d changed hands", h.ID)
	}
	return nil
}

// Resend puts an uncertain or failed message back in the queue, by hand:
// it is due at once in operational time, so the next delivery run sends
// it whatever business time that run plans for.
func (s *DB) Resend(ctx context.Context, id int64, actor string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, not_before = '', next_attempt_at = ? WHERE id = ? AND status IN ('uncertain', 'failed')`,
			fmtTime(s.now()), id)
		if err != nil {
			return fmt.Errorf("store: resend: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return onus.Errorf(onus.ECONFLICT, "outbox message %d is not uncertain or failed", id)
		}
		return s.audit(ctx, tx, actor, "outbox.resend", fmt.Sprintf("outbox %d", id), "")
	})
}

// OutboxMessages lists the outbox, newest first.
func (s *DB) OutboxMessages(ctx context.Context, statuses []string, recipient string, limit int) ([]*onus.OutboxMessage, error) {
	var where []string
	var args []any
	if len(statuses) > 0 {
		where = append(where, "status IN ("+strings.TrimSuffix(strings.Repeat("?,", len(statuses)), ",")+")")
		for _, st := range statuses {
			args = append(args, st)
		}
	}
	if recipient != "" {
		where = append(where, "recipient = ?")
		args = append(args, strings.ToLower(recipient))
	}
	q := `SELECT ` + outboxCols + ` FROM outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	defer rows.Close()
	var out []*onus.OutboxMessage
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("store: outbox messages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// NudgeLog returns, for every finding that is open or was resolved since
// a time, when each person was last told of it at each stage, and when
// each person last had a summary (finding 0). The whole history counts:
// a notice sent months ago still means the person knows.
func (s *DB) NudgeLog(ctx context.Context, resolvedSince time.Time) ([]onus.NudgeEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT finding_id, recipient, stage, MAX(at) FROM nudge_log
		WHERE finding_id = 0 OR finding_id IN (SELECT id FROM findings WHERE state = 'open' OR (state = 'resolved' AND resolved_at >= ?))
		GROUP BY finding_id, recipient, stage`, fmtTime(resolvedSince))
	if err != nil {
		return nil, fmt.Errorf("store: nudge log: %w", err)
	}
	defer rows.Close()
	var out []onus.NudgeEntry
	for rows.Next() {
		var e onus.NudgeEntry
		var at string
		if err := rows.Scan(&e.Finding, &e.Recipient, &e.Stage, &at); err != nil {
			return nil, fmt.Errorf("store: nudge log: %w", err)
		}
		e.At = parseTime(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// SentSince returns the recipient and time of every message sent since a
// time, for the daily limit.
func (s *DB) SentSince(ctx context.Context, since time.Time) ([]onus.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT recipient, sent_at FROM outbox WHERE status = 'sent' AND sent_at >= ?`, fmtTime(since))
	if err != nil {
		return nil, fmt.Errorf("store: sent since: %w", err)
	}
	defer rows.Close()
	var out []onus.Delivery
	for rows.Next() {
		var r, at string
		if err := rows.Scan(&r, &at); err != nil {
			return nil, fmt.Errorf("store: sent since: %w", err)
		}
		out = append(out, onus.Delivery{Recipient: r, At: parseTime(at)})
	}
	return out, rows.Err()
}
