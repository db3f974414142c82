package deliver

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/lease"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/notify/smtp"
	"github.com/onus-sec/onus/store"
)

// Dispatch to a local mailpit with STARTTLS and authentication, as to a
// relay: messages per second, each recorded in the outbox, the nudge log
// and its findings' history.
func BenchmarkDispatchSMTP(b *testing.B) {
	mp := testsrv.StartMailpit(b)
	b.Setenv("BENCH_SMTP_USER", mp.User)
	b.Setenv("BENCH_SMTP_PASSWORD", mp.Password)
	ch, err := smtp.New(&smtp.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, CAFile: mp.CAFile,
		Username: "env:BENCH_SMTP_USER", Password: "env:BENCH_SMTP_PASSWORD", From: "security@acme.com"})
	if err != nil {
		b.Fatal(err)
	}
	const n = 500
	text := strings.Repeat("1. Disk encryption on: your laptop MBP-JANE [new]\n   Due Monday 7 December (in 7 days).\n", 3)
	html := "<p>" + strings.Repeat("<strong>Disk encryption on</strong>: your laptop MBP-JANE<br>", 3) + "</p>"
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "onus.db"))
		if err != nil {
			b.Fatal(err)
		}
		var msgs []*onus.OutboxMessage
		for j := 0; j < n; j++ {
			msgs = append(msgs, &onus.OutboxMessage{Key: fmt.Sprintf("k%d-%d", i, j), Recipient: fmt.Sprintf("p%d@acme.com", j), Channel: "email",
				Kind: "digest", Subject: "3 security items for you", Text: text, HTML: html, Items: map[int64]string{int64(j + 1): "notice"}, NotBefore: t0})
		}
		if _, _, err := db.Enqueue(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
		d := &Dispatcher{Store: db, Channels: map[string]notify.Channel{"email": ch}, Clock: onus.FixedClock(t0), Holder: lease.Holder()}
		b.StartTimer()
		st, err := d.Run(context.Background())
		if err != nil || st.Sent != n {
			b.Fatalf("%+v, %v", st, err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "messages/s")
}
