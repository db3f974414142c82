package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/ledger"
)

func msg(key, to string, notBefore time.Time, items map[int64]string) *OutboxMessage {
	return &OutboxMessage{Key: key, Recipient: to, Channel: "email", Kind: "digest", Subject: "s", Text: "t", HTML: "<p>t</p>",
		Items: items, Reason: "notice", NotBefore: notBefore}
}

func TestOutboxLifecycle(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	run, _ := db.BeginRun(ctx, "eval", "test", now)
	f := onus.Finding{Control: "edr", Entity: "d1", EntityKind: "device", EntityName: "MBP-1", Severity: onus.High, State: onus.StateOpen,
		Responsible: onus.Person{Email: "jane@acme.com"}, FirstFailed: now, LastFailed: now, Due: now.Add(48 * time.Hour), UpdatedAt: now}
	if err := db.ApplyChanges(ctx, run, []ledger.Change{{New: true, Finding: f, Events: []onus.Event{{At: now, Type: "opened"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	fs, _ := db.Findings(ctx, Filter{})
	id := fs[0].ID

	plan := []*OutboxMessage{
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
	m, err := db.Claim(ctx, now, time.Minute)
	if err != nil || m == nil || m.Key != "k-jane" || m.Status != OutboxClaimed || m.Attempts != 1 {
		t.Fatalf("claim: %+v, %v", m, err)
	}
	if next, _ := db.Claim(ctx, now, time.Minute); next != nil {
		t.Fatalf("claimed %s before its time", next.Key)
	}
	if err := db.MarkSending(ctx, m.ID); err != nil {
		t.Fatal(err)
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
		if e.Type == "told" && e.To == "jane@acme.com" && strings.Contains(e.Note, "by email") {
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
	if m, _ := db.Claim(ctx, now.Add(4*time.Hour), time.Minute); m != nil {
		t.Errorf("a cancelled message was claimed: %s", m.Key)
	}
}

// After a crash: claimed messages are requeued; those being sent are
// requeued only on channels that drop duplicates, and are uncertain
// otherwise until someone resends them, which is audited.
func TestOutboxRecoverAndResend(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	plan := []*OutboxMessage{msg("a", "a@acme.com", now, nil), msg("b", "b@acme.com", now, nil), msg("c", "c@acme.com", now, nil)}
	plan[2].Channel = "webhook"
	if _, _, err := db.Enqueue(ctx, plan); err != nil {
		t.Fatal(err)
	}
	a, _ := db.Claim(ctx, now, time.Minute) // claimed, then the process died
	b, _ := db.Claim(ctx, now, time.Minute)
	db.MarkSending(ctx, b.ID) // e-mail being sent when it died
	c, _ := db.Claim(ctx, now, time.Minute)
	db.MarkSending(ctx, c.ID) // webhook being sent when it died
	idem := func(ch string) bool { return ch == "webhook" }
	// Within the lease, another dispatcher leaves them alone.
	if r, u, _ := db.Recover(ctx, now.Add(30*time.Second), idem); r+u != 0 {
		t.Errorf("recovered %d+%d messages still leased", r, u)
	}
	r, u, err := db.Recover(ctx, now.Add(2*time.Minute), idem)
	if err != nil || r != 2 || u != 1 {
		t.Fatalf("recover: %d requeued, %d uncertain, %v", r, u, err)
	}
	status := func(id int64) string {
		ms, _ := db.OutboxMessages(ctx, nil, "", 0)
		for _, m := range ms {
			if m.ID == id {
				return m.Status
			}
		}
		return ""
	}
	if status(a.ID) != OutboxPending || status(b.ID) != OutboxUncertain || status(c.ID) != OutboxPending {
		t.Errorf("statuses a=%s b=%s c=%s", status(a.ID), status(b.ID), status(c.ID))
	}
	// Re-planning never cancels or re-adds an uncertain message.
	if added, cancelled, _ := db.Enqueue(ctx, plan); added != 0 || cancelled != 0 || status(b.ID) != OutboxUncertain {
		t.Errorf("re-plan touched the uncertain message: %d added, %d cancelled, %s", added, cancelled, status(b.ID))
	}
	if err := db.Resend(ctx, a.ID, "ops@acme.com"); err == nil {
		t.Error("resent a pending message")
	}
	if err := db.Resend(ctx, b.ID, "ops@acme.com"); err != nil {
		t.Fatal(err)
	}
	if status(b.ID) != OutboxPending {
		t.Errorf("after resend: %s", status(b.ID))
	}
	audit, _ := db.AuditLog(ctx, 10)
	found := false
	for _, e := range audit {
		found = found || (e.Action == "outbox.resend" && e.Actor == "ops@acme.com")
	}
	if !found {
		t.Errorf("the resend is not in the audit log: %+v", audit)
	}
}

// A failure is retried at its next attempt time, not before.
func TestOutboxRetryWaits(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	db.Enqueue(ctx, []*OutboxMessage{msg("a", "a@acme.com", now, nil)})
	m, _ := db.Claim(ctx, now, time.Minute)
	db.MarkSending(ctx, m.ID)
	if err := db.MarkRetry(ctx, m.ID, "421 try later", now.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if x, _ := db.Claim(ctx, now.Add(3*time.Minute), time.Minute); x != nil {
		t.Error("claimed before its retry time")
	}
	x, _ := db.Claim(ctx, now.Add(4*time.Minute), time.Minute)
	if x == nil || x.Attempts != 2 || x.LastError != "421 try later" {
		t.Fatalf("retry claim: %+v", x)
	}
}
