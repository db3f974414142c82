package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/lease"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/source"
)

func (a *app) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check a configuration directory without reading any source",
		Long: `validate reads onus.yaml, raci.yaml and controls/*.yaml, and compiles every
CEL expression. It reports every problem it finds, each with its file and
line, and exits non-zero when there is one.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if len(args) == 1 {
				a.configDir = args[0]
			}
			cfg, err := config.Load(a.configDir)
			if err == nil {
				if probs := connectorProblems(cfg); len(probs) > 0 {
					err = probs
				}
			}
			if err == nil {
				_, err = evaluate.Compile(cfg, a.clock.Now())
			}
			if err == nil {
				// The mappings, with their transforms.
				var mp config.Problems
				for _, src := range cfg.Sources {
					if _, merr := source.NewMapping(src, monitor.Normalizer(cfg)); merr != nil {
						mp = append(mp, &config.Problem{File: cfg.File, Line: src.Line, Message: merr.Error()})
					}
				}
				if len(mp) > 0 {
					err = mp
				}
			}
			if err == nil {
				// The message templates, built-in and overridden.
				if _, terr := monitor.Renderer(cfg); terr != nil {
					err = config.Problems{{File: cfg.File, Message: terr.Error()}}
				}
			}
			if err == nil && (cfg.RACI != nil || len(cfg.Serve.Admins)+len(cfg.Serve.Auditors) > 0) {
				// Roles eval would run with: a team that does not exist
				// (A: [it-opz]) is an error here as in raci check. Teams
				// from HR are known once a sync has run.
				var dir *raci.Directory
				if db, derr := a.openExisting(cmd.Context()); derr == nil {
					dir, _ = db.Directory(cmd.Context())
					db.Close()
				}
				var ps config.Problems
				m := raci.New(cfg.RACI, dir)
				if dir != nil {
					// serve.admins and serve.auditors name teams as the
					// matrix does: a misspelt one makes nobody an
					// administrator, silently.
					for _, l := range []struct {
						key   string
						roles []string
					}{{"serve.admins", cfg.Serve.Admins}, {"serve.auditors", cfg.Serve.Auditors}} {
						for _, r := range l.roles {
							if !strings.Contains(r, "@") && m.Team(r) == nil {
								ps = append(ps, &config.Problem{File: cfg.File, Message: fmt.Sprintf("%s: %q is not a team of raci.yaml or an HR department, nor an e-mail address", l.key, r)})
							}
						}
					}
				}
				if cfg.RACI != nil {
					for _, p := range m.Check(cfg) {
						if p.Severity == raci.Error && (p.Code == raci.CodeUnknownRole || p.Code == raci.CodeUnknownApprover) && (dir != nil || p.Code == raci.CodeUnknownApprover) {
							ps = append(ps, &config.Problem{File: p.File, Line: p.Line, Message: p.Message + "; " + p.Hint})
						}
					}
				}
				if len(ps) > 0 {
					err = ps
				}
			}
			var probs config.Problems
			switch {
			case err == nil:
			case errors.As(err, &probs):
			default:
				return err
			}
			probs = append(probs, gateProblems(a.configDir)...)
			warnings := config.Problems{}
			if cfg != nil {
				warnings = append(warnings, cfg.Warnings()...)
			}
			if a.output == report.JSON {
				if probs == nil {
					probs = config.Problems{}
				}
				if err := report.WriteJSON(a.stdout, map[string]any{"valid": len(probs) == 0, "problems": []*config.Problem(probs), "warnings": []*config.Problem(warnings)}); err != nil {
					return err
				}
				if len(probs) > 0 {
					return errUnhealthyConfig
				}
				return nil
			}
			if len(probs) > 0 {
				return probs
			}
			a.printf("%s is valid: %d sources, %d controls", a.configDir, len(cfg.Sources), len(cfg.Controls))
			if cfg.RACI != nil {
				a.printf(", %d activities", len(cfg.RACI.Activities))
			}
			a.printf("\n")
			for _, w := range warnings {
				a.printf("warning: %s\n", w.Error())
			}
			return nil
		},
	}
}

// errUnhealthyConfig makes validate exit 1 after printing JSON.
var errUnhealthyConfig = onus.Errorf(onus.EINVALID, "the configuration is not valid")

func (a *app) findingsCmd() *cobra.Command {
	var owner, control, state, kind, entity, now string
	var overdue bool
	var limit int
	cmd := &cobra.Command{
		Use:   "findings",
		Short: "List findings",
		Long: `findings lists the findings ledger, most urgent first. By default it shows
open findings; --state picks others (open, resolved, exempted, gone, all).`,
		Example: `  onus findings --owner jane.doe@acme.com
  onus findings --control edr-agent-missing --output csv > edr.csv
  onus findings --overdue --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(report.Text, report.JSON, report.CSV); err != nil {
				return err
			}
			t, err := a.parseNow(now)
			if err != nil {
				return err
			}
			f := onus.FindingFilter{Owner: owner, Control: control, Kind: kind, Entity: entity, Limit: limit}
			for _, s := range strings.Split(state, ",") {
				s = strings.TrimSpace(s)
				if s == "all" {
					f.States = nil
					break
				}
				st, err := onus.ParseState(s)
				if err != nil {
					return err
				}
				f.States = append(f.States, st)
			}
			if overdue {
				f.OverdueAt = t
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			fs, err := db.Findings(cmd.Context(), f)
			if err != nil {
				return err
			}
			return report.WriteFindings(a.stdout, fs, a.output, t)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&owner, "owner", "", "only findings this person (e-mail) is Responsible for")
	fl.StringVar(&control, "control", "", "only findings of this control")
	fl.StringVar(&state, "state", "open", "states to list, comma separated: open, resolved, exempted, gone, or all")
	fl.StringVar(&kind, "kind", "", "only findings on entities of this kind")
	fl.StringVar(&entity, "entity", "", "only findings on this entity id")
	fl.BoolVar(&overdue, "overdue", false, "only open findings past their due date")
	fl.IntVar(&limit, "limit", 0, "list at most this many")
	fl.StringVar(&now, "now", "", "judge overdue as of this time; default: the current time")
	return cmd
}

func (a *app) findingCmd() *cobra.Command {
	var now string
	return &cobra.Command{
		Use:   "finding ID",
		Short: "Show one finding with its evidence, fix steps and history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			id, err := parseID(args[0], "finding")
			if err != nil {
				return err
			}
			t, err := a.parseNow(now)
			if err != nil {
				return err
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			f, err := db.Finding(cmd.Context(), id)
			if err != nil {
				return err
			}
			events, err := db.Events(cmd.Context(), id)
			if err != nil {
				return err
			}
			fix := ""
			if cfg, err := config.Load(a.configDir); err == nil {
				if ctl := cfg.Control(f.Control); ctl != nil {
					fix = evaluate.RenderFix(ctl.Fix, map[string]any{"Entity": map[string]string{"Name": f.EntityName, "ID": f.Entity}, "Finding": f})
				}
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, map[string]any{"finding": f, "overdue": f.Overdue(t), "history": events, "fix": fix})
			}
			report.WriteFinding(a.stdout, f, events, fix, t)
			return nil
		},
	}
}

func (a *app) explainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain ENTITY",
		Short: "Show how an entity was built from its sources",
		Long: `explain finds an entity by id, by a record id (source:record-id), by any
identity key (a serial number, an e-mail address, a hostname, a MAC address)
or by name, and shows which records were merged into it and by which key
(the keys that agreed, those that differed and were ignored, and why), the
key values ignored as junk, which near matches were kept apart and why, the
records kept apart as ambiguous with their possible matches (decide with
onus link or onus unlink), what it links to, each source's attributes side
by side, and its findings.`,
		Example: `  onus explain C02ZC2QYLVDL
  onus explain jane.doe@acme.com
  onus explain device:hostname:mbp-jane
  onus explain 'osquery:40443DD9-5B21-A345-8F89-AADDE84C3719//Applications/Notion.app'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			db, err := a.openExisting(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			inv, err := monitor.LoadInventory(cmd.Context(), cfg, db)
			if err != nil {
				return err
			}
			ents := inv.Find(args[0], monitor.Normalizer(cfg))
			if r, ok := inv.FindRecord(args[0]); ok && len(ents) == 0 {
				var keys []string
				for _, k := range inv.RecordsOf(r).Keys(int(r.Idx)) {
					if name, raw, why, ign := k.Ignored(); ign {
						keys = append(keys, fmt.Sprintf("%s=%q (ignored: %s)", name, raw, why))
					} else {
						keys = append(keys, k.Name+"="+k.Value)
					}
				}
				msg := fmt.Sprintf("record %s joined no entity: its source only adds to entities other sources know, and no entity has its keys (%s)", args[0], strings.Join(keys, ", "))
				if _, text, ok := inv.PossibleMatchOfRecord(r); ok {
					msg += "; " + text
				}
				return onus.Errorf(onus.ENOTFOUND, "%s", msg)
			}
			if len(ents) == 0 {
				return onus.Errorf(onus.ENOTFOUND, "no entity matches %q (try an id, a serial, an e-mail, a hostname or a name)", args[0])
			}
			var out []*inventory.Explanation
			for _, e := range ents {
				out = append(out, inv.Explain(e))
			}
			// Ages are shown as of the last evaluation, which is when the
			// findings below were judged.
			asOf := a.clock.Now()
			if last, err := db.LastRun(ctx, "eval"); err == nil && !last.EvalNow.IsZero() {
				asOf = last.EvalNow
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, out)
			}
			for i, x := range out {
				if i > 0 {
					fmt.Fprintln(a.stdout, "\n"+strings.Repeat("─", 60))
				}
				fs, err := db.Findings(ctx, onus.FindingFilter{Entity: x.ID})
				if err != nil {
					return err
				}
				report.WriteExplain(a.stdout, x, fs, asOf)
			}
			return nil
		},
	}
}

func (a *app) statusCmd() *cobra.Command {
	var src string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each source's health, the last runs and the scheduled jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.openExisting(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if src != "" {
				syncs, err := db.Syncs(ctx, src, 10)
				if err != nil {
					return err
				}
				if len(syncs) == 0 {
					return onus.Errorf(onus.ENOTFOUND, "source %s was never synced", src)
				}
				if a.output == report.JSON {
					return report.WriteJSON(a.stdout, syncs)
				}
				for _, s := range syncs {
					fmt.Fprintf(a.stdout, "%s  %-10s %d records, %d skipped %s\n", s.Finished.Format("2006-01-02 15:04:05"), s.Status, s.Records, s.Bad, s.Error)
					for _, p := range s.Problems {
						fmt.Fprintf(a.stdout, "    skipped %s\n", p.Error())
					}
					for _, w := range s.Warnings {
						fmt.Fprintf(a.stdout, "    warning: %s\n", w)
					}
				}
				return nil
			}
			states, err := db.SourceStates(ctx)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(states))
			for n := range states {
				names = append(names, n)
			}
			sort.Strings(names)
			last, lerr := db.LastRun(ctx, "eval")
			unfinished, err := db.Unfinished(ctx, a.clock.Now().Add(-7*24*time.Hour))
			if err != nil {
				return err
			}
			// The scheduler's jobs, when onus.yaml can be read.
			var jobs *jobsReport
			if cfg := a.mainConfig(); cfg != nil {
				if jobs, err = a.readJobs(ctx, cfg, db); err != nil {
					return err
				}
			}
			if a.output == report.JSON {
				out := map[string]any{"sources": states, "unfinished_runs": unfinished}
				if lerr == nil {
					out["last_eval"] = last
				}
				if jobs != nil {
					out["schedule"] = jobs
				}
				return report.WriteJSON(a.stdout, out)
			}
			for _, n := range names {
				st := states[n]
				health := "healthy"
				if !st.Healthy {
					health = "UNHEALTHY: " + st.Reason
				}
				fmt.Fprintf(a.stdout, "%-16s last sync %s %-10s %s\n", n, st.Last.Finished.Format("2006-01-02 15:04"), st.Last.Status, health)
			}
			if lerr == nil {
				fmt.Fprintf(a.stdout, "last evaluation: run %d at %s (as of %s), %s\n", last.ID, last.Finished.Format("2006-01-02 15:04"), last.EvalNow.Format("2006-01-02 15:04"), last.Status)
			}
			for _, r := range unfinished {
				switch {
				case r.Status == "interrupted":
					fmt.Fprintf(a.stdout, "! %s run %d by %s, started %s, was interrupted: %s\n", r.Kind, r.ID, r.Actor, r.Started.Format("2006-01-02 15:04"), r.Error)
				case lease.DeadOnThisHost(r.Holder):
					fmt.Fprintf(a.stdout, "! %s run %d by %s, started %s, stopped before it ended (process %s is gone); the next sync or evaluation marks it interrupted\n",
						r.Kind, r.ID, r.Actor, r.Started.Format("2006-01-02 15:04"), r.Holder)
				default:
					fmt.Fprintf(a.stdout, "%s run %d by %s is running since %s (process %s)\n", r.Kind, r.ID, r.Actor, r.Started.Format("2006-01-02 15:04"), r.Holder)
				}
			}
			if jobs != nil {
				fmt.Fprintln(a.stdout, "\nScheduled jobs (onus schedule, onus serve):")
				writeJobTable(a.stdout, jobs)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&src, "source", "", "show the recent syncs of one source, with their skipped records")
	return cmd
}
