package main

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/columns"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/notify"
	_ "github.com/onus-sec/onus/notify/slack" // channels register themselves
	_ "github.com/onus-sec/onus/notify/smtp"
	_ "github.com/onus-sec/onus/notify/teams"
	_ "github.com/onus-sec/onus/notify/webhook"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/store"
)

func (a *app) nudgeCmd() *cobra.Command {
	var dryRun bool
	var person, now string
	cmd := &cobra.Command{
		Use:   "nudge",
		Short: "Tell people about their findings: digests, reminders, escalations, summaries",
		Long: `nudge plans who hears what: one digest per person listing their open items,
soonest due first, with the steps to fix each, when one of them is new, due
soon, due or overdue; escalations to the manager and the Accountable person
of items past their deadline; weekly summaries for the Informed. Messages
reach people on working days, in working hours, in their time zone, at most
nudges.max_per_day a day.

Planned messages go to the outbox once (by idempotency key) and are sent
through the configured channels with retries. With --dry-run nothing is
stored or sent: it shows exactly what would go, to whom, by which channel,
and why.`,
		Example: `  onus nudge --dry-run
  onus nudge --dry-run --person jane.doe@acme.com
  onus nudge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, t, err := a.monitorAt(cmd, now)
			if err != nil {
				return err
			}
			defer m.Store.Close()
			var channels map[string]notify.Channel
			if !dryRun {
				if channels, err = notify.Open(&m.Config.Nudges); err != nil {
					return onus.Errorf(onus.EINVALID, "nudges: %v", err)
				}
				if len(channels) == 0 {
					return onus.Errorf(onus.EINVALID, "no channel is configured under nudges.channels in %s: nothing can be sent (try --dry-run)", m.Config.File)
				}
			}
			rep, err := m.Nudge(cmd.Context(), t, monitor.NudgeOptions{DryRun: dryRun, Person: strings.ToLower(person), Channels: channels})
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, rep)
			}
			for _, p := range rep.Planned {
				if !dryRun {
					break // a real run lists nothing: onus outbox does
				}
				gap := ""
				if p.Gap {
					gap = " (fallback contact: ownership gap)"
				}
				fmt.Fprintf(a.stdout, "to %s by %s, not before %s: %s%s\n", p.Recipient, p.Channel, p.NotBefore.Format("2006-01-02 15:04 MST"), p.Kind, gap)
				fmt.Fprintf(a.stdout, "  subject: %s\n  why: %s\n", p.Subject, p.Reason)
				if person != "" {
					fmt.Fprintln(a.stdout, "  ---")
					for _, l := range strings.Split(strings.TrimRight(p.Text, "\n"), "\n") {
						fmt.Fprintf(a.stdout, "  %s\n", l)
					}
					fmt.Fprintln(a.stdout, "  ---")
				}
			}
			verb := "would be"
			if !dryRun {
				verb = "are"
			}
			a.printf("%s %s planned", plural(len(rep.Planned), "message"), verb)
			if !dryRun {
				d := rep.Delivery
				a.printf(" (%d new, %d cancelled); sent %d, retrying %d, failed %d, rerouted to e-mail %d, uncertain %d",
					rep.Added, rep.Cancelled, d.Sent, d.Retried, d.Failed, d.Rerouted, d.Uncertain)
			}
			a.printf("\n")
			if n := len(rep.Deferred); n > 0 {
				a.printf("%s held back by nudges.max_per_day (the recipient had their share of the day); the next plan tries again\n", plural(n, "message"))
				if dryRun {
					for _, d := range rep.Deferred {
						fmt.Fprintf(a.stdout, "  held back: to %s, %s, %d of %d today: %s\n", d.Recipient, d.Kind, d.Today, d.Max, d.Reason)
					}
				}
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(a.stderr, "onus: warning: %s\n", w)
			}
			if len(rep.Gaps) > 0 {
				a.printf("ownership gaps: escalations went to the fallback contact %s\n", strings.Join(rep.Gaps, ", "))
			}
			if !dryRun && rep.Delivery.Failed+rep.Delivery.Uncertain > 0 {
				a.printf("check them: onus outbox --status failed,uncertain\n")
			}
			if held := rep.Delivery.Held; len(held) > 0 {
				// Another run holds these: it is sending them, or it stopped
				// and its lease has not run out yet.
				var until time.Time
				holders := map[string]bool{}
				for _, h := range held {
					if h.Until.After(until) {
						until = h.Until
					}
					holders[h.Holder] = true
				}
				names := make([]string, 0, len(holders))
				for h := range holders {
					names = append(names, h)
				}
				sort.Strings(names)
				verb := "messages are"
				if len(held) == 1 {
					verb = "message is"
				}
				fmt.Fprintf(a.stderr, "onus: %d %s held by another run (%s) until %s at the latest: it sends them, or they are recovered once its lease runs out; run onus nudge again after that (onus outbox --status claimed,sending)\n",
					len(held), verb, strings.Join(names, ", "), until.Format("2006-01-02 15:04:05 MST"))
			}
			if !dryRun && (len(rep.Delivery.Held) > 0 || rep.Delivery.Uncertain > 0) {
				return errAttention
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be sent, without storing or sending anything")
	cmd.Flags().StringVar(&person, "person", "", "with --dry-run: only this person's messages, in full")
	cmd.Flags().StringVar(&now, "now", "", "plan as of this time; default: the current time")
	return cmd
}

func (a *app) outboxCmd() *cobra.Command {
	var status, recipient string
	var limit int
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "List the messages planned and sent",
		Long: `outbox lists messages, newest first. Statuses: pending, claimed, sending,
sent, failed (a permanent error or too many attempts), uncertain (the
dispatcher stopped while sending on a channel that cannot drop duplicates:
check whether it arrived, then "confirm" or "resend" it), cancelled
(re-planning dropped it: its findings were fixed, exempted or moved).`,
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
			statuses, err := outboxStatuses(status)
			if err != nil {
				return err
			}
			msgs, err := db.OutboxMessages(cmd.Context(), statuses, recipient, limit)
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				if msgs == nil {
					msgs = []*onus.OutboxMessage{}
				}
				return report.WriteJSON(a.stdout, msgs)
			}
			if len(msgs) == 0 {
				if statuses != nil || recipient != "" {
					fmt.Fprintln(a.stdout, "No message in the outbox matches.")
				} else {
					fmt.Fprintln(a.stdout, "The outbox is empty.")
				}
				return nil
			}
			tw := columns.NewWriter(a.stdout)
			fmt.Fprintln(tw, "ID\tSTATUS\tTO\tCHANNEL\tKIND\tITEMS\tATTEMPTS\tHELD BY\tNOTE\t")
			for _, m := range msgs {
				ids := make([]int, 0, len(m.Items))
				for id := range m.Items {
					if id != 0 { // 0 is a summary's own entry
						ids = append(ids, int(id))
					}
				}
				sort.Ints(ids)
				var parts []string
				for _, id := range ids {
					parts = append(parts, "#"+strconv.Itoa(id))
				}
				held := "-"
				if m.LeaseUntil != nil {
					held = m.LeaseHolder + " until " + m.LeaseUntil.Format("15:04:05")
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", m.ID, m.Status, m.Recipient, m.Channel, m.Kind, clip(strings.Join(parts, " "), 30), m.Attempts, held, clip(m.LastError, 50))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "statuses to list, comma separated: "+strings.Join(outboxStatusNames, ", ")+", or all (the default)")
	cmd.Flags().StringVar(&recipient, "to", "", "only messages to this person")
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most this many")
	// act runs a change of an outbox message by someone named.
	act := func(use, short, done string, fn func(db *store.DB, cmd *cobra.Command, id int64, actor string) error) *cobra.Command {
		var as string
		c := &cobra.Command{
			Use:   use + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := parseID(args[0], "outbox")
				if err != nil {
					return err
				}
				if a.server != "" {
					if err := a.noAsWithServer(cmd); err != nil {
						return err
					}
					if err := a.remote(cmd.Context(), "POST", fmt.Sprintf("/outbox/%d/%s", id, use), map[string]string{}, nil); err != nil {
						return err
					}
					a.printf("outbox message %d %s\n", id, done)
					return nil
				}
				actor := who(as)
				if !strings.Contains(actor, "@") {
					return onus.Errorf(onus.EINVALID, "say who acts: --as must be an e-mail address (or set ONUS_USER)")
				}
				db, err := a.openExisting(cmd.Context())
				if err != nil {
					return err
				}
				defer db.Close()
				if err := fn(db, cmd, id, actor); err != nil {
					return err
				}
				auditAs(cmd.Context(), db, actor, fmt.Sprintf("outbox %d", id))
				a.printf("outbox message %d %s\n", id, done)
				return nil
			},
		}
		c.Flags().StringVar(&as, "as", "", "on the database file: the e-mail of the person acting, marked as --as in the audit log; refused with --server, where the token says who acts [$ONUS_USER]")
		return c
	}
	cmd.AddCommand(act("resend", "Queue an uncertain or failed message again", "is queued again; onus nudge sends it",
		func(db *store.DB, cmd *cobra.Command, id int64, actor string) error {
			return db.Resend(cmd.Context(), id, actor)
		}))
	cmd.AddCommand(act("confirm", "Record an uncertain message as sent, once you know it arrived", "is recorded as sent",
		func(db *store.DB, cmd *cobra.Command, id int64, actor string) error {
			return db.Confirm(cmd.Context(), id, actor)
		}))
	cmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "Show one message: its status, recipient and text",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			id, err := parseID(args[0], "outbox")
			if err != nil {
				return err
			}
			db, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			m, err := db.OutboxMessage(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.output == report.JSON {
				return report.WriteJSON(a.stdout, struct {
					*onus.OutboxMessage
					Text string `json:"text"`
				}{m, m.Text})
			}
			fmt.Fprintf(a.stdout, "outbox %d: %s, to %s by %s (%s), %d attempts\n", m.ID, m.Status, m.Recipient, m.Channel, m.Kind, m.Attempts)
			notBefore := "at once (resent by hand)"
			if !m.NotBefore.IsZero() {
				notBefore = m.NotBefore.Format(time.RFC3339)
			}
			fmt.Fprintf(a.stdout, "why: %s\nnot before: %s\n", m.Reason, notBefore)
			if m.LeaseUntil != nil {
				fmt.Fprintf(a.stdout, "held by: %s until %s\n", m.LeaseHolder, m.LeaseUntil.Format(time.RFC3339))
			}
			if m.SentAt != nil {
				fmt.Fprintf(a.stdout, "sent: %s (%s)\n", m.SentAt.Format(time.RFC3339), m.ProviderID)
			}
			if m.LastError != "" {
				fmt.Fprintf(a.stdout, "last error: %s\n", m.LastError)
			}
			fmt.Fprintf(a.stdout, "subject: %s\n\n%s", m.Subject, m.Text)
			return nil
		},
	})
	return cmd
}

// plural writes "1 message", "2 messages".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

var outboxStatusNames = []string{onus.OutboxPending, onus.OutboxClaimed, onus.OutboxSending, onus.OutboxSent, onus.OutboxFailed, onus.OutboxUncertain, onus.OutboxCancelled}

// outboxStatuses reads --status: nil for every status ("" or all); a
// status that does not exist is an error, not an empty listing.
func outboxStatuses(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" || strings.EqualFold(strings.TrimSpace(s), "all") {
		return nil, nil
	}
	var out []string
	for _, st := range strings.Split(s, ",") {
		st = strings.ToLower(strings.TrimSpace(st))
		if !slices.Contains(outboxStatusNames, st) {
			return nil, onus.Errorf(onus.EINVALID, "--status: no status %q (want %s, or all)", st, strings.Join(outboxStatusNames, ", "))
		}
		out = append(out, st)
	}
	return out, nil
}
