package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onus-sec/onus/internal/bench"
)

func point(people, entities int, cpu float64) bench.LinearPoint {
	phases := func() []bench.LinearPhase {
		var ps []bench.LinearPhase
		for _, n := range []string{"load", "correlate", "evaluate", "persist"} {
			ps = append(ps, bench.LinearPhase{Name: n, Seconds: cpu, CPUSeconds: cpu, CPUMicrosPerEntity: cpu * 1e6 / float64(entities)})
		}
		return ps
	}
	return bench.LinearPoint{People: people, Entities: entities, Runs: []bench.LinearRun{
		{Name: "first", Phases: phases(), Changes: map[string]int{"opened": 3}},
		{Name: "second", Phases: phases(), Changes: map[string]int{"opened": 1}},
	}}
}

// TestMerge draws one chart from two runs: a size measured again replaces
// the earlier measurement, and the points are ordered by entities.
func TestMerge(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r bench.LinearResult) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.json", bench.LinearResult{GoVersion: "go1", CPUs: 2, Points: []bench.LinearPoint{point(1900, 100000, 0.2), point(190, 10000, 0.02)}})
	b := write("b.json", bench.LinearResult{GoVersion: "go1", CPUs: 2, Points: []bench.LinearPoint{point(1900, 100000, 0.3), point(19000, 1000000, 2)}})
	svg, merged := filepath.Join(dir, "c.svg"), filepath.Join(dir, "c.json")
	var out strings.Builder
	if err := run([]string{"-svg", svg, "-json", merged, a, b}, &out); err != nil {
		t.Fatal(err)
	}
	var res bench.LinearResult
	if b, err := os.ReadFile(merged); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, p := range res.Points {
		got = append(got, p.People)
	}
	if len(got) != 3 || got[0] != 190 || got[1] != 1900 || got[2] != 19000 {
		t.Fatalf("people = %v, want [190 1900 19000]", got)
	}
	if cpu := res.Points[1].Runs[0].Phases[2].CPUSeconds; cpu != 0.3 {
		t.Errorf("1900 people: evaluate %v s, want the later file's 0.3", cpu)
	}
	if s, err := os.ReadFile(svg); err != nil || !strings.Contains(string(s), "<polyline") {
		t.Errorf("chart: %v %.200s", err, s)
	}
	if n := strings.Count(out.String(), "\n"); n != 2+6 {
		t.Errorf("table has %d lines:\n%s", n, out.String())
	}
	if err := run([]string{filepath.Join(dir, "missing.json")}, &out); err == nil {
		t.Error("a missing file gave no error")
	}
	empty := write("empty.json", bench.LinearResult{})
	if err := run([]string{empty}, &out); err == nil || !strings.Contains(err.Error(), "empty.json: no measurements") {
		t.Errorf("empty file: %v", err)
	}
}
