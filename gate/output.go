package gate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Output formats.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatSARIF    = "sarif"
	FormatJUnit    = "junit"
	FormatMarkdown = "markdown"
)

// Formats lists the output formats.
var Formats = []string{FormatText, FormatJSON, FormatSARIF, FormatJUnit, FormatMarkdown}

// Write renders the report in a format.
func Write(w io.Writer, rep *Report, format string) error {
	switch format {
	case FormatText:
		return writeText(w, rep)
	case FormatJSON:
		return writeJSON(w, rep)
	case FormatSARIF:
		return writeSARIF(w, rep)
	case FormatJUnit:
		return writeJUnit(w, rep)
	case FormatMarkdown:
		return writeMarkdown(w, rep)
	}
	return fmt.Errorf("unknown output format %q (want %s)", format, strings.Join(Formats, ", "))
}

// Verdict is the one-word outcome: blocked, passed with warnings, passed.
func (r *Report) Verdict() string {
	switch {
	case r.Blocked():
		return "blocked"
	case r.Count(Warn, Fail, Unknown, Error) > 0:
		return "passed with warnings"
	}
	return "passed"
}

func (r *Report) visible() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Action != Off {
			out = append(out, res)
		}
	}
	return out
}

func label(res Result) string {
	switch res.Status {
	case Excepted:
		return "EXCEPTED"
	case Unknown:
		return strings.ToUpper(string(res.Action)) + " (unknown)"
	case Error:
		return strings.ToUpper(string(res.Action)) + " (error)"
	}
	return strings.ToUpper(string(res.Action))
}

func location(s *Subject) string {
	loc := s.File
	if s.Path != "" && s.Kind != Terraform {
		loc = s.Path
	}
	if s.Line > 0 {
		loc += fmt.Sprintf(":%d", s.Line)
	}
	return loc
}

func writeText(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "onus gate: %s (environment %s)\n", r.Verdict(), r.Env)
	for _, in := range r.Inputs {
		fmt.Fprintf(w, "  read %s: %s, %d subject(s)\n", in.File, in.Kind, in.Subjects)
	}
	for _, n := range r.Notices {
		fmt.Fprintf(w, "  notice: %s\n", n)
	}
	for _, res := range r.visible() {
		fmt.Fprintf(w, "\n%s  %s [%s]  %s\n", label(res), res.Guardrail, res.Severity, res.Subject.Address)
		fmt.Fprintf(w, "  %s\n", res.Message)
		fmt.Fprintf(w, "  at     %s\n", location(res.Subject))
		if len(res.Owners) > 0 {
			fmt.Fprintf(w, "  owner  %s (from %s)\n", strings.Join(res.Owners, ", "), res.OwnerFrom)
		} else {
			fmt.Fprintf(w, "  owner  nobody: add a CODEOWNERS rule or a Responsible for activity %s\n", orNone(res.Activity))
		}
		if res.Exception != nil {
			fmt.Fprintf(w, "  exception %d until %s, approved by %s: %s\n", res.Exception.ID, res.Exception.Expires.Format("2006-01-02"), res.Exception.Approver, res.Exception.Reason)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(w, "  note   %s\n", n)
		}
		if res.Fix != "" && res.Status != Excepted {
			fmt.Fprintf(w, "  fix    %s\n", strings.ReplaceAll(strings.TrimSpace(res.Fix), "\n", "\n         "))
		}
	}
	fmt.Fprintf(w, "\n%d check(s): %d passed, %d blocking, %d warning(s), %d for information, %d excepted, %d unknown\n",
		r.Evaluated, r.Passed, r.Count(Block, Fail, Unknown, Error), r.Count(Warn, Fail, Unknown, Error), r.Count(Inform, Fail, Unknown, Error),
		countStatus(r, Excepted), countStatus(r, Unknown))
	return nil
}

func countStatus(r *Report, st Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == st && res.Action != Off {
			n++
		}
	}
	return n
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func writeJSON(w io.Writer, r *Report) error {
	out := struct {
		Verdict string `json:"verdict"`
		Blocked bool   `json:"blocked"`
		*Report
		Results []Result `json:"results"`
	}{r.Verdict(), r.Blocked(), r, r.visible()}
	if out.Results == nil {
		out.Results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// SARIF output: one run, a rule per guardrail that applied, a result per
// violation; levels follow the ladder (error blocks, warning warns, note
// informs) and excepted results carry an accepted suppression.
func writeSARIF(w io.Writer, r *Report) error {
	type msg struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID         string         `json:"id"`
		Name       string         `json:"name"`
		Short      msg            `json:"shortDescription"`
		Help       msg            `json:"help"`
		Properties map[string]any `json:"properties"`
	}
	type region struct {
		StartLine int `json:"startLine,omitempty"`
	}
	type physical struct {
		Artifact struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *region `json:"region,omitempty"`
	}
	type location struct {
		Physical physical `json:"physicalLocation"`
		Logical  []struct {
			FQN string `json:"fullyQualifiedName"`
		} `json:"logicalLocations,omitempty"`
	}
	type suppression struct {
		Kind          string `json:"kind"`
		Status        string `json:"status"`
		Justification string `json:"justification,omitempty"`
	}
	type result struct {
		RuleID       string            `json:"ruleId"`
		RuleIndex    int               `json:"ruleIndex"`
		Level        string            `json:"level"`
		Message      msg               `json:"message"`
		Locations    []location        `json:"locations"`
		Fingerprints map[string]string `json:"partialFingerprints"`
		Suppressions []suppression     `json:"suppressions,omitempty"`
		Properties   map[string]any    `json:"properties,omitempty"`
	}
	idx := map[string]int{}
	var rules []rule
	for _, g := range r.Guardrails {
		idx[g.ID] = len(rules)
		help := strings.TrimSpace(g.Why + "\n\n" + g.Fix)
		rules = append(rules, rule{ID: g.ID, Name: g.ID, Short: msg{g.Title}, Help: msg{help},
			Properties: map[string]any{"tags": append([]string{"security", "onus-gate", g.Input}, g.Tags...),
				"security-severity": map[string]string{"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}[string(g.Severity)]}})
	}
	results := []result{}
	for _, res := range r.visible() {
		level := map[Action]string{Block: "error", Warn: "warning", Inform: "note"}[res.Action]
		// A plan's resources have no file of their own (Path is the
		// configuration's directory): point at the plan.
		uri := res.Subject.Path
		if uri == "" || res.Subject.Kind == Terraform {
			uri = res.Subject.File
		}
		loc := location{}
		loc.Physical.Artifact.URI = uri
		if res.Subject.Line > 0 {
			loc.Physical.Region = &region{StartLine: res.Subject.Line}
		}
		loc.Logical = append(loc.Logical, struct {
			FQN string `json:"fullyQualifiedName"`
		}{res.Subject.Address})
		text := res.Message
		if res.Status == Unknown {
			text += " (unknown until apply)"
		}
		if len(res.Owners) > 0 {
			text += " Owner: " + strings.Join(res.Owners, ", ") + "."
		}
		sr := result{RuleID: res.Guardrail, RuleIndex: idx[res.Guardrail], Level: level, Message: msg{text},
			Locations:    []location{loc},
			Fingerprints: map[string]string{"onusGate/v1": res.Guardrail + "|" + res.Subject.Address},
			Properties:   map[string]any{"status": res.Status, "action": res.Action, "owners": res.Owners}}
		if res.Exception != nil {
			sr.Suppressions = []suppression{{Kind: "external", Status: "accepted",
				Justification: fmt.Sprintf("exception %d: %s", res.Exception.ID, res.Exception.Reason)}}
		}
		results = append(results, sr)
	}
	if rules == nil {
		rules = []rule{}
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "onus-gate", "informationUri": "https://github.com/onus-sec/onus", "rules": rules}},
			"results":    results,
			"properties": map[string]any{"environment": r.Env, "verdict": r.Verdict()},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// JUnit output: a test case per guardrail that applied; blocking results
// are failures, warnings and the rest are written to system-out.
func writeJUnit(w io.Writer, r *Report) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	s := suite{Name: "onus gate (" + r.Env + ")"}
	byG := map[string][]Result{}
	for _, res := range r.visible() {
		byG[res.Guardrail] = append(byG[res.Guardrail], res)
	}
	for _, g := range r.Guardrails {
		tc := testcase{Name: g.ID + ": " + g.Title, Classname: "onus.gate." + g.Input}
		var fail, out strings.Builder
		nfail := 0
		for _, res := range byG[g.ID] {
			line := fmt.Sprintf("%s %s: %s", label(res), location(res.Subject), res.Message)
			if len(res.Owners) > 0 {
				line += " (owner: " + strings.Join(res.Owners, ", ") + ")"
			}
			for _, n := range res.Notes {
				line += "\n  note: " + n
			}
			if res.Action == Block && res.Status != Excepted {
				nfail++
				fail.WriteString(line + "\n")
			} else {
				out.WriteString(line + "\n")
			}
		}
		if nfail > 0 {
			tc.Failure = &failure{Message: fmt.Sprintf("%d blocking violation(s)", nfail), Type: string(g.Severity), Text: fail.String()}
			s.Failures++
		}
		tc.SystemOut = out.String()
		s.Cases = append(s.Cases, tc)
	}
	s.Tests = len(s.Cases)
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func writeMarkdown(w io.Writer, r *Report) error {
	icon := map[string]string{"blocked": "❌", "passed with warnings": "⚠️", "passed": "✅"}[r.Verdict()]
	fmt.Fprintf(w, "### %s onus gate: %s in `%s`\n\n", icon, r.Verdict(), r.Env)
	fmt.Fprintf(w, "%d check(s), %d passed · %d blocking · %d warning(s) · %d excepted · %d unknown\n\n",
		r.Evaluated, r.Passed, r.Count(Block, Fail, Unknown, Error), r.Count(Warn, Fail, Unknown, Error), countStatus(r, Excepted), countStatus(r, Unknown))
	for _, n := range r.Notices {
		fmt.Fprintf(w, "> %s\n\n", n)
	}
	vis := r.visible()
	if len(vis) == 0 {
		fmt.Fprintln(w, "No violations.")
		return nil
	}
	fmt.Fprintln(w, "| | guardrail | severity | where | owner |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, res := range vis {
		owner := strings.Join(res.Owners, ", ")
		if owner == "" {
			owner = "—"
		}
		fmt.Fprintf(w, "| %s | `%s` | %s | `%s` | %s |\n", label(res), res.Guardrail, res.Severity, mdEscape(res.Subject.Address), mdEscape(owner))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "<details><summary>How to fix</summary>")
	fmt.Fprintln(w)
	for _, res := range vis {
		fmt.Fprintf(w, "- **%s** `%s`: %s", res.Guardrail, mdEscape(res.Subject.Address), mdEscape(res.Message))
		if res.Fix != "" && res.Status != Excepted {
			fmt.Fprintf(w, " Fix: %s", mdEscape(strings.Join(strings.Fields(res.Fix), " ")))
		}
		for _, n := range res.Notes {
			fmt.Fprintf(w, " _(%s)_", mdEscape(n))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\n</details>")
	return nil
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "`", "'").Replace(s)
}
