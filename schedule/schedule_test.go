package schedule

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/store"
)

// fakeWall is operational time that moves only when a test says so.
type fakeWall struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeWall(t time.Time) *fakeWall { return &fakeWall{now: t} }

func (f *fakeWall) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeWall) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{f.now.Add(d), ch})
	return ch
}

// Advance moves time on and fires the waits that ended.
func (f *fakeWall) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
		} else {
			kept = append(kept, w)
		}
	}
	f.waiters = kept
}

// pending returns the number of waits not yet ended.
func (f *fakeWall) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// openStore opens a new SQLite file, closed when the test ends.
func openStore(t *testing.T) *store.DB {
	t.Helper()
	return openDSN(t, filepath.Join(t.TempDir(), "onus.db"))
}

// openDSN opens dsn as one replica does, closed when the test ends.
func openDSN(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// harness runs a scheduler of test jobs on a fake wall and a real store.
type harness struct {
	t     *testing.T
	s     *Scheduler
	wall  *fakeWall
	db    *store.DB
	runs  chan store.JobRun
	stop  context.CancelFunc
	ended chan struct{}
	err   error // what Run returned, once ended is closed
}

func every(d time.Duration) config.Timetable { return config.Interval(d) }

func newHarness(t *testing.T, db *store.DB, grace time.Duration, jobs ...Job) *harness {
	t.Helper()
	h := &harness{t: t, wall: newFakeWall(t0), db: db, runs: make(chan store.JobRun, 100)}
	s, err := newScheduler(core{Store: db, Wall: h.wall, After: h.wall.After, Grace: grace}, jobs)
	if err != nil {
		t.Fatal(err)
	}
	s.done = func(_ string, r store.JobRun) { h.runs <- r }
	h.s = s
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.ended = cancel, make(chan struct{})
	go func() {
		h.err = h.s.Run(ctx)
		close(h.ended)
	}()
	h.t.Cleanup(func() {
		cancel()
		<-h.ended
	})
}

// next waits for the next finished run. The timeout only guards against
// a hang; nothing here measures speed.
func (h *harness) next() store.JobRun {
	h.t.Helper()
	select {
	case r := <-h.runs:
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("no job ran")
		return store.JobRun{}
	}
}

// none checks that no run finished before the scheduler went idle: every
// loop waits on the clock again.
func (h *harness) none(waits int) {
	h.t.Helper()
	h.idle(waits)
	select {
	case r := <-h.runs:
		h.t.Fatalf("unexpected run of %s (%s)", r.Name, r.Trigger)
	default:
	}
}

// idle waits until the loops wait on the fake clock n times.
func (h *harness) idle(n int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.wall.pending() < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d waits on the clock, want %d", h.wall.pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func nop(context.Context, <-chan struct{}) error { return nil }

// A job runs at start when it never ran, then on every tick of its
// interval, and not between ticks.
func TestTicks(t *testing.T) {
	h := newHarness(t, openStore(t), time.Second, Job{Name: "a", When: "10m", Timetable: every(10 * time.Minute), Run: nop})
	h.start()
	if r := h.next(); r.Trigger != TriggerStart || !r.Started.Equal(t0) {
		t.Fatalf("first run %+v, want at start", r)
	}
	h.idle(1)
	if st := h.s.Status(); st[0].Next != t0.Add(10*time.Minute) || st[0].Last == nil || st[0].Schedule != "10m" {
		t.Fatalf("status after the first run: %+v", st[0])
	}
	h.wall.Advance(9 * time.Minute)
	h.none(1)
	h.wall.Advance(time.Minute)
	if r := h.next(); r.Trigger != TriggerSchedule || !r.Started.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("second run %+v", r)
	}
	// Two ticks missed at once (the machine slept) make one run.
	h.idle(1)
	h.wall.Advance(25 * time.Minute)
	if r := h.next(); r.Trigger != TriggerSchedule || r.Runs != 3 {
		t.Fatalf("third run %+v", r)
	}
	h.none(1)
	runs, err := h.db.JobRuns(context.Background())
	if err != nil || runs["a"].Runs != 3 || runs["a"].Running {
		t.Fatalf("stored %+v, %v", runs["a"], err)
	}
}

// A tick missed while no scheduler ran is run once at start; a job whose
// next tick is still ahead waits for it; a run cut short is resumed.
func TestMissedTickAtStart(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	record := func(name string, started time.Time, interrupted bool) {
		if err := db.StartJob(ctx, name, TriggerSchedule, started); err != nil {
			t.Fatal(err)
		}
		var err error
		if interrupted {
			err = context.Canceled
		}
		if err := db.FinishJob(ctx, name, started.Add(time.Second), time.Second, err, interrupted); err != nil {
			t.Fatal(err)
		}
	}
	record("missed", t0.Add(-3*time.Hour), false) // ticks at -2h, -1h and 0 missed
	record("ahead", t0.Add(-30*time.Minute), false)
	record("cut", t0.Add(-5*time.Minute), true)
	// A crash leaves a run marked running.
	if err := db.StartJob(ctx, "crashed", TriggerSchedule, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, db, time.Second,
		Job{Name: "missed", Timetable: every(time.Hour), Run: nop},
		Job{Name: "ahead", Timetable: every(time.Hour), Run: nop},
		Job{Name: "cut", Timetable: every(time.Hour), Run: nop},
		Job{Name: "crashed", Run: nop}, // runs only when triggered, but resumes
	)
	h.start()
	got := map[string]string{}
	for range 3 {
		r := h.next()
		got[r.Name] = r.Trigger
	}
	want := map[string]string{"missed": TriggerStart, "cut": TriggerResume, "crashed": TriggerResume}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s ran with trigger %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	// "missed" runs once, not once per missed tick; "ahead" waits.
	h.none(3)
	for _, st := range h.s.Status() {
		switch st.Name {
		case "missed":
			if !st.Next.Equal(t0.Add(time.Hour)) || st.Last.Runs != 2 {
				t.Errorf("missed: next %s, runs %d", st.Next, st.Last.Runs)
			}
		case "ahead":
			if !st.Next.Equal(t0.Add(30*time.Minute)) || st.Last.Runs != 1 {
				t.Errorf("ahead: next %s, runs %d", st.Next, st.Last.Runs)
			}
		}
	}
	h.wall.Advance(30 * time.Minute)
	if r := h.next(); r.Name != "ahead" || r.Trigger != TriggerSchedule {
		t.Fatalf("at +30m: %+v", r)
	}
}

// A job never overlaps itself, and jobs that write the ledger never run
// together: ticks and triggers that come while a job runs make one more
// run, however many came.
func TestNoOverlap(t *testing.T) {
	var active, most, writers, mostWriters atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	track := func(n, max *atomic.Int32) func() {
		v := n.Add(1)
		for {
			m := max.Load()
			if v <= m || max.CompareAndSwap(m, v) {
				break
			}
		}
		return func() { n.Add(-1) }
	}
	slow := func(ctx context.Context, _ <-chan struct{}) error {
		defer track(&active, &most)()
		defer track(&writers, &mostWriters)()
		started <- struct{}{}
		<-release
		return nil
	}
	other := func(ctx context.Context, _ <-chan struct{}) error {
		defer track(&writers, &mostWriters)()
		return nil
	}
	h := newHarness(t, openStore(t), time.Second,
		Job{Name: "slow", Timetable: every(time.Minute), Writer: true, Run: slow},
		Job{Name: "other", Writer: true, Run: other},
	)
	h.start()
	<-started // the first run, at start, holds on
	for range 5 {
		h.wall.Advance(time.Minute)
		if err := h.s.Trigger("slow", TriggerManual); err != nil {
			t.Fatal(err)
		}
	}
	h.s.Trigger("other", TriggerManual) // waits for the writer lock
	close(release)
	got := map[string]int{}
	for range 3 {
		got[h.next().Name]++
	}
	if got["slow"] != 2 || got["other"] != 1 {
		t.Fatalf("runs %v, want slow twice (the first and one for everything that came while it ran) and other once", got)
	}
	h.none(1)
	if most.Load() != 1 || mostWriters.Load() != 1 {
		t.Errorf("at most %d runs of slow and %d writers at once, want 1 and 1", most.Load(), mostWriters.Load())
	}
	if err := h.s.Trigger("nope", TriggerManual); err == nil {
		t.Error("a trigger of an unknown job was accepted")
	}
}

// A stop lets a running job finish within the grace period: it sees the
// stop, hands back, and its run is recorded as a success. A job that does
// not finish in time is interrupted and recorded so, and runs again at the
// next start.
func TestStop(t *testing.T) {
	for _, tt := range []struct {
		name        string
		handsBack   bool
		interrupted bool
	}{{"hands back", true, false}, {"interrupted", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			in := make(chan struct{})
			work := func(ctx context.Context, stopping <-chan struct{}) error {
				close(in)
				if tt.handsBack {
					<-stopping
					return nil
				}
				<-ctx.Done()
				return ctx.Err()
			}
			h := newHarness(t, db, 30*time.Second, Job{Name: "job", Timetable: every(time.Hour), Run: work})
			h.start()
			<-in
			h.stop()
			if !tt.handsBack {
				h.idle(1) // the grace period
				h.wall.Advance(30 * time.Second)
			}
			r := h.next()
			if <-h.ended; h.err != nil {
				t.Fatal(h.err)
			}
			if r.Interrupted != tt.interrupted || (r.Error == "") != tt.handsBack {
				t.Fatalf("run %+v", r)
			}
			runs, _ := db.JobRuns(context.Background())
			if runs["job"].Running || runs["job"].Interrupted != tt.interrupted {
				t.Fatalf("stored %+v", runs["job"])
			}
			if tt.interrupted {
				h2 := newHarness(t, db, time.Second, Job{Name: "job", Timetable: every(time.Hour), Run: nop})
				h2.start()
				if r := h2.next(); r.Trigger != TriggerResume {
					t.Fatalf("after restart: %+v", r)
				}
			}
		})
	}
}

// Metrics count runs and failures per job; a failed job triggers nothing,
// a panic is a failure and the loop goes on.
func TestFailuresAndMetrics(t *testing.T) {
	h := newHarness(t, openStore(t), time.Second,
		Job{Name: "bad", Timetable: every(time.Hour), Then: []string{"after"}, Run: func(context.Context, <-chan struct{}) error { return errors.New("source hr is failed: boom") }},
		Job{Name: "panics", Timetable: every(time.Hour), Run: func(context.Context, <-chan struct{}) error { panic("oops") }},
		Job{Name: "after", Run: nop},
	)
	h.start()
	var names []string
	for range 2 {
		r := h.next()
		names = append(names, r.Name+": "+r.Error)
	}
	sort.Strings(names)
	if names[0] != "bad: source hr is failed: boom" || names[1] != "panics: panic: oops" {
		t.Fatalf("runs %q", names)
	}
	h.none(2)
	m := h.s.metrics
	if got := testutil.ToFloat64(m.failures.WithLabelValues("bad")); got != 1 {
		t.Errorf("failures = %v", got)
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("panics")); got != 1 {
		t.Errorf("runs = %v", got)
	}
	if n, err := testutil.GatherAndCount(h.s.Metrics(), MetricJobDuration); err != nil || n != 2 {
		t.Errorf("%d duration series, %v", n, err)
	}
	// A job that never ran has its series from the start, at 0.
	if n, err := testutil.GatherAndCount(h.s.Metrics(), MetricJobRuns); err != nil || n != 3 {
		t.Errorf("%d run series, want one per job (3), %v", n, err)
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("after")); got != 0 {
		t.Errorf("runs of a job that never ran = %v", got)
	}
	for _, st := range h.s.Status() {
		if st.Name == "after" && (st.Last != nil || st.Schedule != "after bad") {
			t.Errorf("after: %+v", st)
		}
	}
}

// A writer job that meets the run lock held by another onus (another
// replica syncing another source) waits for it and then runs, instead of
// failing and leaving its work to the next tick; one that waits longer
// than lockWait fails, naming the holder.
func TestWriterWaitsForTheRunLock(t *testing.T) {
	ctx := context.Background()
	other := store.LockRequest{Holder: "elsewhere:1:1", Actor: "replica-b", What: "sync of okta", For: time.Hour}
	setup := func(t *testing.T, wait time.Duration) (*harness, *store.DB, *atomic.Int32) {
		db := openStore(t)
		if err := db.Lock(ctx, other); err != nil {
			t.Fatal(err)
		}
		tries := new(atomic.Int32)
		work := func(ctx context.Context, _ <-chan struct{}) error {
			tries.Add(1)
			if err := db.Lock(ctx, store.LockRequest{Holder: "here:1:1", Actor: "replica-a", What: "sync of hr", For: time.Hour}); err != nil {
				return err
			}
			return db.Unlock(ctx, "here:1:1")
		}
		h := newHarness(t, db, time.Second, Job{Name: "sync:hr", Timetable: every(time.Hour), Writer: true, Run: work})
		h.s.lockWait = wait
		h.start()
		return h, db, tries
	}

	t.Run("waits", func(t *testing.T) {
		h, db, tries := setup(t, LockWait)
		h.idle(1) // the first try met the lock and waits a second
		h.wall.Advance(time.Second)
		h.idle(1) // the second met it too and waits two
		if n := tries.Load(); n != 2 {
			t.Fatalf("%d tries while the lock is held, want 2", n)
		}
		if err := db.Unlock(ctx, other.Holder); err != nil {
			t.Fatal(err)
		}
		h.wall.Advance(2 * time.Second)
		r := h.next()
		if r.Error != "" || r.Failures != 0 || tries.Load() != 3 {
			t.Fatalf("run after the lock was freed: error %q, %d failures, %d tries", r.Error, r.Failures, tries.Load())
		}
		if got := testutil.ToFloat64(h.s.metrics.failures.WithLabelValues("sync:hr")); got != 0 {
			t.Errorf("failures = %v, want 0: waiting for the lock is not a failure", got)
		}
	})

	t.Run("gives up", func(t *testing.T) {
		h, _, tries := setup(t, 3*time.Second)
		h.idle(1)
		h.wall.Advance(time.Second)
		h.idle(1)
		h.wall.Advance(2 * time.Second)
		r := h.next()
		if r.Failures != 1 || tries.Load() != 3 {
			t.Fatalf("run after waiting past lockWait: error %q, %d failures, %d tries, want 1 failure after 3 tries", r.Error, r.Failures, tries.Load())
		}
		if want := "replica-b"; !strings.Contains(r.Error, want) {
			t.Errorf("error %q does not name the holder %s", r.Error, want)
		}
	})
}
