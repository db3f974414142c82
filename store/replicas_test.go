package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onus-sec/onus"
)

// Replicas whose timers fire for the same tick of a job: exactly one of
// them runs it; the next tick is claimed again; a first run only once.
func TestClaimTick(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	tick := wall0.Add(10 * time.Minute)
	claim := func(tick, at time.Time) int32 {
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.ClaimTick(ctx, "evaluate", "schedule", tick, at.Add(time.Duration(i)*time.Millisecond))
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		return won.Load()
	}
	if n := claim(time.Time{}, wall0); n != 1 {
		t.Errorf("first run claimed %d times", n)
	}
	if err := db.FinishJob(ctx, "evaluate", wall0.Add(time.Second), time.Second, nil, false); err != nil {
		t.Fatal(err)
	}
	if n := claim(tick, tick); n != 1 {
		t.Errorf("tick claimed %d times", n)
	}
	if n := claim(tick, tick.Add(time.Second)); n != 0 {
		t.Errorf("a tick already run claimed %d times", n)
	}
	if n := claim(tick.Add(10*time.Minute), tick.Add(10*time.Minute)); n != 1 {
		t.Errorf("next tick claimed %d times", n)
	}
	runs, err := db.JobRuns(ctx)
	if err != nil || !runs["evaluate"].Running || runs["evaluate"].Runs != 1 {
		t.Errorf("job %+v, %v", runs["evaluate"], err)
	}
}

// The run lock of a live process is refused to another; on PostgreSQL,
// the lock of a process whose connection ended (it died) is taken over at
// once, without waiting for its lease. On SQLite the lease must run out.
func TestRunLockOfADeadReplica(t *testing.T) {
	ctx := context.Background()
	name := dsn(t)
	var dbs []*DB
	for range 2 {
		db, err := Open(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	a, b := dbs[0], dbs[1]
	req := func(h string) LockRequest {
		return LockRequest{Holder: h, Actor: "ops@acme.com", What: "evaluation", For: time.Hour}
	}
	if err := a.Lock(ctx, req("a:1:run")); err != nil {
		t.Fatal(err)
	}
	if err := a.Lock(ctx, req("a:1:run")); err != nil {
		t.Fatalf("the holder locks again: %v", err)
	}
	if err := b.Lock(ctx, req("b:1:run")); !errors.Is(err, ErrLocked) || onus.ErrorCode(err) != onus.ECONFLICT {
		t.Fatalf("a second process took the lock: %v", err)
	}
	// a's connections end, as when its machine goes down.
	if backend == "postgres" {
		if _, err := b.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
			WHERE locktype = 'advisory' AND classid::int = hashtext(current_schema()) AND objid = 1 AND pid != pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
		// pg_terminate_backend only signals: wait until the backend ended.
		for i := 0; ; i++ {
			var n int
			if err := b.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks
				WHERE locktype = 'advisory' AND classid::int = hashtext(current_schema()) AND objid = 1`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if i == 1000 {
				t.Fatal("the terminated backend still holds its lock after 10 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	err := b.Lock(ctx, req("b:1:run"))
	switch {
	case backend == "postgres" && err != nil:
		t.Errorf("the lock of a dead process was not taken over: %v", err)
	case backend == "sqlite" && !errors.Is(err, ErrLocked):
		t.Errorf("SQLite took over a lease that has not run out: %v", err)
	}
	if backend == "postgres" {
		if err := b.Unlock(ctx, "b:1:run"); err != nil {
			t.Fatal(err)
		}
		if err := b.Lock(ctx, req("c:1:run")); err != nil {
			t.Errorf("after unlock: %v", err)
		}
	}
}

// A scheduler whose lease on a job ran out while it still ran it (a long
// outage) and whose job another resumed does not write the job's end over
// the other's run: its finish is refused, the other's is recorded.
func TestFinishJobAsHolderOnly(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := db.StartJobAs(ctx, "sync:hr", "schedule", t0, "a:1:1", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// a's lease ran out; b resumes the job.
	won, _, err := db.ClaimResume(ctx, ResumeClaim{Name: "sync:hr", Trigger: "resume", Holder: "b:2:1", Seen: t0,
		At: t0.Add(5 * time.Minute), Until: t0.Add(7 * time.Minute)})
	if err != nil || !won {
		t.Fatalf("resume by b: won %v, %v", won, err)
	}
	err = db.FinishJobAs(ctx, "sync:hr", "a:1:1", t0.Add(6*time.Minute), 6*time.Minute, errors.New("a's late failure"), false)
	if onus.ErrorCode(err) != onus.ECONFLICT {
		t.Fatalf("finish by a, who no longer holds the job: %v, want a conflict", err)
	}
	runs, err := db.JobRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := runs["sync:hr"]; r == nil || !r.Running || r.Runs != 0 || r.Error != "" {
		t.Fatalf("after a's refused finish: %+v, want b's run still running, nothing recorded", r)
	}
	if err := db.FinishJobAs(ctx, "sync:hr", "b:2:1", t0.Add(8*time.Minute), 3*time.Minute, nil, false); err != nil {
		t.Fatalf("finish by b: %v", err)
	}
	runs, _ = db.JobRuns(ctx)
	if r := runs["sync:hr"]; r == nil || r.Running || r.Runs != 1 || r.Failures != 0 || r.Error != "" {
		t.Fatalf("after b's finish: %+v, want one successful run", r)
	}
}
