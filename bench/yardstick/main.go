package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// benchNow is the instant the bench organisation describes
// (orggen.AcmeBase): both sides evaluate as of it.
const benchNow = "2026-11-30T09:00:00Z"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gaps":
		err = gapsCmd(os.Args[2:])
	case "compare":
		var ok bool
		ok, err = compareCmd(os.Args[2:], os.Stdout)
		if err == nil && !ok {
			os.Exit(1)
		}
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "yardstick:", err)
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `yardstick: onus's DuckDB yardstick (bench/yardstick, docs/performance.md)

  yardstick compare [--people N] [--dir DIR] [--onus BIN]
      generate the bench organisation (onus bench --generate-only) unless
      DIR has it, run "onus run" on an empty database and the DuckDB
      script, each in its own process, compare onus's open findings with
      the yardstick's gaps, and print wall time, CPU time and peak
      resident memory side by side. Exit 1 when they disagree.
  yardstick gaps --dir DIR [--now TIME] [--out FILE] [-v] [--sql FILE]
      the DuckDB side alone: write the gaps as "control<TAB>entity" lines;
      -v prints each statement's time, --sql runs another script instead
      of the built-in gaps.sql.
`)
}

func gapsCmd(args []string) error {
	fs := flag.NewFlagSet("gaps", flag.ExitOnError)
	dir := fs.String("dir", "", "directory with onus bench's exports")
	nowS := fs.String("now", benchNow, "evaluate as of this instant (RFC 3339)")
	out := fs.String("out", "", "write the gaps to this file (default: standard output)")
	verbose := fs.Bool("v", false, "print each statement's time on standard error")
	script := fs.String("sql", "", "run this script instead of the built-in gaps.sql (to try a variant)")
	fs.Parse(args)
	if *dir == "" {
		return errors.New("gaps: --dir is required")
	}
	now, err := time.Parse(time.RFC3339, *nowS)
	if err != nil {
		return fmt.Errorf("gaps: --now: %w", err)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	var timings io.Writer
	if *verbose {
		timings = os.Stderr
	}
	sqlText := gapsSQL
	if *script != "" {
		b, err := os.ReadFile(*script)
		if err != nil {
			return fmt.Errorf("gaps: %w", err)
		}
		sqlText = string(b)
	}
	gs, err := GapsOf(context.Background(), sqlText, abs, now, timings)
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	for _, g := range gs {
		fmt.Fprintln(bw, g)
	}
	return bw.Flush()
}

// usage of one child process.
type usageOf struct {
	Wall, CPU time.Duration
	PeakRSS   int64 // bytes
}

// measure runs a command and returns its wall time, user+system CPU time
// and peak resident memory (the kernel's maxrss of the child).
func measure(cmd *exec.Cmd) (usageOf, error) {
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	start := time.Now()
	err := cmd.Run()
	u := usageOf{Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		u.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.PeakRSS = ru.Maxrss << 10
		}
	}
	if err != nil {
		return u, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, lastLines(stderr.String(), 20))
	}
	return u, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func compareCmd(args []string, stdout io.Writer) (bool, error) {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	people := fs.Int("people", 10000, "people in the generated organisation")
	dir := fs.String("dir", "", "directory for the exports and databases (default: $TMPDIR/onus-bench-N, as onus bench)")
	onusBin := fs.String("onus", "onus", "the onus binary to measure")
	show := fs.Int("show", 10, "mismatches to print")
	fs.Parse(args)
	if *dir == "" {
		*dir = filepath.Join(os.TempDir(), fmt.Sprintf("onus-bench-%d", *people))
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return false, err
	}
	res, err := Compare(context.Background(), CompareOptions{People: *people, Dir: abs, Onus: *onusBin, Log: os.Stderr})
	if err != nil {
		return false, err
	}
	res.Write(stdout, *show)
	return res.Agree(), nil
}

// CompareOptions say what to compare.
type CompareOptions struct {
	People int
	Dir    string
	Onus   string
	// Self is the yardstick binary run for the DuckDB side (default: this
	// executable).
	Self string
	Log  io.Writer
}

// CompareResult is a side-by-side measurement.
type CompareResult struct {
	People             int
	Onus, Yard         usageOf
	OnusGaps, YardGaps int
	OnlyOnus, OnlyYard []Gap
	ByControl          map[string][2]int
}

// Agree reports whether both found the same (control, entity) pairs.
func (r *CompareResult) Agree() bool { return len(r.OnlyOnus) == 0 && len(r.OnlyYard) == 0 }

// Compare generates the organisation unless Dir has it, then runs onus and
// the yardstick, each in its own process, and compares what they found.
func Compare(ctx context.Context, o CompareOptions) (*CompareResult, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	self := o.Self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	gen := exec.CommandContext(ctx, o.Onus, "bench", "--generate-only", "--people", fmt.Sprint(o.People), "--dir", o.Dir, "-q")
	gen.Stdout = o.Log
	if _, err := measure(gen); err != nil {
		return nil, err
	}
	db := filepath.Join(o.Dir, "yardstick-onus.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	res := &CompareResult{People: o.People, ByControl: map[string][2]int{}}
	logf("onus run on %s", o.Dir)
	var err error
	run := exec.CommandContext(ctx, o.Onus, "run", "--config", o.Dir, "--db", db, "--now", benchNow, "-q")
	if res.Onus, err = measure(run); err != nil {
		return nil, err
	}
	out := filepath.Join(o.Dir, "yardstick-gaps.tsv")
	logf("yardstick (DuckDB) on %s", o.Dir)
	yard := exec.CommandContext(ctx, self, "gaps", "--dir", o.Dir, "--now", benchNow, "--out", out)
	if res.Yard, err = measure(yard); err != nil {
		return nil, err
	}
	yardGaps, err := readTSV(out)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	list := exec.CommandContext(ctx, o.Onus, "findings", "--config", o.Dir, "--db", db, "--state", "open", "-o", "csv")
	list.Stdout = &buf
	if _, err := measure(list); err != nil {
		return nil, err
	}
	onusGaps, err := readFindingsCSV(&buf)
	if err != nil {
		return nil, err
	}
	res.OnusGaps, res.YardGaps = len(onusGaps), len(yardGaps)
	for _, g := range onusGaps {
		c := res.ByControl[g.Control]
		c[0]++
		res.ByControl[g.Control] = c
	}
	for _, g := range yardGaps {
		c := res.ByControl[g.Control]
		c[1]++
		res.ByControl[g.Control] = c
	}
	res.OnlyOnus, res.OnlyYard = Diff(onusGaps, yardGaps)
	return res, nil
}

func readTSV(path string) ([]Gap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Gap
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		c, e, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not control<TAB>entity", path, i+1)
		}
		out = append(out, Gap{c, e})
	}
	sortGaps(out)
	return out, nil
}

// readFindingsCSV reads `onus findings -o csv`: its control and entity
// columns.
func readFindingsCSV(r io.Reader) ([]Gap, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("onus findings: %w", err)
	}
	ci, ei := -1, -1
	for i, h := range head {
		switch h {
		case "control":
			ci = i
		case "entity":
			ei = i
		}
	}
	if ci < 0 || ei < 0 {
		return nil, fmt.Errorf("onus findings: no control or entity column in %v", head)
	}
	var out []Gap
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("onus findings: %w", err)
		}
		out = append(out, Gap{rec[ci], rec[ei]})
	}
	sortGaps(out)
	return out, nil
}

// Write prints the side-by-side table and the mismatches.
func (r *CompareResult) Write(w io.Writer, show int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%d people\twall\tCPU (user+sys)\tpeak RSS\tgaps\t\n", r.People)
	row := func(name string, u usageOf, gaps int) {
		fmt.Fprintf(tw, "%s\t%.1f s\t%.1f s\t%.0f MiB\t%d\t\n", name, u.Wall.Seconds(), u.CPU.Seconds(), float64(u.PeakRSS)/(1<<20), gaps)
	}
	row("onus run", r.Onus, r.OnusGaps)
	row("yardstick (DuckDB)", r.Yard, r.YardGaps)
	if r.Yard.Wall > 0 && r.Yard.PeakRSS > 0 {
		fmt.Fprintf(tw, "onus / yardstick\t%.2f×\t%.2f×\t%.2f×\t\t\n", r.Onus.Wall.Seconds()/r.Yard.Wall.Seconds(),
			r.Onus.CPU.Seconds()/max(r.Yard.CPU.Seconds(), 1e-9), float64(r.Onus.PeakRSS)/float64(r.Yard.PeakRSS))
	}
	tw.Flush()
	if r.Yard.Wall > 0 {
		met := func(ok bool) string {
			if ok {
				return "met"
			}
			return "not met"
		}
		ratio := r.Onus.Wall.Seconds() / r.Yard.Wall.Seconds()
		gib := float64(r.Onus.PeakRSS) / (1 << 30)
		fmt.Fprintf(w, "issue 13's targets (set for 100,000 people): onus run's wall time ≤ 2× the yardstick's: %.2f× (%s); onus run's peak RSS ≤ 1.5 GiB: %.2f GiB (%s)\n",
			ratio, met(ratio <= 2), gib, met(gib <= 1.5))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTROL\tONUS\tYARDSTICK\t")
	var names []string
	for c := range r.ByControl {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		n := r.ByControl[c]
		mark := ""
		if n[0] != n[1] {
			mark = "  ≠"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", c, n[0], n[1], mark)
	}
	tw.Flush()
	if r.Agree() {
		fmt.Fprintf(w, "\nagree: the same %d (control, entity) pairs\n", r.OnusGaps)
		return
	}
	fmt.Fprintf(w, "\nDISAGREE: %d only in onus, %d only in the yardstick\n", len(r.OnlyOnus), len(r.OnlyYard))
	for i, g := range r.OnlyOnus {
		if i == show {
			fmt.Fprintf(w, "  … %d more\n", len(r.OnlyOnus)-show)
			break
		}
		fmt.Fprintf(w, "  only onus:      %s %s\n", g.Control, g.Entity)
	}
	for i, g := range r.OnlyYard {
		if i == show {
			fmt.Fprintf(w, "  … %d more\n", len(r.OnlyYard)-show)
			break
		}
		fmt.Fprintf(w, "  only yardstick: %s %s\n", g.Control, g.Entity)
	}
}
