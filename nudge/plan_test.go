package nudge

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/raci"
)

// world is a small organisation and a fake dispatcher: plan at a time,
// "send" what is due, remember it, move the clock.
type world struct {
	t     *testing.T
	cfg   *config.Config
	dir   *raci.Directory
	open  []onus.Finding
	fixed []onus.Finding
	log   []Sent
	sent  []Delivered
	// every message sent, in order
	outbox []Message
	chans  []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cfg := &config.Config{
		Controls: []*config.Control{
			{ID: "disk-encryption", Title: "Disks are encrypted", Activity: "endpoint", Why: "A lost laptop must not leak data.",
				Fix: "Turn on FileVault on {{.Entity.Name}}."},
			{ID: "edr", Title: "EDR agent runs", Activity: "endpoint"},
		},
		RACI: &config.RACI{Activities: []*config.Activity{{ID: "endpoint", Title: "Endpoint security"}}},
	}
	cfg.Nudges.WorkingDays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	cfg.Nudges.WorkingHours = "00:00-23:59"
	cfg.Nudges.MaxPerDay = 10
	dir := raci.NewDirectory([]*raci.Person{
		{Email: "jane@acme.com", Name: "Jane Doe", Manager: "mark@acme.com", Status: raci.Active},
		{Email: "bob@acme.com", Name: "Bob Roe", Manager: "mark@acme.com", Status: raci.Active},
		{Email: "mark@acme.com", Name: "Mark Boss", Status: raci.Active},
		{Email: "ciso@acme.com", Name: "Cleo Iso", Status: raci.Active},
		{Email: "orphan@acme.com", Name: "Olive Orphan", Status: raci.Active}, // no manager
		{Email: "tokyo@acme.com", Name: "Taro Tokyo", TimeZone: "Asia/Tokyo", Status: raci.Active},
		{Email: "slacker@acme.com", Name: "Sam Slack", Channel: "slack", Status: raci.Active},
	})
	return &world{t: t, cfg: cfg, dir: dir}
}

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) // a Monday

func (w *world) finding(id int64, owner string, sev onus.Severity, due time.Time) *onus.Finding {
	f := onus.Finding{ID: id, Control: "disk-encryption", Entity: fmt.Sprintf("e%d", id), EntityKind: "device",
		EntityName: fmt.Sprintf("MBP-%d", id), Severity: sev, State: onus.StateOpen,
		Responsible: onus.Person{Email: owner}, OwnerReason: "owner (entity.owner)",
		Accountable: onus.Person{Email: "ciso@acme.com"}, Consulted: []string{"it@acme.com"},
		FirstFailed: due.Add(-7 * day), Due: due}
	w.open = append(w.open, f)
	return &w.open[len(w.open)-1]
}

func (w *world) plan(now time.Time) []Message { return w.planAll(now).Messages }

// planAll plans at now and returns the whole plan, held messages too.
func (w *world) planAll(now time.Time) *Plan {
	w.t.Helper()
	p, err := NewPlan(Input{Now: now, Open: w.open, Resolved: w.fixed, Dir: w.dir, Matrix: raci.New(w.cfg.RACI, w.dir),
		Log: w.log, Delivered: w.sent, Config: w.cfg, Channels: w.chans})
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// run plans at now and sends every message whose time has come.
func (w *world) run(now time.Time) []Message {
	var out []Message
	for _, m := range w.plan(now) {
		if m.NotBefore.After(now) {
			continue
		}
		for id, st := range m.Findings() {
			w.log = append(w.log, Sent{Finding: id, Recipient: m.Recipient.Email, Stage: st, At: now})
		}
		w.sent = append(w.sent, Delivered{Recipient: m.Recipient.Email, At: now})
		w.outbox = append(w.outbox, m)
		out = append(out, m)
	}
	return out
}

func only(t *testing.T, msgs []Message, to, kind string) Message {
	t.Helper()
	var got []Message
	for _, m := range msgs {
		if m.Recipient.Email == to && m.Kind == kind {
			got = append(got, m)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %s to %s, got %d in %s", kind, to, len(got), describe(msgs))
	}
	return got[0]
}

func describe(msgs []Message) string {
	var parts []string
	for _, m := range msgs {
		parts = append(parts, fmt.Sprintf("%s→%s (%s)", m.Kind, m.Recipient.Email, m.Reason))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func TestDigestListsEveryItemSoonestFirst(t *testing.T) {
	w := newWorld(t)
	w.finding(1, "jane@acme.com", onus.Medium, t0.Add(20*day))
	w.finding(2, "jane@acme.com", onus.High, t0.Add(3*day))
	w.finding(3, "jane@acme.com", onus.Low, t0.Add(9*day))
	w.finding(4, "bob@acme.com", onus.Low, t0.Add(9*day))
	msgs := w.run(t0)
	if len(msgs) != 2 {
		t.Fatalf("want a digest each for jane and bob, got %s", describe(msgs))
	}
	m := only(t, msgs, "jane@acme.com", Digest)
	var ids []int64
	for _, it := range m.Items {
		ids = append(ids, it.Finding.ID)
		if it.Stage != Notice {
			t.Errorf("#%d: stage %q, want notice", it.Finding.ID, it.Stage)
		}
	}
	if !slices.Equal(ids, []int64{2, 3, 1}) {
		t.Errorf("items %v, want soonest due first [2 3 1]", ids)
	}
	if m.FirstName != "Jane" || m.Items[0].Thing != "your device MBP-2" || !strings.Contains(m.Items[0].Fix, "FileVault on MBP-2") {
		t.Errorf("not personal: first name %q, thing %q, fix %q", m.FirstName, m.Items[0].Thing, m.Items[0].Fix)
	}
	// Planned again the same day, nothing has changed: no message.
	if again := w.run(t0.Add(2 * time.Hour)); len(again) != 0 {
		t.Errorf("nothing changed, yet %s", describe(again))
	}
}

// The schedule of one high finding, day by day, with the default
// schedule for high (remind 2 days before, every 2 days overdue, escalate
// 2 days after, again every 7).
func TestScheduleOverTime(t *testing.T) {
	w := newWorld(t)
	due := t0.Add(10 * day)
	w.finding(1, "jane@acme.com", onus.High, due)
	var got []string
	for d := 0; d <= 20; d++ {
		for _, m := range w.run(t0.Add(time.Duration(d) * day)) {
			st := ""
			for _, s := range m.Findings() {
				st = string(s)
			}
			got = append(got, fmt.Sprintf("d%d %s %s", d, m.Recipient.Email, st))
		}
	}
	want := []string{
		"d0 jane@acme.com notice",
		"d8 jane@acme.com reminder",
		"d10 jane@acme.com due",
		"d12 jane@acme.com overdue",
		"d12 ciso@acme.com escalation",
		"d12 mark@acme.com escalation",
		"d14 jane@acme.com overdue",
		"d16 jane@acme.com overdue",
		"d18 jane@acme.com overdue",
		"d19 ciso@acme.com escalation",
		"d19 mark@acme.com escalation",
		"d20 jane@acme.com overdue",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("schedule:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestScheduleIsConfigurablePerSeverity(t *testing.T) {
	w := newWorld(t)
	two := config.Duration{Duration: 5 * day}
	w.cfg.Nudges.Schedule = map[string]config.Schedule{"high": {RemindBefore: &two}}
	w.finding(1, "jane@acme.com", onus.High, t0.Add(10*day))
	w.run(t0)
	if msgs := w.run(t0.Add(4 * day)); len(msgs) != 0 {
		t.Errorf("reminder too early: %s", describe(msgs))
	}
	m := only(t, w.run(t0.Add(5*day)), "jane@acme.com", Digest)
	if m.Items[0].Stage != Reminder {
		t.Errorf("stage %q, want reminder 5 days before", m.Items[0].Stage)
	}
}

// Escalations go to the manager and the Accountable person, by name;
// never to the Consulted, the Informed or a team.
func TestEscalationGoesToNamedPeopleOnly(t *testing.T) {
	w := newWorld(t)
	f := w.finding(1, "jane@acme.com", onus.High, t0.Add(-3*day))
	f.FirstFailed = t0.Add(-10 * day)
	msgs := w.run(t0)
	var to []string
	for _, m := range msgs {
		if m.Kind == EscalationMsg {
			to = append(to, m.Recipient.Email)
		}
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"ciso@acme.com", "mark@acme.com"}) {
		t.Fatalf("escalated to %v, want the manager and the Accountable person", to)
	}
	m := only(t, msgs, "mark@acme.com", EscalationMsg)
	if l := m.Late[0]; l.Role != "manager" || l.DaysLate != 3 || m.Gap {
		t.Errorf("late %+v, gap %v", l, m.Gap)
	}
	if l := only(t, msgs, "ciso@acme.com", EscalationMsg).Late[0]; l.Role != "accountable" {
		t.Errorf("ciso hears as %q", l.Role)
	}
}

// A role with no person: the fallback contact hears of it, and it is
// reported as an ownership gap.
func TestEscalationFallbackIsAGap(t *testing.T) {
	w := newWorld(t)
	w.cfg.Nudges.Fallback = "security@acme.com"
	f := w.finding(1, "orphan@acme.com", onus.High, t0.Add(-3*day))
	f.Accountable = onus.Person{}
	msgs := w.run(t0)
	m := only(t, msgs, "security@acme.com", EscalationMsg)
	if !m.Gap || m.Late[0].Role != "fallback" || (m.Late[0].Missing != "manager" && m.Late[0].Missing != "accountable") {
		t.Errorf("gap %v, late %+v", m.Gap, m.Late[0])
	}
	if len(m.Late) != 1 {
		t.Errorf("the same finding is listed %d times to the fallback", len(m.Late))
	}
	// Without a fallback, nobody is messaged in the role's place.
	w2 := newWorld(t)
	f2 := w2.finding(1, "orphan@acme.com", onus.High, t0.Add(-3*day))
	f2.Accountable = onus.Person{}
	for _, m := range w2.run(t0) {
		if m.Kind == EscalationMsg {
			t.Errorf("escalated to %s without anyone in the roles", m.Recipient.Email)
		}
	}
}

// Messages reach people in their working hours, on working days, in
// their time zone.
func TestCalendarRespectsTimeZonesAndWorkingDays(t *testing.T) {
	w := newWorld(t)
	w.cfg.Nudges.WorkingDays = []string{"mon", "tue", "wed", "thu", "fri"}
	w.cfg.Nudges.WorkingHours = "09:00-18:00"
	w.finding(1, "tokyo@acme.com", onus.Low, t0.Add(30*day))
	w.finding(2, "jane@acme.com", onus.Low, t0.Add(30*day))
	tokyo, _ := time.LoadLocation("Asia/Tokyo")

	// Friday 10:00 UTC is 19:00 in Tokyo: after hours, and the next day
	// is a Saturday; Taro hears on Monday at 09:00 Tokyo time.
	fri := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	msgs := w.plan(fri)
	taro := only(t, msgs, "tokyo@acme.com", Digest)
	if want := time.Date(2026, 12, 7, 9, 0, 0, 0, tokyo); !taro.NotBefore.Equal(want) {
		t.Errorf("Taro not before %v, want %v", taro.NotBefore.In(tokyo), want)
	}
	// Jane (UTC, the default) is in working hours: now.
	if jane := only(t, msgs, "jane@acme.com", Digest); !jane.NotBefore.Equal(fri) {
		t.Errorf("Jane not before %v, want now", jane.NotBefore)
	}
	// Saturday: Jane waits for Monday 09:00 UTC.
	sat := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	if jane := only(t, w.plan(sat), "jane@acme.com", Digest); !jane.NotBefore.Equal(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("on Saturday, Jane not before %v, want Monday 09:00", jane.NotBefore)
	}
	// 07:00 UTC on a Tuesday: before hours, 09:00 the same day.
	early := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	if jane := only(t, w.plan(early), "jane@acme.com", Digest); !jane.NotBefore.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("at 07:00 Jane not before %v, want 09:00", jane.NotBefore)
	}
	// A plan made overnight and one made in the morning are the same
	// message: the same key.
	k1 := only(t, w.plan(early), "jane@acme.com", Digest).Key
	k2 := only(t, w.plan(early.Add(3*time.Hour)), "jane@acme.com", Digest).Key
	if k1 != k2 {
		t.Errorf("keys differ across the same day: %s, %s", k1, k2)
	}
}

// At most K messages per person per day: the rest wait for tomorrow.
func TestMaxPerDay(t *testing.T) {
	w := newWorld(t)
	w.cfg.Nudges.MaxPerDay = 1
	// Mark owns one item and manages Jane, whose item is late.
	w.finding(1, "mark@acme.com", onus.Low, t0.Add(30*day))
	w.finding(2, "jane@acme.com", onus.High, t0.Add(-5*day))
	first := w.run(t0)
	if n := countTo(first, "mark@acme.com"); n != 1 {
		t.Fatalf("mark got %d messages on day one, want 1: %s", n, describe(first))
	}
	if n := countTo(w.run(t0.Add(time.Hour)), "mark@acme.com"); n != 0 {
		t.Errorf("mark got %d more the same day", n)
	}
	// What the limit held back is reported, not dropped in silence.
	held := w.planAll(t0.Add(2 * time.Hour)).Deferred
	if len(held) != 1 || held[0].Recipient != "mark@acme.com" || held[0].Kind != EscalationMsg || held[0].Today != 1 || held[0].Max != 1 ||
		!strings.Contains(held[0].Reason, "escalation of #2") {
		t.Errorf("deferred = %+v, want mark's escalation of #2 held back at 1 of 1", held)
	}
	next := w.run(t0.Add(day))
	if n := countTo(next, "mark@acme.com"); n != 1 {
		t.Errorf("mark got %d messages on day two, want the one held back: %s", n, describe(next))
	}
}

func countTo(msgs []Message, who string) int {
	n := 0
	for _, m := range msgs {
		if m.Recipient.Email == who {
			n++
		}
	}
	return n
}

// A finding moved to someone else: the new owner gets a first notice of
// their own; the old owner hears nothing more of it.
func TestNewOwnerGetsANotice(t *testing.T) {
	w := newWorld(t)
	f := w.finding(1, "jane@acme.com", onus.Low, t0.Add(30*day))
	w.run(t0)
	f.Responsible = onus.Person{Email: "bob@acme.com"}
	f.OwnerReason = "manager of jane@acme.com (who left on 1 Dec 2026)"
	msgs := w.run(t0.Add(day))
	m := only(t, msgs, "bob@acme.com", Digest)
	if m.Items[0].Stage != Notice || m.Items[0].Yours || m.Items[0].Thing != "the device MBP-1" {
		t.Errorf("new owner's item: %+v", m.Items[0])
	}
	if countTo(msgs, "jane@acme.com") != 0 {
		t.Errorf("the old owner still hears of it: %s", describe(msgs))
	}
}

// Fixed items are thanked in the next digest, once.
func TestFixedItemsAreThanked(t *testing.T) {
	w := newWorld(t)
	w.finding(1, "jane@acme.com", onus.Low, t0.Add(30*day))
	w.finding(2, "jane@acme.com", onus.Low, t0.Add(30*day))
	w.run(t0)
	fixed := w.open[0]
	at := t0.Add(2 * day)
	fixed.State, fixed.ResolvedAt = onus.StateResolved, &at
	w.open, w.fixed = w.open[1:], []onus.Finding{fixed}
	// A fix alone sends nothing…
	if msgs := w.run(t0.Add(3 * day)); len(msgs) != 0 {
		t.Errorf("a fix alone sent %s", describe(msgs))
	}
	// …the next digest carries the thanks.
	w.finding(3, "jane@acme.com", onus.Low, t0.Add(40*day))
	m := only(t, w.run(t0.Add(4*day)), "jane@acme.com", Digest)
	if len(m.Thanks) != 1 || m.Thanks[0].Finding.ID != 1 {
		t.Fatalf("thanks %+v", m.Thanks)
	}
	w.finding(4, "jane@acme.com", onus.Low, t0.Add(40*day))
	if m := only(t, w.run(t0.Add(5*day)), "jane@acme.com", Digest); len(m.Thanks) != 0 {
		t.Errorf("thanked twice: %+v", m.Thanks)
	}
}

// The Informed get a weekly summary of their activities, on the summary
// day, once a week.
func TestWeeklySummaryForTheInformed(t *testing.T) {
	w := newWorld(t)
	w.finding(1, "jane@acme.com", onus.High, t0.Add(-2*day)).Informed = []string{"auditor@acme.com"} // overdue, opened 9 days ago
	w.finding(2, "bob@acme.com", onus.Low, t0.Add(6*day)).Informed = []string{"auditor@acme.com"}    // opened yesterday
	fixed := onus.Finding{ID: 3, Control: "edr", State: onus.StateResolved, Informed: []string{"auditor@acme.com"},
		FirstFailed: t0.Add(-30 * day), Due: t0, ResolvedAt: ptr(t0.Add(-2 * day))}
	w.fixed = []onus.Finding{fixed}
	msgs := w.run(t0) // a Monday
	m := only(t, msgs, "auditor@acme.com", SummaryMsg)
	if len(m.Summary) != 1 {
		t.Fatalf("summary %+v", m.Summary)
	}
	s := m.Summary[0]
	if s.Activity != "endpoint" || s.Title != "Endpoint security" || s.Open != 2 || s.Overdue != 1 || s.Opened != 1 || s.Resolved != 1 || s.LastWeek != 2 {
		t.Errorf("summary %+v", s)
	}
	for d := 1; d < 7; d++ {
		if n := countTo(w.run(t0.Add(time.Duration(d)*day)), "auditor@acme.com"); n != 0 {
			t.Errorf("day %d: %d more summaries", d, n)
		}
	}
	if n := countTo(w.run(t0.Add(7*day)), "auditor@acme.com"); n != 1 {
		t.Errorf("next Monday: %d summaries, want 1", n)
	}
}

func ptr[T any](v T) *T { return &v }

// A preferred channel is used when it is configured; e-mail otherwise.
func TestChannelPreference(t *testing.T) {
	w := newWorld(t)
	w.finding(1, "slacker@acme.com", onus.Low, t0.Add(30*day))
	if m := only(t, w.plan(t0), "slacker@acme.com", Digest); m.Channel != "email" {
		t.Errorf("slack not configured: channel %q, want email", m.Channel)
	}
	w.chans = []string{"email", "slack"}
	if m := only(t, w.plan(t0), "slacker@acme.com", Digest); m.Channel != "slack" {
		t.Errorf("channel %q, want slack", m.Channel)
	}
}

// The key names the recipient, the period and the items with their
// stages: a new item makes a new message.
func TestKeyChangesWithTheItems(t *testing.T) {
	w := newWorld(t)
	w.finding(1, "jane@acme.com", onus.Low, t0.Add(30*day))
	k1 := only(t, w.plan(t0), "jane@acme.com", Digest).Key
	if k := only(t, w.plan(t0.Add(time.Hour)), "jane@acme.com", Digest).Key; k != k1 {
		t.Errorf("same plan, new key")
	}
	w.finding(2, "jane@acme.com", onus.Low, t0.Add(30*day))
	if k := only(t, w.plan(t0.Add(time.Hour)), "jane@acme.com", Digest).Key; k == k1 {
		t.Errorf("a new item kept the key")
	}
	if k := only(t, w.plan(t0.Add(day)), "jane@acme.com", Digest).Key; k == k1 {
		t.Errorf("a new day kept the key")
	}
}

// Due dates are written in the reader's time zone.
func TestDueDateInTheReadersZone(t *testing.T) {
	w := newWorld(t)
	due := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC) // 8 December, 05:00 in Tokyo
	w.finding(1, "tokyo@acme.com", onus.Low, due)
	w.finding(2, "jane@acme.com", onus.Low, due)
	r, err := NewRenderer("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]string{"tokyo@acme.com": "Due Tuesday 8 December", "jane@acme.com": "Due Monday 7 December"} {
		m := only(t, w.plan(t0), who, Digest)
		out, err := r.Render(&m)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.Text, want) {
			t.Errorf("%s reads:\n%s\nwant %q", who, out.Text, want)
		}
	}
}

// A manager on leave is skipped for their own manager: an escalation to
// someone away reaches no one.
func TestEscalationSkipsAManagerOnLeave(t *testing.T) {
	w := newWorld(t)
	w.dir.People["mark@acme.com"].Status = raci.OnLeave
	w.dir.People["mark@acme.com"].Manager = "ciso@acme.com"
	w.dir.People["bob@acme.com"].Manager = "mark@acme.com"
	w.finding(1, "bob@acme.com", onus.High, t0.Add(-3*day)).Accountable = onus.Person{Email: "jane@acme.com"}
	msgs := w.run(t0)
	if countTo(msgs, "mark@acme.com") != 0 {
		t.Errorf("the manager on leave was escalated to: %s", describe(msgs))
	}
	if l := only(t, msgs, "ciso@acme.com", EscalationMsg).Late[0]; l.Role != "manager" {
		t.Errorf("the manager's manager hears as %q", l.Role)
	}
}

// A severity whose schedule says immediate: a new finding's first notice
// goes at once, out of hours and beyond the day's share; later stages and
// other severities still wait for the person's calendar.
func TestImmediateNoticeForASeverity(t *testing.T) {
	w := newWorld(t)
	w.cfg.Nudges.WorkingDays = []string{"mon", "tue", "wed", "thu", "fri"}
	w.cfg.Nudges.WorkingHours = "09:00-18:00"
	w.cfg.Nudges.MaxPerDay = 1
	w.cfg.Nudges.Schedule = map[string]config.Schedule{"critical": {Immediate: true}}
	// Friday 10:00 UTC is 19:00 in Tokyo: after hours.
	fri := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	w.finding(1, "tokyo@acme.com", onus.Low, fri.Add(30*day))
	if m := only(t, w.plan(fri), "tokyo@acme.com", Digest); !m.NotBefore.After(fri) {
		t.Fatalf("a low finding goes out of hours: %v", m.NotBefore)
	}
	w.finding(2, "tokyo@acme.com", onus.Critical, fri.Add(day))
	m := only(t, w.plan(fri), "tokyo@acme.com", Digest)
	if !m.NotBefore.Equal(fri) || len(m.Items) != 2 {
		t.Fatalf("the critical notice waits until %v with %d items", m.NotBefore, len(m.Items))
	}
	w.run(fri)
	// Another critical finding the same day: the day's share (1) is used,
	// the notice still goes.
	w.finding(3, "tokyo@acme.com", onus.Critical, fri.Add(day))
	later := fri.Add(time.Hour)
	m = only(t, w.plan(later), "tokyo@acme.com", Digest)
	if !m.NotBefore.Equal(later) || m.Reason != "notice #3" {
		t.Fatalf("second critical notice: not before %v, reason %q", m.NotBefore, m.Reason)
	}
	w.run(later)
	// Nothing new: no message at all, immediate or not.
	if msgs := w.plan(later.Add(time.Hour)); countTo(msgs, "tokyo@acme.com") != 0 {
		t.Errorf("messages with no news: %s", describe(msgs))
	}
}

// A calendar setting that cannot be read stops the plan with an error
// naming the setting; a person's unknown time zone does not stop it, but
// is reported, and their messages follow nudges.time_zone.
func TestCalendarErrorsAreNotIgnored(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*config.Nudges)
		want string
	}{
		{"working hours", func(n *config.Nudges) { n.WorkingHours = "18:00-09:00" }, "nudges.working_hours: \"18:00-09:00\" ends before it starts"},
		{"time zone", func(n *config.Nudges) { n.TimeZone = "Mars/Olympus" }, `nudges.time_zone: unknown time zone "Mars/Olympus"`},
		{"working days", func(n *config.Nudges) { n.WorkingDays = []string{"mon", "funday"} }, `nudges.working_days: "funday" is not a day`},
		{"summary day", func(n *config.Nudges) { n.SummaryDay = "someday" }, `nudges.summary_day: "someday" is not a day`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.finding(1, "jane@acme.com", onus.Low, t0.Add(30*day))
			tc.set(&w.cfg.Nudges)
			_, err := NewPlan(Input{Now: t0, Open: w.open, Dir: w.dir, Matrix: raci.New(w.cfg.RACI, w.dir), Config: w.cfg})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("a person's time zone", func(t *testing.T) {
		w := newWorld(t)
		w.cfg.Nudges.WorkingHours = "09:00-18:00"
		w.cfg.Nudges.TimeZone = "Asia/Tokyo"
		w.dir.Person("jane@acme.com").TimeZone = "Europe/Atlantis"
		w.finding(1, "jane@acme.com", onus.Low, t0.Add(30*day))
		w.finding(2, "jane@acme.com", onus.Low, t0.Add(31*day))
		p := w.planAll(t0) // 10:00 UTC is 19:00 in Tokyo: after hours
		want := `person jane@acme.com: unknown time zone "Europe/Atlantis"; their messages follow nudges.time_zone (Asia/Tokyo)`
		if len(p.Warnings) != 1 || p.Warnings[0] != want {
			t.Errorf("warnings = %q, want [%q]", p.Warnings, want)
		}
		tokyo, _ := time.LoadLocation("Asia/Tokyo")
		if jane := only(t, p.Messages, "jane@acme.com", Digest); !jane.NotBefore.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, tokyo)) {
			t.Errorf("Jane not before %v, want 09:00 the next day in Tokyo", jane.NotBefore.In(tokyo))
		}
	})
}
