package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/bench"
	"github.com/onus-sec/onus/internal/columns"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/store"
)

func (a *app) benchCmd() *cobra.Command {
	var people int
	var dir, cpuProfile, memProfile string
	var generateOnly, rerun, verify, linear, inProcess, reuseFirst bool
	var serverPID int
	var sizes []int
	var repeat int
	var chart, jsonOut string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the monitor loop on a generated organisation",
		Long: `bench generates an organisation shaped like the example (by default
100,000 people, about 130,000 laptops and 5,000,000 installed-software
records: about 1.07 GB of exports), then runs one sync and one evaluation on
an empty database and reports, for each phase, the wall-clock time, the CPU
time of all cores together (which does not depend on what else the machine
runs) and the peak memory: how much of it is file pages (SQLite's
memory-mapped database), the heap in use and the live heap when the phase
ended. --memprofile PREFIX writes an in-use heap profile as each phase ends
(PREFIX.sync, PREFIX.correlate, …; go tool pprof -sample_index=inuse_space).

The exports are kept in --dir and reused by the next run with the same size.
--generate-only writes them (and the configuration) and stops: the DuckDB
yardstick in bench/yardstick reads the same directory.

--rerun measures an incremental re-run instead: one run on an empty
database, then 1% of the Okta users change and the second run is measured
phase by phase (unchanged sources are not read again). The re-run runs in
a new process of its own (this onus binary, started again), as a user's
next onus run does: it starts with an empty heap. Its figures are those
of that process: per phase the wall and CPU time, the kernel's share of
the CPU, the garbage collector's, page faults, bytes allocated and peak
memory; then the whole process from start to exit as the kernel counted
it. --cpuprofile is written by that process, and --memprofile PREFIX a
heap profile of it as it ends, to PREFIX.rerun (-sample_index=alloc_space:
what it allocated). --in-process also times the same re-run in the
benchmark's own process first (on a copy of the store), reusing the heap
of the first run: the figure this benchmark gave before, printed apart.
--reuse-first-run keeps a copy of the store the first run left (in --dir,
one per size and onus binary) and starts the next --rerun from it: only
the re-run runs again. --verify then runs from scratch on an empty
database with the changed exports and fails if the open findings differ
from the re-run's.

With --db postgres://… (an empty database) the store is PostgreSQL;
--db-server-pid names its server's main process (the pid in the first line
of postmaster.pid) when it runs on this machine, and each phase then
reports the server's CPU time too. scripts/bench-db runs the whole
SQLite-and-PostgreSQL comparison and prints one table (docs/scaling.md).

--linear measures how correlation, evaluation and persist grow with the
organisation: for each size of --sizes (people; about 53 entities each, so
the default runs from about 10,000 to 1,000,000 entities; add 100000 for
5.3 million, which needs about 6 GiB of memory) it generates
and syncs the organisation once into a seed SQLite file kept in --dir, then
evaluates it twice on a copy: on a store with no findings, then after 1% of
every source's records changed. --json writes the measurements, --chart an
SVG chart of them (see docs/performance.md, "Linear growth").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if dir == "" {
				dir = fmt.Sprintf("%s/onus-bench-%d", os.TempDir(), people)
			}
			o := bench.Options{People: people, Dir: dir, ServerPID: serverPID}
			if store.IsPostgres(a.dbPath) {
				o.DB = a.dbPath // an empty PostgreSQL database
			}
			if !a.quiet && a.output != report.JSON {
				o.Log = a.stderr
			}
			if generateOnly {
				res, err := bench.Generate(o)
				if err != nil {
					return err
				}
				if a.output == report.JSON {
					return report.WriteJSON(a.stdout, res)
				}
				fmt.Fprintf(a.stdout, "%d people, %d devices, %d software records, %s of exports in %s\n",
					res.People, res.Devices, res.Software, bench.MiB(res.Bytes), dir)
				return nil
			}
			if linear {
				return a.benchLinear(cmd, sizes, repeat, dir, cpuProfile, chart, jsonOut)
			}
			if rerun {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				o.Exec = []string{exe, benchRerunChild}
				if memProfile != "" {
					o.MemProfile = memProfile + ".rerun"
				}
				o.CPUProfile, o.Verify, o.InProcess, o.ReuseFirstRun = cpuProfile, verify, inProcess, reuseFirst
				res, err := bench.Rerun(cmd.Context(), o)
				if err != nil {
					return err
				}
				var mismatch error
				if len(res.Mismatches) > 0 {
					mismatch = onus.Errorf(onus.EINTERNAL, "bench: the re-run and a run from scratch differ in %d findings (first: %s)", len(res.Mismatches), res.Mismatches[0])
				} else if res.InProcess != nil && len(res.InProcess.Mismatches) > 0 {
					mismatch = onus.Errorf(onus.EINTERNAL, "bench: the re-run in its own process and in the benchmark's differ in %d findings (first: %s)", len(res.InProcess.Mismatches), res.InProcess.Mismatches[0])
				}
				if a.output == report.JSON {
					return errors.Join(report.WriteJSON(a.stdout, res), mismatch)
				}
				p := res.Process
				first := fmt.Sprintf("first run %.2fs", res.Full)
				if res.FirstRunReused {
					first = "first run's store reused"
				}
				fmt.Fprintf(a.stdout, "%d people: %s; re-run after %d Okta users changed (read %v, unchanged %d sources)\n",
					res.People, first, res.Changed, res.Read, len(res.Unchanged))
				fmt.Fprintf(a.stdout, "re-run in a new process (pid %d; the benchmark is pid %d), as `onus run` is:\n", p.PID, p.ParentPID)
				tw := columns.NewWriter(a.stdout)
				fmt.Fprintln(tw, "PHASE\tSECONDS\tCPU SECONDS\tOF WHICH SYSTEM\tGC CPU (ESTIMATE)\tPAGE FAULTS\tALLOCATED\tPEAK RSS\tHEAP MAPPED AT END\tDB SERVER CPU\t")
				var allocated int64
				for _, ph := range res.Phases {
					allocated += ph.Allocated
					fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%s\t%s\t%s\t\n", ph.Name, ph.Seconds, ph.CPU, ph.Sys, ph.GCCPU, ph.MinorFaults+ph.MajorFaults, bench.MiB(ph.Allocated), bench.MiB(ph.PeakRSS), bench.MiB(ph.HeapMapped), serverCPU(serverPID, ph.ServerCPU))
				}
				fmt.Fprintf(tw, "whole process, start to exit\t%.2f\t%.2f\t%.2f\t\t%d\t%s\t%s\t\t\t\n", p.Seconds, p.User+p.Sys, p.Sys, p.MinorFaults+p.MajorFaults, bench.MiB(allocated), bench.MiB(p.PeakRSS))
				tw.Flush()
				if ip := res.InProcess; ip != nil {
					fmt.Fprintln(a.stdout, "the same re-run in the benchmark's process, right after the first run (its heap reused; not what a user's re-run costs):")
					tw := columns.NewWriter(a.stdout)
					fmt.Fprintln(tw, "PHASE\tSECONDS\tCPU SECONDS\tDB SERVER CPU\tPEAK RSS SO FAR\t")
					for _, ph := range ip.Phases {
						fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\t%s\t\n", ph.Name, ph.Seconds, ph.CPU, serverCPU(serverPID, ph.ServerCPU), bench.MiB(ph.PeakRSS))
					}
					fmt.Fprintf(tw, "total in-process re-run\t%.2f\t%.2f\t\t%s\t\n", ip.Total, ip.CPU, bench.MiB(ip.PeakRSS))
					tw.Flush()
				}
				fmt.Fprintf(a.stdout, "%s evaluation: %d controls carried over %v, sources not loaded %v\n", res.Evaluation, len(res.Carried), res.Carried, res.NotLoaded)
				fmt.Fprintf(a.stdout, "%d findings opened, %d resolved by the change; %d open or exempted\n", res.Opened, res.Resolved, res.Active)
				if verify && mismatch == nil {
					fmt.Fprintf(a.stdout, "verified: a run from scratch on the changed exports has the same %d open or exempted findings\n", res.Active)
				}
				return mismatch
			}
			if cpuProfile != "" {
				stop, err := bench.StartCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			o.MemProfile = memProfile
			res, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, res)
			}
			fmt.Fprintf(a.stdout, "%d people, %d devices, %d software records, %s of exports (%s, %d CPUs)\n",
				res.People, res.Devices, res.Software, bench.MiB(res.Bytes), res.GoVersion, res.CPUs)
			tw := columns.NewWriter(a.stdout)
			fmt.Fprintln(tw, "PHASE\tSECONDS\tCPU SECONDS\tDB SERVER CPU\tPEAK RSS SO FAR\tOF WHICH FILE\tHEAP AT END\tLIVE HEAP\t")
			for _, p := range res.Phases {
				fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", p.Name, p.Seconds, p.CPUSeconds, serverCPU(serverPID, p.ServerCPUSeconds), bench.MiB(p.PeakRSS), bench.MiB(p.RSSFile), bench.MiB(p.HeapInUse), bench.MiB(p.LiveHeap))
			}
			fmt.Fprintf(tw, "total (sync and evaluation)\t%.2f\t%.2f\t\t%s\t\t\t\t\n", res.Total, res.TotalCPU, bench.MiB(res.PeakRSS))
			tw.Flush()
			fmt.Fprintf(a.stdout, "%d findings opened; %d messages planned, written and stored in the outbox in %.2fs\n", res.Findings, res.Nudges, res.NudgeSeconds)
			return nil
		},
	}
	cmd.Flags().IntVar(&people, "people", 100000, "people in the generated organisation")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the generated exports and database (default: a directory in $TMPDIR)")
	cmd.Flags().BoolVar(&generateOnly, "generate-only", false, "write the configuration and exports to --dir and stop (no sync or evaluation)")
	cmd.Flags().BoolVar(&rerun, "rerun", false, "measure a re-run after 1% of the Okta users changed, instead of a first run")
	cmd.Flags().BoolVar(&verify, "verify", false, "with --rerun: then run from scratch on the changed exports and fail if the findings differ from the re-run's")
	cmd.Flags().BoolVar(&inProcess, "in-process", false, "with --rerun: also time the re-run in the benchmark's own process, reusing the first run's heap (SQLite only)")
	cmd.Flags().BoolVar(&reuseFirst, "reuse-first-run", false, "with --rerun: keep a copy of the store the first run left in --dir (per size and onus binary) and start from it next time instead of running the first run again")
	cmd.Flags().IntVar(&serverPID, "db-server-pid", 0, "process id of the database server's main process on this machine (PostgreSQL: first line of postmaster.pid), to report its CPU time per phase")
	cmd.Flags().BoolVar(&linear, "linear", false, "measure correlation, evaluation and persist at each of --sizes, instead of one run")
	cmd.Flags().IntSliceVar(&sizes, "sizes", bench.LinearPeople, "with --linear: the organisation sizes in people, smallest first")
	cmd.Flags().IntVar(&repeat, "repeat", 0, "with --linear: measure each size this many times and keep the median of each phase (default: 5 times up to 2,000 people, 3 up to 20,000, then once)")
	cmd.Flags().StringVar(&chart, "chart", "", "with --linear: write an SVG chart of the measurements to this file")
	cmd.Flags().StringVar(&jsonOut, "json", "", "with --linear: write the measurements as JSON to this file")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (with --rerun: of the re-run's process; with --linear: a prefix, one profile per size, run and phase)")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write an in-use heap profile as each phase ends, after a garbage collection, to this prefix followed by the phase's name (PREFIX.sync, PREFIX.correlate, …; with --rerun: one of the re-run's process as it ends, PREFIX.rerun)")
	return cmd
}

// serverCPU formats a phase's database-server CPU seconds, "-" when no
// server was watched (SQLite runs in onus's own process).
func serverCPU(pid int, s float64) string {
	if pid == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", s)
}

// benchRerunChild is the hidden command `onus bench --rerun` starts to run
// the measured re-run in a process of its own.
const benchRerunChild = "bench-rerun-child"

func (a *app) benchRerunChildCmd() *cobra.Command {
	return &cobra.Command{
		Use:    benchRerunChild + " SPEC",
		Short:  "Run the measured re-run of onus bench --rerun (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var spec bench.ChildSpec
			if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
				return onus.Errorf(onus.EINVALID, "%s: %v", benchRerunChild, err)
			}
			return bench.RerunChild(cmd.Context(), spec, a.stdout)
		},
	}
}
