package gate

import (
	"encoding/json"
	"runtime"
	"slices"
	"sync"

	"fmt"
	"github.com/buger/jsonparser"
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

// appendCVEs appends the CVE ids (CVE-YYYY-NNNN…) in s that out does not
// hold yet. It is the regular expression CVE-\d{4}-\d{4,}, by hand: it
// runs on every scanner result.
func appendCVEs(out []any, s string) []any {
	for {
		i := strings.Index(s, "CVE-")
		if i < 0 {
			return out
		}
		s = s[i+4:]
		n := 0
		for n < len(s) && n < 4 && isDigit(s[n]) {
			n++
		}
		if n != 4 || len(s) < 6 || s[4] != '-' {
			continue
		}
		m := 5
		for m < len(s) && isDigit(s[m]) {
			m++
		}
		if m-5 < 4 {
			continue
		}
		id := "CVE-" + s[:m]
		if !slices.Contains(out, any(id)) {
			out = append(out, id)
		}
		s = s[m:]
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// sarifPaths are the fields read from each result.
var sarifPaths = [][]string{
	{"ruleId"}, {"ruleIndex"}, {"level"}, {"kind"}, {"message", "text"},
	{"locations", "[0]", "physicalLocation", "artifactLocation", "uri"},
	{"locations", "[0]", "physicalLocation", "region", "startLine"},
	{"suppressions"}, {"properties", "tags"}, {"properties", "security-severity"},
	{"partialFingerprints", "primaryLocationLineHash"},
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
	// The results are found in one pass, then read in parallel: a large
	// report is most of a gate's work.
	var raws [][]byte
	var failure error
	_, err := jsonparser.ArrayEach(runData, func(res []byte, vt jsonparser.ValueType, _ int, _ error) {
		if vt != jsonparser.Object && failure == nil {
			failure = &InputError{File: file, Message: fmt.Sprintf("not SARIF 2.1.0: runs[%d].results[%d] is not an object", ri, len(raws))}
		}
		raws = append(raws, res)
	}, "results")
	if failure != nil {
		return nil, failure
	}
	if err != nil && err != jsonparser.KeyPathNotFoundError {
		return nil, &InputError{File: file, Message: fmt.Sprintf("not SARIF 2.1.0: runs[%d].results: %v", ri, err)}
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(raws)/2000))
	parts := make([][]*Subject, workers)
	fails := make([]error, workers)
	chunk := (len(raws) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(raws))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi && fails[w] == nil; i++ {
				s, err := sarifResult(file, raws[i], ri, i, toolLower, ruleList, rules, o)
				if err != nil {
					fails[w] = err
				} else if s != nil {
					parts[w] = append(parts[w], s)
				}
			}
		}(w, lo, hi)
	}
	wg.Wait()
	for w := range parts {
		if fails[w] != nil {
			return nil, fails[w]
		}
		out = append(out, parts[w]...)
	}
	return out, nil
}

// sarifResult reads one result; it returns nil for a result that is not a
// failure (kind pass, notApplicable, informational, review, open).
func sarifResult(file string, res []byte, ri, i int, toolLower string, ruleList []sarifRule, rules map[string]*sarifRule, o ParseOptions) (*Subject, error) {
	var failure error
	{
		var r struct {
			ruleID, level, kind, msg, uri, lineHash string
			ruleIndex, line                         int
			suppressed                              bool
			tags                                    []string
			score                                   any
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
			case 10:
				r.lineHash = str()
			case 9:
				if vt == jsonparser.String {
					r.score = str()
				} else if f, err := jsonparser.ParseFloat(v); err == nil {
					r.score = f
				}
			}
		}, sarifPaths...)
		if failure != nil {
			return nil, failure
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
			return nil, nil
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
		cveList := []any{}
		for _, s := range append([]string{r.ruleID, rule.Name, r.msg}, rule.DeprecatedIDs...) {
			cveList = appendCVEs(cveList, s)
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
		// The ledger keys a result by its fingerprint when the tool gives
		// one, so that a finding survives lines moving above it.
		key := ""
		if r.lineHash != "" {
			key = r.ruleID + " at " + p + " #" + r.lineHash
		}
		return &Subject{Kind: SARIF, File: file, Path: p, Line: r.line, Address: addr, Key: key, Type: r.ruleID, Value: v}, nil
	}
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
