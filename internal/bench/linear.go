package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// LinearPeople are the organisation sizes of the growth benchmark by
// default: from about 10,000 to 1,000,000 entities, in steps of about 3 (the bench
// organisation has about 53 entities per person: a person, an HR record's
// candidate, Okta account, 1.3 laptops, 51 installed apps).
var LinearPeople = []int{190, 600, 1900, 6000, 19000}

// LinearOptions say what the growth benchmark measures.
type LinearOptions struct {
	// People are the organisation sizes, one point each, smallest first.
	People []int
	// Dir holds one directory per size (exports, the synced seed
	// database), kept between runs; a size is generated and synced once.
	Dir string
	// Log receives progress lines; nil for none.
	Log io.Writer
	// Repeat is how many times each size is measured (the median of each
	// phase is kept); 0 measures small sizes several times, large ones once.
	Repeat int
	// Profile, when set, is called with the size and the phase about to
	// run ("correlate", "evaluate", "persist", for the first and the second run) and
	// returns a function that ends the profile (first measurement only).
	Profile func(people int, run, phase string) func()
}

// LinearPoint is one size: two evaluations of the same organisation on a
// real SQLite file, the first on a store that holds the syncs but no
// findings, the second after about 1% of every source's records changed.
type LinearPoint struct {
	People   int `json:"people"`
	Entities int `json:"entities"`
	Records  int `json:"records"`
	// Changed counts the records that differ in the second run.
	Changed int         `json:"changed_records"`
	Runs    []LinearRun `json:"runs"`
	DBBytes int64       `json:"db_bytes"`
	Setup   float64     `json:"setup_seconds"`
}

// LinearRun is one evaluation, phase by phase.
type LinearRun struct {
	Name     string         `json:"name"` // "first" or "second"
	Phases   []LinearPhase  `json:"phases"`
	Changes  map[string]int `json:"changes"`
	Findings int            `json:"open_findings"`
}

// LinearPhase is one measured phase of an evaluation.
type LinearPhase struct {
	Name       string  `json:"name"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// Allocs and AllocBytes are the heap allocations during the phase.
	Allocs     uint64 `json:"allocs"`
	AllocBytes uint64 `json:"alloc_bytes"`
	// PeakHeap is the highest live-and-garbage heap (the runtime's heap
	// objects) sampled every 10 ms during the phase; PeakRSS the kernel's
	// high-water mark of resident memory during the phase.
	PeakHeap int64  `json:"peak_heap_bytes"`
	PeakRSS  int64  `json:"peak_rss_bytes"`
	GCs      uint32 `json:"gc_cycles"`
	// PerEntity is CPU microseconds per entity.
	CPUMicrosPerEntity float64 `json:"cpu_us_per_entity"`
}

// LinearResult is the whole growth measurement.
type LinearResult struct {
	Points    []LinearPoint `json:"points"`
	GoVersion string        `json:"go"`
	CPUs      int           `json:"cpus"`
	Load      [3]float64    `json:"load_average_at_start"`
	Started   time.Time     `json:"started"`
}

// Linear measures correlation, evaluation and persist at each size. The
// organisation of each size is generated and synced into a seed SQLite
// file once (kept in Dir); every measurement copies the seed to a fresh
// file, loads the snapshots from it (not measured) and runs the
// evaluation of `onus run` on them twice.
func Linear(ctx context.Context, o LinearOptions) (*LinearResult, error) {
	res := &LinearResult{GoVersion: runtime.Version(), CPUs: runtime.GOMAXPROCS(0), Load: loadAverage(), Started: time.Now().UTC()}
	for _, n := range o.People {
		p, err := linearPoint(ctx, o, n)
		if err != nil {
			return res, fmt.Errorf("bench: %d people: %w", n, err)
		}
		res.Points = append(res.Points, *p)
	}
	return res, nil
}

// repeats is how many times a size is measured: small sizes take
// milliseconds, which a busy machine distorts most, so they are measured
// several times and the median of each phase kept.
func repeats(people int) int {
	switch {
	case people <= 2000:
		return 5
	case people <= 20000:
		return 3
	}
	return 1
}

func linearPoint(ctx context.Context, o LinearOptions, people int) (*LinearPoint, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	dir := filepath.Join(o.Dir, fmt.Sprintf("people-%d", people))
	setup := time.Now()
	seed, err := seedDB(ctx, Options{People: people, Dir: dir, Log: o.Log})
	if err != nil {
		return nil, err
	}
	pt := &LinearPoint{People: people, Setup: time.Since(setup).Seconds()}
	n := repeats(people)
	if o.Repeat > 0 {
		n = o.Repeat
	}
	var all [][]LinearRun
	for i := 0; i < n; i++ {
		runs, err := measureOnce(ctx, o, pt, dir, seed, i == 0, logf)
		if err != nil {
			return nil, err
		}
		all = append(all, runs)
	}
	pt.Runs = medianRuns(all)
	if n > 1 {
		logf("  median of %d measurements:", n)
		for _, r := range pt.Runs {
			logRun(logf, r)
		}
	}
	return pt, nil
}

// measureOnce copies the seed database, loads its snapshots and measures
// the first and the second evaluation.
func measureOnce(ctx context.Context, o LinearOptions, pt *LinearPoint, dir, seed string, profile bool, logf func(string, ...any)) ([]LinearRun, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(dir, "linear.db")
	if err := copySQLite(seed, dbPath); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	t0 := time.Now()
	loaded, err := monitor.Load(ctx, cfg, db, nil)
	if err != nil {
		return nil, err
	}
	snaps := map[string]*onus.Snapshot{}
	pt.Records = 0
	for _, s := range loaded.Input.Sources {
		if s.Snapshot == nil {
			return nil, fmt.Errorf("source %s has no snapshot in the seed database %s", s.Name, seed)
		}
		snaps[s.Name] = s.Snapshot
		pt.Records += s.Snapshot.Records.Len()
	}
	loaded = nil
	logf("%d people: %d records loaded from a copy of %s in %.1fs", pt.People, pt.Records, seed, time.Since(t0).Seconds())

	var runs []LinearRun
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "bench"}
	run := func(name string, now time.Time, snaps map[string]*onus.Snapshot) error {
		r := LinearRun{Name: name}
		var stop func()
		rec := newRecorder()
		next := func(phase string) {
			if o.Profile != nil && profile {
				stop = o.Profile(pt.People, name, phase)
			}
		}
		m.Phase = func(phase string) {
			if stop != nil {
				stop()
				stop = nil
			}
			r.Phases = append(r.Phases, rec.mark(phase))
			switch phase {
			case "load":
				next("correlate")
			case "correlate":
				next("evaluate")
			case "evaluate":
				next("persist")
			}
		}
		runtime.GC()
		debug.FreeOSMemory()
		rec.start()
		rep, err := m.Eval(ctx, now, snaps)
		rec.close()
		if err != nil {
			return err
		}
		entities := 0
		for _, k := range rep.Kinds {
			entities += k.Entities
		}
		pt.Entities = entities
		for i := range r.Phases {
			r.Phases[i].CPUMicrosPerEntity = r.Phases[i].CPUSeconds * 1e6 / float64(entities)
		}
		c := rep.Changes
		r.Changes = map[string]int{"opened": c.Opened, "reopened": c.Reopened, "resolved": c.Resolved, "gone": c.Gone,
			"reassigned": c.Reassigned, "unchanged": c.Unchanged}
		for _, cr := range rep.Controls {
			r.Findings += cr.Fail
		}
		runs = append(runs, r)
		logf("  %s run: %d entities, %d failing; opened %d, resolved %d", name, entities, r.Findings, c.Opened, c.Resolved)
		logRun(logf, r)
		return nil
	}
	if err := run("first", orggen.AcmeNow, snaps); err != nil {
		return nil, err
	}
	changed, n := changeOnePercent(snaps)
	pt.Changed = n
	snaps = nil
	if err := run("second", orggen.AcmeNow.Add(time.Hour), changed); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dbPath); err == nil {
		pt.DBBytes = fi.Size()
	}
	return runs, nil
}

func logRun(logf func(string, ...any), r LinearRun) {
	for _, p := range r.Phases {
		logf("    %-10s %7.2fs  cpu %7.2fs  %6.2f cpu-µs/entity  %6.1fM allocs  heap %s  rss %s",
			p.Name, p.Seconds, p.CPUSeconds, p.CPUMicrosPerEntity, float64(p.Allocs)/1e6, MiB(p.PeakHeap), MiB(p.PeakRSS))
	}
}

// medianRuns keeps, for each run and phase, the measurement with the
// median CPU time.
func medianRuns(all [][]LinearRun) []LinearRun {
	out := slices.Clone(all[0])
	for i := range out {
		out[i].Phases = slices.Clone(out[i].Phases)
		for j := range out[i].Phases {
			var ps []LinearPhase
			for _, runs := range all {
				ps = append(ps, runs[i].Phases[j])
			}
			slices.SortFunc(ps, func(a, b LinearPhase) int { return cmp.Compare(a.CPUSeconds, b.CPUSeconds) })
			out[i].Phases[j] = ps[len(ps)/2]
		}
	}
	return out
}

// seedDB returns the SQLite file holding one sync of the organisation of
// o.People (generated and synced the first time, kept in o.Dir).
func seedDB(ctx context.Context, o Options) (string, error) {
	gen, err := Generate(o)
	if err != nil {
		return "", err
	}
	path := filepath.Join(o.Dir, "seed.db")
	stamp := path + ".done"
	want := fmt.Sprintf("people=%d software=%d", gen.People, gen.Software)
	if b, err := os.ReadFile(stamp); err == nil && string(b) == want {
		return path, nil
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	cfg, err := config.Load(o.Dir)
	if err != nil {
		return "", err
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		return "", err
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "syncing %d people (%s of exports) into %s\n", o.People, MiB(gen.Bytes), path)
	}
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "bench"}
	_, err = syncAll(ctx, m, monitor.SyncOptions{Reread: true})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(stamp, []byte(want), 0o644)
}

// copySQLite copies a closed SQLite database (and its write-ahead log,
// if one was left) to dst, replacing what dst held.
func copySQLite(src, dst string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(dst + suffix)
	}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(src + suffix)
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst+suffix, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// changeOnePercent returns a copy of snaps in which every hundredth record
// of every source differs: its booleans are negated and its times moved
// 60 days back (a disk that stops being encrypted, an agent that stops
// checking in, an account suspended or reactivated). The records are
// copied; the originals are not touched.
func changeOnePercent(snaps map[string]*onus.Snapshot) (map[string]*onus.Snapshot, int) {
	out := make(map[string]*onus.Snapshot, len(snaps))
	n := 0
	for name, s := range snaps {
		c := *s
		c.Records = onus.NewRecords(s.Records.Len())
		for i := range s.Records.Len() {
			r := s.Records.At(i)
			if i%100 == 50 && !r.Skipped && len(r.Attrs) > 0 {
				n += changeAttrs(&r)
			}
			c.Records.Append(&r)
		}
		c.Records.Compact()
		out[name] = &c
	}
	return out, n
}

// changeAttrs negates r's booleans, moves its times 60 days back and
// flips an account's status; it returns 1 when something changed.
func changeAttrs(r *onus.Record) int {
	attrs := append([]any(nil), r.Attrs...)
	diff := false
	for j, v := range attrs {
		switch v := v.(type) {
		case bool:
			attrs[j], diff = !v, true
		case time.Time:
			attrs[j], diff = v.Add(-60*24*time.Hour), true
		case string:
			switch v {
			case "ACTIVE":
				attrs[j], diff = "SUSPENDED", true
			case "SUSPENDED", "DEPROVISIONED":
				attrs[j], diff = "ACTIVE", true
			}
		}
	}
	if !diff {
		return 0
	}
	r.Attrs = attrs
	return 1
}

// recorder measures phases: wall and CPU time, allocations, and the peak
// heap sampled every 10 ms.
type recorder struct {
	mu                   sync.Mutex
	peakHeap             int64
	last                 time.Time
	lastCPU              time.Duration
	lastMallocs, lastTot uint64
	lastGC               uint32
	done                 chan struct{}
	wg                   sync.WaitGroup
}

func newRecorder() *recorder { return &recorder{} }

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func (r *recorder) start() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.last, r.lastCPU = time.Now(), cpuTime()
	r.lastMallocs, r.lastTot, r.lastGC = ms.Mallocs, ms.TotalAlloc, ms.NumGC
	resetPeak()
	r.done = make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		s := make([]metrics.Sample, 1)
		for {
			select {
			case <-r.done:
				return
			case <-t.C:
				copy(s, heapSample)
				metrics.Read(s)
				if s[0].Value.Kind() == metrics.KindUint64 {
					v := int64(s[0].Value.Uint64())
					r.mu.Lock()
					r.peakHeap = max(r.peakHeap, v)
					r.mu.Unlock()
				}
			}
		}
	}()
}

func (r *recorder) close() {
	close(r.done)
	r.wg.Wait()
}

func (r *recorder) mark(name string) LinearPhase {
	now, cpu := time.Now(), cpuTime()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.mu.Lock()
	peak := max(r.peakHeap, int64(ms.HeapAlloc))
	r.peakHeap = 0
	r.mu.Unlock()
	p := LinearPhase{Name: name, Seconds: now.Sub(r.last).Seconds(), CPUSeconds: (cpu - r.lastCPU).Seconds(),
		Allocs: ms.Mallocs - r.lastMallocs, AllocBytes: ms.TotalAlloc - r.lastTot, PeakHeap: peak, PeakRSS: peakRSS(), GCs: ms.NumGC - r.lastGC}
	resetPeak()
	r.lastMallocs, r.lastTot, r.lastGC = ms.Mallocs, ms.TotalAlloc, ms.NumGC
	r.last, r.lastCPU = time.Now(), cpuTime()
	return p
}

// loadAverage reads /proc/loadavg (zeros where there is none).
func loadAverage() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err == nil {
		fmt.Sscanf(string(b), "%f %f %f", &l[0], &l[1], &l[2])
	}
	return l
}
