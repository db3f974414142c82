package bench_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/bench"
)

var people = flag.Int("people", 5000, "people in the generated organisation for BenchmarkLoop")

// childArg makes the test binary the re-run's process: Rerun starts it
// again with this argument and a ChildSpec, as `onus bench --rerun`
// starts `onus bench-rerun-child`.
const childArg = "bench-rerun-child"

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == childArg {
		var spec bench.ChildSpec
		if err := json.Unmarshal([]byte(os.Args[2]), &spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := bench.RerunChild(context.Background(), spec, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	flag.Parse()
	os.Exit(m.Run())
}

// rerunExec is the program Rerun starts for the re-run: this test binary.
func rerunExec(t testing.TB) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe, childArg}
}

// BenchmarkLoop runs one sync and evaluation of a generated organisation
// (5,000 people by default; -people 100000 for the full size, which
// `onus bench` also measures) and reports each phase.
func BenchmarkLoop(b *testing.B) {
	dir := filepath.Join(os.TempDir(), "onus-go-bench")
	for i := 0; i < b.N; i++ {
		res, err := bench.Run(context.Background(), bench.Options{People: *people, Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range res.Phases {
			b.ReportMetric(p.Seconds, p.Name+"-s")
		}
		b.ReportMetric(float64(res.PeakRSS)/(1<<20), "peak-MiB")
		b.ReportMetric(float64(res.Software), "software-records")
	}
}

// TestBenchRuns keeps the benchmark harness working: a tiny organisation
// goes through the whole loop and opens findings.
func TestBenchRuns(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "heap")
	res, err := bench.Run(context.Background(), bench.Options{People: 300, Dir: dir, MemProfile: prof})
	if err != nil {
		t.Fatal(err)
	}
	if res.Software < 300*30 || res.Findings == 0 || len(res.Phases) != 6 || res.Nudges == 0 {
		t.Errorf("result = %+v", res)
	}
	// Each phase reports its live heap and the split of its peak, and
	// leaves an in-use heap profile.
	for _, p := range res.Phases {
		if p.LiveHeap <= 0 || p.LiveHeap > p.HeapInUse+p.PeakRSS {
			t.Errorf("phase %s: live heap %d (heap in use %d, peak %d)", p.Name, p.LiveHeap, p.HeapInUse, p.PeakRSS)
		}
		if runtime.GOOS == "linux" && (p.RSSAnon <= 0 || p.RSSGo <= 0 || p.RSSAnon+p.RSSFile > 2*p.PeakRSS) {
			t.Errorf("phase %s: anonymous %d, Go %d, file %d of a peak of %d", p.Name, p.RSSAnon, p.RSSGo, p.RSSFile, p.PeakRSS)
		}
		if fi, err := os.Stat(prof + "." + p.Name); err != nil || fi.Size() == 0 {
			t.Errorf("phase %s: no heap profile: %v", p.Name, err)
		}
	}
}

// BenchmarkRerun measures a re-run after 1% of the Okta users changed
// (5,000 people by default; -people 100000 for the full size, which
// `onus bench --rerun` also measures).
func BenchmarkRerun(b *testing.B) {
	dir := filepath.Join(os.TempDir(), "onus-go-bench")
	for i := 0; i < b.N; i++ {
		res, err := bench.Rerun(context.Background(), bench.Options{People: *people, Dir: dir, Exec: rerunExec(b)})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range res.Phases {
			b.ReportMetric(p.Seconds, p.Name+"-s")
		}
		b.ReportMetric(res.Total, "rerun-s")
		b.ReportMetric(res.CPU, "rerun-cpu-s")
		b.ReportMetric(res.Full, "full-s")
		b.ReportMetric(float64(res.PeakRSS)/(1<<20), "peak-MiB")
		b.ReportMetric(res.Process.Sys, "rerun-sys-s")
	}
}

// TestRerunReadsOnlyOkta keeps the re-run measurement honest: the re-run
// runs in a process of its own, as a user's next `onus run` does, and
// reports that process's figures; only the changed export is read; and
// the re-run ends with the findings a run from scratch on the changed
// exports has, and those of the same re-run timed in the benchmark's own
// process.
func TestRerunReadsOnlyOkta(t *testing.T) {
	res, err := bench.Rerun(context.Background(), bench.Options{People: 300, Dir: t.TempDir(), Verify: true, InProcess: true, Exec: rerunExec(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Read) != 1 || res.Read[0] != "okta" || len(res.Unchanged) != 9 || res.Changed == 0 {
		t.Errorf("result = %+v", res)
	}
	// Another process: not this one, and the one Rerun started.
	p := res.Process
	if p == nil || p.PID == 0 || p.PID == os.Getpid() || p.ParentPID != os.Getpid() {
		t.Fatalf("re-run process %+v, this process %d", p, os.Getpid())
	}
	if p.Seconds <= 0 || p.User <= 0 || p.PeakRSS <= 0 || p.MinorFaults <= 0 {
		t.Errorf("re-run process figures missing: %+v", p)
	}
	if res.Total != p.Seconds || res.CPU != p.User+p.Sys || res.PeakRSS != p.PeakRSS {
		t.Errorf("headline %.3fs, %.3f CPU s, peak %d: not the process's %+v", res.Total, res.CPU, res.PeakRSS, p)
	}
	var names []string
	var phaseCPU float64
	for _, ph := range res.Phases {
		names = append(names, ph.Name)
		phaseCPU += ph.CPU
		if ph.Seconds <= 0 || ph.PeakRSS <= 0 || ph.HeapMapped <= 0 || ph.Allocated <= 0 {
			t.Errorf("phase %+v", ph)
		}
	}
	if got := strings.Join(names, ","); got != "open,sync,load,correlate,evaluate,persist,summary" {
		t.Errorf("phases %s", got)
	}
	if phaseCPU <= 0 || phaseCPU > res.CPU*1.05 {
		t.Errorf("phases' CPU %.3fs, the process's %.3fs", phaseCPU, res.CPU)
	}
	if res.Active == 0 {
		t.Errorf("no finding is open after the re-run: nothing was compared")
	}
	// The software and device controls that do not read the clock are
	// carried over, and the software and app sources not loaded.
	if res.Evaluation != "incremental" || !slices.Contains(res.Carried, "app-outdated") || !slices.Contains(res.Carried, "disk-encryption") ||
		!slices.Equal(res.NotLoaded, []string{"osquery", "catalog"}) {
		t.Errorf("re-run evaluation %s, carried %v, not loaded %v", res.Evaluation, res.Carried, res.NotLoaded)
	}
	for _, m := range res.Mismatches {
		t.Error(m)
	}
	ip := res.InProcess
	if ip == nil || len(ip.Phases) != 5 || ip.CPU <= 0 {
		t.Fatalf("in-process re-run %+v", ip)
	}
	for _, m := range ip.Mismatches {
		t.Error(m)
	}
}

// A re-run needs a program to run in: without one, Rerun says so rather
// than timing the re-run in its own process.
func TestRerunNeedsAProcess(t *testing.T) {
	_, err := bench.Rerun(context.Background(), bench.Options{People: 300, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "Options.Exec") {
		t.Errorf("err = %v", err)
	}
}

// ServerCPU reads a process's CPU time and its children's from /proc:
// this process, after burning CPU, reads at least what it burnt.
func TestServerCPU(t *testing.T) {
	before := bench.ServerCPU(os.Getpid())
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		x++
	}
	_ = x
	after := bench.ServerCPU(os.Getpid())
	if after-before < 50*time.Millisecond {
		t.Errorf("ServerCPU grew by %v over 300ms of busy loop, want at least 50ms", after-before)
	}
	if bench.ServerCPU(1<<30) != 0 {
		t.Errorf("ServerCPU of a missing process: want 0")
	}
}

// TestLinearRuns keeps the growth benchmark working: two tiny sizes, each
// evaluated on an empty store and again after 1% of the records changed,
// every phase measured, and a chart with a line per phase.
func TestLinearRuns(t *testing.T) {
	res, err := bench.Linear(context.Background(), bench.LinearOptions{People: []int{40, 120}, Dir: t.TempDir(), Repeat: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 2 {
		t.Fatalf("points = %d, want 2", len(res.Points))
	}
	for _, p := range res.Points {
		if p.Entities < p.People*30 || p.Changed == 0 || len(p.Runs) != 2 {
			t.Errorf("point = %+v", p)
			continue
		}
		first, second := p.Runs[0], p.Runs[1]
		if first.Changes["opened"] == 0 || first.Changes["opened"] != first.Findings {
			t.Errorf("%d people: the first run opened %v of %d failures", p.People, first.Changes, first.Findings)
		}
		if second.Changes["opened"]+second.Changes["resolved"] == 0 || second.Changes["unchanged"] == 0 {
			t.Errorf("%d people: the second run changed nothing: %v", p.People, second.Changes)
		}
		for _, r := range p.Runs {
			var names []string
			for _, ph := range r.Phases {
				names = append(names, ph.Name)
				if ph.Seconds <= 0 || ph.Allocs == 0 || ph.PeakHeap == 0 {
					t.Errorf("%d people, %s run: phase %+v", p.People, r.Name, ph)
				}
			}
			if got := strings.Join(names, ","); got != "load,correlate,evaluate,persist" {
				t.Errorf("%d people, %s run: phases %s", p.People, r.Name, got)
			}
		}
	}
	if res.Points[1].Entities <= res.Points[0].Entities {
		t.Errorf("entities %d then %d", res.Points[0].Entities, res.Points[1].Entities)
	}
	svg := bench.LinearChart(res)
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Fatalf("chart is not XML: %v", err)
	}
	// Five phases, each in both panels.
	if n := strings.Count(string(svg), "<polyline"); n != 10 {
		t.Errorf("chart has %d lines, want 10", n)
	}
	var table strings.Builder
	if err := bench.LinearTable(&table, res); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(table.String(), "\n"); n != 2+4 {
		t.Errorf("table has %d lines, want 6:\n%s", n, table.String())
	}
}

// With ReuseFirstRun, the second measurement starts from the store the
// first run left and re-runs the same way.
func TestRerunReusesFirstRun(t *testing.T) {
	dir := t.TempDir()
	o := bench.Options{People: 300, Dir: dir, ReuseFirstRun: true, Exec: rerunExec(t), Verify: true}
	first, err := bench.Rerun(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	second, err := bench.Rerun(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if first.FirstRunReused || first.Full <= 0 || !second.FirstRunReused || second.Full != 0 {
		t.Errorf("first run reused: %v (%.2fs), then %v (%.2fs)", first.FirstRunReused, first.Full, second.FirstRunReused, second.Full)
	}
	if first.Active != second.Active || first.Resolved != second.Resolved || !slices.Equal(first.Read, second.Read) || !slices.Equal(first.Carried, second.Carried) {
		t.Errorf("the re-runs differ: %+v\nthen %+v", first, second)
	}
	for _, m := range second.Mismatches {
		t.Error(m)
	}
	if _, err := bench.Rerun(context.Background(), bench.Options{People: 300, Dir: dir, ReuseFirstRun: true, InProcess: true, Exec: rerunExec(t)}); err == nil {
		t.Errorf("reusing the first run's store and timing the re-run in-process: no error")
	}
}
