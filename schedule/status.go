package schedule

import (
	"context"
	"strings"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/store"
)

// JobStatus is one job as the sources page, the API and onus status show
// it.
type JobStatus struct {
	Name string `json:"name"`
	// Schedule says when the job runs: its schedule as written and the
	// jobs that trigger it ("15m; after every sync").
	Schedule string `json:"schedule"`
	// Running is true while it runs; Trigger says why it runs.
	Running bool   `json:"running"`
	Trigger string `json:"trigger,omitempty"`
	// Last is its last finished run (nil when it never ran).
	Last *store.JobRun `json:"last,omitempty"`
	// Next is its next tick (zero when it runs only when triggered, or is
	// due at once); Due is true when it is due at once.
	Next time.Time `json:"next,omitzero"`
	Due  bool      `json:"due,omitempty"`
}

// Status returns every job's status, in the order they are declared.
func (s *Scheduler) Status() []JobStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := triggeredBy(s.jobList())
	out := make([]JobStatus, 0, len(s.jobs))
	for _, j := range s.jobs {
		st := JobStatus{Name: j.Name, Schedule: describe(j.Job, by[j.Name]), Running: j.active, Trigger: j.current, Next: j.next}
		if j.last != nil {
			last := *j.last
			st.Last = &last
		}
		out = append(out, st)
	}
	return out
}

func (s *Scheduler) jobList() []Job {
	out := make([]Job, len(s.jobs))
	for i, j := range s.jobs {
		out[i] = j.Job
	}
	return out
}

// ReadStatus returns the status of a configuration's jobs from the store,
// when no scheduler runs in this process (onus status): the next tick is
// reckoned from the last run as a scheduler would at now. Notes say which
// jobs are off and why.
func ReadStatus(ctx context.Context, cfg *config.Config, db Store, now time.Time) ([]JobStatus, []string, error) {
	p, err := PlanJobs(cfg)
	if err != nil {
		return nil, nil, err
	}
	runs, err := db.JobRuns(ctx)
	if err != nil {
		return nil, nil, err
	}
	by := triggeredBy(p.Jobs)
	out := make([]JobStatus, 0, len(p.Jobs))
	for _, j := range p.Jobs {
		st := JobStatus{Name: j.Name, Schedule: describe(j, by[j.Name])}
		if last := runs[j.Name]; last != nil {
			st.Last, st.Running, st.Trigger = last, last.Running, last.Trigger
			if !last.Running {
				st.Trigger = ""
			}
			if j.Timetable != nil {
				st.Next = j.Timetable.Next(last.Started)
			}
		} else if j.Timetable != nil {
			st.Due = true
		}
		if !st.Next.IsZero() && !st.Next.After(now) {
			st.Next, st.Due = time.Time{}, true
		}
		out = append(out, st)
	}
	return out, p.Notes, nil
}

func triggeredBy(jobs []Job) map[string][]string {
	by := map[string][]string{}
	for _, j := range jobs {
		for _, n := range j.Then {
			by[n] = append(by[n], j.Name)
		}
	}
	return by
}

// describe writes when a job runs: "15m", "after every sync",
// "0 6 * * 1-5; after every sync".
func describe(j Job, by []string) string {
	var parts []string
	if j.Timetable != nil {
		parts = append(parts, j.When)
	}
	if len(by) > 0 {
		allSyncs := true
		for _, b := range by {
			allSyncs = allSyncs && strings.HasPrefix(b, syncPrefix)
		}
		if allSyncs && len(by) > 1 {
			parts = append(parts, "after every sync")
		} else {
			parts = append(parts, "after "+strings.Join(by, ", "))
		}
	}
	if len(parts) == 0 {
		return "on demand"
	}
	return strings.Join(parts, "; ")
}
