package deliver

import (
	"context"
	"fmt"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/pgtest"
	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/store"
)

// Three onus processes share one PostgreSQL outbox and send it at the same
// time to a real SMTP server: their claims (FOR UPDATE SKIP LOCKED) never
// take the same message, so every message arrives exactly once, and the
// three share the work.
func TestThreeDispatchersOnePostgres(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	mp := testsrv.StartMailpit(t)
	const n, replicas = 90, 3
	dbs := openReplicas(t, dsn, replicas)
	var msgs []*onus.OutboxMessage
	for j := 0; j < n; j++ {
		msgs = append(msgs, &onus.OutboxMessage{Key: fmt.Sprintf("k%d", j), Recipient: fmt.Sprintf("p%d@acme.com", j), Channel: "email",
			Kind: "digest", Subject: fmt.Sprintf("message %d", j), Text: "t", NotBefore: t0})
	}
	if _, _, err := dbs[0].Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	stats, _ := dispatchAll(t, ctx, dbs, mp, "1:run")
	sent := 0
	for i := range replicas {
		// Held messages are the others' in flight as this one ends: normal.
		if stats[i].Retried+stats[i].Failed+stats[i].Uncertain+stats[i].Requeued > 0 {
			t.Errorf("replica %d: %+v", i, stats[i])
		}
		sent += stats[i].Sent
	}
	t.Logf("sent per replica: %d, %d, %d", stats[0].Sent, stats[1].Sent, stats[2].Sent)
	if sent != n {
		t.Errorf("the replicas sent %d messages, want %d", sent, n)
	}
	got := map[string]int{}
	for _, m := range mp.Messages(t) {
		got[m.Subject]++
	}
	for j := 0; j < n; j++ {
		if c := got[fmt.Sprintf("message %d", j)]; c != 1 {
			t.Errorf("message %d arrived %d times", j, c)
		}
	}
	if len(got) != n {
		t.Errorf("mailpit has %d distinct messages, want %d", len(got), n)
	}
	ms, err := dbs[1].OutboxMessages(ctx, []string{store.OutboxSent}, "", 0)
	if err != nil || len(ms) != n {
		t.Errorf("%d messages recorded sent (%v), want %d", len(ms), err, n)
	}
}
