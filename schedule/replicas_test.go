package schedule

import (
	"context"
	"sync"
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
		startScheduler(t, openDSN(t, dsn), wall, job)
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

// A job cut short is resumed by one scheduler only: not by one starting
// while another still runs the job (its lease is alive), and by one only
// of several starting together after the holder died.
func TestReplicasResumeCutJobOnce(t *testing.T) {
	ctx := context.Background()
	t.Run("while another runs it", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		wall := newFakeWall(t0)
		var runs atomic.Int32
		in, release := make(chan string, 4), make(chan struct{})
		job := Job{Name: "evaluate", Timetable: every(time.Hour), Run: func(context.Context, <-chan struct{}) error {
			runs.Add(1)
			in <- "run"
			<-release
			return nil
		}}
		var once sync.Once
		free := func() { once.Do(func() { close(release) }) }
		startScheduler(t, openDSN(t, dsn), wall, job) // A: runs the first run and holds it
		<-in
		// B starts while A runs: the row says running, as after a crash,
		// but A is alive and holds the lease.
		startScheduler(t, openDSN(t, dsn), wall, job)
		t.Cleanup(free) // before the schedulers stop, should the test fail
		h := &harness{t: t, wall: wall}
		h.idle(1) // B waits for A's lease to end
		if n := runs.Load(); n != 1 {
			t.Fatalf("the job ran %d times at once", n)
		}
		free()
		h.idle(2) // A finished; both wait for the next tick or a look again
		wall.Advance(DefaultJobLease + 2*time.Second)
		h.idle(2)
		if n := runs.Load(); n != 1 {
			t.Errorf("after A finished, the job ran %d times, want 1 (the next tick is at %v)", n, t0.Add(time.Hour))
		}
		wall.Advance(time.Hour)
		h.idle(2)
		if n := runs.Load(); n != 2 {
			t.Errorf("after the next tick: %d runs, want 2", n)
		}
	})

	t.Run("after the holder died", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		wall := newFakeWall(t0)
		db := openDSN(t, dsn)
		// A replica on another machine started the job and died: its lease
		// ran out a second ago.
		if err := db.StartJobAs(ctx, "evaluate", TriggerSchedule, t0.Add(-3*time.Minute), "elsewhere:41:dead", t0.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		var runs atomic.Int32
		job := Job{Name: "evaluate", Timetable: every(time.Hour), Run: func(context.Context, <-chan struct{}) error {
			runs.Add(1)
			// Long enough for the other replicas to start and read the
			// row while the run is on.
			time.Sleep(2 * time.Second)
			return nil
		}}
		const replicas = 3
		for range replicas {
			startScheduler(t, openDSN(t, dsn), wall, job)
		}
		h := &harness{t: t, wall: wall}
		h.idle(replicas)
		if n := runs.Load(); n != 1 {
			t.Fatalf("the job cut short was resumed %d times", n)
		}
		jr, err := db.JobRuns(ctx)
		if err != nil || jr["evaluate"].Running || jr["evaluate"].Trigger != TriggerResume {
			t.Errorf("stored %+v, %v", jr["evaluate"], err)
		}
	})
}

// startScheduler runs a scheduler of job on db and wall until the test
// ends, then stops it and waits for it.
func startScheduler(t *testing.T, db *store.DB, wall *fakeWall, job Job) {
	t.Helper()
	s, err := newScheduler(core{Store: db, Wall: wall, After: wall.After, Grace: time.Second}, []Job{job})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(ended)
	}()
	t.Cleanup(func() {
		cancel()
		<-ended
	})
}
