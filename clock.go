package onus

import "time"

// Clock gives the current instant. onus keeps two kinds of time apart:
//
//   - business time is the instant an evaluation or a nudge plan is made
//     for. `--now` sets it. First failures, due dates, schedules, working
//     hours and exception expiry are measured in it, so a run with
//     `--now 2027-01-01T09:00:00Z` behaves as it would on that morning.
//   - operational time is the wall clock of the machine: leases, retry
//     times of the outbox, audit timestamps, run start and end. It is never
//     moved by `--now`, so two processes always agree on who holds a lease.
//
// Every package takes the clocks it needs from its caller; only cmd/ reads
// the machine's clock (a test guards that). A resent outbox message is due
// "now" in operational time, and the dispatcher compares retry times with
// operational time, so resend and a `--now` run compose.
type Clock interface {
	// Now returns the current instant in UTC.
	Now() time.Time
}

// ClockFunc adapts a function to a Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f().UTC() }

// FixedClock is a Clock that always returns the same instant: the business
// clock of a `--now` run, and the clock of tests.
type FixedClock time.Time

// Now returns the fixed instant.
func (c FixedClock) Now() time.Time { return time.Time(c).UTC() }

// SystemClock is the machine's clock: the operational clock of every
// command, and the default of every operational Clock left nil. It is the
// one place outside cmd/ that reads the wall clock. Business time has no
// default: it is always passed in by the caller.
var SystemClock Clock = ClockFunc(time.Now)

// Or returns c, or SystemClock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return SystemClock
	}
	return c
}
