package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/exception"
	"github.com/onus-sec/onus/internal/columns"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/source"
	"github.com/onus-sec/onus/store"
	"github.com/onus-sec/onus/whois"
)

// errSilent exits 1 after a command printed why.
var errSilent = errors.New("")

// who is the person a command acts as: --as, or $ONUS_USER. The CLI is an
// administrator's tool on the machine that holds the database; the person
// is recorded in every decision and checked against the rules, but not
// authenticated: that is the web interface's job.
func who(as string) string {
	if as != "" {
		return as
	}
	return os.Getenv("ONUS_USER")
}

// parseExpiry reads an expiry: a date, a time, or a duration from now.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, onus.Errorf(onus.EINVALID, "an exception needs an expiry (--expires 2027-03-01 or --expires 30d)")
	}
	if d, err := onus.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	t, err := source.ParseTime(s, "")
	if err != nil {
		return time.Time{}, onus.Errorf(onus.EINVALID, "--expires: %q is neither a date nor a duration", s)
	}
	return t, nil
}

func (a *app) exceptionService(cmd *cobra.Command) (*exception.Service, *store.DB, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	db, err := a.openExisting(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	return &exception.Service{Store: db, Config: cfg, Clock: a.clock, Guardrail: a.guardrailLookup()}, db, nil
}

func (a *app) exceptCmd() *cobra.Command {
	var as string
	cmd := &cobra.Command{
		Use:   "except",
		Short: "Ask for, approve, reject, revoke or extend an exception (accepted risk)",
		Long: `An exception accepts a risk for a while: for one finding, or for a control
over a scope (a CEL filter of its entities). It needs a reason and an expiry
no longer than the maximum for its severity. Only the finding's Accountable
person, or a member of an approver team (exceptions.approvers), may approve
or reject it, and never whoever asked. An approved exception exempts its
finding at once (a scope's findings at the next evaluation); when it expires
or is revoked the finding reopens. Every decision is kept.

With --server URL and --token (or $ONUS_SERVER and $ONUS_TOKEN), every
subcommand acts through "onus serve" as the token's owner: the server
checks who may ask, decide, revoke or extend. Without --server, commands
act directly on the database file as --as EMAIL (or $ONUS_USER): that is
for an administrator at the console, and the audit log marks each such act
as done with --as.`,
	}
	cmd.PersistentFlags().StringVar(&as, "as", "", "on the database file: the e-mail of the person acting, marked as --as in the audit log; refused with --server, where the token says who acts [$ONUS_USER]")

	var finding int64
	var control, scope, reason, expires string
	request := &cobra.Command{
		Use:   "request",
		Short: "Ask for an exception",
		Example: `  onus except request --finding 13 --reason "kiosk is replaced on 15 Jan" --expires 2027-01-20 --as it@acme.com
  onus except request --control edr-agent-missing --scope 'entity.model.startsWith("Mac mini")' \
      --reason "build agents are isolated" --expires 90d --as infra@acme.com
  ONUS_TOKEN=onus_… onus except request --finding 13 --reason "kiosk is replaced on 15 Jan" \
      --expires 2027-01-20 --server https://onus.acme.com   # as the token's owner`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if a.server != "" {
				if err := a.noAsWithServer(cmd); err != nil {
					return err
				}
				exp, err := parseExpiry(expires, time.Now().UTC())
				if err != nil {
					return err
				}
				var x onus.Exception
				switch {
				case finding != 0 && (control != "" || scope != ""):
					return onus.Errorf(onus.EINVALID, "ask for an exception for one finding, or for a control over a scope, not both")
				case finding != 0:
					err = a.remote(cmd.Context(), "POST", fmt.Sprintf("/findings/%d/exception", finding),
						map[string]string{"reason": reason, "expires": exp.Format(time.RFC3339)}, &x)
				default:
					err = a.remote(cmd.Context(), "POST", "/exceptions",
						map[string]string{"control": control, "scope": scope, "reason": reason, "expires": exp.Format(time.RFC3339)}, &x)
				}
				if err != nil {
					return err
				}
				return a.writeException(&x, fmt.Sprintf("exception %d requested; it waits for the Accountable person's approval", x.ID))
			}
			svc, db, err := a.exceptionService(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			exp, err := parseExpiry(expires, a.clock.Now())
			if err != nil {
				return err
			}
			x, err := svc.Request(cmd.Context(), exception.Request{Finding: finding, Control: control, Scope: scope, Reason: reason, Expires: exp, Requester: who(as)})
			if err != nil {
				return err
			}
			auditAs(cmd.Context(), db, who(as), fmt.Sprintf("exception %d", x.ID))
			return a.writeException(x, fmt.Sprintf("exception %d requested; it waits for the Accountable person's approval", x.ID))
		},
	}
	request.Flags().Int64Var(&finding, "finding", 0, "the finding to exempt")
	request.Flags().StringVar(&control, "control", "", "the control to exempt over a scope")
	request.Flags().StringVar(&scope, "scope", "", "with --control: a CEL filter of the entities covered")
	request.Flags().StringVar(&reason, "reason", "", "why the risk is acceptable, and what limits it")
	request.Flags().StringVar(&expires, "expires", "", "when the exception ends: a date, or a duration such as 30d")

	decide := func(use, short string, fn func(ctx context.Context, svc *exception.Service, id int64, who, note string) (*onus.Exception, error)) *cobra.Command {
		var note string
		c := &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := a.checkOutput(); err != nil {
					return err
				}
				id, err := parseID(args[0], "exception")
				if err != nil {
					return err
				}
				if a.server != "" {
					if err := a.noAsWithServer(cmd); err != nil {
						return err
					}
					var x onus.Exception
					if err := a.remote(cmd.Context(), "POST", fmt.Sprintf("/exceptions/%d/%s", id, use), map[string]string{"note": note}, &x); err != nil {
						return err
					}
					return a.writeException(&x, fmt.Sprintf("exception %d is %s", x.ID, x.State))
				}
				svc, db, err := a.exceptionService(cmd)
				if err != nil {
					return err
				}
				defer db.Close()
				x, err := fn(cmd.Context(), svc, id, who(as), note)
				if err != nil {
					return err
				}
				auditAs(cmd.Context(), db, who(as), fmt.Sprintf("exception %d", x.ID))
				return a.writeException(x, fmt.Sprintf("exception %d is %s", x.ID, x.State))
			},
		}
		c.Flags().StringVar(&note, "note", "", "a note kept with the decision")
		return c
	}
	approve := decide("approve", "Approve a requested exception", func(ctx context.Context, svc *exception.Service, id int64, who, note string) (*onus.Exception, error) {
		return svc.Approve(ctx, id, who, note)
	})
	reject := decide("reject", "Reject a requested exception (--note says why)", func(ctx context.Context, svc *exception.Service, id int64, who, note string) (*onus.Exception, error) {
		return svc.Reject(ctx, id, who, note)
	})
	revoke := decide("revoke", "End an exception early: its finding reopens", func(ctx context.Context, svc *exception.Service, id int64, who, note string) (*onus.Exception, error) {
		return svc.Revoke(ctx, id, who, note)
	})

	var extendTo, extendReason string
	extend := &cobra.Command{
		Use:   "extend ID",
		Short: "Ask for an approved exception to last longer (it is approved again)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			id, err := parseID(args[0], "exception")
			if err != nil {
				return err
			}
			if a.server != "" {
				if err := a.noAsWithServer(cmd); err != nil {
					return err
				}
				exp, err := parseExpiry(extendTo, time.Now().UTC())
				if err != nil {
					return err
				}
				var x onus.Exception
				if err := a.remote(cmd.Context(), "POST", fmt.Sprintf("/exceptions/%d/extend", id),
					map[string]string{"expires": exp.Format(time.RFC3339), "reason": extendReason}, &x); err != nil {
					return err
				}
				return a.writeException(&x, fmt.Sprintf("extension %d of exception %d requested; it waits for approval", x.ID, id))
			}
			svc, db, err := a.exceptionService(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			exp, err := parseExpiry(extendTo, a.clock.Now())
			if err != nil {
				return err
			}
			x, err := svc.Extend(cmd.Context(), id, exp, who(as), extendReason)
			if err != nil {
				return err
			}
			auditAs(cmd.Context(), db, who(as), fmt.Sprintf("exception %d", x.ID))
			return a.writeException(x, fmt.Sprintf("extension %d of exception %d requested; it waits for approval", x.ID, id))
		},
	}
	extend.Flags().StringVar(&extendTo, "expires", "", "the new expiry: a date, or a duration from now")
	extend.Flags().StringVar(&extendReason, "reason", "", "why it needs longer (default: the original reason)")
	cmd.AddCommand(request, approve, reject, revoke, extend)
	return cmd
}

func (a *app) writeException(x *onus.Exception, msg string) error {
	if a.output == report.JSON {
		return report.WriteJSON(a.stdout, x)
	}
	a.printf("%s\n", msg)
	return nil
}

func (a *app) exceptionsCmd() *cobra.Command {
	var state, expiring string
	cmd := &cobra.Command{
		Use:   "exceptions",
		Short: "List exceptions, soonest to expire first",
		Example: `  onus exceptions                 # requested and approved
  onus exceptions --expiring 14d  # approved, expiring within 14 days
  onus exceptions --state all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			f := onus.ExceptionFilter{}
			switch state {
			case "all":
			case "":
				f.States = []onus.ExceptionState{onus.ExceptionRequested, onus.ExceptionApproved}
			default:
				for _, s := range strings.Split(state, ",") {
					st := onus.ExceptionState(strings.TrimSpace(s))
					switch st {
					case onus.ExceptionRequested, onus.ExceptionApproved, onus.ExceptionRejected, onus.ExceptionExpired, onus.ExceptionRevoked:
					default:
						return onus.Errorf(onus.EINVALID, "unknown exception state %q (want requested, approved, rejected, expired, revoked or all)", s)
					}
					f.States = append(f.States, st)
				}
			}
			if expiring != "" {
				d, err := onus.ParseDuration(expiring)
				if err != nil {
					return onus.Errorf(onus.EINVALID, "--expiring: %v", err)
				}
				f.ExpiringBefore = a.clock.Now().Add(d)
			}
			xs, err := db.Exceptions(cmd.Context(), f)
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				if xs == nil {
					xs = []*onus.Exception{}
				}
				return report.WriteJSON(a.stdout, xs)
			}
			if len(xs) == 0 {
				fmt.Fprintln(a.stdout, "No exceptions match.")
				return nil
			}
			tw := columns.NewWriter(a.stdout)
			fmt.Fprintln(tw, "ID\tSTATE\tCONTROL\tCOVERS\tREQUESTER\tAPPROVER\tEXPIRES\t")
			for _, x := range xs {
				covers := fmt.Sprintf("finding %d", x.Finding)
				if x.Scope != "" {
					covers = "scope: " + x.Scope
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", x.ID, x.State, x.Control, clip(covers, 40), x.Requester, orDash(x.Approver), x.Expires.Format("2006-01-02"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "states to list, comma separated, or all (default: requested and approved)")
	cmd.Flags().StringVar(&expiring, "expiring", "", "only approved exceptions expiring within this time (14d)")
	cmd.AddCommand(a.exceptionsExportCmd())
	return cmd
}

func (a *app) exceptionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exception ID",
		Short: "Show one exception with every decision about it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			id, err := parseID(args[0], "exception")
			if err != nil {
				return err
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			x, err := db.Exception(cmd.Context(), id)
			if err != nil {
				return err
			}
			events, err := db.ExceptionEvents(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, map[string]any{"exception": x, "history": events})
			}
			fmt.Fprintf(a.stdout, "Exception %d: %s, %s\n", x.ID, x.Control, x.State)
			if x.Scope != "" {
				fmt.Fprintf(a.stdout, "  covers     entities where %s\n", x.Scope)
			} else {
				fmt.Fprintf(a.stdout, "  covers     finding %d (%s)\n", x.Finding, x.Entity)
			}
			fmt.Fprintf(a.stdout, "  reason     %s\n  requester  %s\n  expires    %s\n", x.Reason, x.Requester, x.Expires.Format("2006-01-02"))
			if x.Replaces != 0 {
				fmt.Fprintf(a.stdout, "  extends    exception %d\n", x.Replaces)
			}
			fmt.Fprintln(a.stdout, "  history")
			for _, e := range events {
				fmt.Fprintf(a.stdout, "    %s  %-9s by %s  %s\n", e.At.Format("2006-01-02 15:04"), e.Action, e.Actor, e.Note)
			}
			return nil
		},
	}
}

func (a *app) whoisCmd() *cobra.Command {
	var now string
	cmd := &cobra.Command{
		Use:   "whois EMAIL",
		Short: "Everything that is someone's: roles, assets, findings, approvals",
		Long: `whois shows one person's responsibilities as of the last evaluation: the
activities where they or their team hold R, A, C or I, the things they own,
their open findings with due dates and fix steps, what they answer for
across others, and the exceptions waiting for their decision.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			t, err := a.parseNow(now)
			if err != nil {
				return err
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			svc, err := whois.New(cmd.Context(), db, cfg)
			if err != nil {
				return err
			}
			p, err := svc.Lookup(cmd.Context(), args[0], t)
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, p)
			}
			report.WriteWhois(a.stdout, p)
			return nil
		},
	}
	cmd.Flags().StringVar(&now, "now", "", "judge overdue as of this time; default: the current time")
	return cmd
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
