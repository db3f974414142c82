package ledger_test

import (
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/ledger"
)

// TestDecided checks the one rule for what a decision about an exception
// does to its finding, with and without restart_deadline.
func TestDecided(t *testing.T) {
	open := finding(1, "c", "d:1", onus.StateOpen, "a@x")
	exempted := withException(finding(1, "c", "d:1", onus.StateExempted, "a@x"), 7)
	resolved := finding(1, "c", "d:1", onus.StateResolved, "a@x")
	decided := func(st onus.ExceptionState) *onus.Exception {
		x := *exception7
		x.State = st
		return &x
	}
	other := decided(onus.ExceptionExpired)
	other.ID = 8
	tests := []struct {
		name    string
		f       onus.Finding
		x       *onus.Exception
		restart bool
		moved   bool
		state   onus.State
		exc     int64
		due     time.Time
		event   onus.EventType
	}{
		{"approval exempts an open finding", open, decided(onus.ExceptionApproved), false, true, onus.StateExempted, 7, open.Due, onus.EventExempted},
		{"approval does not touch a resolved finding", resolved, decided(onus.ExceptionApproved), false, false, onus.StateResolved, 0, resolved.Due, ""},
		{"expiry reopens with the original deadline", exempted, decided(onus.ExceptionExpired), false, true, onus.StateOpen, 0, now.Add(-3 * day), onus.EventReopened},
		{"revocation reopens with a new deadline under restart_deadline", exempted, decided(onus.ExceptionRevoked), true, true, onus.StateOpen, 0, now.Add(7 * day), onus.EventReopened},
		{"the end of another exception does not reopen it", exempted, other, false, false, onus.StateExempted, 7, exempted.Due, ""},
		{"a rejection does not move it", open, decided(onus.ExceptionRejected), false, false, onus.StateOpen, 0, open.Due, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, moved := ledger.Decided(tt.f, tt.x, now, 7*day, tt.restart)
			if moved != tt.moved {
				t.Fatalf("moved = %v, want %v", moved, tt.moved)
			}
			if !moved {
				return
			}
			got := c.Finding
			if got.State != tt.state || got.Exception != tt.exc || !got.Due.Equal(tt.due) || !got.UpdatedAt.Equal(now) {
				t.Errorf("finding = %s, exception %d, due %v, updated %v; want %s, %d, %v", got.State, got.Exception, got.Due, got.UpdatedAt, tt.state, tt.exc, tt.due)
			}
			if c.Prior != tt.f.State || c.PriorException != tt.f.Exception {
				t.Errorf("prior = %s/%d, want %s/%d", c.Prior, c.PriorException, tt.f.State, tt.f.Exception)
			}
			if len(c.Events) != 1 || c.Events[0].Type != tt.event || c.Events[0].From != string(tt.f.State) || c.Events[0].To != string(tt.state) {
				t.Errorf("events = %+v, want one %s", c.Events, tt.event)
			}
		})
	}
}

// TestMove checks that the store's hook takes the deadline and
// restart_deadline from the configuration, and keeps the due date of a
// finding whose control it does not know.
func TestMove(t *testing.T) {
	cfg := &config.Config{Controls: []*config.Control{{ID: "c", Severity: "high"}}}
	cfg.Exceptions.RestartDeadline = true
	x := *exception7
	x.State = onus.ExceptionExpired
	f := withException(finding(1, "c", "d:1", onus.StateExempted, "a@x"), 7)
	c, ok := ledger.Move(cfg, now)(f, &x)
	if want := now.Add(config.DefaultDeadlines[onus.High]); !ok || !c.Finding.Due.Equal(want) {
		t.Errorf("known control: moved %v, due %v, want %v", ok, c.Finding.Due, want)
	}
	g := f
	g.Control = "guardrail"
	c, ok = ledger.Move(cfg, now)(g, &x)
	if !ok || c.Finding.State != onus.StateOpen || !c.Finding.Due.Equal(g.Due) {
		t.Errorf("unknown control: moved %v, %s, due %v, want open, %v", ok, c.Finding.State, c.Finding.Due, g.Due)
	}
}
