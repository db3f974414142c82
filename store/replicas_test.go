package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
