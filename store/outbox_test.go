package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/testclock"
)

// The business time of these tests (the plan's now) and the machine's
// clock are years apart on purpose: leases and retries must run on the
// one, not-before on the other.
var (
	business = testclock.Shifted(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	wall0    = time.Date(2031, 3, 3, 14, 0, 0, 0, time.UTC)
)

func holdAt(holder string, at time.Time) onus.Lease {
	return onus.Lease{Holder: holder, Now: at, For: time.Minute}
}

// openClocked opens a store whose operational clock is a fake at wall0.
func openClocked(t *testing.T) (*DB, *testclock.Fake) {
	t.Helper()
	db := open(t)
	clk := testclock.New(wall0)
	db.Clock = clk
	return db, clk
}

func msg(key, to string, notBefore time.Time, items map[int64]string) *onus.OutboxMessage {
	return &onus.OutboxMessage{Key: key, Recipient: to, Channel: "email", Kind: "digest", Subject: "s", Text: "t", HTML: "<p>t</p>",
		Items: items, Reason: "notice", NotBefore: notBefore}
}

func TestOutboxLifecycle(t *testing.T) {
	ctx := context.Background()
	db, _ := openClocked(t)
	now := business
	run1 := holdAt("h:1:a", wall0)
	run, _ := db.BeginRun(ctx, "eval", "test", now)
	f := onus.Finding{Control: "edr", Entity: "d1", EntityKind: "device", EntityName: "MBP-1", Severity: onus.High, State: onus.StateOpen,
		Responsible: onus.Person{Email: "jane@acme.com"}, FirstFailed: now, LastFailed: now, Due: now.Add(48 * time.Hour), UpdatedAt: now}
	if err := db.ApplyChanges(ctx, run, []onus.FindingChange{{New: true, Finding: f, Events: []onus.Event{{At: now, Type: "opened"}}}}, nil, -1); err != nil {
		t.Fatal(err)
	}
	fs, _ := db.Findings(ctx, onus.FindingFilter{})
	id := fs[0].ID

	plan := []*onus.OutboxMessage{
		msg("k-jane", "jane@acme.com", now, map[int64]string{id: "notice"}),
		msg("k-bob", "bob@acme.com", now.Add(3*time.Hour), map[int64]string{id: "escalation"}),
	}
	added, cancelled, err := db.Enqueue(ctx, plan)
	if err != nil || added != 2 || cancelled != 0 {
		t.Fatalf("enqueue: %d added, %d cancelled, %v", added, cancelled, err)
	}
	// Planned again: nothing new.
	if added, _, _ := db.Enqueue(ctx, plan); added != 0 {
		t.Errorf("the same plan added %d messages again", added)
	}
	// Only what is due is claimed; Bob's message waits for his morning.
	m, err := db.Claim(ctx, now, run1)
	if err != nil || m == nil || m.Key != "k-jane" || m.Status != OutboxClaimed || m.Attempts != 1 || m.LeaseHolder != "h:1:a" {
		t.Fatalf("claim: %+v, %v", m, err)
	}
	if m.LeaseUntil == nil || !m.LeaseUntil.Equal(wall0.Add(time.Minute)) {
		t.Errorf("lease until %v, want %v", m.LeaseUntil, wall0.Add(time.Minute))
	}
	if next, _ := db.Claim(ctx, now, run1); next != nil {
		t.Fatalf("claimed %s before its time", next.Key)
	}
	// Only the holder may go on with it.
	if err := db.MarkSending(ctx, m.ID, holdAt("h:2:b", wall0)); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("another run marked a held message sending: %v", err)
	}
	if err := db.MarkSending(ctx, m.ID, run1); err != nil {
		t.Fatal(err)
	}
	other := *m
	other.LeaseHolder = "h:2:b"
	if err := db.MarkSent(ctx, &other, "x", now); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("another run recorded a message it does not hold: %v", err)
	}
	if err := db.MarkSent(ctx, m, "<k-jane@acme.com>", now); err != nil {
		t.Fatal(err)
	}
	// Sent once: marking it again is a conflict, not a second record.
	if err := db.MarkSent(ctx, m, "x", now); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("second MarkSent: %v", err)
	}
	// However long ago, what was told about an open finding counts.
	log, _ := db.NudgeLog(ctx, now.AddDate(1, 0, 0))
	if len(log) != 1 || log[0].Finding != id || log[0].Recipient != "jane@acme.com" || log[0].Stage != "notice" || !log[0].At.Equal(now) {
		t.Errorf("nudge log %+v", log)
	}
	evs, _ := db.Events(ctx, id)
	told := false
	for _, e := range evs {
		if e.Type == onus.EventTold && e.To == "jane@acme.com" && strings.Contains(e.Note, "by email") {
			told = true
		}
	}
	if !told {
		t.Errorf("the finding's history does not say jane was told: %+v", evs)
	}
	sent, _ := db.OutboxMessages(ctx, []string{OutboxSent}, "", 0)
	if len(sent) != 1 || sent[0].ProviderID != "<k-jane@acme.com>" || sent[0].SentAt == nil {
		t.Errorf("sent: %+v", sent)
	}

	// The finding was fixed before Bob's escalation went: re-planning
	// without it cancels it; a sent message stays sent.
	added, cancelled, err = db.Enqueue(ctx, nil)
	if err != nil || added != 0 || cancelled != 1 {
		t.Errorf("re-plan: %d added, %d cancelled, %v", added, cancelled, err)
	}
	if c, _ := db.OutboxMessages(ctx, []string{OutboxCancelled}, "bob@acme.com", 0); len(c) != 1 {
		t.Errorf("bob's message is not cancelled")
	}
	if s, _ := db.OutboxMessages(ctx, []string{OutboxSent}, "", 0); len(s) != 1 {
		t.Errorf("re-planning touched a sent message")
	}
	if m, _ := db.Claim(ctx, now.Add(4*time.Hour), run1); m != nil {
		t.Errorf("a cancelled message was claimed: %s", m.Key)
	}
}

// After a crash: claimed messages are requeued; those being sent are
// requeued only on channels that drop duplicates, and are uncertain
// otherwise until someone resends them, which is audited.
func TestOutboxRecoverAndResend(t *testing.T) {
	ctx := context.Background()
	db, clk := openClocked(t)
	now := business
	plan := []*onus.OutboxMessage{msg("a", "a@acme.com", now, nil), msg("b", "b@acme.com", now, nil), msg("c", "c@acme.com", now, nil)}
	plan[2].Channel = "webhook"
	if _, _, err := db.Enqueue(ctx, plan); err != nil {
		t.Fatal(err)
	}
	dead := holdAt("h:1:dead", wall0)
	a, _ := db.Claim(ctx, now, dead) // claimed, then the process died
	b, _ := db.Claim(ctx, now, dead)
	db.MarkSending(ctx, b.ID, dead) // e-mail being sent when it died
	c, _ := db.Claim(ctx, now, dead)
	db.MarkSending(ctx, c.ID, dead) // webhook being sent when it died
	idem := func(ch string) bool { return ch == "webhook" }
	// Within the lease, another dispatcher leaves them alone and says so.
	rec, _ := db.Recover(ctx, wall0.Add(30*time.Second), nil, idem)
	if rec.Requeued+rec.Uncertain != 0 || len(rec.Held) != 3 || rec.Held[0].Holder != "h:1:dead" || !rec.Held[0].Until.Equal(wall0.Add(time.Minute)) {
		t.Errorf("within the lease: %+v", rec)
	}
	rec, err := db.Recover(ctx, wall0.Add(2*time.Minute), nil, idem)
	if err != nil || rec.Requeued != 2 || rec.Uncertain != 1 || len(rec.Held) != 0 {
		t.Fatalf("recover: %+v, %v", rec, err)
	}
	status := func(id int64) string {
		m, _ := db.OutboxMessage(ctx, id)
		return m.Status
	}
	if status(a.ID) != OutboxPending || status(b.ID) != OutboxUncertain || status(c.ID) != OutboxPending {
		t.Errorf("statuses a=%s b=%s c=%s", status(a.ID), status(b.ID), status(c.ID))
	}
	// The stopped run cannot record what it no longer holds.
	b.LeaseHolder = "h:1:dead"
	if err := db.MarkSent(ctx, b, "late", now); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("a stopped run recorded a message after recovery: %v", err)
	}
	// Re-planning never cancels or re-adds an uncertain message.
	if added, cancelled, _ := db.Enqueue(ctx, plan); added != 0 || cancelled != 0 || status(b.ID) != OutboxUncertain {
		t.Errorf("re-plan touched the uncertain message: %d added, %d cancelled, %s", added, cancelled, status(b.ID))
	}
	if err := db.Resend(ctx, a.ID, "ops@acme.com"); err == nil {
		t.Error("resent a pending message")
	}
	clk.Add(time.Hour)
	if err := db.Resend(ctx, b.ID, "ops@acme.com"); err != nil {
		t.Fatal(err)
	}
	if status(b.ID) != OutboxPending {
		t.Errorf("after resend: %s", status(b.ID))
	}
	// A resent message is due at the next run, whatever business time that
	// run plans for: here a week before the message was first planned.
	run2 := holdAt("h:2:next", wall0.Add(time.Hour))
	for {
		m, err := db.Claim(ctx, now.Add(-7*24*time.Hour), run2)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			t.Fatal("the resent message is not due at the next run")
		}
		if m.ID == b.ID {
			break
		}
	}
	audit, _ := db.AuditLog(ctx, 10)
	found := false
	for _, e := range audit {
		found = found || (e.Action == "outbox.resend" && e.Actor == "ops@acme.com" && e.At.Equal(wall0.Add(time.Hour)))
	}
	if !found {
		t.Errorf("the resend is not in the audit log at operational time: %+v", audit)
	}
}

// A holder that is known to have stopped gives its messages up at once,
// before its lease runs out; a live one keeps them.
func TestOutboxRecoverDeadHolder(t *testing.T) {
	ctx := context.Background()
	db, _ := openClocked(t)
	db.Enqueue(ctx, []*onus.OutboxMessage{msg("a", "a@acme.com", business, nil), msg("b", "b@acme.com", business, nil)})
	a, _ := db.Claim(ctx, business, holdAt("h:1:dead", wall0))
	db.MarkSending(ctx, a.ID, holdAt("h:1:dead", wall0))
	b, _ := db.Claim(ctx, business, holdAt("h:2:live", wall0))
	dead := func(h string) bool { return h == "h:1:dead" }
	rec, err := db.Recover(ctx, wall0.Add(time.Second), dead, func(string) bool { return false })
	if err != nil || rec.Uncertain != 1 || rec.Requeued != 0 || len(rec.Held) != 1 || rec.Held[0].ID != b.ID {
		t.Fatalf("recover: %+v, %v", rec, err)
	}
	m, _ := db.OutboxMessage(ctx, a.ID)
	if m.Status != OutboxUncertain || !strings.Contains(m.LastError, "h:1:dead stopped") || m.LeaseHolder != "" {
		t.Errorf("message of the dead holder: %+v", m)
	}
}

// A lease is counted from its own claim and renewal, in operational time:
// a message renewed by a slow run is not taken over however long ago the
// run began.
func TestOutboxLeaseRenewal(t *testing.T) {
	ctx := context.Background()
	db, _ := openClocked(t)
	db.Enqueue(ctx, []*onus.OutboxMessage{msg("a", "a@acme.com", business, nil)})
	slow := holdAt("h:1:slow", wall0)
	m, _ := db.Claim(ctx, business, slow)
	db.MarkSending(ctx, m.ID, slow)
	for i := 1; i <= 5; i++ { // five renewals, 40 s apart: 3 min 20 s in all
		if err := db.Renew(ctx, m.ID, holdAt("h:1:slow", wall0.Add(time.Duration(i)*40*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := db.Recover(ctx, wall0.Add(200*time.Second+30*time.Second), nil, func(string) bool { return false })
	if rec.Uncertain+rec.Requeued != 0 || len(rec.Held) != 1 {
		t.Fatalf("a renewed lease was broken: %+v", rec)
	}
	if err := db.Renew(ctx, m.ID, holdAt("h:9:other", wall0)); onus.ErrorCode(err) != onus.ECONFLICT {
		t.Errorf("another run renewed the lease: %v", err)
	}
}

// A failure is retried at its next attempt time (operational), not before.
func TestOutboxRetryWaits(t *testing.T) {
	ctx := context.Background()
	db, _ := openClocked(t)
	now := business
	db.Enqueue(ctx, []*onus.OutboxMessage{msg("a", "a@acme.com", now, nil)})
	run1 := holdAt("h:1:a", wall0)
	m, _ := db.Claim(ctx, now, run1)
	db.MarkSending(ctx, m.ID, run1)
	if err := db.MarkRetry(ctx, m.ID, "h:1:a", "421 try later", wall0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if x, _ := db.Claim(ctx, now, holdAt("h:1:a", wall0.Add(3*time.Minute))); x != nil {
		t.Error("claimed before its retry time")
	}
	x, _ := db.Claim(ctx, now, holdAt("h:1:a", wall0.Add(4*time.Minute)))
	if x == nil || x.Attempts != 2 || x.LastError != "421 try later" {
		t.Fatalf("retry claim: %+v", x)
	}
}
