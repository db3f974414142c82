package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/internal/columns"
	"github.com/onus-sec/onus/report"
)

// tokenCmd manages API tokens directly on the database file: service
// tokens for automation, and personal tokens for a person (who can also
// make their own on the /tokens page).
func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Make, list and revoke API tokens (administrators, on the database file)",
		Long: `token manages the bearer tokens of the /api/v1 API. Only a hash of each
token is stored; the token is printed once, when it is made.

A personal token acts as its person, with what they may see. A service token
acts with a role: admin (everything, with source actions) or auditor
(everything, read-only). Scopes: read, or read and write; metrics lets a
service token scrape /metrics (alone, it needs no role and reads nothing
else).`,
	}
	var person, service, role, name, scopes, expires string
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a token and print it once",
		Example: `  onus token create --service siem --role auditor --scopes read --expires 90d --name "SIEM export"
  onus token create --person jane@acme.com --scopes read,write --expires 30d --name "jane's scripts"
  onus token create --service prometheus --scopes metrics --expires 366d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			owner := ""
			switch {
			case person != "" && service != "":
				return onus.Errorf(onus.EINVALID, "a token is for --person or for --service, not both")
			case person != "":
				if role != "" {
					return onus.Errorf(onus.EINVALID, "a personal token acts with its person's permissions; --role is for service tokens")
				}
				owner = strings.ToLower(person)
			case service != "":
				if scopes == authz.ScopeMetrics {
					if role != "" {
						return onus.Errorf(onus.EINVALID, "a metrics-only token reads /metrics and nothing else; it takes no --role")
					}
				} else if role != "admin" && role != "auditor" {
					return onus.Errorf(onus.EINVALID, "a service token needs --role admin or --role auditor (a token with --scopes metrics alone needs none)")
				}
				owner = "service:" + service
			default:
				return onus.Errorf(onus.EINVALID, "say whose token it is: --person EMAIL or --service NAME")
			}
			d, err := onus.ParseDuration(expires)
			if err != nil {
				return onus.Errorf(onus.EINVALID, "--expires: %v", err)
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if person != "" {
				p, err := db.Person(cmd.Context(), owner)
				if err != nil {
					return err
				}
				if !p.Working() {
					return onus.Errorf(onus.EINVALID, "%s has left (per HR, in the last evaluation): the server would refuse their token, as it refuses their sign-in", owner)
				}
			}
			if name == "" {
				name = owner
			}
			tok, t, err := authz.MakeToken(cmd.Context(), db, owner, name, strings.FieldsFunc(scopes, func(r rune) bool { return r == ',' || r == ' ' }),
				role, d, time.Now().UTC(), actor())
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, map[string]any{"token": tok, "details": t})
			}
			fmt.Fprintf(a.stdout, "%s\n", tok)
			a.printf("token %d for %s (%s), until %s; it is shown only now\n", t.ID, t.Email, strings.Join(t.Scopes, " "), t.ExpiresAt.Format("2006-01-02"))
			return nil
		},
	}
	create.Flags().StringVar(&person, "person", "", "the person the token acts as")
	create.Flags().StringVar(&service, "service", "", "the name of the service the token is for")
	create.Flags().StringVar(&role, "role", "", "a service token's role: admin or auditor")
	create.Flags().StringVar(&name, "name", "", "what uses the token")
	create.Flags().StringVar(&scopes, "scopes", "read", "read, read,write, or metrics (service tokens)")
	create.Flags().StringVar(&expires, "expires", "30d", "how long the token lasts (at most 366d)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			ts, err := db.Tokens(cmd.Context(), "")
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, ts)
			}
			tw := columns.NewWriter(a.stdout)
			fmt.Fprintln(tw, "ID\tOWNER\tNAME\tSCOPES\tROLE\tEXPIRES\tSTATE")
			for _, t := range ts {
				state := "active"
				if t.RevokedAt != nil {
					state = "revoked"
				} else if time.Now().After(t.ExpiresAt) {
					state = "expired"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Email, onus.CleanText(t.Name), strings.Join(t.Scopes, ","), orDash(t.Role), t.ExpiresAt.Format("2006-01-02"), state)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "token")
			if err != nil {
				return err
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.RevokeToken(cmd.Context(), id, "", actor()); err != nil {
				return err
			}
			a.printf("token %d revoked\n", id)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
