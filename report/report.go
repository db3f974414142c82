// Package report renders what onus found for people (aligned text) and
// for machines (JSON, CSV). Rendering has no side effects beyond writing.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/internal/columns"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/policy"
)

// Formats a listing can be written in.
const (
	Text = "text"
	JSON = "json"
	CSV  = "csv"
)

// CheckFormat returns an error for an unknown output format.
func CheckFormat(f string, allowed ...string) error {
	for _, a := range allowed {
		if f == a {
			return nil
		}
	}
	return onus.Errorf(onus.EINVALID, "unknown output format %q (want %s)", f, strings.Join(allowed, ", "))
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *columns.Writer { return columns.NewWriter(w) }

// Summary is everything a run reports.
type Summary struct {
	Sync  *monitor.SyncReport `json:"sync,omitempty"`
	Eval  *monitor.EvalReport `json:"eval,omitempty"`
	Stats *onus.LedgerStats   `json:"ledger,omitempty"`
	DB    string              `json:"database,omitempty"`
}

// WriteSync writes a sync report.
func WriteSync(w io.Writer, r *monitor.SyncReport) {
	var unchanged []string
	for _, s := range r.Sources {
		if s.Unchanged {
			unchanged = append(unchanged, s.Source)
		}
	}
	fmt.Fprintf(w, "Sources (sync run %d, %.1fs)\n", r.Run, r.Seconds)
	tw := table(w)
	fmt.Fprintln(tw, "  SOURCE\tKIND\tRECORDS\tBEFORE\tSKIPPED\tSTATUS\t")
	for _, s := range r.Sources {
		before := "-"
		if s.Previous > 0 {
			before = strconv.Itoa(s.Previous)
		}
		status := string(s.Status)
		if s.Unchanged {
			status += " (unchanged)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\t%s\t\n", s.Source, s.Kind, s.Records, before, s.Bad, status)
	}
	tw.Flush()
	if len(unchanged) > 0 {
		fmt.Fprintf(w, "  %d of %d sources unchanged since their last read, not read again: %s\n", len(unchanged), len(r.Sources), strings.Join(unchanged, ", "))
	}
	for _, s := range r.Sources {
		if s.Error != "" {
			fmt.Fprintf(w, "  ! %s: %s\n", s.Source, s.Error)
		}
		for i, p := range s.Problems {
			if i == 5 {
				fmt.Fprintf(w, "    … and %d more skipped records (onus status --source %s)\n", s.Bad-5, s.Source)
				break
			}
			fmt.Fprintf(w, "    skipped %s\n", p.Error())
		}
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "  ? %s: %s\n", s.Source, warn)
		}
	}
}

// WriteEval writes an evaluation report and the ledger's state.
func WriteEval(w io.Writer, r *monitor.EvalReport, st *onus.LedgerStats) {
	fmt.Fprintf(w, "\nEvaluated as of %s (run %d)\n", r.Now.Format("2006-01-02 15:04 MST"), r.Run)
	writeEvaluation(w, r)
	unhealthy := 0
	for _, s := range r.Sources {
		if !s.Healthy {
			unhealthy++
		}
	}
	if unhealthy > 0 {
		fmt.Fprintln(w, "\nUnhealthy sources (their last good snapshot is in force; checks that read them are unknown)")
		for _, s := range r.Sources {
			if !s.Healthy {
				fmt.Fprintf(w, "  ! %s: %s\n", s.Source, s.Reason)
			}
		}
	}
	fmt.Fprintln(w, "\nEntities")
	tw := table(w)
	for _, k := range r.Kinds {
		var parts []string
		srcs := make([]string, 0, len(k.BySource))
		for s := range k.BySource {
			srcs = append(srcs, s)
		}
		sort.Slice(srcs, func(i, j int) bool { return sourceIndex(r, srcs[i]) < sourceIndex(r, srcs[j]) })
		for _, s := range srcs {
			parts = append(parts, fmt.Sprintf("%s %d", s, k.BySource[s]))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t\n", k.Kind, k.Entities, strings.Join(parts, " · "))
	}
	tw.Flush()
	var notes []string
	for _, s := range r.Sources {
		if s.Unmatched > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d records matched no entity", s.Source, s.Unmatched))
		}
	}
	if r.NearMatches > 0 {
		notes = append(notes, fmt.Sprintf("%d near matches kept apart (same weak key, different strong key)", r.NearMatches))
	}
	if r.Ambiguous > 0 {
		notes = append(notes, fmt.Sprintf("%d records kept apart as ambiguous or possible matches, not guessed (onus explain shows them; onus link decides)", r.Ambiguous))
	}
	links := make([]string, 0, len(r.Links))
	for l, st := range r.Links {
		links = append(links, fmt.Sprintf("%s %d/%d", l, st.Resolved, st.Declared))
	}
	sort.Strings(links)
	if len(links) > 0 {
		notes = append(notes, "links found: "+strings.Join(links, " · "))
	}
	for _, n := range notes {
		fmt.Fprintf(w, "  · %s\n", n)
	}

	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings")
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "  ! %s\n", warn)
		}
	}

	fmt.Fprintln(w, "\nControls")
	tw = table(w)
	fmt.Fprintln(tw, "  CONTROL\tSEVERITY\tPASS\tFAIL\tUNKNOWN\tOPEN\t")
	for _, c := range r.Controls {
		open := 0
		if st != nil {
			open = st.ByControl[c.Control]
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t\n", c.Control, c.Severity, c.Pass, c.Fail, c.Unknown, open)
	}
	tw.Flush()
	for _, c := range r.Controls {
		if c.Unknown > 0 {
			fmt.Fprintf(w, "  ? %s could not evaluate %d: %s\n", c.Control, c.Unknown, strings.Join(c.UnknownReasons, "; "))
		}
	}
	ch := r.Changes
	fmt.Fprintf(w, "\nThis run: %d opened, %d reopened, %d resolved, %d gone, %d reassigned\n", ch.Opened, ch.Reopened, ch.Resolved, ch.Gone, ch.Reassigned)
	if ch.Exempted > 0 || r.ExceptionsExpired > 0 {
		fmt.Fprintf(w, "Exceptions: %d findings exempted, %d exceptions expired\n", ch.Exempted, r.ExceptionsExpired)
	}
	for _, x := range r.ExceptionsExpiring {
		fmt.Fprintf(w, "  ! exception %d (%s, approved by %s) expires on %s\n", x.ID, x.Control, x.Approver, x.Expires.Format("2006-01-02"))
	}
	if st == nil {
		return
	}
	fmt.Fprintf(w, "Findings: %d open, %d overdue, %d exempted, %d ownership gaps\n", st.Open, st.Overdue, st.Exempted, st.Gaps)
	if len(st.Owners) > 0 {
		fmt.Fprintln(w, "\nResponsible people with the most open findings")
		tw = table(w)
		fmt.Fprintln(tw, "  PERSON\tOPEN\tOVERDUE\t")
		for i, o := range st.Owners {
			if i == 10 {
				fmt.Fprintf(tw, "  … %d more\t\t\t\n", len(st.Owners)-10)
				break
			}
			who := o.Email
			if who == "" {
				who = "(nobody: ownership gap)"
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t\n", who, o.Open, o.Overdue)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nTimings: load %.2fs, correlate %.2fs, evaluate %.2fs, persist %.2fs\n",
		r.Timings.Load, r.Timings.Correlate, r.Timings.Evaluate, r.Timings.Persist)
}

func sourceIndex(r *monitor.EvalReport, name string) int {
	for i, s := range r.Sources {
		if s.Source == name {
			return i
		}
	}
	return len(r.Sources)
}

// findingRow is a finding as listed, with overdue computed.
type findingRow struct {
	onus.Finding
	Overdue bool `json:"overdue"`
}

// WriteFindings lists findings in a format.
func WriteFindings(w io.Writer, fs []onus.Finding, format string, now time.Time) error {
	switch format {
	case JSON:
		rows := make([]findingRow, len(fs))
		for i, f := range fs {
			rows[i] = findingRow{Finding: f, Overdue: f.Overdue(now)}
		}
		return WriteJSON(w, rows)
	case CSV:
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "control", "severity", "state", "entity", "entity_kind", "entity_name", "person", "person_name", "device", "device_name",
			"responsible", "owner_reason", "ownership_gap", "first_failed", "due", "overdue", "resolved_at", "evidence"})
		for _, f := range fs {
			resolved := ""
			if f.ResolvedAt != nil {
				resolved = f.ResolvedAt.Format(time.RFC3339)
			}
			pid, pname := subjectCols(f.Person)
			did, dname := subjectCols(f.Device)
			row := []string{strconv.FormatInt(f.ID, 10), f.Control, string(f.Severity), string(f.State), f.Entity, f.EntityKind, f.EntityName,
				pid, pname, did, dname, f.Responsible.Email, f.OwnerReason, strconv.FormatBool(f.OwnershipGap), f.FirstFailed.Format(time.RFC3339), f.Due.Format(time.RFC3339),
				strconv.FormatBool(f.Overdue(now)), resolved, evidenceText(f.Evidence)}
			// Names and evidence come from sources: a cell a spreadsheet
			// would run as a formula is neutralised (OWASP CSV injection).
			for i, c := range row {
				row[i] = onus.SafeCell(c)
			}
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	}
	w = onus.TerminalWriter(w)
	if len(fs) == 0 {
		fmt.Fprintln(w, "No findings match.")
		return nil
	}
	tw := table(w)
	fmt.Fprintln(tw, "ID\tSEVERITY\tCONTROL\tENTITY\tSUBJECT\tRESPONSIBLE\tSTATE\tDUE\t")
	for _, f := range fs {
		due := f.Due.Format("2006-01-02")
		if f.Overdue(now) {
			due += " (overdue)"
		}
		who := f.Responsible.Email
		if f.OwnershipGap {
			who += " (gap)"
		}
		name := onus.CleanText(f.EntityName)
		if name == "" {
			name = f.Entity
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.ID, f.Severity, f.Control, clip(name, 40), orDash(clip(onus.CleanText(subjectText(f)), 40)), onus.CleanText(who), f.State, due)
	}
	return tw.Flush()
}

func subjectCols(s *onus.Subject) (string, string) {
	if s == nil {
		return "", ""
	}
	return s.ID, s.Name
}

// subjectText says whose and where a finding is: "jane@… on MBP-JANE".
func subjectText(f onus.Finding) string {
	var parts []string
	if f.Person != nil {
		parts = append(parts, f.Person.Name)
	}
	if f.Device != nil {
		parts = append(parts, "on "+f.Device.Name)
	}
	return strings.Join(parts, " ")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func evidenceText(ev []onus.Evidence) string {
	parts := make([]string, len(ev))
	for i, e := range ev {
		parts[i] = e.Path + " = " + e.Value
	}
	return strings.Join(parts, "; ")
}

// WriteFinding writes one finding with its evidence and history.
func WriteFinding(w io.Writer, f onus.Finding, events []onus.Event, fix string, now time.Time) {
	w = onus.TerminalWriter(w)
	fmt.Fprintf(w, "Finding %d: %s on %s (%s)\n", f.ID, f.Control, onus.CleanText(f.EntityName), onus.CleanText(f.Entity))
	fmt.Fprintf(w, "  state        %s\n  severity     %s\n", f.State, f.Severity)
	if f.Person != nil {
		fmt.Fprintf(w, "  person       %s (%s)\n", f.Person.Name, f.Person.ID)
	}
	if f.Device != nil {
		fmt.Fprintf(w, "  device       %s (%s)\n", f.Device.Name, f.Device.ID)
	}
	who := f.Responsible.Email
	if who == "" {
		who = "nobody"
	}
	fmt.Fprintf(w, "  responsible  %s (%s)\n", onus.CleanText(who), onus.CleanText(f.OwnerReason))
	if f.OwnershipGap {
		fmt.Fprintln(w, "               this is an ownership gap: nobody in the organisation could be found for it")
	}
	if f.Accountable.Email != "" {
		fmt.Fprintf(w, "  accountable  %s\n", f.Accountable.Email)
	}
	if len(f.Consulted) > 0 {
		fmt.Fprintf(w, "  consulted    %s\n", strings.Join(f.Consulted, ", "))
	}
	if len(f.Informed) > 0 {
		fmt.Fprintf(w, "  informed     %s\n", strings.Join(f.Informed, ", "))
	}
	if f.Exception != 0 {
		fmt.Fprintf(w, "  exception    %d (onus exception %d)\n", f.Exception, f.Exception)
	}
	due := f.Due.Format("2006-01-02")
	if f.Overdue(now) {
		due += " — overdue by " + strings.TrimSuffix(policy.Ago(f.Due, now), " ago")
	}
	fmt.Fprintf(w, "  first failed %s\n  due          %s\n", f.FirstFailed.Format("2006-01-02 15:04"), due)
	if len(f.Evidence) > 0 {
		fmt.Fprintln(w, "  evidence")
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "    %s = %s\n", e.Path, onus.CleanText(e.Value))
		}
	}
	if fix != "" {
		fmt.Fprintln(w, "  how to fix")
		for _, l := range strings.Split(fix, "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	if len(events) > 0 {
		fmt.Fprintln(w, "  history")
		for _, e := range events {
			line := fmt.Sprintf("    %s  %s", e.At.Format("2006-01-02 15:04"), e.Type)
			if e.From != "" || e.To != "" {
				line += fmt.Sprintf(" %s → %s", orDash(e.From), orDash(e.To))
			}
			if e.Note != "" {
				line += " — " + onus.CleanText(e.Note)
			}
			fmt.Fprintln(w, line)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteExplain writes an entity's explanation.
func WriteExplain(w io.Writer, x *inventory.Explanation, findings []onus.Finding, now time.Time) {
	w = onus.TerminalWriter(w)
	fmt.Fprintf(w, "%s %s (%s)\n", x.Kind, onus.CleanText(x.Name), onus.CleanText(x.ID))
	var keys []string
	for _, k := range x.Keys {
		keys = append(keys, k.Name+"="+onus.CleanText(k.Value))
	}
	fmt.Fprintf(w, "  keys: %s\n", strings.Join(keys, ", "))
	fmt.Fprintf(w, "\nRecords (%d)\n", len(x.Records))
	tw := table(w)
	for _, r := range x.Records {
		var ks []string
		for _, k := range r.Keys {
			ks = append(ks, k.Name+"="+onus.CleanText(k.Value))
		}
		seen := ""
		if r.Seen != nil {
			seen = "seen " + r.Seen.Format("2006-01-02")
		}
		health := ""
		if !r.Healthy {
			health = "(source unhealthy)"
		}
		fmt.Fprintf(tw, "  %s:%s\tline %d\t%s\t%s\t%s\t\n", r.Source, onus.CleanText(r.ID), r.Line, seen, strings.Join(ks, " "), health)
	}
	tw.Flush()
	if len(x.Unhealthy) > 0 {
		fmt.Fprintln(w, "\nSources not in force (what they know of it may be missing or old)")
		for _, s := range x.Unhealthy {
			fmt.Fprintf(w, "  %s: %s\n", s.Source, onus.CleanText(s.Reason))
		}
	}
	var ignored []string
	for _, r := range x.Records {
		for _, ig := range r.Ignored {
			ignored = append(ignored, fmt.Sprintf("  %s:%s %s=%q: %s\n", r.Source, r.ID, ig.Key, ig.Value, ig.Why))
		}
	}
	if len(ignored) > 0 {
		fmt.Fprintln(w, "\nIgnored key values (never merge)")
		fmt.Fprint(w, strings.Join(ignored, ""))
	}
	if len(x.Merges) > 0 {
		fmt.Fprintln(w, "\nMerged")
		for _, m := range x.Merges {
			fmt.Fprintf(w, "  %s + %s by %s=%s\n", m.A, m.B, m.Key, m.Value)
			if len(m.Agreed) > 0 {
				fmt.Fprintf(w, "    agreed: %s\n", strings.Join(m.Agreed, ", "))
			}
			for _, ig := range m.Ignored {
				fmt.Fprintf(w, "    %s\n", ig)
			}
		}
	}
	if len(x.Ambiguous) > 0 {
		fmt.Fprintln(w, "\nAmbiguous (kept apart, not guessed)")
		for _, a := range x.Ambiguous {
			fmt.Fprintf(w, "  %s shares %s=%s with several things; possible match: %s\n", a.Record, a.Key, a.Value, strings.Join(a.Possible, "; "))
		}
	}
	if len(x.NearMatches) > 0 {
		fmt.Fprintln(w, "\nNot merged (near matches)")
		for _, n := range x.NearMatches {
			other := n.Other
			if n.OtherID != "" {
				other += " (" + n.OtherID + ")"
			}
			fmt.Fprintf(w, "  %s shares %s=%s with %s, but %s differs: %s here, %s there\n",
				n.Mine, n.Key, n.Value, other, n.Conflict, strings.Join(n.MineVals, ","), strings.Join(n.Theirs, ","))
		}
	}
	if len(x.Links) > 0 {
		fmt.Fprintln(w, "\nLinks")
		for _, l := range x.Links {
			if l.Problem != "" {
				fmt.Fprintf(w, "  %s → none: %s\n", l.Name, l.Problem)
				continue
			}
			fmt.Fprintf(w, "  %s → %s (%s), from %s %s=%s\n", l.Name, l.TargetName, l.Target, l.Source, l.Key, l.Value)
		}
	}
	if len(x.Attributes) > 0 {
		var srcs []string
		seen := map[string]bool{}
		for _, r := range x.Records {
			if !seen[r.Source] {
				seen[r.Source] = true
				srcs = append(srcs, r.Source)
			}
		}
		fmt.Fprintln(w, "\nAttributes")
		tw := table(w)
		fmt.Fprintf(tw, "  FIELD\tMERGED\t%s\t\n", strings.ToUpper(strings.Join(srcs, "\t")))
		for _, a := range x.Attributes {
			row := []string{a.Name, onus.CleanText(show(a.Merged, a.MergedFrom != "", now))}
			for _, s := range srcs {
				v, ok := a.BySource[s]
				if !ok {
					row = append(row, "")
					continue
				}
				row = append(row, onus.CleanText(show(v, true, now)))
			}
			fmt.Fprintf(tw, "  %s\t\n", strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	if len(findings) > 0 {
		fmt.Fprintln(w, "\nFindings")
		for _, f := range findings {
			fmt.Fprintf(w, "  #%d %s: %s, responsible %s, due %s\n", f.ID, f.Control, f.State, orDash(f.Responsible.Email), f.Due.Format("2006-01-02"))
		}
	}
}

func show(v any, present bool, now time.Time) string {
	if !present {
		return "-"
	}
	return clip(policy.FormatValue(v, true, now), 48)
}

// writeEvaluation says whether the evaluation was full or incremental:
// which controls it carried over, and why it evaluated the others.
func writeEvaluation(w io.Writer, r *monitor.EvalReport) {
	switch {
	case r.Evaluation == "incremental":
		fmt.Fprintf(w, "Incremental: %d controls evaluated, %d carried over (their inputs did not change: %s)\n",
			len(r.Evaluated), len(r.Carried), strings.Join(r.Carried, ", "))
		for _, c := range r.Evaluated {
			fmt.Fprintf(w, "  · %s: %s\n", c.Control, c.Reason)
		}
		if len(r.NotLoaded) > 0 {
			kept := ""
			if r.KeptFromRun > 0 {
				kept = fmt.Sprintf("; their entity counts are those of run %d", r.KeptFromRun)
			}
			fmt.Fprintf(w, "  Not loaded (no evaluated control reads them): %s%s\n", strings.Join(r.NotLoaded, ", "), kept)
		}
	case r.FullBecause != "":
		fmt.Fprintf(w, "Full evaluation: %s\n", r.FullBecause)
	}
}
