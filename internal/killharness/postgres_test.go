package killharness

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/internal/pgtest"
)

// replicas is how many onus processes work on the one PostgreSQL at once.
const replicas = 3

// An ending is how one replica's process ended.
type ending struct {
	what   string
	killed bool   // by the harness's SIGKILL
	code   int    // exit code, when not killed
	stderr string // when it failed
}

// replica starts onus; the function it returns waits for it to end, and
// kills it when it still runs d after it started.
func (h *harness) replica(dir string, d time.Duration, what string, now time.Time) func() ending {
	c := h.cmd(dir, what, "--now", at(now))
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		h.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	e := ending{what: what}
	var once sync.Once
	wait := func() ending {
		once.Do(func() {
			select {
			case <-done:
			case <-time.After(d):
				c.Process.Signal(syscall.SIGKILL)
				<-done
			}
			ws, _ := c.ProcessState.Sys().(syscall.WaitStatus)
			e.killed = ws.Signaled()
			e.code = c.ProcessState.ExitCode()
			if !e.killed && e.code != 0 {
				e.stderr = strings.TrimSpace(stderr.String())
			}
		})
		return e
	}
	return wait
}

// TestKillHarnessPostgres is the kill harness on PostgreSQL: each round,
// three replicas ("onus run" or "onus nudge", at the same time) work on
// one PostgreSQL database at once and are killed at random points; once,
// halfway, PostgreSQL itself stops as in a crash (immediate shutdown) while
// they work, and starts again. The checks are those of TestKillHarness.
// The PostgreSQL server is the test's own (pgtest.Own), never the shared
// one of $ONUS_TEST_POSTGRES, which other tests are using.
func TestKillHarnessPostgres(t *testing.T) {
	k := setup(t)
	h, rng := k.h, k.rng
	pg := pgtest.Own(t)

	// The killed copy keeps its ledger in PostgreSQL; its first evaluation
	// is the base's.
	usePostgres := func(dir string) string {
		dsn := pg.DSN(t)
		yaml := filepath.Join(dir, "onus.yaml")
		y, _ := os.ReadFile(yaml)
		if err := os.WriteFile(yaml, append(y, []byte("database: \""+dsn+"\"\n")...), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "onus.db"))
		h.complete(dir, "run", "--now", at(orggen.AcmeNow))
		return dsn
	}
	// How long each command takes uninterrupted on PostgreSQL.
	scratch := h.copyDir(k.base)
	usePostgres(scratch)
	k.timings(scratch)
	dRun, dNudge := k.dRun, k.dNudge

	killed := h.copyDir(k.base)
	dsn := usePostgres(killed)
	before := len(k.mp.Messages(t))
	var fig Figures
	now := orggen.AcmeNow
	var runs []time.Time
	// PostgreSQL restarts once, halfway, or $ONUS_PG_RESTARTS times, evenly
	// spread.
	pgRestarts, restarts := 1, 0
	if v := os.Getenv("ONUS_PG_RESTARTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ONUS_PG_RESTARTS=%q is not a number of restarts", v)
		}
		pgRestarts = n
	}
	var afterRestart []ending
	conflicts, failures := 0, 0 // replicas that ended with an error
	for round := 0; fig.Kills < k.kills || restarts < pgRestarts; round++ {
		if round > 0 && round%5 == 0 {
			now = now.Truncate(24 * time.Hour).Add(24*time.Hour + 9*time.Hour)
			for now.Weekday() == time.Saturday || now.Weekday() == time.Sunday {
				now = now.Add(24 * time.Hour)
			}
		} else if round > 0 {
			now = now.Add(2 * time.Hour)
		}
		// PostgreSQL goes down while the replicas work, once halfway
		// through the kills (or at evenly spread points).
		restartNow := restarts < pgRestarts && fig.Kills >= k.kills*(restarts+1)/(pgRestarts+1)
		var waits []func() ending
		anyRun := false
		for r := 0; r < replicas; r++ {
			what, d := "nudge", dNudge
			if rng.IntN(3) == 0 {
				what, d = "run", dRun
				anyRun = true
			}
			// A replica is killed two times in three; the third runs to
			// its end (or to its failure when PostgreSQL goes down).
			delay := time.Duration(1<<62 - 1)
			if rng.IntN(3) > 0 {
				delay = time.Duration(rng.Int64N(int64(d)*11/10)) + time.Millisecond
				if restartNow && r == 0 {
					delay = time.Duration(1<<62 - 1) // one lives through the restart
				}
			}
			wait := h.replica(killed, delay, what, now)
			waits = append(waits, wait)
		}
		if restartNow {
			// In the second half of a nudge's time: the replicas have
			// connected and are working in the database.
			time.Sleep(dNudge/2 + time.Duration(rng.Int64N(int64(dNudge)/2)))
			t.Logf("round %d: PostgreSQL restarts (immediate shutdown) while %d replicas work", round, replicas)
			pg.Restart(t)
			restarts++
		}
		for _, wait := range waits {
			e := wait()
			if e.killed {
				fig.Kills++
				fig.Landed++
				if e.what == "run" {
					fig.RunKills++
				} else {
					fig.NudgeKills++
				}
			} else if e.code != 0 && !(e.code == 3 && e.what == "nudge") {
				switch {
				case restartNow:
					failures++ // logged below
				case strings.Contains(e.stderr, "wait for it to end"): // store.ErrLocked
					// Another replica is evaluating: this one leaves it be.
					conflicts++
				default:
					t.Errorf("round %d: onus %s failed with PostgreSQL up (exit %d): %s", round, e.what, e.code, e.stderr)
				}
			}
			if restartNow {
				afterRestart = append(afterRestart, e)
			}
		}
		if anyRun {
			// As on SQLite: a killed or refused evaluation is run again
			// at once.
			h.complete(killed, "run", "--now", at(now))
			runs = append(runs, now)
		}
	}
	for _, e := range afterRestart {
		switch {
		case e.killed:
			t.Logf("during the PostgreSQL restart: onus %s killed by the harness", e.what)
		case e.code == 0 || (e.code == 3 && e.what == "nudge"):
			t.Logf("during the PostgreSQL restart: onus %s ended normally (exit %d)", e.what, e.code)
		default:
			t.Logf("during the PostgreSQL restart: onus %s failed (exit %d): %s", e.what, e.code, e.stderr)
		}
	}
	t.Logf("PostgreSQL restarts: %d", restarts)
	t.Logf("replicas: %d refused by the run lock, %d failed in the PostgreSQL restart", conflicts, failures)
	k.finish(killed, dsn, before, runs, now, &fig)
}
