package killharness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/pgtest"
	"github.com/onus-sec/onus/store"
)

// serveReplica is one long-lived "onus serve --schedule" process.
type serveReplica struct {
	n      int
	url    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ready asks the replica's /readyz; it returns the status code, 0 when the
// replica does not answer.
func (r *serveReplica) ready() int {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(r.url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeReplicasPostgresRestart runs three long-lived "onus serve
// --schedule" replicas (the real binary) on one PostgreSQL database, with
// e-mail through a real mailpit, and stops PostgreSQL as in a crash
// (immediate shutdown) while they work, then starts it again. The
// replicas must ride it out by themselves: /readyz says not ready while
// the database is gone and ready after, no process exits, each scheduled
// tick runs once across them, nothing is left sending with an expired
// lease, and the harness's checks hold (every due message arrived once
// or is shown uncertain, the ledger as without the outage, each finding
// opened once, each sent message "told" once). The short version runs in
// the test suite; a longer one:
//
//	ONUS_SERVE_RESTARTS=5 ONUS_SERVE_PHASE=20s go test ./internal/killharness -run TestServeReplicasPostgresRestart -v -timeout 30m
func TestServeReplicasPostgresRestart(t *testing.T) {
	restarts, phase, outage := 1, 6*time.Second, 4*time.Second
	if v := os.Getenv("ONUS_SERVE_RESTARTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ONUS_SERVE_RESTARTS=%q is not a number of restarts", v)
		}
		restarts = n
	}
	if v := os.Getenv("ONUS_SERVE_PHASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("ONUS_SERVE_PHASE=%q: %v", v, err)
		}
		phase, outage = d, d*2/3
	}
	k := setup(t)
	h := k.h
	pg := pgtest.Own(t)

	// The store in PostgreSQL, evaluated once as the base was; the loop on
	// short intervals, so that the replicas' ticks meet.
	dir := h.copyDir(k.base)
	dsn := pg.DSN(t)
	yaml := filepath.Join(dir, "onus.yaml")
	y, _ := os.ReadFile(yaml)
	y = append(y, []byte("database: \""+dsn+"\"\nschedule:\n  sync: 20s\n  nudge: 10s\n  deliver: 4s\n  watch: false\n  shutdown_grace: 20s\n")...)
	if err := os.WriteFile(yaml, y, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "onus.db"))
	h.complete(dir, "run", "--now", at(orggen.AcmeNow))
	before := len(k.mp.Messages(t))

	// Business time starts two hours after the data's, when people in
	// Europe and the Americas are at work, and runs with the clock.
	businessStart, wallStart := orggen.AcmeNow.Add(2*time.Hour), time.Now()
	var replicas []*serveReplica
	for i := range 3 {
		port := freePort(t)
		c := h.cmd(dir, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--now", at(businessStart), "--log-level", "info")
		r := &serveReplica{n: i + 1, url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: c, stderr: &lockedBuffer{}, exited: make(chan struct{})}
		c.Stderr = r.stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { c.Wait(); close(r.exited) }()
		t.Cleanup(func() {
			select {
			case <-r.exited:
			default:
				c.Process.Kill()
				<-r.exited
			}
		})
		replicas = append(replicas, r)
	}
	// until polls every replica until want(code) holds for all, and
	// returns how long it took.
	until := func(what string, want func(int) bool, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			ok := true
			var codes []string
			for _, r := range replicas {
				select {
				case <-r.exited:
					t.Fatalf("replica %d exited (%v) while waiting for %s:\n%s", r.n, r.cmd.ProcessState, what, tail(r.stderr.String()))
				default:
				}
				c := r.ready()
				codes = append(codes, strconv.Itoa(c))
				ok = ok && want(c)
			}
			if ok {
				return time.Since(start)
			}
			if time.Since(start) > limit {
				t.Fatalf("%s: /readyz answered %s after %v", what, strings.Join(codes, ", "), limit)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	until("the replicas start", func(c int) bool { return c == 200 }, 2*time.Minute)
	time.Sleep(phase)
	var notReady, readyAgain []time.Duration
	for i := range restarts {
		t.Logf("restart %d: PostgreSQL stops (immediate shutdown) while the replicas work", i+1)
		pg.Crash(t)
		down := time.Now()
		notReady = append(notReady, until("PostgreSQL is down", func(c int) bool { return c == http.StatusServiceUnavailable }, 30*time.Second))
		time.Sleep(outage - time.Since(down))
		pg.Start(t)
		readyAgain = append(readyAgain, until("PostgreSQL is back", func(c int) bool { return c == 200 }, 2*time.Minute))
		t.Logf("restart %d: down %v; every /readyz said 503 after %v, 200 again %v after the start",
			i+1, time.Since(down).Round(time.Millisecond), notReady[i].Round(time.Millisecond), readyAgain[i].Round(time.Millisecond))
		time.Sleep(phase)
	}

	// Nothing is left sending or claimed on a lease that ran out: the
	// replicas took back what the outage cut.
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, err := db.OutboxMessages(ctx, []string{onus.OutboxClaimed, onus.OutboxSending}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	stale := 0
	for _, m := range held {
		if m.LeaseUntil != nil && m.LeaseUntil.Before(time.Now().Add(-10*time.Second)) {
			stale++
			t.Errorf("message %d to %s is still %s on a lease that ended at %v", m.ID, m.Recipient, m.Status, m.LeaseUntil)
		}
	}

	// The replicas stop as a service manager stops them; none exited
	// before, each ends cleanly.
	for _, r := range replicas {
		select {
		case <-r.exited:
			t.Fatalf("replica %d exited during the run (%v):\n%s", r.n, r.cmd.ProcessState, tail(r.stderr.String()))
		default:
		}
		r.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, r := range replicas {
		select {
		case <-r.exited:
		case <-time.After(time.Minute):
			t.Fatalf("replica %d did not stop within a minute of SIGTERM", r.n)
		}
		if code := r.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("replica %d exited with %d after SIGTERM:\n%s", r.n, code, tail(r.stderr.String()))
		}
	}
	held, _ = db.OutboxMessages(ctx, []string{onus.OutboxClaimed, onus.OutboxSending}, "", 0)
	t.Logf("after SIGTERM: %d messages claimed or sending (handed back: want 0), %d on a lease that ran out before", len(held), stale)
	if len(held) > 0 {
		t.Errorf("%d messages left claimed or sending after a clean stop", len(held))
	}

	// Each tick of the timetables ran once across the replicas.
	ticks := checkTicks(t, replicas)

	businessEnd := businessStart.Add(time.Since(wallStart)).Truncate(time.Second).Add(time.Second)
	var fig Figures
	k.finish(dir, dsn, before, nil, businessEnd, &fig)
	t.Logf("PostgreSQL restarts: %d; scheduled runs: %s", restarts, ticks)
	t.Logf("figures: %d messages, %d sent, lost %d, duplicated %d, uncertain %d, failed %d; ledger differences %d, findings not opened once %d, told lines wrong %d",
		fig.Messages, fig.Sent, fig.Lost, fig.Duplicated, fig.Uncertain, fig.Failed, fig.LedgerDiffs, fig.Opened, fig.ToldDiffs)
}

// checkTicks reads the replicas' JSON logs: each tick a timetable started
// (triggers "schedule" and "start", the tick in the log line) ran once
// across all replicas, by job. It returns a summary.
func checkTicks(t *testing.T, replicas []*serveReplica) string {
	t.Helper()
	type run struct {
		start, tick time.Time
		replica     int
		failed      bool
	}
	runs := map[string][]run{}
	seen := map[string]bool{}
	for _, r := range replicas {
		sc := bufio.NewScanner(strings.NewReader(r.stderr.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l struct {
				Time     time.Time `json:"time"`
				Msg      string    `json:"msg"`
				Job      string    `json:"job"`
				Trigger  string    `json:"trigger"`
				Duration int64     `json:"duration"`
				Error    string    `json:"error"`
				Tick     time.Time `json:"tick"`
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || l.Job == "" || (l.Trigger != "schedule" && l.Trigger != "start") {
				continue
			}
			if l.Msg != "job done" && l.Msg != "job failed" {
				continue
			}
			runs[l.Job] = append(runs[l.Job], run{l.Time.Add(-time.Duration(l.Duration)), l.Tick, r.n, l.Msg == "job failed"})
			if l.Msg == "job failed" && !seen[l.Job+l.Error] {
				seen[l.Job+l.Error] = true
				t.Logf("replica %d: %s failed at %s: %s", r.n, l.Job, l.Time.Format("15:04:05.000"), l.Error)
			}
		}
	}
	var parts []string
	var names []string
	for name := range runs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rs := runs[name]
		sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
		failed := 0
		byTick := map[time.Time]run{}
		for _, r := range rs {
			if r.failed {
				failed++
			}
			if o, dup := byTick[r.tick]; dup {
				t.Errorf("%s: the tick of %s (zero: the first run) ran twice: at %s on replica %d and at %s on replica %d",
					name, r.tick.Format("15:04:05.000"), o.start.Format("15:04:05.000"), o.replica, r.start.Format("15:04:05.000"), r.replica)
			}
			byTick[r.tick] = r
		}
		parts = append(parts, fmt.Sprintf("%s %d (%d failed)", name, len(rs), failed))
	}
	if len(runs["deliver"]) < 3 {
		t.Errorf("only %d scheduled deliveries ran: the replicas did not go on", len(runs["deliver"]))
	}
	return strings.Join(parts, ", ")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
