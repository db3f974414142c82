// Package nudge plans and writes the messages that bring findings to the
// people who own them: one digest per person listing their items, soonest
// due first, with the steps to fix each; reminders before and on the due
// date and while overdue; escalations to the manager and the Accountable
// person; weekly summaries for the Informed. Planning is pure: findings,
// people, what was already sent and the time go in; messages come out.
package nudge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/raci"
)

// Stage is why an item is brought up.
type Stage string

// Stages.
const (
	Notice     Stage = "notice"     // the finding is new to this person
	Reminder   Stage = "reminder"   // the due date is close
	Due        Stage = "due"        // it is due
	Overdue    Stage = "overdue"    // it is late
	Escalation Stage = "escalation" // told to the manager and the Accountable person
	Thanks     Stage = "thanks"     // it was fixed
	Summary    Stage = "summary"    // the weekly summary of the Informed
)

// Message kinds.
const (
	Digest        = "digest"
	EscalationMsg = "escalation"
	SummaryMsg    = "summary"
)

// Sent is one entry of the nudge log: a person told about a finding.
type Sent struct {
	Finding   int64
	Recipient string
	Stage     Stage
	At        time.Time
}

// Delivered is a message sent to someone, for the daily limit.
type Delivered struct {
	Recipient string
	At        time.Time
}

// Input is everything a plan is made from.
type Input struct {
	Now time.Time
	// Open are the open findings; Resolved those resolved lately, to thank.
	Open     []onus.Finding
	Resolved []onus.Finding
	Dir      *raci.Directory
	Matrix   *raci.Matrix
	Log      []Sent
	// Delivered are the messages of the last two days, per recipient.
	Delivered []Delivered
	Config    *config.Config
	// Channels are the channels that are configured.
	Channels []string

	controls map[string]*config.Control
	fixes    map[string]evaluate.Fix
}

// Item is one finding in a message.
type Item struct {
	Finding onus.Finding
	// Stage is why the item is brought up now; "" for an item listed for
	// completeness in a digest another item triggered.
	Stage Stage
	Title string
	Why   string
	Fix   string
	// Due is the due date in the recipient's time zone.
	Due time.Time
	// DaysLeft is the whole days until the due date, negative when late.
	DaysLeft int
	// Thing names the entity for the reader: "your laptop MBP-JANE" when
	// it is theirs, "the laptop MBP-TBERG" when it came to them (from a
	// person who left, as the team lead…; Finding.OwnerReason says why).
	Thing string
	// Yours is set when the entity is the recipient's own.
	Yours bool
	// N is the item's position in its message, from 1.
	N int
	// URL and ExceptionURL are the links of nudges.finding_url and
	// nudges.exception_url for the finding; "" when not configured.
	URL, ExceptionURL string
}

// Late is a finding escalated to someone.
type Late struct {
	Item
	// Role is why the recipient hears of it: "manager", "accountable",
	// or "fallback" when the role Missing ("manager" or "accountable")
	// has nobody.
	Role     string
	Missing  string
	DaysLate int
	// Noun names the entity's kind ("laptop").
	Noun string
}

// ActivityCount summarises one activity for an Informed person.
type ActivityCount struct {
	Activity string `json:"activity"`
	Title    string `json:"title"`
	Open     int    `json:"open"`
	Overdue  int    `json:"overdue"`
	Opened   int    `json:"opened_this_week"`
	Resolved int    `json:"resolved_this_week"`
	// LastWeek is how many were open a week ago, for the trend.
	LastWeek int `json:"open_last_week"`
}

// Message is one planned message.
type Message struct {
	Key       string
	Recipient onus.Person
	FirstName string
	Channel   string
	Kind      string
	Items     []Item
	Thanks    []Item
	Late      []Late
	Summary   []ActivityCount
	NotBefore time.Time
	// Reason says why the message is sent, for dry runs and the outbox.
	Reason string
	// Gap is set when the message goes to the fallback contact because a
	// role ended in nobody.
	Gap bool
}

// Findings returns the findings a message tells about, with their stage.
func (m *Message) Findings() map[int64]Stage {
	out := map[int64]Stage{}
	for _, it := range m.Items {
		if it.Stage != "" {
			out[it.Finding.ID] = it.Stage
		}
	}
	for _, it := range m.Thanks {
		out[it.Finding.ID] = Thanks
	}
	for _, l := range m.Late {
		out[l.Finding.ID] = Escalation
	}
	if m.Kind == SummaryMsg {
		// Finding 0 records the summary itself in the nudge log.
		out[0] = Summary
	}
	return out
}

// Schedule defaults.
var defaultSchedule = map[onus.Severity]struct{ remind, overdue, escalate, again time.Duration }{
	onus.Critical: {1 * day, 1 * day, 0, 2 * day},
	onus.High:     {2 * day, 2 * day, 2 * day, 7 * day},
	onus.Medium:   {5 * day, 7 * day, 7 * day, 14 * day},
	onus.Low:      {14 * day, 14 * day, 14 * day, 28 * day},
}

const day = 24 * time.Hour

type schedule struct {
	remind, overdue, escalate, again time.Duration
	immediate                        bool
}

func scheduleFor(cfg *config.Config, sev onus.Severity) schedule {
	d := defaultSchedule[sev]
	s := schedule{remind: d.remind, overdue: d.overdue, escalate: d.escalate, again: d.again}
	for _, key := range []string{"default", string(sev)} {
		c, ok := cfg.Nudges.Schedule[key]
		if !ok {
			continue
		}
		if c.RemindBefore != nil {
			s.remind = c.RemindBefore.Duration
		}
		if c.OverdueEvery != nil {
			s.overdue = c.OverdueEvery.Duration
		}
		if c.EscalateAfter != nil {
			s.escalate = c.EscalateAfter.Duration
		}
		if c.EscalateEvery != nil {
			s.again = c.EscalateEvery.Duration
		}
		s.immediate = s.immediate || c.Immediate
	}
	return s
}

// Calendar is when messages may reach people.
type Calendar struct {
	Days     map[time.Weekday]bool
	From, To int // minutes after midnight
	Zone     *time.Location
	Max      int
	Summary  time.Weekday
}

// NewCalendar reads the calendar of a configuration. An error names the
// setting that cannot be read (config validation reports the same, with
// its line).
func NewCalendar(cfg *config.Config) (Calendar, error) {
	n := cfg.Nudges
	c := Calendar{Days: map[time.Weekday]bool{}, From: 9 * 60, To: 18 * 60, Zone: time.UTC, Max: n.MaxPerDay, Summary: time.Monday}
	days := n.WorkingDays
	if len(days) == 0 {
		days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	for _, d := range days {
		wd, ok := config.Weekdays[strings.ToLower(d)]
		if !ok {
			return c, fmt.Errorf("nudges.working_days: %q is not a day (mon … sun)", d)
		}
		c.Days[wd] = true
	}
	if n.WorkingHours != "" {
		var err error
		if c.From, c.To, err = config.ParseHours(n.WorkingHours); err != nil {
			return c, fmt.Errorf("nudges.working_hours: %w", err)
		}
	}
	if n.TimeZone != "" {
		z, err := time.LoadLocation(n.TimeZone)
		if err != nil {
			return c, fmt.Errorf("nudges.time_zone: unknown time zone %q", n.TimeZone)
		}
		c.Zone = z
	}
	if c.Max == 0 {
		c.Max = 2
	}
	if n.SummaryDay != "" {
		d, ok := config.Weekdays[strings.ToLower(n.SummaryDay)]
		if !ok {
			return c, fmt.Errorf("nudges.summary_day: %q is not a day (mon … sun)", n.SummaryDay)
		}
		c.Summary = d
	}
	return c, nil
}

// Next returns the first moment at or after t, in zone, that is on a
// working day and in working hours.
func (c Calendar) Next(t time.Time, zone *time.Location) time.Time {
	local := t.In(zone)
	for i := 0; i < 8; i++ {
		dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, zone)
		open := dayStart.Add(time.Duration(c.From) * time.Minute)
		close := dayStart.Add(time.Duration(c.To) * time.Minute)
		if c.Days[local.Weekday()] {
			if local.Before(open) {
				return open.UTC()
			}
			if local.Before(close) {
				return local.UTC()
			}
		}
		local = dayStart.AddDate(0, 0, 1)
	}
	return t // no working day at all: send now rather than never
}

// Plan is what a planning makes: the messages due, and those held back.
type Plan struct {
	Messages []Message
	// Deferred are the messages nudges.max_per_day held back: the person
	// had their share of the day. The next plan tries them again.
	Deferred []Deferred
	// Warnings are problems that did not stop the plan: a person whose
	// time zone is unknown hears in nudges.time_zone.
	Warnings []string
}

// Deferred is a message nudges.max_per_day held back.
type Deferred struct {
	Recipient string `json:"recipient"`
	Kind      string `json:"kind"`
	Reason    string `json:"reason"`
	// Today is how many messages the person has had or has planned on
	// their local day, and Max the limit.
	Today int `json:"today"`
	Max   int `json:"max_per_day"`
}

// NewPlan plans the messages due at in.Now. It fails only when the
// configuration's calendar cannot be read.
func NewPlan(in Input) (*Plan, error) {
	p, err := newPlanner(in)
	if err != nil {
		return nil, err
	}
	p.digests()
	p.escalations()
	p.weeklySummaries()
	return &p.plan, nil
}

// toldKey is a person told about a finding at a stage.
type toldKey struct {
	who string
	f   int64
	st  Stage
}

// planner holds one planning's indexes of its input and what it planned.
type planner struct {
	in  Input
	cal Calendar
	// schedules is the schedule of each severity.
	schedules map[onus.Severity]schedule
	// told is when each person was last told about each finding, at
	// each stage; lastDigest and lastSummary when they last had one.
	told                    map[toldKey]time.Time
	lastDigest, lastSummary map[string]time.Time
	// delivered are the times of the messages each person was sent
	// lately; planned counts those planned now.
	delivered map[string][]time.Time
	planned   map[string]int
	// zones caches the locations of people's time zones for this plan;
	// badZone remembers those already warned about.
	zones   map[string]*time.Location
	badZone map[string]bool
	plan    Plan
}

func newPlanner(in Input) (*planner, error) {
	cfg := in.Config
	cal, err := NewCalendar(cfg)
	if err != nil {
		return nil, err
	}
	p := &planner{cal: cal, schedules: map[onus.Severity]schedule{}, told: make(map[toldKey]time.Time, len(in.Log)),
		lastDigest: map[string]time.Time{}, lastSummary: map[string]time.Time{}, delivered: map[string][]time.Time{},
		planned: map[string]int{}, zones: map[string]*time.Location{}, badZone: map[string]bool{}}
	in.controls = make(map[string]*config.Control, len(cfg.Controls))
	in.fixes = make(map[string]evaluate.Fix, len(cfg.Controls))
	for _, c := range cfg.Controls {
		in.controls[c.ID] = c
		if c.Fix != "" {
			in.fixes[c.ID] = evaluate.ParseFix(c.Fix)
		}
	}
	p.in = in
	for _, sev := range []onus.Severity{onus.Critical, onus.High, onus.Medium, onus.Low} {
		p.schedules[sev] = scheduleFor(cfg, sev)
	}
	for _, s := range in.Log {
		k := toldKey{s.Recipient, s.Finding, s.Stage}
		if s.At.After(p.told[k]) {
			p.told[k] = s.At
		}
		switch s.Stage {
		case Summary:
			later(p.lastSummary, s.Recipient, s.At)
		case Escalation:
		default:
			later(p.lastDigest, s.Recipient, s.At)
		}
	}
	for _, d := range in.Delivered {
		p.delivered[d.Recipient] = append(p.delivered[d.Recipient], d.At)
	}
	return p, nil
}

// later sets m[k] to t when t is later.
func later(m map[string]time.Time, k string, t time.Time) {
	if t.After(m[k]) {
		m[k] = t
	}
}

func (p *planner) schedule(sev onus.Severity) schedule {
	if s, ok := p.schedules[sev]; ok {
		return s
	}
	return scheduleFor(p.in.Config, sev)
}

// last returns when who was last told about finding f at any of stages.
func (p *planner) last(who string, f int64, stages ...Stage) time.Time {
	var t time.Time
	for _, s := range stages {
		if x := p.told[toldKey{who, f, s}]; x.After(t) {
			t = x
		}
	}
	return t
}

// zone returns the location of a person's time zone, or the calendar's
// when they have none or it is unknown (with a warning, once).
func (p *planner) zone(email string) *time.Location {
	person := p.in.Dir.Person(email)
	if person == nil || person.TimeZone == "" {
		return p.cal.Zone
	}
	if z, ok := p.zones[person.TimeZone]; ok {
		return z
	}
	z, err := time.LoadLocation(person.TimeZone)
	if err != nil {
		if !p.badZone[email] {
			p.badZone[email] = true
			p.plan.Warnings = append(p.plan.Warnings, fmt.Sprintf("person %s: unknown time zone %q; their messages follow nudges.time_zone (%s)", email, person.TimeZone, p.cal.Zone))
		}
		return p.cal.Zone
	}
	p.zones[person.TimeZone] = z
	return z
}

// sentToday counts the messages who was sent on their local day.
func (p *planner) sentToday(who string, zone *time.Location) int {
	y, m, d := p.in.Now.In(zone).Date()
	n := 0
	for _, at := range p.delivered[who] {
		if yy, mm, dd := at.In(zone).Date(); yy == y && mm == m && dd == d {
			n++
		}
	}
	return n
}

// add plans a message for the recipient's next working hour, unless they
// had their share of the day: then it is held back, and reported.
func (p *planner) add(m Message, zone *time.Location) {
	p.finish(&m, p.cal.Next(p.in.Now, zone), zone)
	p.admit(&m, zone)
}

// admit appends a finished message, unless its recipient had their share
// of the day: then it is held back, and reported.
func (p *planner) admit(m *Message, zone *time.Location) {
	who := m.Recipient.Email
	if today := p.sentToday(who, zone) + p.planned[who]; today >= p.cal.Max {
		p.plan.Deferred = append(p.plan.Deferred, Deferred{Recipient: who, Kind: m.Kind, Reason: m.Reason, Today: today, Max: p.cal.Max})
		return
	}
	p.planned[who]++
	p.plan.Messages = append(p.plan.Messages, *m)
}

// finish sets when a message may go, its channel and its key.
func (p *planner) finish(m *Message, at time.Time, zone *time.Location) {
	m.NotBefore = at
	m.Channel = channelFor(p.in, m.Recipient.Email)
	m.Key = key(*m, zone)
}

// digests plans, for every owner, a digest of all their open items when
// at least one has news. Each owner's digest depends on nothing but their
// own findings and log, so they are written on all cores; they are then
// admitted in the order of the owners' addresses, as the daily limit
// requires.
func (p *planner) digests() {
	// Positions in in.Open, not copies: a finding is a large value, and
	// most owners have no news.
	byOwner := map[string][]int32{}
	for i := range p.in.Open {
		if f := &p.in.Open[i]; f.State == onus.StateOpen && f.Responsible.Email != "" {
			byOwner[f.Responsible.Email] = append(byOwner[f.Responsible.Email], int32(i))
		}
	}
	fixedBy := map[string][]int32{}
	for i := range p.in.Resolved {
		fixedBy[p.in.Resolved[i].Responsible.Email] = append(fixedBy[p.in.Resolved[i].Responsible.Email], int32(i))
	}
	owners := sortedKeys(byOwner)
	zones := make([]*time.Location, len(owners))
	for i, who := range owners {
		zones[i] = p.zone(who) // here: it caches, and warns
	}
	msgs := make([]*Message, len(owners))
	urgent := make([]bool, len(owners))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stages []Stage
			for {
				i := int(next.Add(1) - 1)
				if i >= len(owners) {
					return
				}
				who := owners[i]
				msgs[i], urgent[i], stages = p.digest(who, zones[i], byOwner[who], fixedBy[who], stages[:0])
			}
		}()
	}
	wg.Wait()
	p.plan.Messages = slices.Grow(p.plan.Messages, len(owners))
	for i, m := range msgs {
		switch {
		case m == nil:
		case urgent[i]:
			// A new finding whose severity says immediate: it does not
			// count against the day's share.
			p.plan.Messages = append(p.plan.Messages, *m)
		default:
			p.admit(m, zones[i])
		}
	}
}

// digest writes one person's digest of the open findings at positions
// open, finished, and whether it is urgent; nil when nothing is news.
// The stage of each item comes first: most people have no news on most
// days, and writing an item (its fix steps) costs more. stages is scratch
// space, returned for the next person. It only reads the planner.
func (p *planner) digest(who string, zone *time.Location, open, fixed []int32, stages []Stage) (*Message, bool, []Stage) {
	news, urgent := false, false
	for _, i := range open {
		f := &p.in.Open[i]
		st := p.stage(who, f)
		stages = append(stages, st)
		news = news || st != ""
		urgent = urgent || st == Notice && p.schedule(f.Severity).immediate
	}
	if !news {
		return nil, false, stages // nothing changed and no reminder is due
	}
	items := make([]Item, len(open))
	for k, i := range open {
		items[k] = p.in.item(p.in.Open[i], zone)
		items[k].Stage = stages[k]
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Finding.Due.Before(items[j].Finding.Due) })
	var reasons []string
	for i := range items {
		items[i].N = i + 1
		if st := items[i].Stage; st != "" {
			reasons = append(reasons, string(st)+" #"+strconv.FormatInt(items[i].Finding.ID, 10))
		}
	}
	m := &Message{Recipient: person(p.in.Dir, who), FirstName: firstName(p.in.Dir, who), Kind: Digest, Items: items,
		Reason: strings.Join(reasons, ", ")}
	for _, i := range fixed {
		if f := &p.in.Resolved[i]; f.ResolvedAt != nil && f.ResolvedAt.After(p.lastDigest[who]) {
			m.Thanks = append(m.Thanks, p.in.item(*f, zone))
		}
	}
	at := p.in.Now
	if !urgent {
		at = p.cal.Next(p.in.Now, zone)
	}
	p.finish(m, at, zone)
	return m, urgent, stages
}

// stage says why an item is news to its owner now, or "" when it is not.
// A stage is news only when the person has not heard of the item since
// it began: a notice sent inside the reminder window is the reminder,
// one sent after the due date is the first overdue message.
func (p *planner) stage(who string, f *onus.Finding) Stage {
	sc := p.schedule(f.Severity)
	now := p.in.Now
	heard := p.last(who, f.ID, Notice, Reminder, Due, Overdue)
	if heard.IsZero() {
		return Notice
	}
	if !now.Before(f.Due) {
		late := p.last(who, f.ID, Due, Overdue)
		switch {
		case late.IsZero() && heard.Before(f.Due):
			return Due
		case late.IsZero() && now.Sub(heard) >= sc.overdue, !late.IsZero() && now.Sub(late) >= sc.overdue:
			return Overdue
		}
		return ""
	}
	if remindFrom := f.Due.Add(-sc.remind); !now.Before(remindFrom) && heard.Before(remindFrom) {
		return Reminder
	}
	return ""
}

// escalations plans, for every late finding, a message to the owner's
// manager and to the Accountable person, by name; a role with nobody goes
// to the fallback contact, and is itself a gap.
func (p *planner) escalations() {
	late := map[string][]Late{}
	type lateKey struct {
		who string
		f   int64
	}
	listed := map[lateKey]bool{}
	gaps := map[string]bool{}
	managers := map[string]string{} // who hears as each owner's manager
	fallback := p.in.Config.Nudges.Fallback
	if fallback == "" {
		fallback = p.in.Config.Ownership.Fallback
	}
	for i := range p.in.Open {
		f := &p.in.Open[i]
		if f.State != onus.StateOpen {
			continue
		}
		sc := p.schedule(f.Severity)
		if p.in.Now.Before(f.Due.Add(sc.escalate)) {
			continue
		}
		daysLate := int(p.in.Now.Sub(f.Due) / day)
		manager, ok := managers[f.Responsible.Email]
		if !ok {
			manager = p.in.manager(f.Responsible.Email)
			managers[f.Responsible.Email] = manager
		}
		targets := [2]struct{ who, role string }{{manager, "manager"}, {f.Accountable.Email, "accountable"}}
		for _, t := range targets {
			who, gap := t.who, false
			if who == "" {
				who, gap = fallback, true
			}
			if who == "" || who == f.Responsible.Email || listed[lateKey{who, f.ID}] {
				continue
			}
			if prev := p.last(who, f.ID, Escalation); !prev.IsZero() && p.in.Now.Sub(prev) < sc.again {
				continue
			}
			listed[lateKey{who, f.ID}] = true
			l := Late{Item: p.in.item(*f, p.zone(who)), Role: t.role, DaysLate: daysLate, Noun: p.in.noun(*f)}
			if gap {
				l.Role, l.Missing = "fallback", t.role
			}
			late[who] = append(late[who], l)
			gaps[who] = gaps[who] || gap
		}
	}
	for _, who := range sortedKeys(late) {
		ls := late[who]
		sort.Slice(ls, func(i, j int) bool { return ls[i].DaysLate > ls[j].DaysLate })
		ids := make([]string, len(ls))
		for i, l := range ls {
			ids[i] = fmt.Sprintf("#%d (%d days late, as %s)", l.Finding.ID, l.DaysLate, l.Role)
		}
		p.add(Message{Recipient: person(p.in.Dir, who), FirstName: firstName(p.in.Dir, who), Kind: EscalationMsg, Late: ls, Gap: gaps[who],
			Reason: "escalation of " + strings.Join(ids, ", ")}, p.zone(who))
	}
}

// weeklySummaries plans the weekly summaries of the Informed, on their
// summary day, at most one in six days.
func (p *planner) weeklySummaries() {
	summaries := p.in.summaries()
	for _, who := range sortedKeys(summaries) {
		zone := p.zone(who)
		if p.in.Now.In(zone).Weekday() != p.cal.Summary {
			continue
		}
		if prev := p.lastSummary[who]; !prev.IsZero() && p.in.Now.Sub(prev) < 6*day {
			continue
		}
		p.add(Message{Recipient: person(p.in.Dir, who), FirstName: firstName(p.in.Dir, who), Kind: SummaryMsg, Summary: summaries[who],
			Reason: "weekly summary for the Informed"}, zone)
	}
}

// summaries counts, for each Informed person and each of their
// activities, the open, overdue, opened and resolved findings of the last
// week, in one pass over the findings.
func (in Input) summaries() map[string][]ActivityCount {
	type key struct{ who, act string }
	counts := map[key]*ActivityCount{}
	get := func(who string, f onus.Finding) *ActivityCount {
		act := ""
		if ctl := in.control(f.Control); ctl != nil {
			act = ctl.Activity
		}
		c := counts[key{who, act}]
		if c == nil {
			c = &ActivityCount{Activity: act}
			if a := in.Config.RACI.Activity(act); a != nil {
				c.Title = a.Title
			}
			counts[key{who, act}] = c
		}
		return c
	}
	week := in.Now.Add(-7 * day)
	for _, f := range in.Open {
		if f.State != onus.StateOpen {
			continue
		}
		for _, who := range f.Informed {
			c := get(who, f)
			c.Open++
			if in.Now.After(f.Due) {
				c.Overdue++
			}
			if f.FirstFailed.After(week) {
				c.Opened++
			} else {
				c.LastWeek++
			}
		}
	}
	for _, f := range in.Resolved {
		if f.ResolvedAt == nil || !f.ResolvedAt.After(week) {
			continue
		}
		for _, who := range f.Informed {
			c := get(who, f)
			c.Resolved++
			if !f.FirstFailed.After(week) {
				c.LastWeek++
			}
		}
	}
	out := map[string][]ActivityCount{}
	for k, c := range counts {
		out[k.who] = append(out[k.who], *c)
	}
	for _, cs := range out {
		sort.Slice(cs, func(i, j int) bool { return cs[i].Activity < cs[j].Activity })
	}
	return out
}

// fix renders a control's fix steps for a finding.
func (in Input) fix(ctl *config.Control, f onus.Finding) string {
	if ctl.Fix == "" {
		return ""
	}
	fx, ok := in.fixes[ctl.ID]
	if !ok {
		fx = evaluate.ParseFix(ctl.Fix)
	}
	return fx.RenderFinding(f)
}

func (in Input) control(id string) *config.Control {
	if in.controls != nil {
		return in.controls[id]
	}
	return in.Config.Control(id)
}

// clean makes a name from a source safe to show as one line: control
// characters (a newline that would forge a line of the message) and
// bidirectional overrides (that would show "exe.pdf" for "fdp.exe")
// become spaces. Each format escapes the rest.
func clean(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) {
			return ' '
		}
		return r
	}, s)
}

func unsafeRune(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }

// item writes a finding for a reader in a time zone.
func (in Input) item(f onus.Finding, zone *time.Location) Item {
	f.EntityName = clean(f.EntityName)
	f.Responsible.Name, f.Accountable.Name = clean(f.Responsible.Name), clean(f.Accountable.Name)
	f.OwnerReason = clean(f.OwnerReason)
	it := Item{Finding: f, Title: f.Control, Due: f.Due.In(zone), DaysLeft: int(f.Due.Sub(in.Now).Round(day) / day)}
	noun := in.noun(f)
	// The owner expression named the recipient, and nothing was handed
	// over: the entity is theirs.
	it.Yours = strings.HasPrefix(f.OwnerReason, "owner (")
	if it.Yours {
		it.Thing = "your " + noun + " " + f.EntityName
	} else {
		it.Thing = "the " + noun + " " + f.EntityName
	}
	if ctl := in.control(f.Control); ctl != nil {
		if ctl.Title != "" {
			it.Title = ctl.Title
		}
		it.Why = strings.TrimSpace(ctl.Why)
		it.Fix = in.fix(ctl, f)
	}
	return it
}

// manager returns who hears of someone's late items as their manager: the
// manager on record; one who left is replaced as for ownership (their
// manager, up the chain), and one on leave by their own manager, since an
// escalation to someone away reaches no one. "" when there is nobody.
func (in Input) manager(email string) string {
	p := in.Dir.Person(email)
	for step := 0; step < raci.DefaultChainLimit && p != nil && p.Manager != ""; step++ {
		r, err := in.Matrix.Handover(p.Manager, raci.DefaultChainLimit)
		if err != nil {
			return ""
		}
		m := in.Dir.Person(r.Person.Email)
		if m == nil || m.Status != raci.OnLeave {
			return r.Person.Email
		}
		p = m
	}
	return ""
}

// noun names a finding's entity kind for readers.
func (in Input) noun(f onus.Finding) string {
	if n := in.Config.Nudges.Nouns[f.EntityKind]; n != "" {
		return n
	}
	return f.EntityKind
}

// channelFor returns a person's preferred channel when it is configured,
// and the default (e-mail) otherwise.
func channelFor(in Input, who string) string {
	def := in.Config.Nudges.DefaultChannel
	if def == "" {
		def = "email"
	}
	if p := in.Dir.Person(who); p != nil && p.Channel != "" && slices.Contains(in.Channels, p.Channel) {
		return p.Channel
	}
	return def
}

func person(dir *raci.Directory, email string) onus.Person {
	if p := dir.Person(email); p != nil {
		// A name comes from a source: a line break in it would forge a
		// header (Bcc:) or a line of the message.
		return onus.Person{Email: p.Email, Name: clean(p.Name), Entity: p.Entity}
	}
	return onus.Person{Email: email}
}

func firstName(dir *raci.Directory, email string) string {
	if p := dir.Person(email); p != nil && strings.TrimSpace(clean(p.Name)) != "" {
		return strings.Fields(clean(p.Name))[0]
	}
	return "there"
}

// key identifies a message: the recipient, its kind, its local day (week
// for summaries) and the items with their stages. Planning again the same
// day yields the same key, so the outbox keeps one copy.
func key(m Message, zone *time.Location) string {
	local := m.NotBefore.In(zone)
	period := local.Format("2006-01-02")
	if m.Kind == SummaryMsg {
		y, w := local.ISOWeek()
		period = fmt.Sprintf("%d-W%02d", y, w)
	}
	// "id:stage" parts sorted as text, hashed after the recipient, the
	// kind and the period, "|" between them.
	found := m.Findings()
	parts := make([]string, 0, len(found))
	for id, st := range found {
		parts = append(parts, strconv.FormatInt(id, 10)+":"+string(st))
	}
	sort.Strings(parts)
	h := sha256.New()
	h.Write([]byte(m.Recipient.Email + "|" + m.Kind + "|" + period))
	for _, p := range parts {
		h.Write([]byte{'|'})
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
