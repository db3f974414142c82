// Package bench measures the monitor loop on a generated organisation:
// the time and peak memory of sync, correlate, evaluate and persist, each
// on its own. `onus bench` and the Go benchmarks both use it.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/examples"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// Options say what to measure.
type Options struct {
	People int
	// Dir holds the generated exports and the database; it is reused when
	// it already has exports for the same number of people.
	Dir string
	// Log receives progress lines; nil for none.
	Log io.Writer
	// AfterSync, when set, is called between the sync and the evaluation
	// (to take a heap profile).
	AfterSync func()
	// MemProfile, when set, is a path prefix: as each phase ends the
	// garbage collector runs and an in-use heap profile is written to
	// PREFIX.<phase> (PREFIX.sync, PREFIX.correlate, …), so that
	// Phase.LiveHeap is exact. The forced collections change the peaks a
	// little (they free garbage earlier than the pacer would) and their
	// time is left out of the phases.
	MemProfile string
	// DB, when set, is the store to measure instead of a new SQLite file
	// in Dir: an empty PostgreSQL database (postgres://…).
	DB string
	// Exec, for Rerun, is the program that runs the measured re-run in a
	// process of its own: its arguments, to which Rerun adds a ChildSpec
	// as JSON; the program must call RerunChild with it (`onus
	// bench-rerun-child`).
	Exec []string
	// CPUProfile, for Rerun, is where the re-run's process writes a CPU
	// profile of itself.
	CPUProfile string
	// InProcess, for Rerun, also times the re-run in the benchmark's own
	// process right after the first run (on a copy of the SQLite store),
	// before the re-run in a process of its own.
	InProcess bool
	// ReuseFirstRun, for Rerun, keeps a copy of the store the first run
	// left in Dir (one per size and program: rerun-first-PEOPLE-HASH.db)
	// and, when one is there, starts from it instead of running the
	// first run again. SQLite only; not with InProcess.
	ReuseFirstRun bool
	// BeforeRerun, when set, is called just before the in-process re-run
	// of Rerun (to start a CPU profile of it alone).
	BeforeRerun func()
	// AfterRerun, when set, is called as soon as the in-process re-run
	// ends.
	AfterRerun func()
	// Verify, for Rerun, runs once more from scratch on an empty database
	// with the changed exports after the measured re-run, and reports the
	// open and exempted findings only one of the two has.
	Verify bool
	// ServerPID, when set, is the process id of the database server on
	// this machine (PostgreSQL's postmaster): each phase then reports the
	// CPU time the server spent in it too (ServerCPU).
	ServerPID int
}

// Phase is one measured step.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is the user and system time of the process during the
	// phase, all cores together: unlike Seconds, it does not depend on
	// what else the machine runs.
	CPUSeconds float64 `json:"cpu_seconds"`
	// ServerCPUSeconds is the database server's CPU time during the phase
	// (Options.ServerPID), all its processes together.
	ServerCPUSeconds float64 `json:"db_server_cpu_seconds,omitempty"`
	// PeakRSS is the highest resident memory of the process up to the end
	// of the phase, in bytes (0 where the platform does not report it).
	// The kernel's high-water mark is reset before each phase, but the Go
	// runtime keeps memory it freed, so a phase starts from where the
	// previous one left the process.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// HeapInUse is the Go heap in use when the phase ended.
	HeapInUse int64 `json:"heap_in_use_bytes"`
	// LiveHeap is the heap the last garbage collection found live when
	// the phase ended (after a forced collection with MemProfile): what
	// the phase leaves behind, without its garbage.
	LiveHeap int64 `json:"live_heap_bytes"`
	// RSSAnon and RSSFile split the highest resident memory sampled
	// during the phase: anonymous memory (the Go heap, SQLite's page
	// caches) and file pages mapped in (SQLite's memory-mapped database,
	// the executable).
	RSSAnon int64 `json:"rss_anon_bytes,omitempty"`
	RSSFile int64 `json:"rss_file_bytes,omitempty"`
	// RSSGo is the memory the Go runtime held from the system (heap,
	// stacks, its own structures, less what it released) at that
	// reading: the rest of RSSAnon is SQLite's page caches and other
	// memory allocated outside the Go heap.
	RSSGo int64 `json:"rss_go_bytes,omitempty"`
}

// Result is a measurement.
type Result struct {
	People   int   `json:"people"`
	Devices  int   `json:"devices"`
	Software int   `json:"software_records"`
	Bytes    int64 `json:"export_bytes"`
	Findings int   `json:"open_findings"`
	// Nudges are the messages planned, written and stored in the outbox
	// (not sent) after the evaluation: the "nudge" phase, outside Total.
	Nudges       int     `json:"nudges"`
	NudgeSeconds float64 `json:"nudge_seconds"`
	Phases       []Phase `json:"phases"`
	Total        float64 `json:"total_seconds"`
	TotalCPU     float64 `json:"total_cpu_seconds"`
	// PeakRSS is the peak of sync and evaluation (`onus run`); the nudge
	// phase's is in its Phase.
	PeakRSS   int64  `json:"peak_rss_bytes"`
	GoVersion string `json:"go"`
	CPUs      int    `json:"cpus"`
}

// Run generates the organisation (unless Dir already has it) and runs one
// full sync and evaluation on an empty database.
func Run(ctx context.Context, o Options) (*Result, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	res, err := Generate(o)
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(o.Dir, "bench.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(dbPath + suffix)
	}
	cfg, err := config.Load(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.DB != "" {
		dbPath = o.DB
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	runtime.GC()
	resetPeak()
	rss := sampleRSS()
	defer rss.stop()
	start := time.Now()
	last := start
	cpuStart := cpuTime()
	lastCPU := cpuStart
	lastServer := o.serverCPU()
	mark := func(name string) {
		now, cpu, server := time.Now(), cpuTime(), o.serverCPU()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p := Phase{Name: name, Seconds: now.Sub(last).Seconds(), CPUSeconds: (cpu - lastCPU).Seconds(), PeakRSS: peakRSS(), HeapInUse: int64(ms.HeapInuse),
			ServerCPUSeconds: (server - lastServer).Seconds()}
		p.RSSAnon, p.RSSFile, p.RSSGo = rss.peak()
		if o.MemProfile != "" {
			writeHeapProfile(o.MemProfile + "." + name)
		}
		p.LiveHeap = liveHeap()
		res.Phases = append(res.Phases, p)
		res.PeakRSS = max(res.PeakRSS, p.PeakRSS)
		logf("  %-10s %6.2fs  cpu %6.2fs  peak %s (anon %s, of which Go %s; file %s)  live heap %s", name, p.Seconds, p.CPUSeconds, MiB(p.PeakRSS), MiB(p.RSSAnon), MiB(p.RSSGo), MiB(p.RSSFile), MiB(p.LiveHeap))
		resetPeak()
		rss.reset()
		last, lastCPU, lastServer = time.Now(), cpuTime(), o.serverCPU()
	}
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "bench", Phase: mark}
	logf("running sync and evaluation on %s of exports", MiB(res.Bytes))
	srep, err := syncAll(ctx, m, monitor.SyncOptions{})
	if err != nil {
		return nil, err
	}
	mark("sync")
	if o.AfterSync != nil {
		runtime.GC() // so that a heap profile shows what is live
		o.AfterSync()
	}
	erep, err := m.Eval(ctx, orggen.AcmeNow, srep.Snapshots)
	if err != nil {
		return nil, err
	}
	res.Total = time.Since(start).Seconds()
	res.TotalCPU = (cpuTime() - cpuStart).Seconds()
	res.Findings = erep.Changes.Opened
	// The first nudge: every owner hears of everything. Planned, written
	// and stored in the outbox; sending is measured against a real SMTP
	// server by the deliver package's benchmark.
	last, lastCPU, lastServer = time.Now(), cpuTime(), o.serverCPU()
	peak := res.PeakRSS // that of `onus run`: sync and evaluation
	nrep, err := m.Nudge(ctx, orggen.AcmeNow, monitor.NudgeOptions{})
	if err != nil {
		return nil, err
	}
	mark("nudge")
	res.PeakRSS = peak
	res.Nudges, res.NudgeSeconds = len(nrep.Planned), res.Phases[len(res.Phases)-1].Seconds
	// "load" is near zero here: the snapshots of the sync are reused in
	// memory, as `onus run` does.
	return res, nil
}

// Generate writes the organisation's configuration and exports to Dir
// (the exports only when Dir does not already hold them for the same
// size) and returns what was generated. Run calls it first; `onus bench
// --generate-only` stops after it, for tools that read the same exports.
func Generate(o Options) (*Result, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	res := &Result{People: o.People, GoVersion: runtime.Version(), CPUs: runtime.GOMAXPROCS(0)}
	org := orggen.New(orggen.Large(o.People))
	_, res.Devices, res.Software = org.Counts()
	stamp := filepath.Join(o.Dir, ".generated")
	want := fmt.Sprintf("people=%d software=%d", o.People, res.Software)
	// The configuration is the example's, refreshed on every run; the
	// exports are regenerated only when the organisation changed.
	if err := examples.CopyConfig(examples.Acme(), o.Dir); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(stamp); err != nil || string(b) != want {
		logf("generating %d people, %d devices, %d software records in %s", o.People, res.Devices, res.Software, o.Dir)
		if err := os.RemoveAll(filepath.Join(o.Dir, "exports")); err != nil {
			return nil, err
		}
		if err := org.Write(filepath.Join(o.Dir, "exports")); err != nil {
			return nil, err
		}
		if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
			return nil, err
		}
	}
	filepath.Walk(filepath.Join(o.Dir, "exports"), func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			res.Bytes += info.Size()
		}
		return nil
	})
	return res, nil
}

func (o Options) serverCPU() time.Duration {
	if o.ServerPID == 0 {
		return 0
	}
	return ServerCPU(o.ServerPID)
}

// MiB formats bytes.
func MiB(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// resetPeak resets the kernel's high-water mark of resident memory, so the
// next reading covers one phase (Linux: /proc/self/clear_refs, value 5).
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS reads VmHWM, the peak resident memory since the last reset.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the user and system time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// syncAll syncs every source and fails with the first that did not sync.
func syncAll(ctx context.Context, m *monitor.Monitor, o monitor.SyncOptions) (*monitor.SyncReport, error) {
	srep, err := m.Sync(ctx, o)
	if err != nil {
		return nil, err
	}
	for _, s := range srep.Sources {
		if s.Status != onus.SyncOK {
			return nil, fmt.Errorf("bench: source %s: %s", s.Source, s.Error)
		}
	}
	return srep, nil
}
