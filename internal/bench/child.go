package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/store"
)

// A user's re-run is a new `onus run` process on the store the first run
// left: it starts with an empty heap and faults in every page it touches,
// where a re-run in the process that did the first run reuses the pages
// that run had faulted in (11.9 s against 6.2–6.9 s at 100,000 people,
// docs/performance.md). Rerun therefore times the re-run in a child
// process: Options.Exec names a program that, given a ChildSpec as JSON
// in its last argument, calls RerunChild (`onus bench-rerun-child`, a
// hidden command of the onus binary; the package's tests re-execute
// their own binary).

// ChildSpec says what a re-run child process runs: one sync and
// evaluation, as `onus run --config Dir --db DB --now Now` does.
type ChildSpec struct {
	Dir string    `json:"dir"`
	DB  string    `json:"db"`
	Now time.Time `json:"now"`
	// CPUProfile, when set, is where the child writes a CPU profile of
	// everything it does after its runtime started (configuration,
	// store, sync, evaluation).
	CPUProfile string `json:"cpu_profile,omitempty"`
	// MemProfile, when set, is where the child writes a heap profile as
	// it ends: what it allocated in all (go tool pprof
	// -sample_index=alloc_space) and what was still live.
	MemProfile string `json:"mem_profile,omitempty"`
	// ServerPID, when set, is the database server's main process on
	// this machine: each phase then reports its CPU time too.
	ServerPID int `json:"server_pid,omitempty"`
}

// ChildPhase is one phase of the re-run as the child measured it.
type ChildPhase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// CPU is user and system time together; Sys the system (kernel)
	// part of it: page faults, zeroing new pages, reads.
	CPU float64 `json:"cpu_seconds"`
	Sys float64 `json:"sys_seconds"`
	// MinorFaults are the page faults served without reading the disk
	// (a fresh heap page, a page-cache page mapped in).
	MinorFaults int64 `json:"minor_faults"`
	MajorFaults int64 `json:"major_faults"`
	// GCCPU is the CPU time the Go runtime estimates its garbage
	// collector spent in the phase (runtime/metrics
	// /cpu/classes/gc/total: an estimate from wall time, which a busy
	// machine inflates), GCCycles the collections that ended in it.
	GCCPU    float64 `json:"gc_cpu_seconds"`
	GCCycles int64   `json:"gc_cycles"`
	// PeakRSS is the process's highest resident memory during the phase
	// (the high-water mark is reset before each phase).
	PeakRSS int64 `json:"peak_rss_bytes"`
	// HeapMapped is the memory the Go heap had mapped when the phase
	// ended (runtime/metrics /memory/classes/heap, less what it
	// released): what the process had to fault in.
	HeapMapped int64 `json:"heap_mapped_bytes"`
	LiveHeap   int64 `json:"live_heap_bytes"`
	// Allocated is what the phase allocated on the Go heap.
	Allocated int64 `json:"alloc_bytes"`
	// ServerCPU is the database server's CPU time in the phase
	// (ChildSpec.ServerPID).
	ServerCPU float64 `json:"db_server_cpu_seconds,omitempty"`
}

// ChildReport is what the child writes to its standard output.
type ChildReport struct {
	PID int `json:"pid"`
	// Phases: "open" (configuration and store), then the monitor's
	// sync, load, correlate, evaluate, persist.
	Phases []ChildPhase `json:"phases"`
	RerunOutcome
}

// RerunOutcome is what the re-run did: the sources it read and those it
// found unchanged; its evaluation, "full" or "incremental", with the
// controls it carried over and the sources it did not load; the findings
// it opened and resolved.
type RerunOutcome struct {
	Unchanged  []string `json:"unchanged_sources"`
	Read       []string `json:"read_sources"`
	Evaluation string   `json:"evaluation"`
	Carried    []string `json:"carried_controls,omitempty"`
	NotLoaded  []string `json:"not_loaded_sources,omitempty"`
	Opened     int      `json:"opened"`
	Resolved   int      `json:"resolved"`
}

// ChildProcess is the re-run's process as its parent saw it: from its
// start to its exit, the kernel's account of it (getrusage of the
// child), so the Go runtime's start and the process's exit count too.
type ChildProcess struct {
	PID       int     `json:"pid"`
	ParentPID int     `json:"parent_pid"`
	Seconds   float64 `json:"seconds"`
	User      float64 `json:"user_cpu_seconds"`
	Sys       float64 `json:"sys_cpu_seconds"`
	// PeakRSS is the child's highest resident memory, the highest of its
	// phases' (VmHWM). Not the kernel's ru_maxrss of the child: Go starts
	// a process by vfork, and Linux counts in ru_maxrss the memory of the
	// parent the child shared until its exec, here the benchmark's.
	PeakRSS     int64 `json:"peak_rss_bytes"`
	MinorFaults int64 `json:"minor_faults"`
	MajorFaults int64 `json:"major_faults"`
}

// RerunChild runs one sync and evaluation as ChildSpec says, measuring
// each phase, and writes a ChildReport as JSON to w.
func RerunChild(ctx context.Context, spec ChildSpec, w io.Writer) error {
	if spec.CPUProfile != "" {
		stop, err := StartCPUProfile(spec.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep := &ChildReport{PID: os.Getpid()}
	server := func() time.Duration {
		if spec.ServerPID == 0 {
			return 0
		}
		return ServerCPU(spec.ServerPID)
	}
	resetPeak()
	last, lastServer := readChildClock(), server()
	mark := func(name string) {
		now, srv := readChildClock(), server()
		p := now.since(last, name)
		p.ServerCPU = (srv - lastServer).Seconds()
		rep.Phases = append(rep.Phases, p)
		resetPeak()
		last, lastServer = readChildClock(), server()
	}
	cfg, err := config.Load(spec.Dir)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, spec.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "bench", Phase: mark}
	mark("open")
	srep, err := syncAll(ctx, m, monitor.SyncOptions{})
	if err != nil {
		return err
	}
	for _, s := range srep.Sources {
		if s.Unchanged {
			rep.Unchanged = append(rep.Unchanged, s.Source)
		} else {
			rep.Read = append(rep.Read, s.Source)
		}
	}
	mark("sync")
	erep, err := m.Eval(ctx, spec.Now, srep.Snapshots)
	if err != nil {
		return err
	}
	// What `onus run` prints after the evaluation: the ledger's figures.
	st, err := db.Stats(ctx, erep.Now)
	if err != nil {
		return err
	}
	report.WriteSync(io.Discard, srep)
	report.WriteEval(io.Discard, erep, st)
	mark("summary")
	if spec.MemProfile != "" {
		writeHeapProfile(spec.MemProfile)
	}
	rep.Opened, rep.Resolved = erep.Changes.Opened, erep.Changes.Resolved
	rep.Evaluation, rep.Carried, rep.NotLoaded = erep.Evaluation, erep.Carried, erep.NotLoaded
	return json.NewEncoder(w).Encode(rep)
}

// childClock is a reading of everything a phase is measured by.
type childClock struct {
	wall             time.Time
	user, sys        time.Duration
	minflt, majflt   int64
	gcCPU            float64
	gcCycles         int64
	heapMapped, live int64
	allocs           int64
}

var childMetrics = []string{
	"/cpu/classes/gc/total:cpu-seconds",
	"/gc/cycles/total:gc-cycles",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/gc/heap/live:bytes",
	"/gc/heap/allocs:bytes",
}

func readChildClock() childClock {
	c := childClock{wall: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.user, c.sys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
		c.minflt, c.majflt = ru.Minflt, ru.Majflt
	}
	s := make([]metrics.Sample, len(childMetrics))
	for i, n := range childMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	u := func(i int) int64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return int64(s[i].Value.Uint64())
		}
		return 0
	}
	if s[0].Value.Kind() == metrics.KindFloat64 {
		c.gcCPU = s[0].Value.Float64()
	}
	c.gcCycles = u(1)
	c.heapMapped = u(2) + u(3) + u(4) // heap memory backed by pages, released memory excluded
	c.live = u(5)
	c.allocs = u(6)
	return c
}

func (c childClock) since(prev childClock, name string) ChildPhase {
	return ChildPhase{
		Name:        name,
		Seconds:     c.wall.Sub(prev.wall).Seconds(),
		CPU:         (c.user + c.sys - prev.user - prev.sys).Seconds(),
		Sys:         (c.sys - prev.sys).Seconds(),
		MinorFaults: c.minflt - prev.minflt,
		MajorFaults: c.majflt - prev.majflt,
		GCCPU:       c.gcCPU - prev.gcCPU,
		GCCycles:    c.gcCycles - prev.gcCycles,
		PeakRSS:     peakRSS(),
		HeapMapped:  c.heapMapped,
		LiveHeap:    c.live,
		Allocated:   c.allocs - prev.allocs,
	}
}

// runChild runs the re-run in a process of its own: exe followed by the
// spec as JSON, its standard error passed through to log.
func runChild(ctx context.Context, exe []string, spec ChildSpec, log io.Writer) (*ChildReport, *ChildProcess, error) {
	if len(exe) == 0 {
		return nil, nil, fmt.Errorf("bench: no program to run the re-run in a process of its own (Options.Exec)")
	}
	arg, err := json.Marshal(spec)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe[0], append(append([]string(nil), exe[1:]...), string(arg))...)
	var out bytes.Buffer
	cmd.Stdout = &out
	if log == nil {
		log = io.Discard
	}
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(log, &stderr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("bench: starting the re-run's process %s: %w", exe[0], err)
	}
	err = cmd.Wait()
	p := &ChildProcess{PID: cmd.Process.Pid, ParentPID: os.Getpid(), Seconds: time.Since(start).Seconds()}
	if err != nil {
		return nil, p, fmt.Errorf("bench: the re-run's process %s: %w: %s", exe[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.User, p.Sys = time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds()
		p.MinorFaults, p.MajorFaults = ru.Minflt, ru.Majflt
	}
	var rep ChildReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return nil, p, fmt.Errorf("bench: the re-run's process wrote no report: %v (output %q)", err, out.String())
	}
	for _, ph := range rep.Phases {
		p.PeakRSS = max(p.PeakRSS, ph.PeakRSS)
	}
	return &rep, p, nil
}

// StartCPUProfile writes a CPU profile to path until the returned
// function is called.
func StartCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
