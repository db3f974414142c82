package deliver

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/notify/smtp"
	"github.com/onus-sec/onus/store"
)

// openReplicas opens n stores on dsn, each with its own connection pool as
// each replica of onus serve has, closed when tb ends.
func openReplicas(tb testing.TB, dsn string, n int) []*store.DB {
	tb.Helper()
	dbs := make([]*store.DB, n)
	for r := range dbs {
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		dbs[r] = db
	}
	return dbs
}

// dispatchAll starts one dispatcher per store, each with its own SMTP
// connection to mp (STARTTLS and authentication, credentials from the
// environment) and holder name "replica-N:run", all at the same instant,
// and waits for every one. It fails tb when a dispatcher returns an error
// and returns each one's counts and the wall time they took together.
func dispatchAll(tb testing.TB, ctx context.Context, dbs []*store.DB, mp *testsrv.Mailpit, run string) ([]Stats, time.Duration) {
	tb.Helper()
	tb.Setenv("T_SMTP_USER", mp.User)
	tb.Setenv("T_SMTP_PASSWORD", mp.Password)
	stats := make([]Stats, len(dbs))
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for r := range dbs {
		ch, err := smtp.New(&smtp.Config{Host: mp.SMTPHost, Port: mp.SMTPPort, CAFile: mp.CAFile,
			Username: "env:T_SMTP_USER", Password: "env:T_SMTP_PASSWORD", From: "security@acme.com"})
		if err != nil {
			tb.Fatal(err)
		}
		d := dispatcher(dbs[r], nil, map[string]notify.Channel{"email": ch})
		d.Holder = fmt.Sprintf("replica-%d:%s", r, run)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stats[r], errs[r] = d.Run(ctx)
		}()
	}
	t := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t)
	for r, err := range errs {
		if err != nil {
			tb.Fatalf("replica %d: %v", r, err)
		}
	}
	return stats, elapsed
}
