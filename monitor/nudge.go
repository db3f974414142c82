package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/deliver"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/nudge"
	"github.com/onus-sec/onus/raci"
)

// NudgeOptions tune a nudge run.
type NudgeOptions struct {
	// DryRun plans and writes the messages without storing or sending them.
	DryRun bool
	// Person restricts a dry run to one recipient.
	Person string
	// Channels are the delivery channels; nil sends nothing (plan only).
	Channels map[string]notify.Channel
	// PlanOnly plans for Channels and stores the plan, but sends nothing:
	// the scheduler delivers in a job of its own (Monitor.Deliver).
	PlanOnly bool
	// Dispatcher settings; zero values take the defaults.
	Lease time.Duration
	Step  func(step string, m *onus.OutboxMessage)
	// Holder names this run in leases (lease.Holder() by default).
	Holder string
	// Dead tells whether a lease holder stopped (lease.DeadOnThisHost
	// by default).
	Dead func(holder string) bool
}

// Planned is a planned message as reported.
type Planned struct {
	*onus.OutboxMessage
	Gap bool `json:"ownership_gap"`
}

// NudgeReport is what a nudge run planned and sent.
type NudgeReport struct {
	Now       time.Time     `json:"now"`
	Planned   []Planned     `json:"planned"`
	Added     int           `json:"added"`
	Cancelled int           `json:"cancelled"`
	Delivery  deliver.Stats `json:"delivery"`
	Gaps      []string      `json:"gaps,omitempty"`
	// Deferred are the messages nudges.max_per_day held back; the next
	// plan tries them again.
	Deferred []nudge.Deferred `json:"deferred"`
	// Warnings are problems that did not stop the plan (a person's
	// unknown time zone).
	Warnings []string `json:"warnings,omitempty"`
}

// Renderer loads the message templates of a configuration: the built-in
// ones and the overrides in nudges.templates.
func Renderer(cfg *config.Config) (*nudge.Renderer, error) {
	tmpl := cfg.Nudges.Templates
	if tmpl != "" && !filepath.IsAbs(tmpl) {
		tmpl = filepath.Join(cfg.Dir, tmpl)
	}
	if tmpl != "" {
		if st, err := os.Stat(tmpl); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("nudges.templates: %s is not a directory", tmpl)
		}
	}
	finding, exception := NudgeURLs(cfg)
	r, err := nudge.NewRenderer(tmpl, finding, exception)
	if err != nil {
		return nil, fmt.Errorf("nudges: %v", err)
	}
	return r, nil
}

// NudgeURLs returns the link templates of messages: nudges.finding_url and
// nudges.exception_url, or, when they are not set and onus serve has a
// serve.url, the pages of onus serve itself, so that every message links
// to the page of its items.
func NudgeURLs(cfg *config.Config) (finding, exception string) {
	finding, exception = cfg.Nudges.FindingURL, cfg.Nudges.ExceptionURL
	if base := strings.TrimSuffix(cfg.Serve.URL, "/"); base != "" {
		if finding == "" {
			finding = base + "/findings/{{.ID}}"
		}
		if exception == "" {
			exception = base + "/findings/{{.ID}}/exception"
		}
	}
	return finding, exception
}

// Nudge plans the messages due at now, writes them to the outbox
// (cancelling those the plan no longer has) and sends what is due.
func (m *Monitor) Nudge(ctx context.Context, now time.Time, o NudgeOptions) (*NudgeReport, error) {
	cfg := m.Config
	db := m.Store
	open, err := db.Findings(ctx, onus.FindingFilter{States: []onus.State{onus.StateOpen}})
	if err != nil {
		return nil, err
	}
	// Fixed items are thanked in the next digest, if it comes within a week.
	fixedSince := now.Add(-8 * 24 * time.Hour)
	resolved, err := db.Findings(ctx, onus.FindingFilter{States: []onus.State{onus.StateResolved}, ResolvedSince: fixedSince})
	if err != nil {
		return nil, err
	}
	dir, err := db.Directory(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := db.NudgeLog(ctx, fixedSince)
	if err != nil {
		return nil, err
	}
	var log []nudge.Sent
	for _, e := range entries {
		log = append(log, nudge.Sent{Finding: e.Finding, Recipient: e.Recipient, Stage: nudge.Stage(e.Stage), At: e.At})
	}
	sent, err := db.SentSince(ctx, now.Add(-48*time.Hour))
	if err != nil {
		return nil, err
	}
	var delivered []nudge.Delivered
	for _, s := range sent {
		delivered = append(delivered, nudge.Delivered{Recipient: s.Recipient, At: s.At})
	}
	var channels []string
	for name := range o.Channels {
		channels = append(channels, name)
	}
	planned, err := nudge.NewPlan(nudge.Input{Now: now, Open: open, Resolved: resolved, Dir: dir, Matrix: raci.New(cfg.RACI, dir),
		Log: log, Delivered: delivered, Config: cfg, Channels: channels})
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "%s: %v", cfg.File, err)
	}
	plan := planned.Messages
	r, err := Renderer(cfg)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "%s: %v", cfg.File, err)
	}
	rep := &NudgeReport{Now: now, Deferred: []nudge.Deferred{}, Warnings: planned.Warnings}
	for _, d := range planned.Deferred {
		if o.Person == "" || d.Recipient == o.Person {
			rep.Deferred = append(rep.Deferred, d)
		}
	}
	for _, w := range planned.Warnings {
		m.log().Warn("nudge plan", "warning", w)
	}
	if len(rep.Deferred) > 0 {
		m.log().Info("messages deferred by nudges.max_per_day", "deferred", len(rep.Deferred))
	}
	rendered, err := r.RenderPlan(plan, func(p *nudge.Message) bool { return o.Person == "" || p.Recipient.Email == o.Person })
	if err != nil {
		return nil, err
	}
	var msgs []*onus.OutboxMessage
	for i := range plan {
		p, out := &plan[i], rendered[i]
		if out == nil {
			continue
		}
		payload := out.Payloads[p.Channel] // none for e-mail
		items := map[int64]string{}
		for id, st := range p.Findings() {
			items[id] = string(st)
		}
		om := &onus.OutboxMessage{Key: p.Key, Recipient: p.Recipient.Email, Name: p.Recipient.Name, Channel: p.Channel, Kind: p.Kind,
			Subject: out.Subject, Text: out.Text, HTML: out.HTML, Payload: payload, Items: items, Reason: p.Reason,
			NotBefore: p.NotBefore, Status: onus.OutboxPending}
		msgs = append(msgs, om)
		rep.Planned = append(rep.Planned, Planned{OutboxMessage: om, Gap: p.Gap})
		if p.Gap && !slices.Contains(rep.Gaps, p.Recipient.Email) {
			rep.Gaps = append(rep.Gaps, p.Recipient.Email)
		}
	}
	if o.DryRun {
		return rep, nil
	}
	if o.Person != "" {
		return nil, onus.Errorf(onus.EINVALID, "--person only applies to a dry run: a real run plans for everyone")
	}
	if rep.Added, rep.Cancelled, err = db.Enqueue(ctx, msgs); err != nil {
		return rep, err
	}
	if err := db.Audit(ctx, m.Actor, "nudge.plan", "outbox", fmt.Sprintf("%d planned, %d new, %d cancelled", len(msgs), rep.Added, rep.Cancelled)); err != nil {
		return rep, err
	}
	if len(o.Channels) == 0 || o.PlanOnly {
		return rep, nil
	}
	// Business time is the plan's now: what is due, and when a person
	// counts as told. Leases and retries run on the machine's clock.
	rep.Delivery, err = m.deliver(ctx, onus.FixedClock(now), DeliverOptions{Channels: o.Channels, Lease: o.Lease, Step: o.Step, Holder: o.Holder, Dead: o.Dead}, true)
	return rep, err
}
