package source

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A transform rewrites a mapped value before it is normalised or kept:
// osquery names an app "Notion.app" where the catalog says "Notion". A
// path is followed by transforms after a bar:
//
//	name: columns.name | trim_suffix(".app")
//	keys: { mac: interfaces | split(",") }
//	id: "{hostIdentifier}/{columns.path}" | lower
//
// Transforms run in order on each value; split makes several values of
// one (several keys, a list field); split("sep", n) keeps the nth part
// (negative counts from the end).
type transform struct {
	name string
	fn   func(in []string) []string
	// many is set for a split that makes several values of one.
	many bool
}

// Transforms lists the transforms a mapping accepts.
var Transforms = []string{"lower", "upper", "trim", "trim_prefix(s)", "trim_suffix(s)", "replace(regex, replacement)", "split(sep)", "split(sep, n)"}

// splitPipes splits "path | t1 | t2(arg)" at bars outside quotes, braces
// and brackets.
func splitPipes(s string) []string {
	var out []string
	depth, quote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(s) {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{' || c == '[' || c == '(':
			depth++
		case c == '}' || c == ']' || c == ')':
			depth--
		case c == '|' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// parseTransform compiles one transform such as trim_suffix(".app").
func parseTransform(src string) (transform, error) {
	name, args := src, []string(nil)
	if i := strings.IndexByte(src, '('); i >= 0 {
		if !strings.HasSuffix(src, ")") {
			return transform{}, fmt.Errorf("transform %q: missing )", src)
		}
		name = strings.TrimSpace(src[:i])
		var err error
		if args, err = parseArgs(src[i+1 : len(src)-1]); err != nil {
			return transform{}, fmt.Errorf("transform %q: %v", src, err)
		}
	}
	want := func(n ...int) error {
		for _, k := range n {
			if len(args) == k {
				return nil
			}
		}
		return fmt.Errorf("transform %s takes %v argument(s), not %d (transforms: %s)", name, n, len(args), strings.Join(Transforms, ", "))
	}
	each := func(f func(string) string) func([]string) []string {
		return func(in []string) []string {
			for i, v := range in {
				in[i] = f(v)
			}
			return in
		}
	}
	t := transform{name: name}
	switch name {
	case "lower", "upper", "trim":
		if err := want(0); err != nil {
			return t, err
		}
		t.fn = each(map[string]func(string) string{"lower": strings.ToLower, "upper": strings.ToUpper, "trim": strings.TrimSpace}[name])
	case "trim_prefix":
		if err := want(1); err != nil {
			return t, err
		}
		p := args[0]
		t.fn = each(func(s string) string { return strings.TrimPrefix(s, p) })
	case "trim_suffix":
		if err := want(1); err != nil {
			return t, err
		}
		p := args[0]
		t.fn = each(func(s string) string { return strings.TrimSuffix(s, p) })
	case "replace":
		if err := want(2); err != nil {
			return t, err
		}
		re, err := regexp.Compile(args[0])
		if err != nil {
			return t, fmt.Errorf("transform %q: %v", src, err)
		}
		repl := args[1]
		t.fn = each(func(s string) string { return re.ReplaceAllString(s, repl) })
	case "split":
		if err := want(1, 2); err != nil {
			return t, err
		}
		sep := args[0]
		if sep == "" {
			return t, fmt.Errorf("transform %q: empty separator", src)
		}
		if len(args) == 1 {
			t.many = true
			t.fn = func(in []string) []string {
				var out []string
				for _, v := range in {
					for _, part := range strings.Split(v, sep) {
						if part = strings.TrimSpace(part); part != "" {
							out = append(out, part)
						}
					}
				}
				return out
			}
			break
		}
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return t, fmt.Errorf("transform %q: the index %q is not a number", src, args[1])
		}
		t.fn = each(func(s string) string {
			parts := strings.Split(s, sep)
			i := n
			if i < 0 {
				i += len(parts)
			}
			if i < 0 || i >= len(parts) {
				return ""
			}
			return strings.TrimSpace(parts[i])
		})
	default:
		return t, fmt.Errorf("unknown transform %q (transforms: %s)", name, strings.Join(Transforms, ", "))
	}
	return t, nil
}

// parseArgs reads comma-separated arguments: quoted strings or bare numbers.
func parseArgs(s string) ([]string, error) {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" {
		if s[0] == '"' || s[0] == '\'' {
			q := s[0]
			end := -1
			for i := 1; i < len(s); i++ {
				if s[i] == '\\' {
					i++
					continue
				}
				if s[i] == q {
					end = i
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("unclosed quote")
			}
			lit := s[:end+1]
			if q == '\'' {
				lit = `"` + strings.ReplaceAll(lit[1:end], `"`, `\"`) + `"`
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				return nil, fmt.Errorf("bad string %s", s[:end+1])
			}
			out = append(out, v)
			s = strings.TrimSpace(s[end+1:])
		} else {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				i = len(s)
			}
			out = append(out, strings.TrimSpace(s[:i]))
			s = s[i:]
		}
		if strings.HasPrefix(s, ",") {
			s = strings.TrimSpace(s[1:])
		} else if s != "" {
			return nil, fmt.Errorf("expected , between arguments")
		}
	}
	return out, nil
}

// apply runs transforms over one value; it may give several, or none.
func apply(xf []transform, v string) []string {
	vals := []string{v}
	for _, t := range xf {
		vals = t.fn(vals)
	}
	out := vals[:0]
	for _, v := range vals {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
