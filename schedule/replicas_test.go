package schedule

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/pgtest"
	"github.com/onus-sec/onus/store"
)

// Three schedulers (three onus serve replicas) on one PostgreSQL, their
// timers firing together: each tick of a job, and its first run, is run
// by one of them only.
func TestReplicasRunEachTickOnce(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	wall := newFakeWall(t0)
	var runs atomic.Int32
	job := Job{Name: "evaluate", When: "10m", Timetable: every(10 * time.Minute), Run: func(context.Context, <-chan struct{}) error {
		runs.Add(1)
		return nil
	}}
	const replicas = 3
	for i := 0; i < replicas; i++ {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := newScheduler(core{Store: db, Wall: wall, After: wall.After, Grace: time.Second}, []Job{job})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		ended := make(chan struct{})
		go func() {
			s.Run(rctx)
			close(ended)
		}()
		t.Cleanup(func() {
			cancel()
			<-ended
		})
	}
	h := &harness{t: t, wall: wall}
	h.idle(replicas)
	if n := runs.Load(); n != 1 {
		t.Fatalf("the first run ran %d times", n)
	}
	for tick := 2; tick <= 4; tick++ {
		wall.Advance(10 * time.Minute)
		h.idle(replicas)
		if n := runs.Load(); n != int32(tick) {
			t.Fatalf("after tick %d: %d runs, want %d", tick, n, tick)
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	jr, err := db.JobRuns(ctx)
	if err != nil || jr["evaluate"].Runs != 4 || jr["evaluate"].Running {
		t.Errorf("stored %+v, %v", jr["evaluate"], err)
	}
}
