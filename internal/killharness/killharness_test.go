package killharness

import (
	"context"
	"errors"
	"fmt"
	"github.com/onus-sec/onus"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/testsrv"
	"github.com/onus-sec/onus/store"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// harness is one example organisation and the onus binary that works on it.
type harness struct {
	t   *testing.T
	bin string
	env []string
}

func (h *harness) cmd(dir string, args ...string) *exec.Cmd {
	c := exec.Command(h.bin, append([]string{"--config", dir, "--no-progress", "-q"}, args...)...)
	c.Env = h.env
	return c
}

// complete runs onus to the end.
func (h *harness) complete(dir string, args ...string) {
	h.t.Helper()
	out, err := h.cmd(dir, args...).CombinedOutput()
	var exit *exec.ExitError
	// onus nudge exits 3 when it finds messages a killed run left being
	// sent (now uncertain, for a person to check) or still held: expected
	// here; the harness checks every message afterwards.
	if errors.As(err, &exit) && exit.ExitCode() == 3 && args[0] == "nudge" {
		return
	}
	if err != nil {
		h.t.Fatalf("onus %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// killAfter starts onus and kills it after d; it reports whether the kill
// landed before onus finished.
func (h *harness) killAfter(dir string, d time.Duration, args ...string) bool {
	h.t.Helper()
	c := h.cmd(dir, args...)
	if err := c.Start(); err != nil {
		h.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
		return false
	case <-time.After(d):
		c.Process.Signal(syscall.SIGKILL)
		<-done
		ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
		return ok && ws.Signaled()
	}
}

// timed runs onus to the end and returns how long it took.
func (h *harness) timed(dir string, args ...string) time.Duration {
	start := time.Now()
	h.complete(dir, args...)
	return time.Since(start)
}

func (h *harness) copyDir(from string) string {
	h.t.Helper()
	dir := h.t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(from)); err != nil {
		h.t.Fatal(err)
	}
	return dir
}

// Figures is what a harness run found.
type Figures struct {
	Kills, Landed                  int // kills attempted; those before onus finished
	RunKills, NudgeKills           int
	Messages, Sent, Uncertain      int
	Lost, Duplicated, Failed       int
	LedgerDiffs, Opened, ToldDiffs int
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// onusBinary builds the onus binary once for every test of the package.
func onusBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "onus-killharness-"); buildErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(binDir, "onus"), "./cmd/onus")
		build.Dir = repoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "onus")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// kit is what every harness run starts from: the onus binary, mailpit,
// the example organisation evaluated once (base), and how long each
// command takes uninterrupted.
type kit struct {
	t            *testing.T
	h            *harness
	mp           *testsrv.Mailpit
	base         string
	kills        int
	rng          *rand.Rand
	dRun, dNudge time.Duration
}

func at(tm time.Time) string { return tm.Format(time.RFC3339) }

func setup(t *testing.T) *kit {
	kills := 6
	if s := os.Getenv("ONUS_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("ONUS_KILLS=%q is not a number of kills", s)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ONUS_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("%d kills, seed %d (ONUS_KILL_SEED=%d repeats them)", kills, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	mp := testsrv.StartMailpit(t)
	bin := onusBinary(t)
	h := &harness{t: t, bin: bin, env: append(os.Environ(), "ACME_SMTP_USER="+mp.User, "ACME_SMTP_PASSWORD="+mp.Password)}

	// The example, with e-mail through mailpit, evaluated once.
	base := t.TempDir()
	if err := examples.CopyTo(examples.Acme(), base); err != nil {
		t.Fatal(err)
	}
	yaml := filepath.Join(base, "onus.yaml")
	y, _ := os.ReadFile(yaml)
	email := fmt.Sprintf("  channels:\n    email: { host: %s, port: %d, tls: starttls, ca_file: %s, username: env:ACME_SMTP_USER, password: env:ACME_SMTP_PASSWORD, from: \"Acme Security <security@acme.com>\" }\n",
		mp.SMTPHost, mp.SMTPPort, mp.CAFile)
	ny := strings.Replace(string(y), "  # channels:\n", email, 1)
	if ny == string(y) {
		t.Fatal("the example's onus.yaml has no channels placeholder")
	}
	os.WriteFile(yaml, []byte(ny), 0o644)
	h.complete(base, "run", "--now", at(orggen.AcmeNow))

	return &kit{t: t, h: h, mp: mp, base: base, kills: kills, rng: rng}
}

// timings measures how long each command takes uninterrupted, on scratch,
// a copy of the base.
func (k *kit) timings(scratch string) {
	k.dRun = k.h.timed(scratch, "run", "--now", at(orggen.AcmeNow))
	k.dNudge = k.h.timed(scratch, "nudge", "--now", at(orggen.AcmeNow.Add(7*24*time.Hour)))
	k.t.Logf("uninterrupted: run %v, nudge %v", k.dRun.Round(time.Millisecond), k.dNudge.Round(time.Millisecond))
}

func TestKillHarness(t *testing.T) {
	k := setup(t)
	k.timings(k.h.copyDir(k.base))
	h, mp, base, rng, kills, dRun, dNudge := k.h, k.mp, k.base, k.rng, k.kills, k.dRun, k.dNudge
	killed := h.copyDir(base)
	before := len(mp.Messages(t))
	var fig Figures
	now := orggen.AcmeNow
	var runs []time.Time // when evaluations ran, for the reference
	for i := 0; i < kills; i++ {
		// Five rounds a day, two hours apart (far more than the
		// two-minute lease), from 09:00 UTC, so that people in every time
		// zone are in working hours in one of them; then the next
		// working day.
		if i > 0 && i%5 == 0 {
			now = now.Truncate(24 * time.Hour).Add(24*time.Hour + 9*time.Hour)
			for now.Weekday() == time.Saturday || now.Weekday() == time.Sunday {
				now = now.Add(24 * time.Hour)
			}
		} else if i > 0 {
			now = now.Add(2 * time.Hour)
		}
		what, d := "nudge", dNudge
		if rng.IntN(3) == 0 {
			what, d = "run", dRun
		}
		delay := time.Duration(rng.Int64N(int64(d) * 11 / 10))
		fig.Kills++
		if what == "run" {
			fig.RunKills++
		} else {
			fig.NudgeKills++
		}
		if h.killAfter(killed, delay, what, "--now", at(now)) {
			fig.Landed++
		}
		if what == "run" {
			// The evaluation is run again at once, as an operator or the
			// next cron tick would: the ledger must come out as if the
			// first had never been killed.
			h.complete(killed, "run", "--now", at(now))
			runs = append(runs, now)
		}
	}
	k.finish(killed, filepath.Join(killed, "onus.db"), before, runs, now, &fig)
}

// finish settles the killed copy (its store at dbPath) and checks it:
// every message sent once or shown uncertain, the ledger as in a copy that
// was never killed and ran the evaluations of runs, then one at the end.
func (k *kit) finish(killed, dbPath string, before int, runs []time.Time, now time.Time, fig *Figures) {
	t, h, mp := k.t, k.h, k.mp
	// Settle: one uninterrupted run and nudge, after every lease ran out.
	end := now.Add(10 * time.Minute)
	h.complete(killed, "run", "--now", at(end))
	h.complete(killed, "nudge", "--now", at(end))

	// A person checks the uncertain messages in the mail server: the ones
	// that arrived are confirmed, the others resent.
	ctx := context.Background()
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	arrivals := func() map[string]int {
		arrived := map[string]int{}
		msgs := mp.Messages(t)
		for _, m := range msgs[:len(msgs)-before] {
			arrived[strings.SplitN(strings.Trim(m.MessageID, "<>"), "@", 2)[0]]++
		}
		return arrived
	}
	uncertain, err := db.OutboxMessages(ctx, []string{onus.OutboxUncertain}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	fig.Uncertain = len(uncertain)
	arrived := arrivals()
	for _, u := range uncertain {
		if arrived[u.Key] > 0 {
			err = db.Confirm(ctx, u.ID, "ops@acme.com")
		} else {
			err = db.Resend(ctx, u.ID, "ops@acme.com")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(uncertain) > 0 {
		h.complete(killed, "nudge", "--now", at(end.Add(10*time.Minute)))
	}

	// The reference was never killed: the same evaluations at the same
	// times, each run once to the end.
	ref := h.copyDir(k.base)
	for _, tm := range append(runs, end) {
		h.complete(ref, "run", "--now", at(tm))
	}

	rdb, err := store.Open(ctx, filepath.Join(ref, "onus.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()

	// Messages: every one recorded as sent arrived once.
	arrived = arrivals()
	out, err := db.OutboxMessages(ctx, nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	var problems []string
	for _, o := range out {
		known[o.Key] = true
		fig.Messages++
		n := arrived[o.Key]
		if n > 1 {
			fig.Duplicated++
			problems = append(problems, fmt.Sprintf("message %d to %s arrived %d times (%s)", o.ID, o.Recipient, n, o.Status))
		}
		switch o.Status {
		case onus.OutboxSent:
			fig.Sent++
			if n == 0 {
				fig.Lost++
				problems = append(problems, fmt.Sprintf("message %d to %s is recorded as sent but never arrived", o.ID, o.Recipient))
			}
		case onus.OutboxCancelled:
			// Replaced by a newer plan before it was sent.
		case onus.OutboxFailed:
			fig.Failed++
			problems = append(problems, fmt.Sprintf("message %d to %s failed: %s", o.ID, o.Recipient, o.LastError))
		default:
			if !o.NotBefore.After(end) {
				fig.Lost++
				problems = append(problems, fmt.Sprintf("message %d to %s is still %s though due at %s", o.ID, o.Recipient, o.Status, o.NotBefore.Format(time.RFC3339)))
			}
		}
		// Every finding a sent message told about says so once.
		if o.Status == onus.OutboxSent {
			for id := range o.Items {
				if id == 0 {
					continue
				}
				evs, _ := db.Events(ctx, id)
				told := 0
				for _, ev := range evs {
					if ev.Type == onus.EventTold && strings.HasSuffix(ev.Note, fmt.Sprintf("; outbox %d)", o.ID)) {
						told++
					}
				}
				if told != 1 {
					fig.ToldDiffs++
					problems = append(problems, fmt.Sprintf("finding %d has %d \"told\" lines for message %d", id, told, o.ID))
				}
			}
		}
	}
	for key, n := range arrived {
		if !known[key] {
			fig.Duplicated += n
			problems = append(problems, fmt.Sprintf("%d messages arrived with key %s that the outbox does not know", n, key))
		}
	}

	// The ledger: the same findings, states, owners and due dates as the
	// copy that was never killed, each opened once.
	ledger := func(db *store.DB) map[string]string {
		fs, err := db.Findings(ctx, onus.FindingFilter{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range fs {
			m[f.Control+" "+f.Entity] = fmt.Sprintf("%s %s %s %s", f.State, f.Responsible.Email, f.Accountable.Email, f.Due.Format(time.RFC3339))
			evs, _ := db.Events(ctx, f.ID)
			opened := 0
			for _, ev := range evs {
				if ev.Type == "opened" {
					opened++
				}
			}
			if opened != 1 && db != rdb {
				fig.Opened++
				problems = append(problems, fmt.Sprintf("finding %d (%s %s) has %d \"opened\" events", f.ID, f.Control, f.Entity, opened))
			}
		}
		return m
	}
	got, want := ledger(db), ledger(rdb)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			fig.LedgerDiffs++
			problems = append(problems, fmt.Sprintf("finding %s: %q after the kills, %q without", k, got[k], want[k]))
		}
	}

	t.Logf("kills: %d (%d of onus run, %d of onus nudge), %d before onus finished", fig.Kills, fig.RunKills, fig.NudgeKills, fig.Landed)
	t.Logf("messages: %d in the outbox, %d sent, %d uncertain (a person checks them), %d failed; lost %d, duplicated %d",
		fig.Messages, fig.Sent, fig.Uncertain, fig.Failed, fig.Lost, fig.Duplicated)
	t.Logf("ledger: %d differences from the run never killed, %d findings not opened exactly once, %d missing or doubled \"told\" lines",
		fig.LedgerDiffs, fig.Opened, fig.ToldDiffs)
	for _, p := range problems {
		t.Error(p)
	}
	if fig.Sent == 0 {
		t.Error("no message was sent: the harness proved nothing")
	}
}
