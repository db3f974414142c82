package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/deliver"
	"github.com/onus-sec/onus/lease"
	"github.com/onus-sec/onus/notify"
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
	Step  func(step string, m *onus.OutboxMessage)
	// Holder names this run in leases (a new lease.Holder() by default).
	Holder string
	// Dead tells whether a lease holder stopped (lease.DeadOnThisHost by
	// default).
	Dead func(holder string) bool
}

// Deliver sends every outbox message due at now (business time: a
// continuous delivery loop passes the machine's clock), recovering first
// what a stopped run left behind, and records what it did in the audit log
// when it did anything. Leases run on the monitor's Wall clock.
func (m *Monitor) Deliver(ctx context.Context, now func() time.Time, o DeliverOptions) (deliver.Stats, error) {
	return m.deliver(ctx, onus.ClockFunc(now), o, false)
}

// deliver runs the dispatcher on business clock now and records the run in
// the audit log: always when auditIdle, else only when it did anything.
// The audit entry is written even when the run was cut short: what was
// sent was sent.
func (m *Monitor) deliver(ctx context.Context, now onus.Clock, o DeliverOptions, auditIdle bool) (deliver.Stats, error) {
	outbox := o.Outbox
	if outbox == nil {
		outbox = m.Store
	}
	if o.Holder == "" {
		o.Holder = lease.Holder()
	}
	if o.Dead == nil {
		o.Dead = lease.DeadOnThisHost
	}
	d := &deliver.Dispatcher{Store: outbox, Channels: o.Channels, Clock: now, Wall: m.Wall, Holder: o.Holder, Dead: o.Dead,
		Lease: o.Lease, Log: m.log(), Step: o.Step, MaxAttempts: m.Config.Nudges.MaxAttempts}
	st, err := d.Run(ctx)
	if !auditIdle && st.Sent+st.Retried+st.Failed+st.Rerouted+st.Requeued+st.Uncertain == 0 {
		return st, err
	}
	if aerr := m.Store.Audit(context.WithoutCancel(ctx), m.Actor, "nudge.deliver", "outbox", fmt.Sprintf("%d sent, %d retrying, %d failed, %d rerouted, %d requeued, %d uncertain",
		st.Sent, st.Retried, st.Failed, st.Rerouted, st.Requeued, st.Uncertain)); err == nil {
		err = aerr
	}
	return st, err
}
