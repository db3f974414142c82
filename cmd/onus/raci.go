package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/report"
)

func (a *app) raciCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "raci",
		Short: "Check, show, import and export the responsibility matrix",
		Long: `The responsibility matrix (raci.yaml) says, for each security activity, who
is Responsible (does the work), Accountable (answers for it: exactly one),
Consulted and Informed. Roles are teams, HR departments, people, or the
relative roles asset-owner, manager and team-lead.`,
	}
	cmd.AddCommand(a.raciCheckCmd(), a.raciShowCmd(), a.raciImportCmd(), a.raciExportCmd())
	return cmd
}

// matrix loads the configuration and, when a database exists, the people
// of the last evaluation.
func (a *app) matrix(ctx context.Context) (*config.Config, *raci.Matrix, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	var dir *raci.Directory
	if db, err := a.openExisting(ctx); err == nil {
		dir, err = db.Directory(ctx)
		db.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	return cfg, raci.New(cfg.RACI, dir), nil
}

func (a *app) raciCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check [DIR]",
		Short: "Find gaps and disagreements in the matrix",
		Long: `check reports each problem of the matrix with a stable code, a severity, the
file and line, and a one-line fix: activities with no or several Accountable
roles, no Responsible role, unknown roles, teams without a lead or members,
people who left or are on leave, controls whose activity is missing,
activities no control checks, roles with mixed letters, A or R that end in
nobody who can act, and overloaded people or activities.

People checks use the last evaluation's directory; without one they are
skipped, with a warning. Exits 1 when there is an error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if len(args) == 1 {
				a.configDir = args[0]
			}
			cfg, m, err := a.matrix(cmd.Context())
			if err != nil {
				return err
			}
			if cfg.RACI == nil {
				return onus.Errorf(onus.ENOTFOUND, "no %s in %s", config.RACIFile, a.configDir)
			}
			probs := m.Check(cfg)
			if a.output == report.JSON {
				if probs == nil {
					probs = []raci.Problem{}
				}
				if err := report.WriteJSON(a.stdout, map[string]any{"errors": raci.Errors(probs), "problems": probs}); err != nil {
					return err
				}
			} else {
				for _, p := range probs {
					fmt.Fprintln(a.stdout, p)
				}
				a.printf("%d activities, %d errors, %d warnings\n", len(cfg.RACI.Activities), raci.Errors(probs), len(probs)-raci.Errors(probs))
			}
			if raci.Errors(probs) > 0 {
				return errSilent
			}
			return nil
		},
	}
}

func (a *app) raciShowCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Render the matrix, with its gaps highlighted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, m, err := a.matrix(cmd.Context())
			if err != nil {
				return err
			}
			if cfg.RACI == nil {
				return onus.Errorf(onus.ENOTFOUND, "no %s in %s", config.RACIFile, a.configDir)
			}
			if err := m.Render(a.stdout, format, m.Check(cfg)); err != nil {
				return onus.Errorf(onus.EINVALID, "%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, markdown, csv or html")
	return cmd
}

func (a *app) raciExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Write the matrix as CSV: activities as rows, roles as columns",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(a.configDir)
			if err != nil {
				return err
			}
			if cfg.RACI == nil {
				return onus.Errorf(onus.ENOTFOUND, "no %s in %s", config.RACIFile, a.configDir)
			}
			return raci.WriteCSV(a.stdout, cfg.RACI)
		},
	}
}

func (a *app) raciImportCmd() *cobra.Command {
	var write bool
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Read a matrix spreadsheet into raci.yaml",
		Long: `import reads a spreadsheet saved as CSV: a column "activity" (and optionally
"title", "description", "policy"), then one column per role, with cells R,
A, C, I or combinations such as A/R. It prints the raci.yaml it makes, or
with --write replaces the configuration's raci.yaml, keeping its teams.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return onus.Errorf(onus.EINVALID, "cannot open %s: %v", args[0], err)
			}
			defer f.Close()
			r, err := raci.ReadCSV(args[0], f)
			if err != nil {
				return err
			}
			path := filepath.Join(a.configDir, config.RACIFile)
			var base *config.RACI
			if bf, err := os.Open(path); err == nil {
				base, err = config.ParseRACI(path, bf)
				bf.Close()
				if err != nil {
					return err
				}
			}
			if !write {
				return raci.WriteYAML(a.stdout, r, base)
			}
			out, err := os.Create(path + ".tmp")
			if err != nil {
				return err
			}
			if err := raci.WriteYAML(out, r, base); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
			if err := os.Rename(path+".tmp", path); err != nil {
				return err
			}
			a.printf("wrote %s: %d activities\n", path, len(r.Activities))
			return nil
		},
	}
	cmd.Flags().BoolVar(&write, "write", false, "replace raci.yaml in the configuration directory")
	return cmd
}
