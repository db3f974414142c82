package testclock

import (
	"testing"
	"time"
)

func TestParseShift(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"-1820d", -1820 * 24 * time.Hour, true},
		{"+1820d", 1820 * 24 * time.Hour, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"5d", 0, false},
		{"-5y", 0, false},
		{"1820", 0, false},
	} {
		got, err := ParseShift(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseShift(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestShiftDates(t *testing.T) {
	got := ShiftDates("due 2026-12-14, first 2026-11-30T09:00:00Z", 7*24*time.Hour)
	if want := "due 2026-12-21, first 2026-12-07T09:00:00Z"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = ShiftDates("who left on 27 Oct 2026; due 3 December 2026", -1820*24*time.Hour)
	if want := "who left on 2 Nov 2021; due 9 December 2021"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFake(t *testing.T) {
	c := New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c.Add(time.Hour)
	if got := c.Now(); got.Hour() != 1 {
		t.Errorf("after Add: %v", got)
	}
}
