package bench_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onus-sec/onus/internal/bench"
)

var people = flag.Int("people", 5000, "people in the generated organisation for BenchmarkLoop")

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
	res, err := bench.Run(context.Background(), bench.Options{People: 300, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Software < 300*30 || res.Findings == 0 || len(res.Phases) != 6 || res.Nudges == 0 {
		t.Errorf("result = %+v", res)
	}
}

// BenchmarkRerun measures a re-run after 1% of the Okta users changed
// (5,000 people by default; -people 100000 for the full size, which
// `onus bench --rerun` also measures).
func BenchmarkRerun(b *testing.B) {
	dir := filepath.Join(os.TempDir(), "onus-go-bench")
	for i := 0; i < b.N; i++ {
		res, err := bench.Rerun(context.Background(), bench.Options{People: *people, Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range res.Phases {
			b.ReportMetric(p.Seconds, p.Name+"-s")
		}
		b.ReportMetric(res.Total, "rerun-s")
		b.ReportMetric(res.Full, "full-s")
		b.ReportMetric(float64(res.PeakRSS)/(1<<20), "peak-MiB")
	}
}

// TestRerunReadsOnlyOkta keeps the re-run measurement honest: only the
// changed export is read, and the re-run
// ends with the findings a run from scratch on the changed exports has.
func TestRerunReadsOnlyOkta(t *testing.T) {
	res, err := bench.Rerun(context.Background(), bench.Options{People: 300, Dir: t.TempDir(), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Read) != 1 || res.Read[0] != "okta" || len(res.Unchanged) != 9 || res.Changed == 0 || len(res.Phases) != 5 {
		t.Errorf("result = %+v", res)
	}
	if res.Active == 0 {
		t.Errorf("no finding is open after the re-run: nothing was compared")
	}
	for _, m := range res.Mismatches {
		t.Error(m)
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
