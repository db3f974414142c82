package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
	// Full is the first run on an empty database (sync and evaluation).
	Full float64 `json:"full_seconds"`
	// Changed counts the Okta users that differ in the re-run.
	Changed int `json:"okta_users_changed"`
	// Phases are those of the re-run: sync, load, correlate, evaluate,
	// persist.
	Phases []RerunPhase `json:"phases"`
	// Total is the re-run's sync and evaluation; CPU its user and system
	// time, the figure a busy machine distorts least.
	Total     float64  `json:"total_seconds"`
	CPU       float64  `json:"cpu_seconds"`
	PeakRSS   int64    `json:"peak_rss_bytes"`
	Unchanged []string `json:"unchanged_sources"`
	Read      []string `json:"read_sources"`
	// Evaluation is the re-run's evaluation, "full" or "incremental":
	// Carried are the controls it carried over, NotLoaded the sources it
	// did not load.
	Evaluation string   `json:"evaluation"`
	Carried    []string `json:"carried_controls,omitempty"`
	NotLoaded  []string `json:"not_loaded_sources,omitempty"`
	Opened     int      `json:"opened"`
	Resolved   int      `json:"resolved"`
	// Active counts the open and exempted findings after the re-run;
	// with Options.Verify, Mismatches are those (control, entity, state,
	// owner) only the re-run or only a run from scratch has.
	Active     int      `json:"active_findings"`
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

// Rerun runs the loop once on an empty database, then changes 1% of the
// Okta users (every hundredth active account is suspended) and measures a
// second run on the same database: what `onus run` costs when one export
// changed. The Okta export is restored afterwards, byte for byte.
func Rerun(ctx context.Context, o Options) (*RerunResult, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	if _, err := Generate(o); err != nil {
		return nil, err
	}
	res := &RerunResult{People: o.People}
	dbPath := filepath.Join(o.Dir, "rerun.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(dbPath + suffix)
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
	defer db.Close()
	m := &monitor.Monitor{Config: cfg, Store: db, Actor: "bench"}
	logf("first run on an empty database")
	start := time.Now()
	if err := syncEval(ctx, m); err != nil {
		return nil, err
	}
	res.Full = time.Since(start).Seconds()
	logf("  %.2fs", res.Full)

	okta := filepath.Join(o.Dir, "exports", "okta", "users.json")
	orig, err := os.ReadFile(okta)
	if err != nil {
		return nil, err
	}
	defer replaceFile(okta, orig)
	edited, n := suspendEvery(orig, 100)
	res.Changed = n
	if err := replaceFile(okta, edited); err != nil {
		return nil, err
	}
	runtime.GC()
	resetPeak()
	if o.BeforeRerun != nil {
		o.BeforeRerun()
	}
	start = time.Now()
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
	logf("re-run with %d Okta users changed", n)
	srep, err := m.Sync(ctx, monitor.SyncOptions{})
	if err != nil {
		return nil, err
	}
	m.Phase("sync")
	for _, s := range srep.Sources {
		if s.Unchanged {
			res.Unchanged = append(res.Unchanged, s.Source)
		} else {
			res.Read = append(res.Read, s.Source)
		}
	}
	erep, err := m.Eval(ctx, orggen.AcmeNow.Add(time.Hour), srep.Snapshots)
	if err != nil {
		return nil, err
	}
	res.Total, res.CPU = time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
	if o.AfterRerun != nil {
		o.AfterRerun()
	}
	res.Opened, res.Resolved = erep.Changes.Opened, erep.Changes.Resolved
	res.Evaluation, res.Carried, res.NotLoaded = erep.Evaluation, erep.Carried, erep.NotLoaded
	got, err := activeFindings(ctx, db)
	if err != nil {
		return nil, err
	}
	res.Active = len(got)
	if !o.Verify {
		return res, nil
	}
	logf("verifying: a run from scratch on the changed exports")
	scratch := filepath.Join(o.Dir, "rerun-scratch.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(scratch + suffix)
	}
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
	if _, err := m2.Eval(ctx, orggen.AcmeNow.Add(time.Hour), srep2.Snapshots); err != nil {
		return nil, err
	}
	want, err := activeFindings(ctx, db2)
	if err != nil {
		return nil, err
	}
	for k := range got {
		if !want[k] {
			res.Mismatches = append(res.Mismatches, "only in the re-run: "+k)
		}
	}
	for k := range want {
		if !got[k] {
			res.Mismatches = append(res.Mismatches, "only from scratch: "+k)
		}
	}
	sort.Strings(res.Mismatches)
	return res, nil
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
	srep, err := m.Sync(ctx, monitor.SyncOptions{})
	if err != nil {
		return err
	}
	for _, s := range srep.Sources {
		if s.Status != "ok" {
			return fmt.Errorf("bench: source %s: %s", s.Source, s.Error)
		}
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
