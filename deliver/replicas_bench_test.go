package deliver

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/pgtest"
	"github.com/onus-sec/onus/internal/testsrv"
)

// BenchmarkDispatchReplicas measures the outbox's dispatch rate to a real
// SMTP server (mailpit, STARTTLS and authentication) on each engine, with
// 1 and 3 dispatchers sharing one outbox: each dispatcher is a replica's,
// with its own store (its own connection pool) and its own SMTP
// connection, all in this process. On SQLite the three share one file on
// one machine: their claims and records take turns on its single writer
// lock. On PostgreSQL they claim with FOR UPDATE SKIP LOCKED. PostgreSQL
// is $ONUS_TEST_POSTGRES, or one internal/pgtest starts.
//
// It reports messages/s, the CPU of this process per message (onus's
// and mailpit's share of the machine is not in it), and checks that every
// message was sent once.
//
//	go test ./deliver -run '^$' -bench DispatchReplicas -benchtime 3x
func BenchmarkDispatchReplicas(b *testing.B) {
	mp := testsrv.StartMailpit(b)
	const n = 600
	text := strings.Repeat("1. Disk encryption on: your laptop MBP-JANE [new]\n   Due Monday 7 December (in 7 days).\n", 3)
	html := "<p>" + strings.Repeat("<strong>Disk encryption on</strong>: your laptop MBP-JANE<br>", 3) + "</p>"
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, replicas := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/replicas=%d", engine, replicas), func(b *testing.B) {
				ctx := context.Background()
				var elapsed, cpu time.Duration
				for i := 0; b.Loop(); i++ {
					dsn := filepath.Join(b.TempDir(), "onus.db")
					if engine == "postgres" {
						dsn = pgtest.DSN(b)
					}
					dbs := openReplicas(b, dsn, replicas)
					var msgs []*onus.OutboxMessage
					for j := range n {
						msgs = append(msgs, &onus.OutboxMessage{Key: fmt.Sprintf("k%d-%d", i, j), Recipient: fmt.Sprintf("p%d@acme.com", j), Channel: "email",
							Kind: "digest", Subject: "3 security items for you", Text: text, HTML: html, Items: map[int64]string{int64(j + 1): "notice"}, NotBefore: t0})
					}
					if _, _, err := dbs[0].Enqueue(ctx, msgs); err != nil {
						b.Fatal(err)
					}
					c := cpuTime()
					stats, took := dispatchAll(b, ctx, dbs, mp, fmt.Sprintf("%d:run", i))
					elapsed += took
					cpu += cpuTime() - c
					sent := 0
					for r := range replicas {
						if s := stats[r]; s.Retried+s.Failed+s.Uncertain+s.Requeued > 0 {
							b.Fatalf("replica %d: %+v", r, s)
						}
						sent += stats[r].Sent
					}
					if sent != n {
						b.Fatalf("the replicas sent %d messages, want %d", sent, n)
					}
				}
				msgs := float64(n * b.N)
				b.ReportMetric(msgs/elapsed.Seconds(), "messages/s")
				b.ReportMetric(float64(cpu.Microseconds())/msgs, "cpu-µs/message")
			})
		}
	}
}

// cpuTime is the user and system time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
