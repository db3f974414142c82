package schedule_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/monitor"
	_ "github.com/onus-sec/onus/notify/smtp"
	"github.com/onus-sec/onus/schedule"
	"github.com/onus-sec/onus/store"
)

// Monday 30 November 2026, 09:00 UTC: Europe and India are at work.
var morning = orggen.AcmeNow

// acme copies the example organisation to a directory, with e-mail
// through mailpit and the schedule section given.
func acme(t testing.TB, mp *testsrv.Mailpit, schedYAML string) string {
	t.Helper()
	dir := t.TempDir()
	if err := examples.CopyTo(examples.Acme(), dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "onus.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_SMTP_USER", mp.User)
	t.Setenv("ACME_SMTP_PASSWORD", mp.Password)
	email := fmt.Sprintf("    email: { host: %s, port: %d, tls: starttls, ca_file: %s, username: env:ACME_SMTP_USER, password: env:ACME_SMTP_PASSWORD, from: \"Acme Security <security@acme.com>\" }\n",
		mp.SMTPHost, mp.SMTPPort, mp.CAFile)
	s := strings.Replace(string(b), "  # channels:\n", "  channels:\n"+email, 1)
	if s == string(b) {
		t.Fatal("the example's onus.yaml has no channels placeholder")
	}
	s += "\nschedule:\n" + schedYAML
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t testing.TB, dir string) (*config.Config, *store.DB) {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return cfg, db
}

// Terminated people whose Okta account was deprovisioned: activating one
// opens a critical finding (terminated-account-active).
var leavers = []struct{ okta, email string }{
	// Each has a different manager: a manager told once today about
	// another leaver hears of the next one in tomorrow's digest.
	{"00uH6V6FJQVGLE5PAWGN", "uma.ahmed@acme.com"},    // noah.walsh
	{"00uVDCS8NKG9F66MVLLZ", "leila.varga@acme.com"},  // grace.hopper
	{"00uEMKPBW4J7XK79MKHG", "nils.weber@acme.com"},   // omar.fischer left: barbara.liskov
	{"00uZXVMX0E6PR4UWUKBE", "nora.bianchi@acme.com"}, // felix.haddad
	{"00u0L9MTR83NMAFNPRA4", "elena.varga@acme.com"},  // frances.allen
	{"00u8PZWNLRVEMQ3CZCQK", "wren.keller@acme.com"},  // maya.park
}

// reactivate rewrites Okta's export as an export job would: the leaver's
// account is active again.
func reactivate(t testing.TB, dir, oktaID string) {
	t.Helper()
	path := filepath.Join(dir, "exports", "okta", "users.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("\"id\": %q,\n    \"status\": \"DEPROVISIONED\"", oktaID)
	s := strings.Replace(string(b), old, fmt.Sprintf("\"id\": %q,\n    \"status\": \"ACTIVE\"", oktaID), 1)
	if s == string(b) {
		t.Fatalf("okta user %s is not deprovisioned in the export", oktaID)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// queued returns the outbox message telling about the open
// terminated-account-active finding of a leaver's account, if there is one.
func queued(ctx context.Context, db *store.DB, login string) (*onus.Finding, *onus.OutboxMessage) {
	fs, err := db.Findings(ctx, onus.FindingFilter{States: []onus.State{onus.StateOpen}, Control: "terminated-account-active"})
	if err != nil {
		return nil, nil
	}
	for i := range fs {
		if fs[i].EntityName != login {
			continue
		}
		msgs, _ := db.OutboxMessages(ctx, nil, fs[i].Responsible.Email, 0)
		for _, m := range msgs {
			if _, ok := m.Items[fs[i].ID]; ok {
				return &fs[i], m
			}
		}
		return &fs[i], nil
	}
	return nil, nil
}

// started starts a scheduler on the example, after running every job
// once (as onus schedule --once would), so that only the watcher starts
// work.
func started(t testing.TB, dir string) (*store.DB, *schedule.Scheduler) {
	t.Helper()
	cfg, db := load(t, dir)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s, err := schedule.New(schedule.Options{Config: cfg, Store: db, Clock: onus.FixedClock(morning), Wall: onus.ClockFunc(time.Now), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.RunDue(ctx); err != nil {
		t.Fatalf("first run: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return db, s
}

// waitQueued polls the store until the leaver's finding and its notice
// are there, and returns how long after since they appeared. The minute
// is the promise; the figure is reported.
func waitQueued(t testing.TB, db *store.DB, login string, since time.Time) (time.Duration, *onus.Finding, *onus.OutboxMessage) {
	t.Helper()
	ctx := context.Background()
	for {
		f, m := queued(ctx, db, login)
		if m != nil {
			return time.Since(since), f, m
		}
		if time.Since(since) > time.Minute {
			t.Fatalf("no notice queued for %s a minute after its export changed (finding: %v)", login, f)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An export rewritten on disk is seen by the watcher, synced and
// evaluated at once: the new critical finding and its notice to the
// leaver's manager are in the store within the minute.
func TestWatchedExportQueuesNotice(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	dir := acme(t, mp, "  sync: 24h\n  nudge: 24h\n  deliver: 24h\n  debounce: 500ms\n")
	db, s := started(t, dir)
	ctx := context.Background()
	if f, _ := queued(ctx, db, "uma.ahmed@acme.com"); f != nil {
		t.Fatal("the leaver's account has a finding before the export changed")
	}
	// Every job ran once and waits for its next tick, a day away.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		waiting := 0
		for _, st := range s.Status() {
			if st.Last == nil || st.Last.Error != "" {
				t.Fatalf("after the first run: %+v", st)
			}
			if !st.Running && (st.Name == schedule.JobEvaluate || time.Until(st.Next) > 23*time.Hour) {
				waiting++
			}
		}
		if waiting == len(s.Status()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the jobs do not wait for their next tick: %+v", s.Status())
		}
	}
	t0 := time.Now()
	reactivate(t, dir, leavers[0].okta)
	d, f, m := waitQueued(t, db, leavers[0].email, t0)
	t.Logf("export changed → critical finding #%d queued to %s in %s (debounce 500ms)", f.ID, m.Recipient, d.Round(time.Millisecond))
	if f.Severity != onus.Critical || m.Recipient != "noah.walsh@acme.com" {
		t.Errorf("finding %+v, notice to %s; want critical, to the leaver's manager", f, m.Recipient)
	}
	// The sync was started by the watcher, and the evaluation by the sync.
	// The notice is in the outbox before the nudge job records its run:
	// wait for the record.
	var trig map[string]string
	for wait := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		trig = map[string]string{}
		for _, st := range s.Status() {
			if st.Last != nil {
				trig[st.Name] = st.Last.Trigger
			}
		}
		if trig["nudge"] != schedule.TriggerStart || time.Now().After(wait) {
			break
		}
	}
	if !strings.HasPrefix(trig["sync:okta"], "watch: users.json changed") || trig["evaluate"] != "after sync:okta" || trig["nudge"] != "after evaluate" {
		t.Errorf("triggers %v", trig)
	}
	// Only okta was read again.
	if trig["sync:hr"] != schedule.TriggerStart {
		t.Errorf("hr was synced again: %q", trig["sync:hr"])
	}
	// The metrics count each job's runs and each source's records.
	reg := s.Metrics()
	if n, err := testutil.GatherAndCount(reg, schedule.MetricSyncRecords); err != nil || n != 10 {
		t.Errorf("%d sources with a record count, want 10 (%v)", n, err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			label := ""
			if len(m.GetLabel()) > 0 {
				label = m.GetLabel()[0].GetValue()
			}
			switch f.GetName() {
			case schedule.MetricJobRuns:
				got["runs "+label] = m.GetCounter().GetValue()
			case schedule.MetricSyncRecords:
				got["records "+label] = m.GetGauge().GetValue()
			case schedule.MetricSyncDuration:
				got["syncs "+label] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for k, v := range map[string]float64{"runs sync:okta": 2, "runs sync:hr": 1, "records okta": 200, "records osquery": 2516, "syncs okta": 2} {
		if got[k] != v {
			t.Errorf("metric %s = %v, want %v", k, got[k], v)
		}
	}
	if got["runs evaluate"] < 2 || got["runs nudge"] < 2 {
		t.Errorf("evaluate ran %v times, nudge %v", got["runs evaluate"], got["runs nudge"])
	}
}

// BenchmarkExportToQueued measures the time from an export written on disk
// to the new critical finding's notice in the outbox, with the default
// debounce of 2 s. Each iteration reactivates another leaver's account;
// run it with -benchtime=6x (there are 6 leavers).
func BenchmarkExportToQueued(b *testing.B) {
	mp := testsrv.StartMailpit(b)
	dir := acme(b, mp, "  sync: 24h\n  nudge: 24h\n  deliver: 24h\n")
	db, _ := started(b, dir)
	if b.N > len(leavers) {
		b.Fatalf("at most %d iterations (-benchtime=%dx)", len(leavers), len(leavers))
	}
	var total, worst time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		reactivate(b, dir, leavers[i].okta)
		d, _, _ := waitQueued(b, db, leavers[i].email, t0)
		total += d
		worst = max(worst, d)
	}
	b.ReportMetric(worst.Seconds(), "worst-s")
	b.ReportMetric((total / time.Duration(b.N)).Seconds(), "s/queued")
}

// The helper: run by TestStopMidDelivery as a child process, it runs the
// scheduler until SIGTERM, holding the third delivery in flight long
// enough for the signal to arrive while it is sending.
func TestScheduleHelper(t *testing.T) {
	dir := os.Getenv("ONUS_SCHED_DIR")
	if dir == "" {
		t.Skip("run by TestStopMidDelivery in a child process")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, db := load(t, dir)
	var mu sync.Mutex
	n := 0
	s, err := schedule.New(schedule.Options{Config: cfg, Store: db, Clock: onus.FixedClock(morning), Wall: onus.ClockFunc(time.Now),
		Step: func(step string, m *onus.OutboxMessage) {
			if step != "sending" {
				return
			}
			mu.Lock()
			n++
			third := n == 3
			mu.Unlock()
			if third {
				os.WriteFile(filepath.Join(dir, "sending"), []byte(m.Key), 0o644)
				<-ctx.Done() // SIGTERM came while this message is in flight
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, st := range s.Status() {
		if st.Running {
			t.Errorf("%s still running after Run returned", st.Name)
		}
	}
}

// SIGTERM while the dispatcher sends: the message in flight is finished
// and recorded, no other is claimed, the process exits cleanly, and
// nothing is left sending or claimed. The next start sends the rest, each
// once.
func TestStopMidDelivery(t *testing.T) {
	if os.Getenv("ONUS_SCHED_DIR") != "" {
		t.Skip("in the helper")
	}
	mp := testsrv.StartMailpit(t)
	dir := acme(t, mp, "  sync: 24h\n  nudge: 24h\n  deliver: 24h\n  watch: false\n")
	cmd := exec.Command(os.Args[0], "-test.run=^TestScheduleHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "ONUS_SCHED_DIR="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "sending")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the helper never reached its third delivery:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the helper did not stop cleanly on SIGTERM (%v):\n%s", err, out.String())
	}
	inFlight, _ := os.ReadFile(marker)

	cfg, db := load(t, dir)
	ctx := context.Background()
	count := func(status string) []*onus.OutboxMessage {
		msgs, err := db.OutboxMessages(ctx, []string{status}, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	for _, st := range []string{onus.OutboxSending, onus.OutboxClaimed, onus.OutboxUncertain} {
		if n := len(count(st)); n != 0 {
			t.Errorf("%d messages %s after SIGTERM", n, st)
		}
	}
	sent := count(onus.OutboxSent)
	if len(sent) != 3 {
		t.Errorf("%d messages sent before the stop, want 3 (the one in flight finished, no other claimed)", len(sent))
	}
	finished := false
	for _, m := range sent {
		finished = finished || m.Key == string(inFlight)
	}
	if !finished {
		t.Errorf("the message in flight (%s) was not recorded as sent", inFlight)
	}
	runs, _ := db.JobRuns(ctx)
	if r := runs[schedule.JobDeliver]; r == nil || r.Running || r.Interrupted || r.Error != "" {
		t.Errorf("deliver's last run: %+v", r)
	}
	if got := len(mp.Messages(t)); got != 3 {
		t.Errorf("mailpit has %d messages, want 3", got)
	}

	// The next start: deliver is asked for, and sends the rest once.
	s, err := schedule.New(schedule.Options{Config: cfg, Store: db, Clock: onus.FixedClock(morning), Wall: onus.ClockFunc(time.Now)})
	if err != nil {
		t.Fatal(err)
	}
	s.Trigger(schedule.JobDeliver, schedule.TriggerManual)
	if err := s.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ := db.OutboxMessages(ctx, nil, "", 0)
	due := 0
	for _, m := range all {
		if !m.NotBefore.After(morning) {
			due++
			if m.Status != onus.OutboxSent {
				t.Errorf("message %d, due, is %s", m.ID, m.Status)
			}
		}
	}
	if due <= 3 {
		t.Fatalf("only %d messages were due: stopping at the third proves little", due)
	}
	got := map[string]int{}
	for _, msg := range mp.Messages(t) {
		got[strings.SplitN(strings.Trim(msg.MessageID, "<>"), "@", 2)[0]]++
	}
	for key, n := range got {
		if n != 1 {
			t.Errorf("message %s arrived %d times", key, n)
		}
	}
	if len(got) != due {
		t.Errorf("mailpit has %d distinct messages, %d were due", len(got), due)
	}
}

// The scheduler keeps the snapshots in force in memory between
// evaluations; a snapshot replaced behind its back (onus sync from the
// command line) is read from the store again, never evaluated stale.
func TestKeptSnapshotsFollowTheStore(t *testing.T) {
	mp := testsrv.StartMailpit(t)
	dir := acme(t, mp, "  sync: 24h\n  nudge: 24h\n  deliver: 24h\n  watch: false\n")
	db, s := started(t, dir)
	reactivate(t, dir, leavers[0].okta)
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "cli"}
	if _, err := m.Sync(context.Background(), monitor.SyncOptions{Only: []string{"okta"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Trigger(schedule.JobEvaluate, schedule.TriggerManual); err != nil {
		t.Fatal(err)
	}
	_, f, _ := waitQueued(t, db, leavers[0].email, time.Now())
	if f.Severity != onus.Critical {
		t.Errorf("finding %+v", f)
	}
}
