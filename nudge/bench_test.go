package nudge

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/raci"
)

// bigInput is an organisation of people with open findings: three per
// person on average, spread over six time zones, five controls, due dates
// from three weeks late to two months ahead; some fixed last week. told,
// when set, logs a notice for every open finding a week ago: the plan of
// an ordinary day, when most items are old news.
func bigInput(people, findings int, told bool) Input {
	zones := []string{"Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Kolkata"}
	ps := make([]*raci.Person, 0, people)
	for i := 0; i < people; i++ {
		p := &raci.Person{Email: fmt.Sprintf("p%d@acme.com", i), Name: fmt.Sprintf("Person %d", i), Status: raci.Active, TimeZone: zones[i%len(zones)]}
		if i >= 100 {
			p.Manager = fmt.Sprintf("p%d@acme.com", i%100) // a hundred managers
		}
		ps = append(ps, p)
	}
	dir := raci.NewDirectory(ps)
	cfg := &config.Config{RACI: &config.RACI{}}
	for c := 0; c < 5; c++ {
		id := fmt.Sprintf("control-%d", c)
		cfg.Controls = append(cfg.Controls, &config.Control{ID: id, Title: "Control " + strconv.Itoa(c), Activity: "act-" + strconv.Itoa(c),
			Why: "Because it matters to the customers we serve.", Fix: "Open Self Service on {{.Entity.Name}} and run the fix for " + id + "."})
		cfg.RACI.Activities = append(cfg.RACI.Activities, &config.Activity{ID: "act-" + strconv.Itoa(c), Title: "Activity " + strconv.Itoa(c)})
	}
	cfg.Nudges.MaxPerDay = 3
	cfg.Nudges.FindingURL = "https://onus.acme.com/findings/{{.ID}}"
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	in := Input{Now: now, Dir: dir, Matrix: raci.New(cfg.RACI, dir), Config: cfg, Channels: []string{"email"}}
	sevs := []onus.Severity{onus.Critical, onus.High, onus.Medium, onus.Low}
	for i := 0; i < findings; i++ {
		owner := ps[(i*7919)%people]
		due := now.Add(time.Duration(i%80-20) * 24 * time.Hour)
		f := onus.Finding{ID: int64(i + 1), Control: fmt.Sprintf("control-%d", i%5), Entity: "e" + strconv.Itoa(i), EntityKind: "device",
			EntityName: "MBP-" + strconv.Itoa(i), Severity: sevs[i%4], State: onus.StateOpen,
			Responsible: onus.Person{Email: owner.Email, Name: owner.Name}, OwnerReason: "owner (entity.owner)",
			Accountable: onus.Person{Email: ps[i%20].Email}, Consulted: []string{"it@acme.com"}, Informed: []string{ps[20+i%5].Email},
			FirstFailed: due.Add(-14 * 24 * time.Hour), Due: due}
		if i%50 == 0 {
			at := now.Add(-2 * 24 * time.Hour)
			f.State, f.ResolvedAt = onus.StateResolved, &at
			in.Resolved = append(in.Resolved, f)
			continue
		}
		in.Open = append(in.Open, f)
		if told {
			in.Log = append(in.Log, Sent{Finding: f.ID, Recipient: owner.Email, Stage: Notice, At: now.Add(-7 * 24 * time.Hour)})
		}
	}
	return in
}

// peakRSS resets the kernel's high-water mark of resident memory and
// returns a function that reads it: the peak of the code in between.
func peakRSS(b *testing.B) func() float64 {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return func() float64 { return 0 }
	}
	return func() float64 {
		s, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(s), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				return kb / 1024
			}
		}
		return 0
	}
}

// cpuSeconds is the CPU time the process used so far, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func benchPlanRender(b *testing.B, told bool) {
	in := bigInput(100_000, 300_000, told)
	r, err := NewRenderer("", in.Config.Nudges.FindingURL, "")
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	peak := peakRSS(b)
	cpu0 := cpuSeconds()
	var msgs, bytes int
	b.ResetTimer()
	for b.Loop() {
		p, err := NewPlan(in)
		if err != nil {
			b.Fatal(err)
		}
		plan := p.Messages
		outs, err := r.RenderPlan(plan, nil)
		if err != nil {
			b.Fatal(err)
		}
		msgs, bytes = len(plan), 0
		for _, out := range outs {
			bytes += len(out.Text) + len(out.HTML) + payloadBytes(out)
		}
	}
	// CPU time (user and system, all threads) per plan: the machine is
	// shared, and wall-clock time says more about the neighbours.
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(msgs), "messages")
	b.ReportMetric(float64(bytes)/1e6, "MB-written")
	b.ReportMetric(peak(), "peak-RSS-MB")
}

// The first plan: everyone hears of everything (100,000 people, 300,000
// findings, ~294,000 open).
func BenchmarkPlanRender100kFirstDay(b *testing.B) { benchPlanRender(b, false) }

// An ordinary day: every item was told a week ago; reminders, due and
// overdue messages and escalations remain.
func BenchmarkPlanRender100kLaterDay(b *testing.B) { benchPlanRender(b, true) }

// Planning alone, without writing the messages: the first day.
func BenchmarkPlan100kFirstDay(b *testing.B) {
	in := bigInput(100_000, 300_000, false)
	runtime.GC()
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for b.Loop() {
		if _, err := NewPlan(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

func payloadBytes(r *Rendered) int {
	n := 0
	for _, p := range r.Payloads {
		n += len(p)
	}
	return n
}
