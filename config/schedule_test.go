package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/config"
)

func TestScheduleParse(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Monday 30 November 2026, 08:30 in Berlin.
	from := time.Date(2026, 11, 30, 7, 30, 0, 0, time.UTC)
	tests := []struct {
		when string
		loc  *time.Location
		want time.Time // zero: no timetable
	}{
		{"", nil, time.Time{}},
		{"off", nil, time.Time{}},
		{"15m", nil, from.Add(15 * time.Minute)},
		{"1d", nil, from.Add(24 * time.Hour)},
		{"@hourly", nil, time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)},
		{"@every 10m", nil, from.Add(10 * time.Minute)},
		{"0 6 * * 1-5", nil, time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)},
		// 09:00 in Berlin is 08:00 UTC, half an hour away.
		{"0 9 * * 1-5", berlin, time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)},
		{"CRON_TZ=America/New_York 0 9 * * *", berlin, time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			tt2, err := config.When(tt.when).Parse(tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.IsZero() {
				if tt2 != nil {
					t.Fatalf("got a timetable for %q", tt.when)
				}
				return
			}
			if got := tt2.Next(from).UTC(); !got.Equal(tt.want) {
				t.Errorf("Next = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestScheduleDefaults(t *testing.T) {
	dir := writeDir(t, map[string]string{"onus.yaml": goodMain + "schedule:\n  sources:\n    hr: 30m\n"})
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &cfg.Schedule
	if got := s.SourceWhen("hr"); got != "30m" {
		t.Errorf("hr = %q", got)
	}
	if got := s.SourceWhen("other"); got != config.DefaultSync {
		t.Errorf("default sync = %q", got)
	}
	if s.NudgeWhen() != config.DefaultNudge || s.DeliverWhen() != config.DefaultDeliver || !s.Watching() ||
		s.DebounceTime() != config.DefaultDebounce || s.Grace() != config.DefaultShutdownGrace {
		t.Errorf("defaults: %+v", s)
	}
	j := config.Jobs{Debounce: "250ms", ShutdownGrace: "1m"}
	if j.DebounceTime() != 250*time.Millisecond || j.Grace() != time.Minute {
		t.Errorf("debounce %s, grace %s", j.DebounceTime(), j.Grace())
	}
}

// Every mistake in the schedule section is reported at its line.
func TestScheduleErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"bad cron", "schedule:\n  sources:\n    hr: \"0 6 * *\"\n",
			[]string{`onus.yaml:19: schedule.sources.hr: "0 6 * *" is neither an interval (15m, 1h, 1d) nor a cron expression`}},
		{"unknown source", "schedule:\n  sources:\n    hrr: 1h\n",
			[]string{`onus.yaml:19: schedule.sources: no source called "hrr" (sources: hr)`}},
		{"too short", "schedule:\n  deliver: 0s\n", []string{`onus.yaml:18: schedule.deliver: interval "0s" is shorter than 1s`}},
		{"bad zone", "schedule:\n  time_zone: Mars/Olympus\n  nudge: \"0 9 * * *\"\n",
			[]string{`onus.yaml:18: schedule.time_zone: unknown time zone "Mars/Olympus"`}},
		{"unknown key", "schedule:\n  every: 1h\n", []string{`onus.yaml:18`, `unknown field "every"`}},
		{"bad debounce", "schedule:\n  debounce: 2h\n", []string{`onus.yaml:18: schedule.debounce must be between 0 and 1h`}},
		{"debounce typo", "schedule:\n  debounce: 2 secs\n", []string{`onus.yaml:18: schedule.debounce: invalid duration "2 secs"`}},
		{"grace typo", "schedule:\n  shutdown_grace: soon\n", []string{`onus.yaml:18: schedule.shutdown_grace: invalid duration "soon"`}},
		{"several", "schedule:\n  sync: often\n  evaluate: \"61 * * * *\"\n",
			[]string{`onus.yaml:18: schedule.sync: "often"`, `onus.yaml:19: schedule.evaluate: "61 * * * *"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"onus.yaml": goodMain + tt.yaml})
			_, err := config.Load(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			var probs config.Problems
			if errors.As(err, &probs) {
				msg = ""
				for _, p := range probs {
					msg += strings.TrimPrefix(p.Error(), dir+"/") + "\n"
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("missing %q in:\n%s", w, msg)
				}
			}
		})
	}
}
