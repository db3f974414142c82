package deliver

import (
	"context"
	"fmt"
	"github.com/onus-sec/onus"
	"testing"
	"time"

	"github.com/onus-sec/onus/notify"
)

// A failure after the message was handed over (the connection dropped
// before the relay's answer) leaves it uncertain: it is never retried by
// itself, even long after, because e-mail cannot drop a second copy.
func TestUncertainIsNeverRetried(t *testing.T) {
	db, clk := setupClock(t, message("jane", "email"))
	ch := &flaky{errs: []error{fmt.Errorf("%w: closing SMTP DATA writer: EOF", notify.ErrUncertain)}}
	for i, later := range []time.Duration{0, time.Hour, 48 * time.Hour} {
		clk.Set(wall0.Add(later))
		d := dispatcher(db, clk, map[string]notify.Channel{"email": ch})
		st, err := d.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && st.Uncertain != 1 {
			t.Errorf("stats %+v, want one uncertain", st)
		}
		if st.Sent+st.Retried != 0 {
			t.Errorf("run %d: stats %+v: the uncertain message was sent again", i, st)
		}
	}
	if len(ch.sent) != 0 {
		t.Fatalf("sent %d times after the uncertain failure", len(ch.sent))
	}
	m := only(t, db)
	if m.Status != onus.OutboxUncertain || m.LastError == "" {
		t.Fatalf("status %s (%q), want uncertain with the reason", m.Status, m.LastError)
	}
}
