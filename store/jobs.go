package store

import (
	"context"
	"fmt"
	"time"

	"github.com/onus-sec/onus"
)

// JobRun is the last run of one scheduled job.
type JobRun struct {
	Name string `json:"name"`
	// Running is true while the job runs; a row still running when no
	// scheduler is up was cut short by a crash.
	Running  bool          `json:"running"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished,omitzero"`
	Duration time.Duration `json:"duration_ns"`
	// Error is why the last run failed; empty when it succeeded.
	Error string `json:"error,omitempty"`
	// Interrupted is true when a shutdown stopped the run before it ended.
	Interrupted bool `json:"interrupted,omitempty"`
	// Trigger says what started the run: "schedule", "start" (a missed
	// tick), "watch" (an export changed), "after sync:hr", "manual".
	Trigger  string `json:"trigger,omitempty"`
	Runs     int64  `json:"runs"`
	Failures int64  `json:"failures"`
	// LastOK is when the last successful run started.
	LastOK time.Time `json:"last_ok,omitzero"`
}

// JobRuns returns the last run of every job that ever ran, by name.
func (s *DB) JobRuns(ctx context.Context) (map[string]*JobRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, running, started_at, finished_at, duration_ms, error, interrupted, trigger, runs, failures, last_ok_at FROM jobs`)
	if err != nil {
		return nil, fmt.Errorf("store: jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]*JobRun{}
	for rows.Next() {
		var j JobRun
		var started, finished, lastOK string
		var ms int64
		if err := rows.Scan(&j.Name, &j.Running, &started, &finished, &ms, &j.Error, &j.Interrupted, &j.Trigger, &j.Runs, &j.Failures, &lastOK); err != nil {
			return nil, fmt.Errorf("store: jobs: %w", err)
		}
		j.Started, j.Finished, j.LastOK = parseTime(started), parseTime(finished), parseTime(lastOK)
		j.Duration = time.Duration(ms) * time.Millisecond
		out[j.Name] = &j
	}
	return out, rows.Err()
}

// StartJob records that a job started at the given operational time.
func (s *DB) StartJob(ctx context.Context, name, trigger string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO jobs (name, running, started_at, trigger) VALUES (?, 1, ?, ?)
		ON CONFLICT (name) DO UPDATE SET running = 1, started_at = excluded.started_at, trigger = excluded.trigger`,
		name, fmtTimeMilli(at), trigger)
	if err != nil {
		return fmt.Errorf("store: start job %s: %w", name, err)
	}
	return nil
}

// FinishJob records how the job's current run ended: runErr is nil when it
// succeeded; interrupted is true when a shutdown cut it short.
func (s *DB) FinishJob(ctx context.Context, name string, at time.Time, d time.Duration, runErr error, interrupted bool) error {
	_, err := s.finishJob(ctx, name, "", at, d, runErr, interrupted)
	return err
}

// FinishJobAs records how a run held by holder ended, as FinishJob does,
// unless another scheduler holds the job now (this one's lease ran out,
// during a long database outage say, and another resumed the job): the
// record is then the other's to write, and FinishJobAs fails with a
// conflict error and changes nothing.
func (s *DB) FinishJobAs(ctx context.Context, name, holder string, at time.Time, d time.Duration, runErr error, interrupted bool) error {
	n, err := s.finishJob(ctx, name, holder, at, d, runErr, interrupted)
	if err == nil && n == 0 {
		return onus.Errorf(onus.ECONFLICT, "job %s is no longer held by %s: another scheduler took it over", name, holder)
	}
	return err
}

func (s *DB) finishJob(ctx context.Context, name, holder string, at time.Time, d time.Duration, runErr error, interrupted bool) (int64, error) {
	msg, failed := "", 0
	if runErr != nil {
		msg, failed = runErr.Error(), 1
	}
	if interrupted {
		failed = 0 // a shutdown is not the job's failure
	}
	q, args := `UPDATE jobs SET running = 0, finished_at = ?, duration_ms = ?, error = ?, interrupted = ?,
		runs = runs + 1, failures = failures + ?,
		last_ok_at = CASE WHEN ? = '' AND ? = 0 THEN started_at ELSE last_ok_at END
		WHERE name = ?`, []any{fmtTimeMilli(at), d.Milliseconds(), msg, interrupted, failed, msg, interrupted, name}
	if holder != "" {
		q, args = q+` AND holder = ?`, append(args, holder)
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("store: finish job %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: finish job %s: %w", name, err)
	}
	return n, nil
}

// fmtTimeMilli keeps milliseconds: jobs may run more than once a second.
func fmtTimeMilli(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
