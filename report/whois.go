package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/onus-sec/onus/whois"
)

// WriteWhois writes someone's responsibilities for people.
func WriteWhois(w io.Writer, p *whois.Profile) {
	person := p.Person
	line := fmt.Sprintf("%s <%s>", person.Name, person.Email)
	var facts []string
	if person.Team != "" {
		facts = append(facts, person.Team)
	}
	if person.Manager != "" {
		facts = append(facts, "reports to "+person.Manager)
	}
	if len(p.Reports) > 0 {
		facts = append(facts, fmt.Sprintf("manages %d", len(p.Reports)))
	}
	facts = append(facts, strings.ReplaceAll(person.Status, "_", " "))
	fmt.Fprintf(w, "%s — %s\n", line, strings.Join(facts, ", "))

	fmt.Fprintf(w, "\nRoles (%d)\n", len(p.Roles))
	tw := table(w)
	for _, r := range p.Roles {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t\n", r.Letter, r.Activity, r.Via)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nAssets (%d)\n", len(p.Assets))
	for _, a := range p.Assets {
		fmt.Fprintf(w, "  %s %s (%s)\n", a.Kind, a.Name, a.Entity)
	}
	fmt.Fprintf(w, "\nOpen findings (%d)\n", len(p.Open))
	for _, it := range p.Open {
		due := "due " + it.Due.Format("2006-01-02")
		if it.Overdue {
			due = "OVERDUE since " + it.Due.Format("2006-01-02")
		}
		if it.State == "exempted" {
			due = fmt.Sprintf("exempted (exception %d)", it.Exception)
		}
		fmt.Fprintf(w, "  #%d %s %s on %s, %s\n", it.ID, it.Severity, it.Control, it.EntityName, due)
		for _, l := range strings.Split(it.Fix, "\n") {
			if strings.TrimSpace(l) != "" {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
	if len(p.Accountable) > 0 {
		fmt.Fprintln(w, "\nAccountable for, done by others")
		for _, a := range p.Accountable {
			fmt.Fprintf(w, "  %s: %d open, %d overdue\n", a.Control, a.Open, a.Overdue)
		}
	}
	fmt.Fprintf(w, "\nWaiting for your decision (%d)\n", len(p.Approvals))
	for _, x := range p.Approvals {
		fmt.Fprintf(w, "  exception %d: %s, asked by %s until %s: %s\n", x.ID, x.Control, x.Requester, x.Expires.Format("2006-01-02"), x.Reason)
	}
	if len(p.Exceptions) > 0 {
		fmt.Fprintln(w, "\nYour requests waiting for approval")
		for _, x := range p.Exceptions {
			fmt.Fprintf(w, "  exception %d: %s until %s\n", x.ID, x.Control, x.Expires.Format("2006-01-02"))
		}
	}
}
