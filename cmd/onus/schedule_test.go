package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/store"
)

// onus schedule --once runs what is due and nothing else; onus status
// shows each job's last run and next run.
func TestScheduleOnceAndStatus(t *testing.T) {
	dir := demo(t)
	out, errs, code := cli(t, "status", "--config", dir)
	if code != 0 {
		t.Fatalf("status exited %d: %s", code, errs)
	}
	for _, want := range []string{"Scheduled jobs", "sync:hr ", "due now", "evaluate             after every sync", "note: nudge and deliver are off: no channel is configured"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	out, errs, code = cli(t, "schedule", "--once", "--config", dir)
	if code != 0 {
		t.Fatalf("schedule --once exited %d: %s%s", code, out, errs)
	}
	if !strings.Contains(out, "ok (start)") || !strings.Contains(out, "ok (after sync:hr)") || strings.Contains(out, "due now") {
		t.Errorf("schedule --once:\n%s", out)
	}
	// Nothing is due an instant later: nothing runs again.
	out, _, code = cli(t, "schedule", "--once", "--config", dir, "-o", "json")
	var rep struct {
		Jobs []struct {
			Name string
			Last struct {
				Runs    int
				Trigger string
			}
			Next string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("schedule --once -o json (exit %d): %v\n%s", code, err, out)
	}
	if len(rep.Jobs) != 11 {
		t.Fatalf("%d jobs, want 10 syncs and the evaluation", len(rep.Jobs))
	}
	for _, j := range rep.Jobs {
		if j.Last.Runs != 1 {
			t.Errorf("%s ran %d times", j.Name, j.Last.Runs)
		}
		if strings.HasPrefix(j.Name, "sync:") && j.Next == "" {
			t.Errorf("%s has no next run", j.Name)
		}
	}
	// onus was stopped for two hours: hr's hourly tick was missed (twice).
	// The next --once runs hr once, and the evaluation it triggers; the
	// other sources are not due.
	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	twoHoursAgo := time.Now().Add(-2 * time.Hour)
	if err := db.StartJob(context.Background(), "sync:hr", "schedule", twoHoursAgo); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishJob(context.Background(), "sync:hr", twoHoursAgo.Add(time.Second), time.Second, nil, false); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, code = cli(t, "schedule", "--once", "--config", dir, "-o", "json")
	rep.Jobs = nil
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("schedule --once -o json (exit %d): %v\n%s", code, err, out)
	}
	for _, j := range rep.Jobs {
		want := 1
		switch j.Name {
		case "sync:hr":
			want = 3 // the first run, the one recorded above, and now
		case "evaluate":
			want = 2
		}
		if j.Last.Runs != want {
			t.Errorf("%s ran %d times, want %d", j.Name, j.Last.Runs, want)
		}
	}
	if hr, ev := rep.Jobs[0], rep.Jobs[10]; hr.Last.Trigger != "start" || ev.Last.Trigger != "after sync:hr" {
		t.Errorf("triggers: hr %q, evaluate %q", hr.Last.Trigger, ev.Last.Trigger)
	}
	out, _, _ = cli(t, "status", "--config", dir, "-o", "json")
	var st struct {
		Schedule struct {
			Jobs  []json.RawMessage
			Notes []string
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Schedule.Jobs) != 11 || len(st.Schedule.Notes) != 1 {
		t.Errorf("status -o json: %v\n%s", err, out)
	}
}
