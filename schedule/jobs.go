package schedule

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/store"
)

// Job names.
const (
	JobEvaluate = "evaluate"
	JobNudge    = "nudge"
	JobDeliver  = "deliver"
	syncPrefix  = "sync:"
)

// SyncJob returns the name of a source's sync job.
func SyncJob(source string) string { return syncPrefix + source }

// Options configure the scheduler of a configuration.
type Options struct {
	Config *config.Config
	Store  *store.DB
	// Clock is business time: the instant evaluations and nudge plans are
	// made for. Required.
	Clock onus.Clock
	// Wall is operational time: ticks, and when runs started and ended.
	// Clock when nil.
	Wall onus.Clock
	// After waits in operational time; time.After when nil.
	After func(time.Duration) <-chan time.Time
	Log   *slog.Logger
	// Actor is who the audit log says ran the jobs ("schedule" by default).
	Actor string
	// Registry receives the metrics; a new registry when nil.
	Registry prometheus.Registerer
	// Channels opens the delivery channels for one run; notify.Open on
	// the configuration by default (the channel packages must be linked in).
	Channels func() (map[string]notify.Channel, error)
	// Lease and Step are passed to the dispatcher; Step lets tests stop at
	// a step of a delivery.
	Lease time.Duration
	Step  func(step string, m *onus.OutboxMessage)
	// OnRun, when set, is called after every run of a job, from the job's
	// goroutine: a web page can push the new status.
	OnRun func(name string, run store.JobRun)
}

// Plan is the jobs a configuration asks for, in the order a --once run
// takes them, with the schedules as written. Jobs that are off are left
// out; Notes say why.
type Plan struct {
	Jobs  []Job
	Notes []string
}

// PlanJobs lists the jobs of a configuration without their work: what
// onus status shows when no scheduler runs.
func PlanJobs(cfg *config.Config) (*Plan, error) {
	return planJobs(cfg, nil)
}

// work builds the Run of each job; nil leaves them empty.
type work interface {
	sync(source string) func(context.Context, <-chan struct{}) error
	evaluate() func(context.Context, <-chan struct{}) error
	nudge() func(context.Context, <-chan struct{}) error
	deliver() func(context.Context, <-chan struct{}) error
}

func planJobs(cfg *config.Config, w work) (*Plan, error) {
	sc := &cfg.Schedule
	loc := sc.Location()
	p := &Plan{}
	timetable := func(label string, when config.When) (config.Timetable, error) {
		t, err := when.Parse(loc)
		if err != nil {
			return nil, onus.Errorf(onus.EINVALID, "%s: schedule.%s: %v", cfg.File, label, err)
		}
		return t, nil
	}
	hasChannel := len(cfg.Nudges.Channels) > 0
	nudging := hasChannel && sc.NudgeWhen() != config.Off
	delivering := hasChannel && sc.DeliverWhen() != config.Off
	evalThen := []string{}
	if nudging {
		evalThen = append(evalThen, JobNudge)
	}
	for _, src := range cfg.Sources {
		when := sc.SourceWhen(src.Name)
		t, err := timetable("sources."+src.Name, when)
		if err != nil {
			return nil, err
		}
		j := Job{Name: SyncJob(src.Name), When: string(when), Timetable: t, Writer: true, Then: []string{JobEvaluate}}
		if w != nil {
			j.Run = w.sync(src.Name)
		}
		p.Jobs = append(p.Jobs, j)
	}
	t, err := timetable("evaluate", sc.Evaluate)
	if err != nil {
		return nil, err
	}
	ev := Job{Name: JobEvaluate, When: string(sc.Evaluate), Timetable: t, Writer: true, Then: evalThen}
	if w != nil {
		ev.Run = w.evaluate()
	}
	p.Jobs = append(p.Jobs, ev)
	switch {
	case !hasChannel:
		p.Notes = append(p.Notes, "nudge and deliver are off: no channel is configured under nudges.channels")
	case !nudging:
		p.Notes = append(p.Notes, "nudge is off (schedule.nudge: off)")
	}
	if nudging {
		when := sc.NudgeWhen()
		t, err := timetable("nudge", when)
		if err != nil {
			return nil, err
		}
		j := Job{Name: JobNudge, When: string(when), Timetable: t, Writer: true}
		if delivering {
			j.Then = []string{JobDeliver}
		}
		if w != nil {
			j.Run = w.nudge()
		}
		p.Jobs = append(p.Jobs, j)
	}
	if hasChannel && !delivering {
		p.Notes = append(p.Notes, "deliver is off (schedule.deliver: off): planned messages wait in the outbox")
	}
	if delivering {
		when := sc.DeliverWhen()
		t, err := timetable("deliver", when)
		if err != nil {
			return nil, err
		}
		j := Job{Name: JobDeliver, When: string(when), Timetable: t}
		if w != nil {
			j.Run = w.deliver()
		}
		p.Jobs = append(p.Jobs, j)
	}
	return p, nil
}

// New builds the scheduler of a configuration: a sync job per source, the
// evaluation, nudge planning and delivery, and the watcher of file
// sources when schedule.watch is on.
func New(o Options) (*Scheduler, error) {
	if o.Config == nil || o.Store == nil || o.Clock == nil {
		return nil, fmt.Errorf("schedule: a configuration, a store and a clock are required")
	}
	if o.Wall == nil {
		o.Wall = o.Clock
	}
	if o.Actor == "" {
		o.Actor = "schedule"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Channels == nil {
		nudges := &o.Config.Nudges
		o.Channels = func() (map[string]notify.Channel, error) { return notify.Open(nudges) }
	}
	w := &onusWork{o: o, m: &monitor.Monitor{Config: o.Config, Store: o.Store, Log: o.Log.With(onus.LogSubsystem, "monitor"), Actor: o.Actor, Wall: o.Wall}}
	if o.Config.Schedule.KeepingSnapshots() {
		w.kept = map[string]keptSnapshot{}
	}
	p, err := planJobs(o.Config, w)
	if err != nil {
		return nil, err
	}
	s, err := newScheduler(core{Store: o.Store, Wall: o.Wall, After: o.After, Log: o.Log.With(onus.LogSubsystem, "schedule"), Grace: o.Config.Schedule.Grace(), Registry: o.Registry}, p.Jobs)
	if err != nil {
		return nil, err
	}
	w.metrics = s.metrics
	s.done = o.OnRun
	if o.Config.Schedule.Watching() {
		files := map[string][]string{}
		for _, src := range o.Config.Sources {
			if src.From == nil || src.From.File == "" {
				continue
			}
			path := src.From.File
			if !filepath.IsAbs(path) {
				path = filepath.Join(o.Config.Dir, path)
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return nil, err
			}
			files[abs] = append(files[abs], src.Name)
		}
		if len(files) > 0 {
			s.watch = &watcher{files: files, debounce: o.Config.Schedule.DebounceTime(), log: o.Log.With(onus.LogSubsystem, "watch"),
				fire: func(source, why string) { s.Trigger(SyncJob(source), why) }}
		}
	}
	return s, nil
}

// onusWork is the work of each job, on the monitor.
type onusWork struct {
	o       Options
	m       *monitor.Monitor
	metrics *Metrics

	// kept are the snapshots in force, by source, with the id of their
	// sync, when schedule.keep_snapshots is on.
	mu   sync.Mutex
	kept map[string]keptSnapshot
}

type keptSnapshot struct {
	sync int64
	snap *onus.Snapshot
}

// keep remembers the snapshots in force after a sync or an evaluation.
// Each is kept under the id of the good sync it came from, so that one
// replaced behind the scheduler's back (onus sync from the CLI) is read
// from the store again.
func (w *onusWork) keep(ctx context.Context, snaps map[string]*onus.Snapshot, onlyNew bool) {
	if w.kept == nil || len(snaps) == 0 {
		return
	}
	states, err := w.o.Store.SourceStates(ctx)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, snap := range snaps {
		st := states[name]
		if snap == nil || st == nil || st.Good == nil {
			continue
		}
		if _, ok := w.kept[name]; ok && onlyNew {
			continue
		}
		w.kept[name] = keptSnapshot{st.Good.ID, snap}
	}
}

// inForce returns the kept snapshots that are still in force.
func (w *onusWork) inForce(ctx context.Context) map[string]*onus.Snapshot {
	if w.kept == nil {
		return nil
	}
	states, err := w.o.Store.SourceStates(ctx)
	if err != nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]*onus.Snapshot{}
	for name, k := range w.kept {
		if st := states[name]; st != nil && st.Good != nil && st.Good.ID == k.sync {
			out[name] = k.snap
		} else {
			delete(w.kept, name)
		}
	}
	return out
}

func (w *onusWork) sync(source string) func(context.Context, <-chan struct{}) error {
	return func(ctx context.Context, _ <-chan struct{}) error {
		rep, err := w.m.Sync(ctx, monitor.SyncOptions{Only: []string{source}})
		if rep != nil {
			for _, sr := range rep.Sources {
				w.metrics.synced(sr)
			}
		}
		if err != nil {
			return err
		}
		for _, sr := range rep.Sources {
			if sr.Status != onus.SyncOK {
				return fmt.Errorf("source %s is %s: %s", sr.Source, sr.Status, sr.Error)
			}
		}
		w.keep(ctx, rep.Snapshots, false)
		return nil
	}
}

func (w *onusWork) evaluate() func(context.Context, <-chan struct{}) error {
	return func(ctx context.Context, _ <-chan struct{}) error {
		rep, err := w.m.Eval(ctx, w.o.Clock.Now(), w.inForce(ctx))
		if err != nil {
			return err
		}
		tm := rep.Timings
		w.o.Log.Debug("evaluation phases", "load", tm.Load, "correlate", tm.Correlate, "evaluate", tm.Evaluate, "persist", tm.Persist)
		if rep.Inventory != nil {
			loaded := map[string]*onus.Snapshot{}
			for _, src := range rep.Inventory.Sources {
				if !slices.Contains(rep.NotLoaded, src.Name) { // an empty stand-in
					loaded[src.Name] = src.Snapshot
				}
			}
			w.keep(ctx, loaded, true)
		}
		return nil
	}
}

func (w *onusWork) channels() (map[string]notify.Channel, error) {
	chans, err := w.o.Channels()
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "nudges: %v", err)
	}
	return chans, nil
}

func (w *onusWork) nudge() func(context.Context, <-chan struct{}) error {
	return func(ctx context.Context, _ <-chan struct{}) error {
		chans, err := w.channels()
		if err != nil {
			return err
		}
		// Planning only needs the channels' names; connections it opened
		// are closed.
		defer closeAll(chans)
		_, err = w.m.Nudge(ctx, w.o.Clock.Now(), monitor.NudgeOptions{Channels: chans, PlanOnly: true})
		return err
	}
}

func (w *onusWork) deliver() func(context.Context, <-chan struct{}) error {
	return func(ctx context.Context, stopping <-chan struct{}) error {
		chans, err := w.channels()
		if err != nil {
			return err
		}
		// The dispatcher compares the outbox's times with business time,
		// as onus nudge does.
		_, err = w.m.Deliver(ctx, w.o.Clock.Now, monitor.DeliverOptions{Channels: chans, Outbox: handBack{w.o.Store, stopping},
			Lease: w.o.Lease, Step: w.o.Step})
		return err
	}
}

func closeAll(chans map[string]notify.Channel) {
	for _, ch := range chans {
		if c, ok := ch.(io.Closer); ok {
			c.Close()
		}
	}
}

// handBack is the outbox as a stopping dispatcher sees it: once a stop is
// asked for, there is no next message, so the dispatcher finishes the one
// in flight and returns; nothing is left claimed or sending.
type handBack struct {
	*store.DB
	stopping <-chan struct{}
}

// Claim returns the next due message, or nil once a stop is asked for.
func (h handBack) Claim(ctx context.Context, due time.Time, lease onus.Lease) (*onus.OutboxMessage, error) {
	select {
	case <-h.stopping:
		return nil, nil
	default:
	}
	return h.DB.Claim(ctx, due, lease)
}
