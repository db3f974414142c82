package monitor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/exception"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// Evaluations exclude each other: while one holds the run lock, another
// is refused with who holds it and since when; the lock of a process that
// stopped is taken over, and the run it left 'running' is marked
// interrupted.
func TestRunLock(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	ctx := context.Background()
	host, _ := os.Hostname()
	live := fmt.Sprintf("%s:%d:other", host, os.Getpid())
	if err := e.db.Lock(ctx, store.LockRequest{Holder: live, Actor: "ops@acme.com", What: "evaluation", For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, err := e.monitor().Eval(ctx, orggen.AcmeNow, nil)
	if onus.ErrorCode(err) != onus.ECONFLICT || !errors.Is(err, store.ErrLocked) ||
		!strings.Contains(onus.ErrorMessage(err), "another evaluation is running since") || !strings.Contains(onus.ErrorMessage(err), "by ops@acme.com (process "+live+")") {
		t.Fatalf("evaluation under another's lock: %v", err)
	}
	if _, err := e.monitor().Sync(ctx, monitor.SyncOptions{}); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("sync under another's lock: %v", err)
	}

	// A process that was killed mid-evaluation: its lock and its run.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("%s:%d:killed", host, gone.Process.Pid)
	e.db.Unlock(ctx, live)
	if err := e.db.Lock(ctx, store.LockRequest{Holder: dead, Actor: "cron", What: "evaluation", For: time.Hour}); err != nil {
		t.Fatal(err)
	}
	killed, err := e.db.BeginRunAs(ctx, "eval", "cron", dead, orggen.AcmeNow)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.monitor().Eval(ctx, orggen.AcmeNow, nil)
	if err != nil {
		t.Fatalf("the lock of a dead process was not taken over: %v", err)
	}
	if rep.Changes.Opened+rep.Changes.Resolved != 0 {
		t.Errorf("a second evaluation of the same data changed findings: %+v", rep.Changes)
	}
	r, err := e.db.Run(ctx, killed)
	if err != nil || r.Status != "interrupted" || r.Finished.IsZero() || !strings.Contains(r.Error, "stopped before the run ended") {
		t.Errorf("the killed run: %+v, %v", r, err)
	}
}

// Several evaluations started at once, as from cron and an operator, each
// on its own connection as separate processes would be: every one either
// runs or is refused by the lock; no finding gets an event twice.
func TestConcurrentEvaluations(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	// Rhea's laptop appears in the EDR export: one finding resolves.
	story, _ := os.ReadFile(filepath.Join(e.dir, "STORY.txt"))
	host := regexpFind(t, `rhea\.silva@acme\.com's laptop (\S+) has no CrowdStrike`, string(story))
	e.edit("crowdstrike/devices.json", func(s string) string {
		return strings.Replace(s, `"resources": [`, `"resources": [
        {"device_id": "0000000000000000000000000000beef", "hostname": "`+strings.ToLower(host)+`.corp.acme.com", "last_seen": "`+orggen.AcmeNow.Add(-30*time.Minute).Format(time.RFC3339)+`", "agent_version": "7.18.18902.0", "status": "normal"},`, 1)
	})
	if _, err := e.monitor().Sync(context.Background(), monitor.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		db, err := store.Open(context.Background(), filepath.Join(e.dir, "onus.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		m := &monitor.Monitor{Config: cfg, Store: db, Actor: fmt.Sprintf("op%d", i)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = m.Eval(context.Background(), orggen.AcmeNow.Add(time.Hour), nil)
		}()
	}
	wg.Wait()
	ran := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ran++
		case errors.Is(err, store.ErrLocked):
		default:
			t.Errorf("an evaluation failed: %v", err)
		}
	}
	if ran == 0 {
		t.Fatal("no evaluation ran")
	}
	resolved := 0
	for _, f := range e.findings() {
		evs, _ := e.db.Events(context.Background(), f.ID)
		seen := map[onus.EventType]int{}
		for _, ev := range evs {
			seen[ev.Type]++
			if seen[ev.Type] > 1 {
				t.Errorf("finding %d has %d %q events: %+v", f.ID, seen[ev.Type], ev.Type, evs)
			}
		}
		resolved += seen["resolved"]
	}
	if resolved != 1 {
		t.Errorf("%d findings resolved, want 1", resolved)
	}
}

// An exception approved while an evaluation runs is not lost: the
// evaluation sees that a decision came in before it wrote, judges again,
// and the finding ends exempted under the exception, with no false
// "reopened" line in its history.
func TestApprovalDuringEvaluation(t *testing.T) {
	e := newEnv(t)
	e.run(0)
	ctx := context.Background()
	cfg, err := config.Load(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	var f onus.Finding
	for _, x := range e.findings(onus.StateOpen) {
		if x.Control == "disk-encryption" {
			f = x
			break
		}
	}
	// The request is made before the evaluation; the approval comes from
	// another connection while the evaluation is between judging and
	// writing.
	db2, err := store.Open(ctx, filepath.Join(e.dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	svc := &exception.Service{Store: db2, Config: cfg, Clock: onus.FixedClock(orggen.AcmeNow)}
	x, err := svc.Request(ctx, exception.Request{Finding: f.ID, Reason: "the laptop is replaced next week", Expires: orggen.AcmeNow.Add(14 * 24 * time.Hour),
		Requester: f.Responsible.Email})
	if err != nil {
		t.Fatal(err)
	}
	m := e.monitor()
	approved := false
	m.Phase = func(name string) {
		if name == "evaluate" && !approved {
			approved = true
			if _, err := svc.Approve(ctx, x.ID, f.Accountable.Email, "ok"); err != nil {
				t.Errorf("approve: %v", err)
			}
		}
	}
	rep, err := m.Eval(ctx, orggen.AcmeNow.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !approved || rep.Retries != 1 {
		t.Errorf("approved %v, retries %d, want one retry", approved, rep.Retries)
	}
	got, _ := e.db.Finding(ctx, f.ID)
	if got.State != onus.StateExempted || got.Exception != x.ID {
		t.Errorf("after the evaluation the finding is %s under exception %d, want exempted under %d", got.State, got.Exception, x.ID)
	}
	evs, _ := e.db.Events(ctx, f.ID)
	for _, ev := range evs {
		if ev.Type == "reopened" {
			t.Errorf("false reopening in the history: %+v", ev)
		}
	}
	if xs, _ := e.db.Exception(ctx, x.ID); xs.State != onus.ExceptionApproved {
		t.Errorf("exception %d is %s", x.ID, xs.State)
	}
}

func regexpFind(t *testing.T, pattern, s string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%q not found", pattern)
	}
	return m[1]
}
