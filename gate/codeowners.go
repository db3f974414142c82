package gate

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/onus-sec/onus/config"
)

// CodeOwners is a parsed CODEOWNERS file, GitHub or GitLab syntax. In each
// section the last matching rule wins; GitLab sections each add their
// owners. A GitHub file is one section.
type CodeOwners struct {
	File     string
	sections []*coSection
}

type coSection struct {
	name     string
	defaults []string
	rules    []coRule
}

type coRule struct {
	pattern  []string // segments; a leading "**" when unanchored
	dirOnly  bool     // the pattern ended in "/"
	owners   []string
	line     int
	original string
}

// ParseCodeOwners reads a CODEOWNERS file.
func ParseCodeOwners(name string, r io.Reader) (*CodeOwners, error) {
	co := &CodeOwners{File: name}
	sec := &coSection{}
	co.sections = append(co.sections, sec)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		// A GitLab section: [Name], ^[Optional], [Name][2], with default owners.
		if h := strings.TrimPrefix(l, "^"); strings.HasPrefix(h, "[") {
			end := strings.Index(h, "]")
			if end < 0 {
				return nil, &config.Problem{File: name, Line: line, Message: "a section header needs a closing ]"}
			}
			rest := h[end+1:]
			if strings.HasPrefix(rest, "[") {
				if e := strings.Index(rest, "]"); e >= 0 {
					rest = rest[e+1:]
				}
			}
			sec = &coSection{name: strings.ToLower(h[1:end]), defaults: owners(rest)}
			co.sections = append(co.sections, sec)
			continue
		}
		pat, rest := splitPattern(l)
		if i := strings.Index(rest, " #"); i >= 0 {
			rest = rest[:i]
		}
		rule, err := compilePattern(pat)
		if err != nil {
			return nil, &config.Problem{File: name, Line: line, Message: err.Error()}
		}
		rule.owners, rule.line, rule.original = owners(rest), line, pat
		if len(rule.owners) == 0 {
			rule.owners = sec.defaults
		}
		sec.rules = append(sec.rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, &config.Problem{File: name, Line: line, Message: err.Error()}
	}
	return co, nil
}

func owners(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "#") {
			break
		}
		out = append(out, f)
	}
	return out
}

// splitPattern splits a line at the first unescaped space.
func splitPattern(l string) (string, string) {
	for i := 0; i < len(l); i++ {
		switch l[i] {
		case '\\':
			i++
		case ' ', '\t':
			return l[:i], l[i+1:]
		}
	}
	return l, ""
}

func compilePattern(p string) (coRule, error) {
	r := coRule{}
	if strings.HasSuffix(p, "/") {
		r.dirOnly = true
		p = strings.TrimSuffix(p, "/")
	}
	anchored := strings.HasPrefix(p, "/") || strings.Contains(strings.TrimPrefix(p, "/"), "/")
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		if r.dirOnly {
			return coRule{pattern: []string{"**"}}, nil // "/" is everything
		}
		return r, fmt.Errorf("empty pattern")
	}
	segs := strings.Split(p, "/")
	if n := len(segs); n > 1 && segs[n-1] == "**" {
		// "foo/**" is everything under foo, not foo itself.
		segs, r.dirOnly = segs[:n-1], true
	}
	if !anchored {
		segs = append([]string{"**"}, segs...)
	}
	r.pattern = segs
	return r, nil
}

// match reports whether a file path matches the rule: the file itself, or
// a directory that holds it.
func (r coRule) match(parts []string) bool {
	// A trailing "**" or "*" means everything under the directory.
	for k := 1; k <= len(parts); k++ {
		if k == len(parts) && r.dirOnly {
			break
		}
		if segMatch(r.pattern, parts[:k]) {
			// "foo/*" matches the files directly in foo only: a lone
			// trailing "*" does not reach into subdirectories.
			if k < len(parts) && len(r.pattern) > 0 && r.pattern[len(r.pattern)-1] == "*" && !r.dirOnly {
				continue
			}
			return true
		}
	}
	return false
}

func segMatch(pat, parts []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(parts); i++ {
				if segMatch(pat[1:], parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 || !wildMatch(pat[0], parts[0]) {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
	return len(parts) == 0
}

// wildMatch matches one segment: "*" any run, "?" one character, "\x"
// the character x, anything else itself.
func wildMatch(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if wildMatch(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
			p, s = p[1:], s[1:]
			continue
		case '\\':
			if len(p) > 1 {
				p = p[1:]
			}
		}
		if len(s) == 0 || s[0] != p[0] {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

// Owners returns the owners of a path, slash separated and relative to the
// repository root: per section the last matching rule's owners.
func (co *CodeOwners) Owners(path string) []string {
	if co == nil || path == "" {
		return nil
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var out []string
	seen := map[string]bool{}
	for _, sec := range co.sections {
		for i := len(sec.rules) - 1; i >= 0; i-- {
			if sec.rules[i].match(parts) {
				for _, o := range sec.rules[i].owners {
					if !seen[o] {
						seen[o] = true
						out = append(out, o)
					}
				}
				break
			}
		}
	}
	return out
}

// Owners resolves who owns a violation: CODEOWNERS for the file, then the
// Responsible roles of the guardrail's activity in the matrix.
type Owners struct {
	CodeOwners *CodeOwners
	RACI       *config.RACI
}

// Resolve returns the owners of a path for an activity, and where they
// come from: "codeowners", "matrix", or "" when nobody owns it.
func (o *Owners) Resolve(path, activity string) ([]string, string) {
	if o == nil {
		return nil, ""
	}
	if own := o.CodeOwners.Owners(path); len(own) > 0 {
		return own, "codeowners"
	}
	if a := o.RACI.Activity(activity); a != nil && len(a.R) > 0 {
		var out []string
		for _, role := range a.R {
			if t := o.RACI.Teams[role]; t != nil && t.Lead != "" {
				out = append(out, fmt.Sprintf("%s (%s)", role, t.Lead))
				continue
			}
			out = append(out, role)
		}
		return out, "matrix"
	}
	return nil, ""
}
