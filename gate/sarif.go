package gate

import (
	"encoding/json"

	"fmt"
	"github.com/buger/jsonparser"
	"regexp"
	"strconv"
	"strings"
)

// The parts of SARIF 2.1.0 rules the gate reads.
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

var cvePattern = regexp.MustCompile(`CVE-\d{4}-\d{4,}`)

// sarifPaths are the fields read from each result.
var sarifPaths = [][]string{
	{"ruleId"}, {"ruleIndex"}, {"level"}, {"kind"}, {"message", "text"},
	{"locations", "[0]", "physicalLocation", "artifactLocation", "uri"},
	{"locations", "[0]", "physicalLocation", "region", "startLine"},
	{"suppressions"}, {"properties", "tags"}, {"properties", "security-severity"},
}

// parseSARIF reads a SARIF 2.1.0 log: one subject per result, with
// `resource` = {tool, rule_id, rule_name, level, severity, message, uri,
// line, tags, cves, suppressed}; tool and tags are lower-cased. severity is critical, high, medium, low
// or none: from the rule's security-severity score when the tool gives
// one (as CodeQL, trivy and osv-scanner do), else from the level.
//
// Results are read with jsonparser, field by field: a scanner's report can
// hold tens of thousands of results, and decoding them with reflection
// took most of the gate's time (BenchmarkSARIF50k).
func parseSARIF(file string, data []byte, o ParseOptions) ([]*Subject, error) {
	if !json.Valid(data) {
		var v any
		return nil, &InputError{File: file, Message: "not SARIF 2.1.0: " + jsonErr(json.Unmarshal(data, &v))}
	}
	if v, _ := jsonparser.GetString(data, "version"); v != "2.1.0" {
		return nil, &InputError{File: file, Message: fmt.Sprintf("SARIF version %q: only 2.1.0 is read", v)}
	}
	var out []*Subject
	var failure error
	ri := -1
	_, err := jsonparser.ArrayEach(data, func(runData []byte, _ jsonparser.ValueType, _ int, _ error) {
		ri++
		if failure != nil {
			return
		}
		var run struct {
			Tool struct {
				Driver struct {
					Name  string      `json:"name"`
					Rules []sarifRule `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
		}
		if tool, _, _, err := jsonparser.Get(runData, "tool"); err == nil {
			if err := json.Unmarshal(tool, &run.Tool); err != nil {
				failure = &InputError{File: file, Message: fmt.Sprintf("not SARIF 2.1.0: runs[%d].tool: %v", ri, err)}
				return
			}
		}
		out, failure = sarifResults(file, runData, ri, run.Tool.Driver.Name, run.Tool.Driver.Rules, o, out)
	}, "runs")
	if failure != nil {
		return nil, failure
	}
	if err != nil {
		return nil, &InputError{File: file, Message: "not SARIF 2.1.0: runs: " + err.Error()}
	}
	return out, nil
}

func sarifResults(file string, runData []byte, ri int, tool string, ruleList []sarifRule, o ParseOptions, out []*Subject) ([]*Subject, error) {
	rules := make(map[string]*sarifRule, len(ruleList))
	for i := range ruleList {
		rules[ruleList[i].ID] = &ruleList[i]
	}
	toolLower := strings.ToLower(tool)
	var failure error
	i := -1
	_, err := jsonparser.ArrayEach(runData, func(res []byte, vt jsonparser.ValueType, _ int, _ error) {
		i++
		if failure != nil {
			return
		}
		if vt != jsonparser.Object {
			failure = &InputError{File: file, Message: fmt.Sprintf("not SARIF 2.1.0: runs[%d].results[%d] is not an object", ri, i)}
			return
		}
		var r struct {
			ruleID, level, kind, msg, uri string
			ruleIndex, line               int
			suppressed                    bool
			tags                          []string
			score                         any
		}
		r.ruleIndex = -1
		jsonparser.EachKey(res, func(idx int, v []byte, vt jsonparser.ValueType, err error) {
			str := func() string {
				if vt != jsonparser.String {
					if vt != jsonparser.Null && failure == nil {
						failure = &InputError{File: file, Message: fmt.Sprintf("not SARIF 2.1.0: runs[%d].results[%d].%s must be a string",
							ri, i, strings.Join(sarifPaths[idx], "."))}
					}
					return ""
				}
				s, _ := jsonparser.ParseString(v)
				return s
			}
			switch idx {
			case 0:
				r.ruleID = str()
			case 1:
				n, _ := jsonparser.ParseInt(v)
				r.ruleIndex = int(n)
			case 2:
				r.level = str()
			case 3:
				r.kind = str()
			case 4:
				r.msg = str()
			case 5:
				r.uri = str()
			case 6:
				n, _ := jsonparser.ParseInt(v)
				r.line = int(n)
			case 7:
				jsonparser.ArrayEach(v, func(s []byte, _ jsonparser.ValueType, _ int, _ error) {
					st, _ := jsonparser.GetString(s, "status")
					if st == "" || st == "accepted" {
						r.suppressed = true
					}
				})
			case 8:
				jsonparser.ArrayEach(v, func(t []byte, vt jsonparser.ValueType, _ int, _ error) {
					if vt == jsonparser.String {
						s, _ := jsonparser.ParseString(t)
						r.tags = append(r.tags, s)
					}
				})
			case 9:
				if vt == jsonparser.String {
					r.score = str()
				} else if f, err := jsonparser.ParseFloat(v); err == nil {
					r.score = f
				}
			}
		}, sarifPaths...)
		if failure != nil {
			return
		}
		var rule *sarifRule
		if r.ruleIndex >= 0 && r.ruleIndex < len(ruleList) {
			rule = &ruleList[r.ruleIndex]
		} else {
			rule = rules[r.ruleID]
		}
		if rule == nil {
			rule = &sarifRule{}
		}
		if r.ruleID == "" {
			r.ruleID = rule.ID
		}
		if r.kind != "" && r.kind != "fail" {
			return // pass, notApplicable, informational, review, open
		}
		level := r.level
		if level == "" {
			level = rule.Default.Level
		}
		if level == "" {
			level = "warning"
		}
		score := r.score
		if score == nil {
			score = rule.Properties.SecuritySeverity
		}
		tags := make([]any, 0, len(rule.Properties.Tags)+len(r.tags))
		for _, t := range rule.Properties.Tags {
			tags = append(tags, strings.ToLower(t))
		}
		for _, t := range r.tags {
			tags = append(tags, strings.ToLower(t))
		}
		var cveList []any
		seen := map[string]bool{}
		for _, s := range append([]string{r.ruleID, rule.Name, r.msg}, rule.DeprecatedIDs...) {
			if strings.Contains(s, "CVE-") {
				for _, c := range cvePattern.FindAllString(s, -1) {
					if !seen[c] {
						seen[c] = true
						cveList = append(cveList, c)
					}
				}
			}
		}
		if cveList == nil {
			cveList = []any{}
		}
		p := ""
		if r.uri != "" {
			p = repoPath(o.Root, r.uri)
		}
		v := map[string]any{
			"kind":       "result",
			"tool":       toolLower,
			"rule_id":    r.ruleID,
			"rule_name":  rule.Name,
			"level":      level,
			"severity":   sarifSeverity(score, level),
			"message":    r.msg,
			"uri":        p,
			"line":       int64(r.line),
			"tags":       tags,
			"cves":       cveList,
			"suppressed": r.suppressed,
		}
		addr := r.ruleID
		if p != "" {
			addr += " at " + p
			if r.line > 0 {
				addr += ":" + strconv.Itoa(r.line)
			}
		}
		out = append(out, &Subject{Kind: SARIF, File: file, Path: p, Line: r.line, Address: addr, Type: r.ruleID, Value: v})
	}, "results")
	if failure != nil {
		return nil, failure
	}
	if err != nil && err != jsonparser.KeyPathNotFoundError {
		return nil, &InputError{File: file, Message: fmt.Sprintf("not SARIF 2.1.0: runs[%d].results: %v", ri, err)}
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
