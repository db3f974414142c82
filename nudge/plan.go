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
	"slices"
	"sort"
	"strings"
	"sync"
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

// NewCalendar reads the calendar of a configuration.
func NewCalendar(cfg *config.Config) Calendar {
	n := cfg.Nudges
	c := Calendar{Days: map[time.Weekday]bool{}, From: 9 * 60, To: 18 * 60, Zone: time.UTC, Max: n.MaxPerDay, Summary: time.Monday}
	days := n.WorkingDays
	if len(days) == 0 {
		days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	for _, d := range days {
		c.Days[config.Weekdays[strings.ToLower(d)]] = true
	}
	if n.WorkingHours != "" {
		c.From, c.To, _ = config.ParseHours(n.WorkingHours)
	}
	if z, err := time.LoadLocation(n.TimeZone); err == nil && n.TimeZone != "" {
		c.Zone = z
	}
	if c.Max == 0 {
		c.Max = 2
	}
	if d, ok := config.Weekdays[strings.ToLower(n.SummaryDay)]; ok {
		c.Summary = d
	}
	return c
}

// zone returns a person's location, or the calendar's.
func (c Calendar) zone(p *raci.Person) *time.Location {
	if p != nil && p.TimeZone != "" {
		if z, err := loadZone(p.TimeZone); err == nil {
			return z
		}
	}
	return c.Zone
}

var zones sync.Map // name → *time.Location

func loadZone(name string) (*time.Location, error) {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), nil
	}
	z, err := time.LoadLocation(name)
	if err == nil {
		zones.Store(name, z)
	}
	return z, err
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

// Plan makes the messages due at in.Now.
func Plan(in Input) []Message {
	cfg := in.Config
	cal := NewCalendar(cfg)
	in.controls = make(map[string]*config.Control, len(cfg.Controls))
	in.fixes = make(map[string]evaluate.Fix, len(cfg.Controls))
	for _, c := range cfg.Controls {
		in.controls[c.ID] = c
		if c.Fix != "" {
			in.fixes[c.ID] = evaluate.ParseFix(c.Fix)
		}
	}
	// When each person was last told about each finding, at each stage.
	type toldKey struct {
		who string
		f   int64
		st  Stage
	}
	told := make(map[toldKey]time.Time, len(in.Log))
	lastDigest := map[string]time.Time{}
	lastSummary := map[string]time.Time{}
	for _, s := range in.Log {
		k := toldKey{s.Recipient, s.Finding, s.Stage}
		if s.At.After(told[k]) {
			told[k] = s.At
		}
		switch s.Stage {
		case Summary:
			if s.At.After(lastSummary[s.Recipient]) {
				lastSummary[s.Recipient] = s.At
			}
		case Escalation:
		default:
			if s.At.After(lastDigest[s.Recipient]) {
				lastDigest[s.Recipient] = s.At
			}
		}
	}
	last := func(who string, f int64, st ...Stage) time.Time {
		var t time.Time
		for _, s := range st {
			if x := told[toldKey{who, f, s}]; x.After(t) {
				t = x
			}
		}
		return t
	}
	delivered := map[string][]time.Time{}
	for _, d := range in.Delivered {
		delivered[d.Recipient] = append(delivered[d.Recipient], d.At)
	}
	sentToday := func(who string, zone *time.Location) int {
		y, m, d := in.Now.In(zone).Date()
		n := 0
		for _, at := range delivered[who] {
			if yy, mm, dd := at.In(zone).Date(); yy == y && mm == m && dd == d {
				n++
			}
		}
		return n
	}
	planned := map[string]int{}
	var out []Message
	add := func(m Message, zone *time.Location) {
		who := m.Recipient.Email
		if sentToday(who, zone)+planned[who] >= cal.Max {
			return // the day's share is used up; the next plan tries again
		}
		planned[who]++
		m.NotBefore = cal.Next(in.Now, zone)
		m.Channel = channelFor(in, who)
		m.Key = key(m, zone)
		out = append(out, m)
	}
	// addNow sends a message at once: it brings up a new finding whose
	// severity's schedule says immediate. It does not count against the
	// day's share.
	addNow := func(m Message, zone *time.Location) {
		who := m.Recipient.Email
		m.NotBefore = in.Now
		m.Channel = channelFor(in, who)
		m.Key = key(m, zone)
		out = append(out, m)
	}

	byOwner := map[string][]onus.Finding{}
	for _, f := range in.Open {
		if f.State == onus.StateOpen && f.Responsible.Email != "" {
			byOwner[f.Responsible.Email] = append(byOwner[f.Responsible.Email], f)
		}
	}
	owners := sortedKeys(byOwner)
	fixedBy := map[string][]onus.Finding{}
	for _, f := range in.Resolved {
		fixedBy[f.Responsible.Email] = append(fixedBy[f.Responsible.Email], f)
	}

	// Digests: every open item of a person, when at least one has news.
	for _, who := range owners {
		p := in.Dir.Person(who)
		zone := cal.zone(p)
		// The stage of each item first: most people have no news on
		// most days, and writing an item (its fix steps) costs more.
		stages := make([]Stage, len(byOwner[who]))
		news, urgent := false, false
		for i, f := range byOwner[who] {
			sc := scheduleFor(cfg, f.Severity)
			// A stage is news only when the person has not heard of the
			// item since it began: a notice sent inside the reminder
			// window is the reminder, one sent after the due date is the
			// first overdue message.
			heard := last(who, f.ID, Notice, Reminder, Due, Overdue)
			late := last(who, f.ID, Due, Overdue)
			remindFrom := f.Due.Add(-sc.remind)
			switch {
			case heard.IsZero():
				stages[i] = Notice
			case !in.Now.Before(f.Due):
				switch {
				case late.IsZero() && heard.Before(f.Due):
					stages[i] = Due
				case late.IsZero() && in.Now.Sub(heard) >= sc.overdue, !late.IsZero() && in.Now.Sub(late) >= sc.overdue:
					stages[i] = Overdue
				}
			case !in.Now.Before(remindFrom) && heard.Before(remindFrom):
				stages[i] = Reminder
			}
			news = news || stages[i] != ""
			urgent = urgent || stages[i] == Notice && sc.immediate
		}
		if !news {
			continue // nothing changed and no reminder is due
		}
		items := make([]Item, len(stages))
		for i, f := range byOwner[who] {
			items[i] = in.item(f, zone)
			items[i].Stage = stages[i]
		}
		sort.SliceStable(items, func(i, j int) bool { return items[i].Finding.Due.Before(items[j].Finding.Due) })
		var reasons []string
		for i := range items {
			items[i].N = i + 1
			if st := items[i].Stage; st != "" {
				reasons = append(reasons, fmt.Sprintf("%s #%d", st, items[i].Finding.ID))
			}
		}
		m := Message{Recipient: person(in.Dir, who), FirstName: firstName(in.Dir, who), Kind: Digest, Items: items,
			Reason: strings.Join(reasons, ", ")}
		for _, f := range fixedBy[who] {
			if f.ResolvedAt != nil && f.ResolvedAt.After(lastDigest[who]) {
				m.Thanks = append(m.Thanks, in.item(f, zone))
			}
		}
		if urgent {
			addNow(m, zone)
			continue
		}
		add(m, zone)
	}

	// Escalations: to the manager and the Accountable person, by name.
	late := map[string][]Late{}
	type lateKey struct {
		who string
		f   int64
	}
	listed := map[lateKey]bool{}
	gaps := map[string]bool{}
	fallback := cfg.Nudges.Fallback
	if fallback == "" {
		fallback = cfg.Ownership.Fallback
	}
	for _, f := range in.Open {
		if f.State != onus.StateOpen {
			continue
		}
		sc := scheduleFor(cfg, f.Severity)
		if in.Now.Before(f.Due.Add(sc.escalate)) {
			continue
		}
		daysLate := int(in.Now.Sub(f.Due) / day)
		var targets []struct{ who, role string }
		manager := in.manager(f.Responsible.Email)
		targets = append(targets, struct{ who, role string }{manager, "manager"})
		targets = append(targets, struct{ who, role string }{f.Accountable.Email, "accountable"})
		for _, t := range targets {
			who, gap := t.who, false
			if who == "" {
				// A role with no person: the fallback contact hears of it,
				// and that is itself a gap.
				who, gap = fallback, true
			}
			if who == "" || who == f.Responsible.Email {
				continue
			}
			if prev := last(who, f.ID, Escalation); !prev.IsZero() && in.Now.Sub(prev) < sc.again {
				continue
			}
			if listed[lateKey{who, f.ID}] {
				continue
			}
			listed[lateKey{who, f.ID}] = true
			l := Late{Item: in.item(f, cal.zone(in.Dir.Person(who))), Role: t.role, DaysLate: daysLate, Noun: in.noun(f)}
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
		var ids []string
		for _, l := range ls {
			ids = append(ids, fmt.Sprintf("#%d (%d days late, as %s)", l.Finding.ID, l.DaysLate, l.Role))
		}
		add(Message{Recipient: person(in.Dir, who), FirstName: firstName(in.Dir, who), Kind: EscalationMsg, Late: ls, Gap: gaps[who],
			Reason: "escalation of " + strings.Join(ids, ", ")}, cal.zone(in.Dir.Person(who)))
	}

	// Weekly summaries for the Informed, on their summary day.
	summaries := in.summaries()
	for _, who := range sortedKeys(summaries) {
		zone := cal.zone(in.Dir.Person(who))
		if in.Now.In(zone).Weekday() != cal.Summary {
			continue
		}
		if prev := lastSummary[who]; !prev.IsZero() && in.Now.Sub(prev) < 6*day {
			continue
		}
		add(Message{Recipient: person(in.Dir, who), FirstName: firstName(in.Dir, who), Kind: SummaryMsg, Summary: summaries[who],
			Reason: "weekly summary for the Informed"}, zone)
	}
	return out
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
	return fx.Render(map[string]any{"Entity": map[string]string{"Name": f.EntityName, "ID": f.Entity}, "Finding": f})
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
	period := m.NotBefore.In(zone).Format("2006-01-02")
	if m.Kind == SummaryMsg {
		y, w := m.NotBefore.In(zone).ISOWeek()
		period = fmt.Sprintf("%d-W%02d", y, w)
	}
	var parts []string
	for id, st := range m.Findings() {
		parts = append(parts, fmt.Sprintf("%d:%s", id, st))
	}
	sort.Strings(parts)
	h := sha256.Sum256([]byte(strings.Join(append([]string{m.Recipient.Email, m.Kind, period}, parts...), "|")))
	return hex.EncodeToString(h[:16])
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
