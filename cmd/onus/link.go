package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/store"
)

// linkCmd and unlinkCmd let an admin decide what correlation could not:
// two records are the same thing, or never the same.
func (a *app) linkCmd() *cobra.Command   { return a.manualLinkCmd(true) }
func (a *app) unlinkCmd() *cobra.Command { return a.manualLinkCmd(false) }

func (a *app) manualLinkCmd(linked bool) *cobra.Command {
	var reason, as string
	var forget bool
	use, short, long := "link", "Say by hand that two records or entities are one thing",
		`link merges two records or entities that the identity keys could not: a
background check filed under a personal e-mail address, an EDR record that
"possible match" names in onus explain. A reference is a record
("checkr:cand_5f2a", "osquery:<host uuid>/<path>") or an entity id
("person:employee_id:1150", "device:serial:C02ZC2QYLVDL": all its records).

The decision is kept in the database, written to the audit log, shown by
onus explain and applied at every correlation from the next evaluation
on. Without arguments, link lists every decision made by hand.

With --server and --token, link acts through "onus serve" as the token's
owner, who must be a security administrator; on the database file it acts
as --as (or the login name), marked in the audit log.`
	if !linked {
		use, short, long = "unlink", "Say by hand that two records or entities are never one thing",
			`unlink keeps two records or entities apart whatever their keys share: two
laptops that reported one USB Ethernet adapter, a person whose name is
another's. --forget drops an earlier link or unlink, so that the keys alone
decide again. Every decision is audited and shown by onus explain.`
	}
	cmd := &cobra.Command{
		Use:   use + " A B",
		Short: short,
		Long:  long,
		Example: `  onus link person:employee_id:1150 checkr:cand_5f2a --reason "applied as ada.r@gmail.com" --as it@acme.com
  onus unlink device:serial:C02AAA device:serial:C02BBB --reason "shared dock adapter"
  onus unlink --forget person:employee_id:1150 checkr:cand_5f2a
  onus link A B --reason "…" --server https://onus.acme.com --token onus_…   # an administrator's token`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return onus.Errorf(onus.EINVALID, "%s takes two references (or none to list)", use)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if a.server != "" {
				return a.remoteLink(cmd, args, linked, forget, reason)
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			db, err := a.openExisting(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if len(args) == 0 {
				ls, err := db.ManualLinks(ctx)
				if err != nil {
					return err
				}
				return a.writeLinks(ls)
			}
			actorName := who(as)
			if actorName == "" {
				actorName = actor()
			} else {
				auditAs(ctx, db, actorName, args[0]+" "+args[1])
			}
			if forget {
				if err := db.DeleteManualLink(ctx, args[0], args[1], actorName); err != nil {
					return err
				}
				a.printf("forgot the decision about %s and %s; the keys alone decide from the next evaluation\n", args[0], args[1])
				return nil
			}
			if args[0] == args[1] {
				return onus.Errorf(onus.EINVALID, "%s and %s are the same reference", args[0], args[1])
			}
			inv, err := monitor.LoadInventory(cmd.Context(), cfg, db)
			if err != nil {
				return err
			}
			for _, ref := range args {
				if !inv.RefExists(ref) {
					return onus.Errorf(onus.ENOTFOUND, "%s names no record or entity (a record is source:record-id; an entity id is kind:key:value)", ref)
				}
			}
			if err := db.SetManualLink(ctx, store.ManualLink{A: args[0], B: args[1], Linked: linked, Actor: actorName, Reason: reason}); err != nil {
				return err
			}
			if linked {
				a.printf("linked %s and %s: one thing from the next evaluation (onus eval); onus explain shows it\n", args[0], args[1])
			} else {
				a.printf("unlinked %s and %s: never merged from the next evaluation (onus eval); onus explain shows it\n", args[0], args[1])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().StringVar(&as, "as", "", "on the database file: the e-mail of the person acting, marked as --as in the audit log; refused with --server, where the token says who acts [$ONUS_USER]")
	if !linked {
		cmd.Flags().BoolVar(&forget, "forget", false, "drop the earlier link or unlink of the pair instead")
	}
	return cmd
}

// remoteLink lists, links, unlinks or forgets through "onus serve".
func (a *app) remoteLink(cmd *cobra.Command, args []string, linked, forget bool, reason string) error {
	ctx := cmd.Context()
	if err := a.noAsWithServer(cmd); err != nil {
		return err
	}
	if len(args) == 0 {
		var ls []store.ManualLink
		if err := a.remote(ctx, "GET", "/links", nil, &struct {
			Links *[]store.ManualLink `json:"links"`
		}{&ls}); err != nil {
			return err
		}
		return a.writeLinks(ls)
	}
	if forget {
		if err := a.remote(ctx, "POST", "/links/forget", map[string]string{"a": args[0], "b": args[1]}, nil); err != nil {
			return err
		}
		a.printf("forgot the decision about %s and %s; the keys alone decide from the next evaluation\n", args[0], args[1])
		return nil
	}
	var l store.ManualLink
	if err := a.remote(ctx, "POST", "/links", map[string]string{"a": args[0], "b": args[1], "linked": strconv.FormatBool(linked), "reason": reason}, &l); err != nil {
		return err
	}
	if a.output == report.JSON {
		return report.WriteJSON(a.stdout, l)
	}
	if linked {
		a.printf("linked %s and %s: one thing from the next evaluation; onus explain shows it\n", args[0], args[1])
	} else {
		a.printf("unlinked %s and %s: never merged from the next evaluation; onus explain shows it\n", args[0], args[1])
	}
	return nil
}

// writeLinks prints the links and unlinks made by hand, read from the
// database file or through a server.
func (a *app) writeLinks(ls []store.ManualLink) error {
	if a.output == report.JSON {
		if ls == nil {
			ls = []store.ManualLink{}
		}
		return report.WriteJSON(a.stdout, ls)
	}
	if len(ls) == 0 {
		a.printf("No links or unlinks made by hand.\n")
	}
	for _, l := range ls {
		what := "unlinked"
		if l.Linked {
			what = "linked"
		}
		a.printf("%s %s %s  by %s on %s  %s\n", what, l.A, l.B, l.Actor, l.CreatedAt.Format("2006-01-02"), l.Reason)
	}
	return nil
}
