package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/deliver"
	"github.com/onus-sec/onus/lease"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/sqlite"
)

// DeliverOptions tune a delivery run.
type DeliverOptions struct {
	// Channels are the delivery channels; the run closes them when it ends.
	Channels map[string]notify.Channel
	// Outbox is the outbox to send; the monitor's store by default. The
	// scheduler wraps it to stop claiming messages at shutdown.
	Outbox deliver.Store
	// Lease and Step are passed to the dispatcher.
	Lease time.Duration
	Step  func(step string, m *sqlite.OutboxMessage)
	// Holder names this run in leases (a new lease.Holder() by default).
	Holder string
}

// Deliver sends every outbox message due at now (business time: a
// continuous delivery loop passes the machine's clock), recovering first
// what a stopped run left behind, and records what it did in the audit log
// when it did anything. Leases run on the monitor's Wall clock.
func (m *Monitor) Deliver(ctx context.Context, now func() time.Time, o DeliverOptions) (deliver.Stats, error) {
	outbox := o.Outbox
	if outbox == nil {
		outbox = m.Store
	}
	if o.Holder == "" {
		o.Holder = lease.Holder()
	}
	d := &deliver.Dispatcher{Store: outbox, Channels: o.Channels, Clock: onus.ClockFunc(now), Wall: m.Wall, Holder: o.Holder, Dead: lease.DeadOnThisHost,
		Lease: o.Lease, Log: m.log(), Step: o.Step, MaxAttempts: m.Config.Nudges.MaxAttempts}
	st, err := d.Run(ctx)
	if st.Sent+st.Retried+st.Failed+st.Rerouted+st.Requeued+st.Uncertain == 0 {
		return st, err
	}
	// The audit entry is written even when the run was cut short: what was
	// sent was sent.
	if aerr := m.Store.Audit(context.WithoutCancel(ctx), m.Actor, "nudge.deliver", "outbox", fmt.Sprintf("%d sent, %d retrying, %d failed, %d rerouted, %d requeued, %d uncertain",
		st.Sent, st.Retried, st.Failed, st.Rerouted, st.Requeued, st.Uncertain)); err == nil {
		err = aerr
	}
	return st, err
}
