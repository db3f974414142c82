package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/onus-sec/onus"
)

// Jobs says when the loop's jobs run by themselves (onus schedule, onus
// serve): each source's sync, the evaluation that follows syncs, nudge
// planning and delivery. Every key is optional; the defaults are in the
// Default* constants.
//
//	schedule:
//	  time_zone: Europe/Berlin   # of cron expressions (UTC by default)
//	  sync: 1h                   # every source not listed below
//	  sources:
//	    hr: "0 6 * * 1-5"         # a cron expression
//	    crowdstrike: 15m          # an interval
//	  evaluate: 6h               # besides after every sync
//	  nudge: 15m
//	  deliver: 1m
//	  watch: true                # file sources sync when their export changes
//	  debounce: 2s
//	  shutdown_grace: 30s
//	  keep_snapshots: true
type Jobs struct {
	// TimeZone is the IANA zone cron expressions are read in.
	TimeZone string `yaml:"time_zone"`
	// Sync is the schedule of every source without its own.
	Sync When `yaml:"sync"`
	// Sources are schedules of single sources, by name.
	Sources map[string]When `yaml:"sources"`
	// Evaluate is a schedule of evaluations besides the one that follows
	// every successful sync (exceptions expire and deadlines pass even
	// when no data changes); none by default.
	Evaluate When `yaml:"evaluate"`
	// Nudge is when messages are planned; planning also follows every
	// evaluation. Each message waits for its recipient's working hours.
	Nudge When `yaml:"nudge"`
	// Deliver is when the outbox is sent; it also follows every plan.
	Deliver When `yaml:"deliver"`
	// Watch makes file sources sync as soon as their export changes.
	Watch *bool `yaml:"watch"`
	// Debounce is how long an export must stay unchanged before it is
	// read: exports are often written in several steps.
	Debounce Span `yaml:"debounce"`
	// ShutdownGrace is how long running jobs may take to finish after a
	// stop is asked for (SIGTERM) before they are interrupted.
	ShutdownGrace Span `yaml:"shutdown_grace"`
	// KeepSnapshots keeps the snapshots in force in memory between
	// evaluations instead of reading them from the store each time: an
	// evaluation after one source's sync then reads nothing. It costs the
	// memory of every snapshot (about 2.5 GB for 100,000 people).
	KeepSnapshots *bool `yaml:"keep_snapshots"`
}

// KeepingSnapshots reports whether snapshots stay in memory (true by
// default).
func (j *Jobs) KeepingSnapshots() bool { return j.KeepSnapshots == nil || *j.KeepSnapshots }

// Defaults of the schedule section.
const (
	DefaultSync          = "1h"
	DefaultNudge         = "15m"
	DefaultDeliver       = "1m"
	DefaultDebounce      = 2 * time.Second
	DefaultShutdownGrace = 30 * time.Second
)

// When is a job's schedule as written: an interval ("15m", "1h", "1d"),
// a cron expression of five fields ("0 6 * * 1-5") or a descriptor
// ("@hourly", "@every 10m"), or "off".
type When string

// Off disables a job.
const Off When = "off"

// Timetable gives the next run of a job after a given instant.
type Timetable interface {
	// Next returns the first run strictly after t (the zero time: never).
	Next(t time.Time) time.Time
}

// Interval runs a job a fixed time after its last start.
type Interval time.Duration

// Next returns t plus the interval.
func (d Interval) Next(t time.Time) time.Time { return t.Add(time.Duration(d)) }

// String writes the interval as it is configured.
func (d Interval) String() string { return "every " + time.Duration(d).String() }

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// MinInterval is the shortest interval a job may have.
const MinInterval = time.Second

// Parse reads the schedule in the time zone loc. It returns nil for an
// empty or "off" schedule.
func (w When) Parse(loc *time.Location) (Timetable, error) {
	s := strings.TrimSpace(string(w))
	if s == "" || When(s) == Off {
		return nil, nil
	}
	if d, err := onus.ParseDuration(s); err == nil {
		if d < MinInterval {
			return nil, fmt.Errorf("interval %q is shorter than %s", s, MinInterval)
		}
		return Interval(d), nil
	}
	if loc == nil {
		loc = time.UTC
	}
	// A bare expression is read in the configured zone; CRON_TZ= in the
	// expression wins.
	expr := s
	if !strings.HasPrefix(s, "CRON_TZ=") && !strings.HasPrefix(s, "TZ=") {
		expr = "CRON_TZ=" + loc.String() + " " + s
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%q is neither an interval (15m, 1h, 1d) nor a cron expression (\"0 6 * * 1-5\", @hourly): %v", s, err)
	}
	return sched, nil
}

// Location returns the time zone of cron expressions.
func (j *Jobs) Location() *time.Location {
	if j.TimeZone != "" {
		if loc, err := time.LoadLocation(j.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// SourceWhen returns the schedule of a source's sync as written: its own,
// else schedule.sync, else DefaultSync.
func (j *Jobs) SourceWhen(name string) When {
	if w, ok := j.Sources[name]; ok && w != "" {
		return w
	}
	if j.Sync != "" {
		return j.Sync
	}
	return DefaultSync
}

// NudgeWhen returns the schedule of nudge planning.
func (j *Jobs) NudgeWhen() When { return or(j.Nudge, DefaultNudge) }

// DeliverWhen returns the schedule of delivery.
func (j *Jobs) DeliverWhen() When { return or(j.Deliver, DefaultDeliver) }

// Watching reports whether file sources are watched (true by default).
func (j *Jobs) Watching() bool { return j.Watch == nil || *j.Watch }

// Span is a duration of the schedule section as written ("2s", "1m",
// "500ms"); it is checked by Validate, with its line.
type Span string

// Parse reads the span; def when it is empty.
func (s Span) Parse(def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(string(s))
	if v == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	return onus.ParseDuration(v)
}

// DebounceTime returns how long an export must rest before it is read.
func (j *Jobs) DebounceTime() time.Duration {
	d, err := j.Debounce.Parse(DefaultDebounce)
	if err != nil {
		return DefaultDebounce
	}
	return d
}

// Grace returns how long running jobs may take to finish at shutdown.
func (j *Jobs) Grace() time.Duration {
	d, err := j.ShutdownGrace.Parse(DefaultShutdownGrace)
	if err != nil {
		return DefaultShutdownGrace
	}
	return d
}

func or(w When, def When) When {
	if w == "" {
		return def
	}
	return w
}

func (v *validator) schedule() {
	j, f := &v.cfg.Schedule, v.cfg.File
	var loc *time.Location
	if j.TimeZone != "" {
		var err error
		if loc, err = time.LoadLocation(j.TimeZone); err != nil {
			v.errorf(f, v.at("$.schedule.time_zone"), "schedule.time_zone: unknown time zone %q", j.TimeZone)
		}
	}
	check := func(path, label string, w When) {
		if _, err := w.Parse(loc); err != nil {
			v.errorf(f, v.at(path), "%s: %v", label, err)
		}
	}
	check("$.schedule.sync", "schedule.sync", j.Sync)
	check("$.schedule.evaluate", "schedule.evaluate", j.Evaluate)
	check("$.schedule.nudge", "schedule.nudge", j.Nudge)
	check("$.schedule.deliver", "schedule.deliver", j.Deliver)
	for name, w := range j.Sources {
		path := "$.schedule.sources." + name
		if v.cfg.Source(name) == nil {
			var names []string
			for _, s := range v.cfg.Sources {
				names = append(names, s.Name)
			}
			v.errorf(f, v.at(path), "schedule.sources: no source called %q (sources: %s)", name, strings.Join(names, ", "))
			continue
		}
		check(path, "schedule.sources."+name, w)
	}
	if d, err := j.Debounce.Parse(DefaultDebounce); err != nil {
		v.errorf(f, v.at("$.schedule.debounce"), "schedule.debounce: %v", err)
	} else if d < 0 || d > time.Hour {
		v.errorf(f, v.at("$.schedule.debounce"), "schedule.debounce must be between 0 and 1h")
	}
	if g, err := j.ShutdownGrace.Parse(DefaultShutdownGrace); err != nil {
		v.errorf(f, v.at("$.schedule.shutdown_grace"), "schedule.shutdown_grace: %v", err)
	} else if g < 0 {
		v.errorf(f, v.at("$.schedule.shutdown_grace"), "schedule.shutdown_grace cannot be negative")
	}
}
