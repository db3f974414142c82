// Package schedule runs onus's loop by itself: each source's sync on its
// own interval or cron expression, an evaluation after every successful
// sync, nudge planning after every evaluation and on its own schedule,
// and delivery of the outbox continuously. File sources are watched, so a
// changed export is synced and evaluated at once.
//
// The rules every job follows:
//
//   - a job never overlaps itself: it runs in one goroutine, and a tick or
//     a trigger that comes while it runs makes it run once more afterwards,
//     however many came;
//   - jobs that write the findings ledger (syncs, the evaluation, nudge
//     planning) run one at a time, waiting syncs first, so that several
//     syncs make one evaluation; delivery runs beside them;
//   - each job's last run (start, duration, error) is kept in the store,
//     so a tick missed while no scheduler ran is run once at start, and a
//     run cut short by a crash is run again;
//   - a stop (SIGTERM) starts no new job; running jobs get the grace
//     period to finish, delivery hands back at once (it finishes the
//     message in flight and claims no other), so nothing is left sending.
//
// Jobs measure business time with the injected onus.Clock; the scheduler's
// ticks and its records of runs are operational time (the Wall clock).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/lease"
	"github.com/onus-sec/onus/store"
)

// Triggers: why a job ran.
const (
	TriggerSchedule = "schedule"
	TriggerStart    = "start"  // a tick missed while no scheduler ran, or a first run
	TriggerResume   = "resume" // the last run was cut short
	TriggerManual   = "manual"
)

// Job is one piece of the loop.
type Job struct {
	// Name identifies the job: sync:<source>, evaluate, nudge, deliver.
	Name string
	// When is the schedule as configured, for people ("15m", "0 6 * * 1-5").
	When string
	// Timetable gives the job's ticks; nil for a job that only runs when
	// triggered (by another job, the watcher or a person).
	Timetable config.Timetable
	// Writer jobs change the findings ledger; they run one at a time.
	Writer bool
	// Then are the jobs triggered when this one succeeds.
	Then []string
	// Run does the work. ctx is cancelled when the grace period after a
	// stop runs out; stopping is closed as soon as a stop is asked for, for
	// jobs that can hand work back early. It returns the run's error.
	Run func(ctx context.Context, stopping <-chan struct{}) error
}

// Store keeps the last run of every job.
type Store interface {
	// JobRuns returns the last run of every job that ran, by name.
	JobRuns(ctx context.Context) (map[string]*store.JobRun, error)
	// StartJob records that a run started.
	StartJob(ctx context.Context, name, trigger string, at time.Time) error
	// FinishJob records how the current run ended.
	FinishJob(ctx context.Context, name string, at time.Time, d time.Duration, runErr error, interrupted bool) error
}

var _ Store = (*store.DB)(nil)

// TickClaimer is a Store shared by several schedulers (onus serve replicas
// on one PostgreSQL): a scheduled or missed tick is run by the one whose
// claim wins, the others skip it. See store.DB.ClaimTick.
type TickClaimer interface {
	ClaimTick(ctx context.Context, name, trigger string, tick, at time.Time) (bool, error)
}

var _ TickClaimer = (*store.DB)(nil)

// JobLeaser is a Store on which each running job is held by one scheduler
// under a lease it renews: a job cut short is resumed by one of the
// schedulers sharing the store, and only when no live one still runs it
// (store.DB.ClaimResume).
type JobLeaser interface {
	ClaimTickAs(ctx context.Context, name, trigger string, tick, at time.Time, holder string, until time.Time) (bool, error)
	StartJobAs(ctx context.Context, name, trigger string, at time.Time, holder string, until time.Time) error
	ClaimResume(ctx context.Context, c store.ResumeClaim) (won bool, heldUntil time.Time, err error)
	RenewJob(ctx context.Context, name, holder string, until time.Time) error
	FinishJobAs(ctx context.Context, name, holder string, at time.Time, d time.Duration, runErr error, interrupted bool) error
}

var _ JobLeaser = (*store.DB)(nil)

// DefaultJobLease is how long a scheduler holds a running job without
// renewing it: a replica that died mid-job leaves it to another after that.
const DefaultJobLease = 2 * time.Minute

// LockWait is how long a writer job waits for the run lock another onus
// holds (another replica's sync or evaluation, or a command on the same
// store) before its run counts as failed.
const LockWait = 15 * time.Minute

// Scheduler runs jobs by themselves.
type Scheduler struct {
	jobs    []*job
	byName  map[string]*job
	store   Store
	wall    onus.Clock
	after   func(time.Duration) <-chan time.Time
	log     *slog.Logger
	grace   time.Duration
	metrics *Metrics
	watch   *watcher
	// done, when set, is called after every run (tests wait on it).
	done func(name string, run store.JobRun)

	writer *writerLock // held by Writer jobs while they run

	// holder names this scheduler in the jobs it runs; lease is how long
	// it holds one without renewing; dead tells whether another holder
	// stopped (lease.DeadOnThisHost).
	holder string
	lease  time.Duration
	dead   func(string) bool
	// lockWait is how long a writer job waits for the run lock (LockWait).
	lockWait time.Duration

	mu      sync.Mutex // guards the fields below and each job's state
	running bool
}

type job struct {
	Job
	pos     int         // position in the declared order
	trigger chan string // the reason of a pending trigger; holds one

	// Guarded by Scheduler.mu.
	last    *store.JobRun
	next    time.Time
	tick    time.Time // the timetable's tick a TriggerSchedule run serves
	active  bool
	current string // the trigger of the run in progress
	// recheck is when to look again at a job cut short that another
	// scheduler resumed or still runs (its lease's end); zero otherwise.
	recheck time.Time
}

// core are the parts every scheduler has.
type core struct {
	Store Store
	Wall  onus.Clock
	After func(time.Duration) <-chan time.Time
	Log   *slog.Logger
	Grace time.Duration
	// Registry receives the metrics; a new one when nil.
	Registry prometheus.Registerer
	// Lease is how long a running job is held without renewal
	// (DefaultJobLease when zero).
	Lease time.Duration
}

func newScheduler(c core, jobs []Job) (*Scheduler, error) {
	if c.Store == nil || c.Wall == nil {
		return nil, errors.New("schedule: a store and a wall clock are required")
	}
	s := &Scheduler{store: c.Store, wall: c.Wall, after: c.After, log: c.Log, grace: c.Grace, byName: map[string]*job{}, writer: newWriterLock(),
		holder: lease.Holder(), lease: c.Lease, dead: lease.DeadOnThisHost, lockWait: LockWait}
	if s.lease <= 0 {
		s.lease = DefaultJobLease
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(c.Registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	for _, j := range jobs {
		if _, dup := s.byName[j.Name]; dup || j.Name == "" || j.Run == nil {
			return nil, fmt.Errorf("schedule: job %q is declared twice or has no name or work", j.Name)
		}
		jj := &job{Job: j, pos: len(s.jobs), trigger: make(chan string, 1)}
		s.jobs = append(s.jobs, jj)
		s.byName[j.Name] = jj
	}
	for _, j := range s.jobs {
		for _, n := range j.Then {
			if s.byName[n] == nil {
				return nil, fmt.Errorf("schedule: job %s triggers %s, which does not exist", j.Name, n)
			}
		}
	}
	return s, nil
}

// Metrics returns the registry of the scheduler's Prometheus metrics: job
// runs, failures and durations, and each source's sync duration and
// records. The web server serves it at /metrics.
func (s *Scheduler) Metrics() *prometheus.Registry { return s.metrics.Registry }

// Trigger asks for a job to run as soon as it is free: a manual sync from
// the sources page. Triggers that come while the job runs or waits make it
// run once more, however many came.
func (s *Scheduler) Trigger(name, reason string) error {
	j := s.byName[name]
	if j == nil {
		return onus.Errorf(onus.ENOTFOUND, "schedule: no job called %q", name)
	}
	select {
	case j.trigger <- reason:
	default: // one is pending already: it covers this one
	}
	return nil
}

// Run runs the jobs until ctx is cancelled, then lets the running ones
// finish within the grace period and returns. It returns an error only
// when it cannot start.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("schedule: already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	if err := s.load(ctx); err != nil {
		return err
	}
	if s.watch != nil {
		if err := s.watch.start(ctx); err != nil {
			return err
		}
		defer s.watch.close()
	}
	// Jobs run under a context of their own: a stop gives them the grace
	// period before it is cancelled.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var wg sync.WaitGroup
	for _, j := range s.jobs {
		wg.Go(func() { s.loop(ctx, jobCtx, j) })
	}
	all := make(chan struct{})
	go func() {
		wg.Wait()
		close(all)
	}()
	select {
	case <-all:
		return nil
	case <-ctx.Done():
	}
	s.log.Info("stopping: running jobs may finish", "grace", s.grace)
	select {
	case <-all:
	case <-s.after(s.grace):
		s.log.Warn("grace period over: interrupting the running jobs")
		cancelJobs()
		<-all
	}
	return nil
}

// RunDue runs, once and in order, every job that is due now (its tick
// passed, or it never ran, or its last run was cut short) and every job a
// job before it triggered, then returns: cron runs `onus schedule --once`.
// It returns the first error of a job, after running the others.
func (s *Scheduler) RunDue(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	var first error
	for _, j := range s.jobs {
		if ctx.Err() != nil {
			break
		}
		reason, _ := s.due(j)
		select {
		case r := <-j.trigger:
			if reason == "" {
				reason = r
			}
		default:
		}
		if reason == "" {
			continue
		}
		_, err := s.runOnce(ctx, ctx, j, reason)
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", j.Name, err)
		}
	}
	return first
}

func (s *Scheduler) load(ctx context.Context) error {
	runs, err := s.store.JobRuns(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		j.last = runs[j.Name]
		s.metrics.known(j.Name, j.last)
	}
	return nil
}

// due says whether a job must run at start, and otherwise when it next
// runs by its timetable.
func (s *Scheduler) due(j *job) (reason string, next time.Time) {
	s.mu.Lock()
	last := j.last
	s.mu.Unlock()
	switch {
	case last != nil && (last.Running || last.Interrupted):
		return TriggerResume, time.Time{}
	case j.Timetable == nil:
		return "", time.Time{}
	case last == nil:
		return TriggerStart, time.Time{}
	}
	next = j.Timetable.Next(last.Started)
	if !next.After(s.wall.Now()) {
		return TriggerStart, time.Time{}
	}
	return "", next
}

func (s *Scheduler) loop(ctx, jobCtx context.Context, j *job) {
	reason, next := s.due(j)
	rechecking := false
	for {
		if reason == "" {
			var tick <-chan time.Time
			if !next.IsZero() {
				tick = s.after(max(0, next.Sub(s.wall.Now())))
			}
			s.mu.Lock()
			j.next = next
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick:
				if rechecking {
					// Another scheduler held the job cut short: see
					// whether it finished it, or left it.
					rechecking = false
					if err := s.load(ctx); err != nil {
						s.log.Warn("cannot read the jobs' runs", onus.LogJob, j.Name, onus.LogError, err)
					}
					reason, next = s.due(j)
					continue
				}
				reason = TriggerSchedule
				s.mu.Lock()
				j.tick = next
				s.mu.Unlock()
			case reason = <-j.trigger:
				rechecking = false
			}
		}
		if ctx.Err() != nil {
			return
		}
		started, _ := s.runOnce(ctx, jobCtx, j, reason)
		reason, next = "", time.Time{}
		if j.Timetable != nil && !started.IsZero() {
			next = j.Timetable.Next(started)
		}
		s.mu.Lock()
		recheck := j.recheck
		j.recheck = time.Time{}
		s.mu.Unlock()
		if !recheck.IsZero() {
			next, rechecking = recheck, true
		}
	}
}

// runOnce runs a job now and records the run. It returns when the run
// started (zero when a stop came first) and its error.
func (s *Scheduler) runOnce(ctx, jobCtx context.Context, j *job, reason string) (time.Time, error) {
	if j.Writer {
		s.writer.lock(j.pos)
		defer s.writer.unlock()
	}
	if ctx.Err() != nil {
		return time.Time{}, nil
	}
	// A trigger that came before this run starts is served by it.
	select {
	case <-j.trigger:
	default:
	}
	log := s.log.With(onus.LogJob, j.Name, onus.LogTrigger, reason)
	started := s.wall.Now()
	s.mu.Lock()
	j.active, j.current, j.next = true, reason, time.Time{}
	s.mu.Unlock()
	s.metrics.running.WithLabelValues(j.Name).Set(1)
	// The records are written even during a stop.
	rec := context.WithoutCancel(jobCtx)
	leaser, leased := s.store.(JobLeaser)
	if reason == TriggerResume && leased {
		// Schedulers starting together, or one starting while another
		// still runs the job: one resumes it, once.
		s.mu.Lock()
		var seen time.Time
		if j.last != nil {
			seen = j.last.Started
		}
		s.mu.Unlock()
		won, heldUntil, err := leaser.ClaimResume(rec, store.ResumeClaim{Name: j.Name, Trigger: reason, Holder: s.holder, Seen: seen,
			At: started, Until: started.Add(s.lease), Dead: s.dead})
		if err == nil && !won {
			if heldUntil.IsZero() {
				log.Debug("another onus resumed this job")
				heldUntil = started.Add(time.Second)
			} else {
				log.Info("another onus is running this job; looking again when its lease ends", "lease_until", heldUntil)
			}
			s.mu.Lock()
			j.active, j.current, j.recheck = false, "", heldUntil.Add(time.Second)
			s.mu.Unlock()
			s.metrics.running.WithLabelValues(j.Name).Set(0)
			if err := s.load(rec); err != nil {
				log.Error("cannot read the jobs' runs", onus.LogError, err)
			}
			return time.Time{}, nil
		}
		if err != nil {
			// Unknown whether another scheduler resumed it: look again soon.
			log.Error("cannot claim the job cut short; looking again in 10s", onus.LogError, err)
			s.mu.Lock()
			j.active, j.current, j.recheck = false, "", started.Add(10*time.Second)
			s.mu.Unlock()
			s.metrics.running.WithLabelValues(j.Name).Set(0)
			return time.Time{}, nil
		}
	} else if tick, ok := s.claimable(j, reason); ok {
		// Another scheduler on the same store may serve this tick. The
		// log names the tick, so that runs can be matched to ticks.
		log = log.With("tick", tick)
		var won bool
		var err error
		if reason == TriggerStart && tick.After(started) {
			// A missed tick's run that waited (for the writer lock, or
			// for another replica's run lock) while another replica ran
			// the job: counted from that run, its tick is not due yet,
			// and claiming it would run the job before its time.
		} else if leased {
			won, err = leaser.ClaimTickAs(rec, j.Name, reason, tick, started, s.holder, started.Add(s.lease))
		} else {
			won, err = s.store.(TickClaimer).ClaimTick(rec, j.Name, reason, tick, started)
		}
		if err == nil && !won {
			log.Debug("another onus runs this tick")
			s.mu.Lock()
			j.active, j.current = false, ""
			s.mu.Unlock()
			s.metrics.running.WithLabelValues(j.Name).Set(0)
			if err := s.load(rec); err != nil {
				log.Error("cannot read the jobs' runs", onus.LogError, err)
			}
			// The next tick follows the winner's start, so that every
			// scheduler sharing the store waits for the same tick (an
			// interval counts from the last start).
			s.mu.Lock()
			if j.last != nil && !j.last.Started.IsZero() {
				started = j.last.Started
			}
			s.mu.Unlock()
			return started, nil
		}
		if err != nil {
			// Whether another scheduler serves this tick is unknown (the
			// store stayed unreachable beyond its retries): it is left,
			// rather than perhaps run twice; the next tick runs.
			log.Error("cannot claim the tick; skipping it", onus.LogError, err)
			s.mu.Lock()
			j.active, j.current = false, ""
			s.mu.Unlock()
			s.metrics.running.WithLabelValues(j.Name).Set(0)
			return started, nil
		}
	} else if leased {
		if err := leaser.StartJobAs(rec, j.Name, reason, started, s.holder, started.Add(s.lease)); err != nil {
			log.Error("cannot record the job's start", onus.LogError, err)
		}
	} else if err := s.store.StartJob(rec, j.Name, reason, started); err != nil {
		log.Error("cannot record the job's start", onus.LogError, err)
	}
	log.Debug("job started")
	if leased {
		defer s.keepLease(rec, leaser, j.Name, log)()
	}

	err := s.work(jobCtx, ctx.Done(), j, log)

	finished := s.wall.Now()
	d := finished.Sub(started)
	interrupted := err != nil && jobCtx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
	var ferr error
	if leased {
		ferr = leaser.FinishJobAs(rec, j.Name, s.holder, finished, d, err, interrupted)
	} else {
		ferr = s.store.FinishJob(rec, j.Name, finished, d, err, interrupted)
	}
	switch {
	case onus.ErrorCode(ferr) == onus.ECONFLICT:
		log.Warn("another onus took this job over while it ran (its lease ran out); its record of the job stands", onus.LogError, ferr)
	case ferr != nil:
		log.Error("cannot record the job's end", onus.LogError, ferr)
	}
	run := store.JobRun{Name: j.Name, Started: started, Finished: finished, Duration: d, Trigger: reason, Interrupted: interrupted}
	if err != nil {
		run.Error = err.Error()
	}
	s.mu.Lock()
	if j.last != nil {
		run.Runs, run.Failures, run.LastOK = j.last.Runs, j.last.Failures, j.last.LastOK
	}
	run.Runs++
	switch {
	case err == nil:
		run.LastOK = started
	case !interrupted:
		run.Failures++
	}
	j.last, j.active, j.current = &run, false, ""
	s.mu.Unlock()
	s.metrics.observe(j.Name, run)

	switch {
	case interrupted:
		log.Warn("job interrupted by the stop; it runs again at start", onus.LogDuration, d)
	case err != nil:
		log.Warn("job failed", onus.LogDuration, d, onus.LogError, err)
	default:
		log.Info("job done", onus.LogDuration, d)
		for _, n := range j.Then {
			s.Trigger(n, "after "+j.Name)
		}
	}
	if s.done != nil {
		s.done(j.Name, run)
	}
	return started, err
}

// keepLease renews this scheduler's lease on a running job every third of
// the lease until the function it returns is called.
func (s *Scheduler) keepLease(ctx context.Context, leaser JobLeaser, name string, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx) // a renewal waiting for PostgreSQL ends with the run
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := leaser.RenewJob(ctx, name, s.holder, s.wall.Now().Add(s.lease)); err != nil && ctx.Err() == nil {
					log.Warn("cannot renew the job's lease", onus.LogError, err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// work runs the job's work. A writer job that finds the run lock held by
// another onus (another replica syncing a different source, its
// evaluation, or a command on the same store) waits for it and tries
// again, rather than failing and leaving its work to the next tick — a
// source on a daily schedule would lose its day. It gives up after
// lockWait, or at a stop.
func (s *Scheduler) work(ctx context.Context, stopping <-chan struct{}, j *job, log *slog.Logger) error {
	wait, waited := time.Second, time.Duration(0)
	for {
		err := s.call(ctx, stopping, j)
		if !j.Writer || !errors.Is(err, store.ErrLocked) || waited >= s.lockWait {
			return err
		}
		if waited == 0 {
			log.Info("another onus holds the run lock; waiting for it", onus.LogError, err)
		}
		select {
		case <-stopping:
			return err
		case <-ctx.Done():
			return err
		case <-s.after(wait):
		}
		waited += wait
		wait = min(2*wait, 30*time.Second)
	}
}

// call runs the job's work, turning a panic into the run's error: one bad
// job must not take the loop down.
func (s *Scheduler) call(ctx context.Context, stopping <-chan struct{}, j *job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return j.Run(ctx, stopping)
}

// claimable says whether a run is one of the timetable's (a tick, a missed
// tick or a first run), which only one of the schedulers sharing a store
// runs, and for which tick: zero for a first run.
func (s *Scheduler) claimable(j *job, reason string) (time.Time, bool) {
	if _, ok := s.store.(TickClaimer); !ok || j.Timetable == nil {
		return time.Time{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case reason == TriggerSchedule:
		return j.tick, true
	case reason == TriggerStart && j.last == nil:
		return time.Time{}, true
	case reason == TriggerStart:
		return j.Timetable.Next(j.last.Started), true
	}
	return time.Time{}, false
}
