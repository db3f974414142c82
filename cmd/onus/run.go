package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/orggen"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/store"
)

// monitorAt is the start of the commands that act as of a time: the
// output format checked, --now read, the configuration loaded, the store
// opened.
func (a *app) monitorAt(cmd *cobra.Command, now string) (*monitor.Monitor, time.Time, error) {
	if err := a.checkOutput(); err != nil {
		return nil, time.Time{}, err
	}
	t, err := a.parseNow(now)
	if err != nil {
		return nil, time.Time{}, err
	}
	m, err := a.openMonitor(cmd)
	return m, t, err
}

// openMonitor loads the configuration and opens its store.
func (a *app) openMonitor(cmd *cobra.Command) (*monitor.Monitor, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	db, err := a.openStore(cmd.Context(), a.databasePath(cfg))
	if err != nil {
		return nil, err
	}
	return &monitor.Monitor{Config: cfg, Store: db, Log: a.log, Progress: a.progress(), Actor: actor(), Wall: a.clock}, nil
}

type syncFlags struct {
	only         []string
	acceptShrink []string
	strict       bool
	reread       bool
}

// strictFlag makes the run summary's warnings errors.
func strictFlag(cmd *cobra.Command, strict *bool) {
	cmd.Flags().BoolVar(strict, "strict", false, "exit 1 when the run has a warning: a mapped field with no value in any record, a file read in another format than its extension says, a control whose scope matched no entity")
}

// strictErr counts the warnings of a run, for --strict.
func strictErr(srep *monitor.SyncReport, erep *monitor.EvalReport) error {
	n := 0
	if srep != nil {
		for _, s := range srep.Sources {
			n += len(s.Warnings)
		}
	}
	if erep != nil {
		n += len(erep.Warnings)
	}
	if n == 0 {
		return nil
	}
	return onus.Errorf(onus.EINVALID, "--strict: the run has %d warning(s); see the summary", n)
}

func (f *syncFlags) add(cmd *cobra.Command) {
	strictFlag(cmd, &f.strict)
	cmd.Flags().StringSliceVar(&f.only, "source", nil, "sync only these sources (repeatable)")
	cmd.Flags().StringSliceVar(&f.acceptShrink, "accept-shrink", nil, "accept a large drop in records for these sources: the drop is real")
	cmd.Flags().BoolVar(&f.reread, "reread", false, "read every source, even those whose files are unchanged since their snapshot in force was read")
}

func (a *app) syncCmd() *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Read every source and store what it returned",
		Long: `sync reads every source in onus.yaml and stores the records it returned.

A malformed record is skipped and named (file, line, field). A source that
cannot be read, has too many malformed records, or returns far fewer records
than its last good sync (more than 20% fewer by default) is marked unhealthy:
its last good snapshot stays in force and no finding is opened, resolved or
marked gone because of it. Exit status 2 means a source is unhealthy.

A file source whose files hold the same bytes as when its snapshot in force
was read is not read again: the summary says "unchanged" and that snapshot
stays in force (size and modification time first, then a SHA-256 of the
content, so a file touched but not changed is recognised). --reread reads
every source anyway.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			m, err := a.openMonitor(cmd)
			if err != nil {
				return err
			}
			defer m.Store.Close()
			rep, err := m.Sync(cmd.Context(), monitor.SyncOptions{Only: f.only, AcceptShrink: f.acceptShrink, Reread: f.reread})
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				if err := report.WriteJSON(a.stdout, rep); err != nil {
					return err
				}
			} else if !a.quiet {
				report.WriteSync(a.stdout, rep)
			}
			if rep.Failed() {
				return errUnhealthy
			}
			if f.strict {
				return strictErr(rep, nil)
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func (a *app) evalCmd() *cobra.Command {
	var now string
	var strict bool
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate the controls and update the findings ledger",
		Long: `eval builds the inventory from the snapshots in force, evaluates every
control, and records what changed in the findings ledger: new gaps are
opened with a Responsible person and a due date, fixed ones resolved, gaps
of entities no source knows any more marked gone. A check that cannot be
evaluated (missing data, an unhealthy source) is unknown: it neither opens
nor resolves anything, and is counted in the report.

An evaluation is incremental when it can be: a control whose inputs did not
change since the last evaluation (its definition, the settings, the manual
links, the snapshots and health of the sources of every kind it reaches,
its exceptions) and that does not read the clock (now) is carried over, its
findings and figures as they were, and the sources no evaluated control
reaches are not read. The summary says which controls were evaluated and
why. --full (or $` + "ONUS_FULL_EVALUATION=1" + `) evaluates every control.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, t, err := a.monitorAt(cmd, now)
			if err != nil {
				return err
			}
			defer m.Store.Close()
			m.Full = wantFull(cmd)
			rep, err := m.Eval(cmd.Context(), t, nil)
			if err != nil {
				return err
			}
			if err := a.writeRun(cmd.Context(), m.Store, nil, rep); err != nil {
				return err
			}
			if strict {
				return strictErr(nil, rep)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&now, "now", "", nowHelp)
	strictFlag(cmd, &strict)
	fullFlag(cmd)
	return cmd
}

// fullFlag adds --full, which evaluates every control instead of
// carrying over those whose inputs did not change.
func fullFlag(cmd *cobra.Command) {
	cmd.Flags().Bool("full", false, "evaluate every control, instead of carrying over the controls whose inputs did not change since the last evaluation (also $"+monitor.EnvFull+"=1)")
}

// wantFull reports whether --full was given (the monitor reads
// $ONUS_FULL_EVALUATION itself, for onus serve's evaluations too).
func wantFull(cmd *cobra.Command) bool {
	f, err := cmd.Flags().GetBool("full")
	return err == nil && f
}

// nowHelp warns that --now is not a preview: the ledger records what an
// evaluation at that time decides.
const nowHelp = "evaluate as of this time (RFC 3339 or a date); default: the current time. The result is stored: a time ahead expires exceptions for good and dates the findings it opens from then (try it with --db on a copy)"

func (a *app) runCmd() *cobra.Command {
	var f syncFlags
	var now string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Sync every source, then evaluate (sync + eval)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, t, err := a.monitorAt(cmd, now)
			if err != nil {
				return err
			}
			defer m.Store.Close()
			m.Full = wantFull(cmd)
			return a.syncAndEval(cmd.Context(), m, f, t)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&now, "now", "", nowHelp)
	fullFlag(cmd)
	return cmd
}

func (a *app) syncAndEval(ctx context.Context, m *monitor.Monitor, f syncFlags, now time.Time) error {
	srep, err := m.Sync(ctx, monitor.SyncOptions{Only: f.only, AcceptShrink: f.acceptShrink, Reread: f.reread})
	if err != nil {
		return err
	}
	erep, err := m.Eval(ctx, now, srep.Snapshots)
	if err != nil {
		return err
	}
	if err := a.writeRun(ctx, m.Store, srep, erep); err != nil {
		return err
	}
	if srep.Failed() {
		return errUnhealthy
	}
	if f.strict {
		return strictErr(srep, erep)
	}
	return nil
}

func (a *app) writeRun(ctx context.Context, db *store.DB, srep *monitor.SyncReport, erep *monitor.EvalReport) error {
	st, err := db.Stats(ctx, erep.Now)
	if err != nil {
		return err
	}
	if a.output == report.JSON {
		return report.WriteJSON(a.stdout, report.Summary{Sync: srep, Eval: erep, Stats: st, DB: db.Path()})
	}
	if a.quiet {
		return nil
	}
	if srep != nil {
		report.WriteSync(a.stdout, srep)
	}
	report.WriteEval(a.stdout, erep, st)
	return nil
}

func (a *app) demoCmd() *cobra.Command {
	var dir string
	var fresh, serve bool
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run onus on the bundled example organisation",
		Long: `demo writes the Acme example organisation (200 people, their laptops,
accounts, background checks and software, exported from HR, Jamf, Intune,
CrowdStrike, Okta, Checkr and osquery) to a directory, syncs it, evaluates
its controls as of the day the example describes, and prints the summary.

Afterwards the directory is an ordinary onus configuration:

  cd onus-demo && onus findings
  onus explain MBP-KIOSK-LOBBY --config onus-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if cmd.Flags().Changed("schedule") {
				return onus.Errorf(onus.EINVALID, "demo --serve never runs the loop: the example describes one fixed morning (%s); to try the schedule, run onus serve --config %s after the demo", orggen.AcmeNow.Format("2 January 2006"), dir)
			}
			if fresh {
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
			}
			if err := orggen.WriteAcme(dir); err != nil {
				return onus.Errorf(onus.EINVALID, "demo: cannot write the example to %s: %v", dir, err)
			}
			a.configDir = dir
			m, err := a.openMonitor(cmd)
			if err != nil {
				return err
			}
			defer m.Store.Close()
			if err := a.syncAndEval(cmd.Context(), m, syncFlags{}, orggen.AcmeNow); err != nil {
				return err
			}
			if serve {
				return a.serve(cmd, m.Config, m.Store, sf, true, onus.FixedClock(orggen.AcmeNow))
			}
			if a.output != report.JSON {
				abs, _ := filepath.Abs(dir)
				a.printf("\nThe example is in %s and its database in %s. Try:\n", abs, m.Store.Path())
				a.printf("  onus findings --config %s\n", dir)
				a.printf("  onus findings --config %s --owner grace.hopper@acme.com\n", dir)
				a.printf("  onus explain MBP-KIOSK-LOBBY --config %s\n", dir)
				a.printf("  onus nudge --dry-run --config %s --now %s --person barbara.liskov@acme.com\n", dir, orggen.AcmeNow.Format(time.RFC3339))
				a.printf("The example describes %s; \"onus eval --config %s --now %s\" evaluates it again as of then.\n",
					orggen.AcmeNow.Format("2 January 2006"), dir, orggen.AcmeNow.Format(time.RFC3339))
				a.printf("See it in the web application, signed in as anyone: onus demo --serve\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "onus-demo", "directory to write the example and its database to")
	cmd.Flags().BoolVar(&fresh, "fresh", false, "delete the directory first, starting with an empty database")
	cmd.Flags().BoolVar(&serve, "serve", false, "then start the web application on it, with a demo sign-in (pick a person)")
	sf.add(cmd)
	// The example describes one fixed morning: demo --serve never runs the
	// loop, so --schedule is not one of its flags.
	_ = cmd.Flags().MarkHidden("schedule")
	return cmd
}
