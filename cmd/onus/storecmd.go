package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/store"
)

// migrateCmd brings the store's schema up to date. Every command does it
// when it opens the store; with several onus serve replicas on one
// PostgreSQL, run it once, from one machine, before starting the new
// version (docs/scaling.md).
func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database's schema up to date",
		Long: `migrate applies the schema changes this onus has and the database (--db, or
database: in onus.yaml) has not. Any command does it when it opens the
database; run it on its own to upgrade a PostgreSQL database shared by
several onus servers before they run the new version.`,
		Example: `  onus migrate --db postgres://onus@db.acme.com/onus?password=env:ONUS_DB_PASSWORD`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			db, err := a.openStore(cmd.Context(), a.databasePath(a.mainConfig()))
			if err != nil {
				return err
			}
			defer db.Close()
			from, to, err := db.Migrated(cmd.Context())
			if err != nil {
				return err
			}
			// A new database (version 0) gets no audit line: nothing in it
			// to account for yet, and onus store copy needs it empty. Every
			// later upgrade is audited.
			if from != to && from != 0 {
				if err := db.Audit(cmd.Context(), actor(), "store.migrate", db.Path(), fmt.Sprintf("schema %d → %d", from, to)); err != nil {
					return err
				}
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, map[string]any{"database": db.Path(), "from": from, "to": to})
			}
			if from == to {
				a.printf("%s: schema version %d, up to date.\n", db.Path(), to)
			} else {
				a.printf("%s: schema version %d → %d.\n", db.Path(), from, to)
			}
			return nil
		},
	}
}

// storeCmd holds the commands on the database as a whole.
func (a *app) storeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Move the database (SQLite to PostgreSQL)",
	}
	var from, to string
	cp := &cobra.Command{
		Use:   "copy --from SOURCE --to TARGET",
		Short: "Copy every table into a new, empty database and verify it",
		Long: `copy moves a store: every table of --from is copied into --to, an empty
database (a SQLite file or a PostgreSQL URL), in one transaction; then each
table's row count and a SHA-256 of all its rows are compared on both sides.
Stop every onus process writing to --from first. Nothing is written to --to
if the copy or its check fails.`,
		Example: `  onus store copy --from onus.db --to 'postgres://onus@db.acme.com/onus?password=env:ONUS_DB_PASSWORD'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if from == "" || to == "" {
				return onus.Errorf(onus.EINVALID, "store copy needs --from and --to")
			}
			ctx := cmd.Context()
			src, err := a.openStore(ctx, from)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := a.openStore(ctx, to)
			if err != nil {
				return err
			}
			defer dst.Close()
			tables, err := store.Copy(ctx, src, dst, actor())
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, map[string]any{"from": src.Path(), "to": dst.Path(), "tables": tables})
			}
			var rows int64
			for _, t := range tables {
				a.printf("  %-18s %9d rows  sha256 %s\n", t.Table, t.Rows, t.Checksum[:16])
				rows += t.Rows
			}
			a.printf("Copied %d rows in %d tables from %s to %s; counts and checksums match.\n", rows, len(tables), src.Path(), dst.Path())
			return nil
		},
	}
	cp.Flags().StringVar(&from, "from", "", "the store to copy: a SQLite file or a PostgreSQL URL")
	cp.Flags().StringVar(&to, "to", "", "the new, empty store: a PostgreSQL URL or a SQLite file")
	cmd.AddCommand(cp)
	return cmd
}
