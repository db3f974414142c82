package gate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The parts of SARIF 2.1.0 the gate reads.
type sarifLog struct {
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool struct {
		Driver struct {
			Name  string      `json:"name"`
			Rules []sarifRule `json:"rules"`
		} `json:"driver"`
	} `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	ShortDescription sarifText `json:"shortDescription"`
	DeprecatedIDs    []string  `json:"deprecatedIds"`
	Default          struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties sarifProps `json:"properties"`
}

type sarifProps struct {
	Tags             []string `json:"tags"`
	SecuritySeverity any      `json:"security-severity"`
}

type sarifResult struct {
	RuleID    string    `json:"ruleId"`
	RuleIndex *int      `json:"ruleIndex"`
	Level     string    `json:"level"`
	Kind      string    `json:"kind"`
	Message   sarifText `json:"message"`
	Locations []struct {
		Physical struct {
			Artifact struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine int `json:"startLine"`
			} `json:"region"`
		} `json:"physicalLocation"`
	} `json:"locations"`
	Suppressions []struct {
		Status string `json:"status"`
	} `json:"suppressions"`
	Properties sarifProps `json:"properties"`
}

var cvePattern = regexp.MustCompile(`CVE-\d{4}-\d{4,}`)

// parseSARIF reads a SARIF 2.1.0 log: one subject per result, with
// `resource` = {tool, rule_id, rule_name, level, severity, message, uri,
// line, tags, cves, suppressed}. severity is critical, high, medium, low
// or none: from the rule's security-severity score when the tool gives
// one (as CodeQL, trivy and osv-scanner do), else from the level.
func parseSARIF(file string, data []byte, o ParseOptions) ([]*Subject, error) {
	var log sarifLog
	if err := json.Unmarshal(data, &log); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return nil, &InputError{File: file, Line: lineAt(data, te.Offset), Message: fmt.Sprintf("not SARIF 2.1.0: field %s: %v", te.Field, err)}
		}
		return nil, &InputError{File: file, Message: "not SARIF 2.1.0: " + jsonErr(err)}
	}
	if log.Version != "2.1.0" {
		return nil, &InputError{File: file, Message: fmt.Sprintf("SARIF version %q: only 2.1.0 is read", log.Version)}
	}
	var out []*Subject
	for ri := range log.Runs {
		run := &log.Runs[ri]
		tool := run.Tool.Driver.Name
		rules := make(map[string]*sarifRule, len(run.Tool.Driver.Rules))
		for i := range run.Tool.Driver.Rules {
			rules[run.Tool.Driver.Rules[i].ID] = &run.Tool.Driver.Rules[i]
		}
		toolLower := strings.ToLower(tool)
		for i := range run.Results {
			r := &run.Results[i]
			var rule *sarifRule
			if r.RuleIndex != nil && *r.RuleIndex >= 0 && *r.RuleIndex < len(run.Tool.Driver.Rules) {
				rule = &run.Tool.Driver.Rules[*r.RuleIndex]
			} else {
				rule = rules[r.RuleID]
			}
			if rule == nil {
				rule = &sarifRule{}
			}
			if r.Kind != "" && r.Kind != "fail" {
				continue // pass, notApplicable, informational, review, open
			}
			level := r.Level
			if level == "" {
				level = rule.Default.Level
			}
			if level == "" {
				level = "warning"
			}
			score := r.Properties.SecuritySeverity
			if score == nil {
				score = rule.Properties.SecuritySeverity
			}
			tags := make([]any, 0, len(rule.Properties.Tags)+len(r.Properties.Tags))
			for _, t := range rule.Properties.Tags {
				tags = append(tags, t)
			}
			for _, t := range r.Properties.Tags {
				tags = append(tags, t)
			}
			cves := map[string]bool{}
			for _, s := range append([]string{r.RuleID, rule.Name, r.Message.Text}, rule.DeprecatedIDs...) {
				if strings.Contains(s, "CVE-") {
					for _, c := range cvePattern.FindAllString(s, -1) {
						cves[c] = true
					}
				}
			}
			cveList := make([]any, 0, len(cves))
			for c := range cves {
				cveList = append(cveList, c)
			}
			uri, line := "", 0
			if len(r.Locations) > 0 {
				uri = r.Locations[0].Physical.Artifact.URI
				line = r.Locations[0].Physical.Region.StartLine
			}
			suppressed := false
			for _, s := range r.Suppressions {
				if s.Status == "" || s.Status == "accepted" {
					suppressed = true
				}
			}
			p := repoPath(o.Root, uri)
			if uri == "" {
				p = ""
			}
			v := map[string]any{
				"kind":       "result",
				"tool":       toolLower,
				"rule_id":    r.RuleID,
				"rule_name":  rule.Name,
				"level":      level,
				"severity":   sarifSeverity(score, level),
				"message":    r.Message.Text,
				"uri":        p,
				"line":       int64(line),
				"tags":       tags,
				"cves":       cveList,
				"suppressed": suppressed,
			}
			addr := r.RuleID
			if p != "" {
				addr += " at " + p
				if line > 0 {
					addr += ":" + strconv.Itoa(line)
				}
			}
			out = append(out, &Subject{Kind: SARIF, File: file, Path: p, Line: line, Address: addr, Type: r.RuleID, Value: v})
		}
	}
	return out, nil
}

// sarifSeverity maps a CVSS-like security-severity score (GitHub's
// convention) or a level to a severity.
func sarifSeverity(score any, level string) string {
	var f float64
	ok := false
	switch s := score.(type) {
	case string:
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			f, ok = v, true
		}
	case float64:
		f, ok = s, true
	}
	if ok {
		switch {
		case f >= 9:
			return "critical"
		case f >= 7:
			return "high"
		case f >= 4:
			return "medium"
		case f > 0:
			return "low"
		}
		return "none"
	}
	switch level {
	case "error":
		return "high"
	case "warning":
		return "medium"
	case "note":
		return "low"
	}
	return "none"
}
