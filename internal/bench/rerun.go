package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// RerunResult measures a re-run after one source changed.
type RerunResult struct {
	People int `json:"people"`
	// Full is the first run on an empty database (sync and evaluation);
	// 0 when FirstRunReused: the store a first run of the same binary
	// left was copied instead (Options.ReuseFirstRun).
	Full           float64 `json:"full_seconds"`
	FirstRunReused bool    `json:"first_run_reused,omitempty"`
	// Changed counts the Okta users that differ in the re-run.
	Changed int `json:"okta_users_changed"`
	// Process is the re-run's own process, as a user runs it (a new
	// `onus run`): its pid beside the benchmark's, and the kernel's
	// account of it from start to exit.
	Process *ChildProcess `json:"process"`
	// Phases are those of the re-run as its process measured them: open
	// (configuration and store), sync, load, correlate, evaluate,
	// persist, summary (the run's statistics, which `onus run` prints).
	Phases []ChildPhase `json:"phases"`
	// Total, CPU and PeakRSS are the re-run process's, from its start to
	// its exit: wall seconds, user and system CPU seconds (the figure a
	// busy machine distorts least), highest resident memory.
	Total   float64 `json:"total_seconds"`
	CPU     float64 `json:"cpu_seconds"`
	PeakRSS int64   `json:"peak_rss_bytes"`
	RerunOutcome
	// Active counts the open and exempted findings after the re-run;
	// with Options.Verify, Mismatches are those (control, entity, state,
	// owner) only the re-run or only a run from scratch has.
	Active     int      `json:"active_findings"`
	Mismatches []string `json:"mismatches,omitempty"`
	// InProcess, with Options.InProcess, is the same re-run timed in the
	// benchmark's own process right after the first run, on a copy of
	// the store: the figure this benchmark gave before it used a process
	// of its own, which reuses the heap the first run faulted in.
	InProcess *InProcessRerun `json:"in_process,omitempty"`
}

// InProcessRerun is the re-run timed in the process that ran the first
// run.
type InProcessRerun struct {
	Phases  []RerunPhase `json:"phases"`
	Total   float64      `json:"total_seconds"`
	CPU     float64      `json:"cpu_seconds"`
	PeakRSS int64        `json:"peak_rss_bytes"`
	// Mismatches are the open and exempted findings only one of the two
	// re-runs has (there should be none).
	Mismatches []string `json:"mismatches,omitempty"`
}

// RerunPhase is one measured step of a re-run.
type RerunPhase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"`
	// ServerCPU is the database server's (Options.ServerPID).
	ServerCPU float64 `json:"db_server_cpu_seconds,omitempty"`
	PeakRSS   int64   `json:"peak_rss_bytes"`
}

// rerunAt is the instant the re-run evaluates: an hour after the first.
var rerunAt = orggen.AcmeNow.Add(time.Hour)

// Rerun runs the loop once on an empty database, then changes 1% of the
// Okta users (every hundredth active account is suspended) and measures a
// second run on the same database in a new process (Options.Exec), as a
// user's next `onus run` is: what a run costs when one export changed.
// The Okta export is restored afterwards, byte for byte.
func Rerun(ctx context.Context, o Options) (*RerunResult, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	if len(o.Exec) == 0 {
		return nil, fmt.Errorf("bench: no program to run the re-run in a process of its own (Options.Exec)")
	}
	if o.InProcess && o.DB != "" {
		return nil, fmt.Errorf("bench: the in-process re-run needs a copy of the store: SQLite only")
	}
	if o.ReuseFirstRun && (o.DB != "" || o.InProcess) {
		return nil, fmt.Errorf("bench: reusing the first run's store needs SQLite, and leaves no first run's heap for the in-process re-run")
	}
	if _, err := Generate(o); err != nil {
		return nil, err
	}
	res := &RerunResult{People: o.People}
	dbPath := filepath.Join(o.Dir, "rerun.db")
	inProcPath := filepath.Join(o.Dir, "rerun-in-process.db")
	for _, p := range []string{dbPath, inProcPath} {
		removeSQLite(p)
	}
	cfg, err := config.Load(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.DB != "" {
		dbPath = o.DB // an empty PostgreSQL database
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "bench"}
	var cache string
	if o.ReuseFirstRun {
		if cache, err = firstRunCache(o); err != nil {
			db.Close()
			return nil, err
		}
	}
	if _, err := os.Stat(cache); cache != "" && err == nil {
		logf("first run: the store %s left", cache)
		db.Close()
		if err := copySQLite(cache, dbPath); err != nil {
			return nil, err
		}
		if db, err = store.Open(ctx, dbPath); err != nil {
			return nil, err
		}
		m.Store = db
		res.FirstRunReused = true
	} else {
		logf("first run on an empty database")
		start := time.Now()
		if err := syncEval(ctx, m); err != nil {
			db.Close()
			return nil, err
		}
		res.Full = time.Since(start).Seconds()
		logf("  %.2fs", res.Full)
		if cache != "" {
			if err := db.Close(); err != nil {
				return nil, err
			}
			if err := copySQLite(dbPath, cache); err != nil {
				return nil, err
			}
			if db, err = store.Open(ctx, dbPath); err != nil {
				return nil, err
			}
			m.Store = db
		}
	}

	okta := filepath.Join(o.Dir, "exports", "okta", "users.json")
	orig, err := os.ReadFile(okta)
	if err != nil {
		db.Close()
		return nil, err
	}
	defer replaceFile(okta, orig)
	edited, n := suspendEvery(orig, 100)
	res.Changed = n
	if err := replaceFile(okta, edited); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if o.InProcess {
		// This process re-runs on a copy of the store as the first run
		// left it, with the heap the first run faulted in; the re-run's
		// own process then runs on the store itself.
		if err := copySQLite(dbPath, inProcPath); err != nil {
			return nil, err
		}
		if m.Store, err = store.Open(ctx, inProcPath); err != nil {
			return nil, err
		}
		ip, err := rerunInProcess(ctx, o, m, logf)
		m.Store.Close()
		if err != nil {
			return nil, err
		}
		res.InProcess = ip
	}
	// Nothing of the first run is kept: give its heap back, so that the
	// re-run's process does not compete with it for memory.
	m, db = nil, nil
	oktaBytes := len(orig)
	orig, edited = nil, nil
	debug.FreeOSMemory()

	logf("re-run with %d Okta users changed, in a process of its own", n)
	spec := ChildSpec{Dir: o.Dir, DB: dbPath, Now: rerunAt, CPUProfile: o.CPUProfile, MemProfile: o.MemProfile, ServerPID: o.ServerPID}
	rep, proc, err := runChild(ctx, o.Exec, spec, o.Log)
	if err != nil {
		return nil, err
	}
	res.Process = proc
	res.Phases = rep.Phases
	res.Total, res.CPU, res.PeakRSS = proc.Seconds, proc.User+proc.Sys, proc.PeakRSS
	res.RerunOutcome = rep.RerunOutcome
	for _, p := range rep.Phases {
		logf("  %-10s %6.2fs  cpu %6.2fs (sys %5.2fs, gc %5.2fs, %d collections)  %7d page faults  peak %s", p.Name, p.Seconds, p.CPU, p.Sys, p.GCCPU, p.GCCycles, p.MinorFaults+p.MajorFaults, MiB(p.PeakRSS))
	}
	logf("  process    %6.2fs  cpu %6.2fs (sys %5.2fs)  %7d page faults  peak %s  (pid %d; okta export %d bytes)", proc.Seconds, proc.User+proc.Sys, proc.Sys, proc.MinorFaults+proc.MajorFaults, MiB(proc.PeakRSS), proc.PID, oktaBytes)

	db, err = store.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	got, err := activeFindings(ctx, db)
	if err != nil {
		return nil, err
	}
	res.Active = len(got)
	if res.InProcess != nil {
		db2, err := store.Open(ctx, inProcPath)
		if err != nil {
			return nil, err
		}
		other, err := activeFindings(ctx, db2)
		db2.Close()
		if err != nil {
			return nil, err
		}
		res.InProcess.Mismatches = diffFindings(got, other, "only in the re-run's process: ", "only in the in-process re-run: ")
	}
	if !o.Verify {
		return res, nil
	}
	logf("verifying: a run from scratch on the changed exports")
	scratch := filepath.Join(o.Dir, "rerun-scratch.db")
	removeSQLite(scratch)
	db2, err := store.Open(ctx, scratch)
	if err != nil {
		return nil, err
	}
	defer db2.Close()
	m2 := &monitor.Monitor{Config: cfg, Store: db2, Actor: "bench"}
	srep2, err := m2.Sync(ctx, monitor.SyncOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := m2.Eval(ctx, rerunAt, srep2.Snapshots); err != nil {
		return nil, err
	}
	want, err := activeFindings(ctx, db2)
	if err != nil {
		return nil, err
	}
	res.Mismatches = diffFindings(got, want, "only in the re-run: ", "only from scratch: ")
	return res, nil
}

// rerunInProcess measures the re-run with m, in this process.
func rerunInProcess(ctx context.Context, o Options, m *monitor.Monitor, logf func(string, ...any)) (*InProcessRerun, error) {
	res := &InProcessRerun{}
	runtime.GC()
	resetPeak()
	if o.BeforeRerun != nil {
		o.BeforeRerun()
	}
	start := time.Now()
	cpu0 := cpuTime()
	last, lastCPU, lastServer := start, cpu0, o.serverCPU()
	m.Phase = func(name string) {
		now, cpu, server := time.Now(), cpuTime(), o.serverCPU()
		p := RerunPhase{Name: name, Seconds: now.Sub(last).Seconds(), CPU: (cpu - lastCPU).Seconds(), PeakRSS: peakRSS(), ServerCPU: (server - lastServer).Seconds()}
		res.Phases = append(res.Phases, p)
		res.PeakRSS = max(res.PeakRSS, p.PeakRSS)
		logf("  %-10s %6.2fs  cpu %6.2fs  peak %s", name, p.Seconds, p.CPU, MiB(p.PeakRSS))
		last, lastCPU, lastServer = time.Now(), cpuTime(), o.serverCPU()
	}
	defer func() { m.Phase = nil }()
	logf("re-run in this process (the heap of the first run reused)")
	srep, err := m.Sync(ctx, monitor.SyncOptions{})
	if err != nil {
		return nil, err
	}
	m.Phase("sync")
	if _, err := m.Eval(ctx, rerunAt, srep.Snapshots); err != nil {
		return nil, err
	}
	res.Total, res.CPU = time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
	if o.AfterRerun != nil {
		o.AfterRerun()
	}
	return res, nil
}

// firstRunCache names the copy of the store a first run left, for this
// size and the re-run's program: another binary may evaluate otherwise
// (and a different onus version evaluates every control again, which is
// not the re-run measured).
func firstRunCache(o Options) (string, error) {
	f, err := os.Open(o.Exec[0])
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return filepath.Join(o.Dir, fmt.Sprintf("rerun-first-%d-%x.db", o.People, h.Sum(nil)[:6])), nil
}

func diffFindings(got, want map[string]bool, onlyGot, onlyWant string) []string {
	var out []string
	for k := range got {
		if !want[k] {
			out = append(out, onlyGot+k)
		}
	}
	for k := range want {
		if !got[k] {
			out = append(out, onlyWant+k)
		}
	}
	sort.Strings(out)
	return out
}

func removeSQLite(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

// activeFindings lists the open and exempted findings as a run from
// scratch can tell them: control, entity, state and owner.
func activeFindings(ctx context.Context, db *store.DB) (map[string]bool, error) {
	fs, err := db.ActiveFindings(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(fs))
	for _, f := range fs {
		out[fmt.Sprintf("%s %s %s %s", f.Control, f.Entity, f.State, f.Responsible.Email)] = true
	}
	return out, nil
}

func syncEval(ctx context.Context, m *monitor.Monitor) error {
	srep, err := syncAll(ctx, m, monitor.SyncOptions{})
	if err != nil {
		return err
	}
	_, err = m.Eval(ctx, orggen.AcmeNow, srep.Snapshots)
	return err
}

// suspendEvery suspends every nth active account of an Okta users export.
func suspendEvery(b []byte, n int) ([]byte, int) {
	active := []byte(`"status": "ACTIVE"`)
	var out bytes.Buffer
	out.Grow(len(b))
	changed, seen := 0, 0
	for {
		i := bytes.Index(b, active)
		if i < 0 {
			out.Write(b)
			break
		}
		out.Write(b[:i])
		if seen%n == n-1 {
			out.WriteString(`"status": "SUSPENDED"`)
			changed++
		} else {
			out.Write(active)
		}
		seen++
		b = b[i+len(active):]
	}
	return out.Bytes(), changed
}

// replaceFile replaces path's content by renaming a new file over it,
// never writing into the old one: a benchmark directory may be a copy
// made of hard links (cp -al) whose files are shared with another.
func replaceFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
