// Package testclock holds the clocks of onus's tests: a fake clock that a
// test moves by hand, and the shift of the example's reference instant that
// lets the whole suite run years in the past or the future, so that no test
// can depend on the day it runs.
package testclock

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fake is a clock a test sets and moves. It is safe for concurrent use.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a fake clock at t.
func New(t time.Time) *Fake { return &Fake{t: t.UTC()} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Set moves the clock to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t.UTC()
	f.mu.Unlock()
}

// Add moves the clock by d.
func (f *Fake) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// ShiftEnv is the environment variable that moves the example's reference
// instant: a whole number of weeks as days, "-1820d" (35 weeks of years
// back: 2021) or "+1820d" (2031). Weeks keep the weekday, so schedules
// that depend on it (working days, the summary day) keep their meaning.
const ShiftEnv = "ONUS_TEST_SHIFT"

var (
	shiftOnce sync.Once
	shift     time.Duration
	shiftErr  error
)

// Shift returns the shift set by ONUS_TEST_SHIFT (0 when unset). It panics
// on a malformed value: a test run with a shift it cannot apply would
// pass for the wrong reason.
func Shift() time.Duration {
	shiftOnce.Do(func() { shift, shiftErr = ParseShift(os.Getenv(ShiftEnv)) })
	if shiftErr != nil {
		panic(shiftErr)
	}
	return shift
}

// Shifted returns t moved by Shift(): the reference instants of the
// time-sensitive suites.
func Shifted(t time.Time) time.Time { return t.Add(Shift()) }

// ParseShift reads a shift: "", or a signed whole number of days that is a
// multiple of 7 followed by "d".
func ParseShift(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSuffix(s, "d"), "+"))
	if err != nil || !strings.HasSuffix(s, "d") {
		return 0, fmt.Errorf("%s=%q: want a signed number of days such as -1820d", ShiftEnv, s)
	}
	if n%7 != 0 {
		return 0, fmt.Errorf("%s=%q: the shift must be whole weeks (a multiple of 7 days) to keep weekdays", ShiftEnv, s)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// dateFormats are the ways onus writes a date, each with a pattern that
// finds it.
var dateFormats = []struct {
	re     *regexp.Regexp
	layout string
}{
	{regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}`), "2006-01-02"},
	{regexp.MustCompile(`\b\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December) \d{4}\b`), "2 January 2006"},
	{regexp.MustCompile(`\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b`), "2 Jan 2006"},
}

// ShiftDates moves every date in s by d: ISO dates (2006-01-02, also at
// the start of a timestamp) and dates as people read them (2 January 2006,
// 2 Jan 2006). It compares the output of a shifted run with a golden file
// written without a shift.
func ShiftDates(s string, d time.Duration) string {
	if d == 0 {
		return s
	}
	for _, f := range dateFormats {
		s = f.re.ReplaceAllStringFunc(s, func(m string) string {
			t, err := time.Parse(f.layout, m)
			if err != nil {
				return m
			}
			return t.Add(d).Format(f.layout)
		})
	}
	return s
}
