package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/onus-sec/onus"
)

// File names inside a configuration directory.
const (
	MainFile     = "onus.yaml"
	RACIFile     = "raci.yaml"
	ControlsDir  = "controls"
	maxFileBytes = 16 << 20
)

// Problem is one thing wrong in the configuration, with where it is.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// Unwrap lets errors.As find an application error with code EINVALID.
func (p *Problem) Unwrap() error {
	return &onus.Error{Code: onus.EINVALID, Message: p.Error()}
}

// Problems is every problem found in a configuration, in file and line order.
type Problems []*Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find an application error with code EINVALID.
func (ps Problems) Unwrap() error {
	return &onus.Error{Code: onus.EINVALID, Message: ps.Error()}
}

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
	return ps
}

// Load reads the configuration directory dir. It returns every problem it
// can find (as Problems) rather than only the first.
func Load(dir string) (*Config, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "config: cannot read directory %s: %v", dir, errors.Unwrap(err))
	}
	if !info.IsDir() {
		return nil, onus.Errorf(onus.EINVALID, "config: %s is not a directory (pass the directory that holds %s)", dir, MainFile)
	}
	mainPath := filepath.Join(dir, MainFile)
	f, err := os.Open(mainPath)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "config: %s not found in %s", MainFile, dir)
	}
	defer f.Close()
	cfg, err := ParseMain(mainPath, f)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	cfg.resolvePaths()
	var probs Problems

	if rf, err := os.Open(filepath.Join(dir, RACIFile)); err == nil {
		r, err := ParseRACI(filepath.Join(dir, RACIFile), rf)
		rf.Close()
		if err != nil {
			probs = appendErr(probs, err)
		} else {
			cfg.RACI = r
		}
	}

	files, _ := filepath.Glob(filepath.Join(dir, ControlsDir, "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(dir, ControlsDir, "*.yml"))
	files = append(files, more...)
	sort.Strings(files)
	for _, name := range files {
		cf, err := os.Open(name)
		if err != nil {
			probs = append(probs, &Problem{File: name, Message: err.Error()})
			continue
		}
		ctls, err := ParseControls(name, cf)
		cf.Close()
		if err != nil {
			probs = appendErr(probs, err)
		}
		// Controls that did decode are still checked, so that one typo does
		// not hide the file's other problems.
		cfg.Controls = append(cfg.Controls, ctls...)
	}
	probs = append(probs, cfg.Validate()...)
	if len(probs) > 0 {
		return cfg, probs.sorted()
	}
	return cfg, nil
}

// resolvePaths makes the file: secrets and CA files the configuration
// names relative to its own directory, as documented, so that onus finds
// them whatever directory it is run from.
func (c *Config) resolvePaths() {
	abs := func(p *string, prefix string) {
		if !strings.HasPrefix(*p, prefix) {
			return
		}
		rest := strings.TrimPrefix(*p, prefix)
		if rest == "" || filepath.IsAbs(rest) {
			return
		}
		*p = prefix + filepath.Join(c.Dir, rest)
	}
	c.resolveChannelPaths(abs)
	if o := c.Serve.OIDC; o != nil {
		abs(&o.ClientSecret, "file:")
	}
	if bg := c.Serve.BreakGlass; bg != nil {
		abs(&bg.PasswordHash, "file:")
	}
	if t := c.Serve.TLS; t != nil {
		abs(&t.Cert, "")
		abs(&t.Key, "")
	}
	for _, s := range c.Sources {
		for k, v := range s.Credentials {
			abs(&v, "file:")
			s.Credentials[k] = v
		}
	}
}

func appendErr(probs Problems, err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return append(probs, ps...)
	}
	var p *Problem
	if errors.As(err, &p) {
		return append(probs, p)
	}
	return append(probs, &Problem{Message: err.Error()})
}

// document is a parsed YAML file kept for position lookups.
type document struct {
	name string
	ast  *ast.File
}

func parseDocument(name string, r io.Reader) (*document, []byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, nil, &Problem{File: name, Message: err.Error()}
	}
	if len(b) > maxFileBytes {
		return nil, nil, &Problem{File: name, Message: fmt.Sprintf("file is larger than %d MiB", maxFileBytes>>20)}
	}
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return nil, nil, yamlProblem(name, err)
	}
	return &document{name: name, ast: f}, b, nil
}

// decode decodes node into v strictly: unknown keys are errors. Every
// unknown key is reported, not only the first: each is taken out of the
// tree and the rest decoded again, up to maxUnknownKeys.
func (d *document) decode(node ast.Node, v any) error {
	var probs Problems
	for {
		dec := yaml.NewDecoder(bytes.NewReader(nil), yaml.DisallowUnknownField())
		err := dec.DecodeFromNode(node, v)
		if err == nil {
			break
		}
		probs = append(probs, yamlProblem(d.name, err))
		var ye yaml.Error
		if len(probs) == maxUnknownKeys || !errors.As(err, &ye) || !strings.HasPrefix(ye.GetMessage(), "unknown field") || !dropKey(node, ye.GetToken()) {
			break
		}
	}
	switch len(probs) {
	case 0:
		return nil
	case 1:
		return probs[0]
	}
	return probs.sorted()
}

// maxUnknownKeys is how many unknown keys of one file decode reports.
const maxUnknownKeys = 20

// dropKey removes from the tree under node the key whose token is tk, and
// reports whether it found it.
func dropKey(node ast.Node, tk *token.Token) bool {
	if tk == nil {
		return false
	}
	found := false
	ast.Walk(visitFunc(func(n ast.Node) bool {
		m, ok := n.(*ast.MappingNode)
		if !ok || found {
			return !found
		}
		for i, mv := range m.Values {
			if k := mv.Key.GetToken(); k != nil && k.Position.Line == tk.Position.Line && k.Position.Column == tk.Position.Column {
				m.Values = append(m.Values[:i:i], m.Values[i+1:]...)
				found = true
				return false
			}
		}
		return true
	}), node)
	return found
}

type visitFunc func(ast.Node) bool

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

// line returns the line of the node at a YAML path such as
// "$.sources[2].map", or 0 when there is none.
func (d *document) line(path string) int {
	p, err := yaml.PathString(path)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(d.ast)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

func (d *document) root() ast.Node {
	if d.ast == nil || len(d.ast.Docs) == 0 || d.ast.Docs[0].Body == nil {
		return nil
	}
	return d.ast.Docs[0].Body
}

func yamlProblem(name string, err error) *Problem {
	var pe *posError
	if errors.As(err, &pe) {
		return &Problem{File: name, Line: pe.line, Col: pe.col, Message: pe.msg}
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		p := &Problem{File: name, Message: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil {
			p.Line, p.Col = tk.Position.Line, tk.Position.Column
			p.Message = typeMessage(p.Message, tk.Value)
			// Name the key the value belongs to: "max_per_day: …".
			if k := tk.Prev; k != nil && k.Value == ":" && k.Prev != nil && p.Message != ye.GetMessage() {
				p.Message = k.Prev.Value + ": " + p.Message
			}
		}
		return p
	}
	return &Problem{File: name, Message: err.Error()}
}

// posError is an error found decoding one YAML node, with its place.
type posError struct {
	line, col int
	msg       string
}

func (e *posError) Error() string { return fmt.Sprintf("%d:%d: %s", e.line, e.col, e.msg) }

func nodeError(node ast.Node, format string, args ...any) error {
	e := &posError{msg: fmt.Sprintf(format, args...)}
	if tk := node.GetToken(); tk != nil {
		e.line, e.col = tk.Position.Line, tk.Position.Column
	}
	return e
}

var unmarshalRE = regexp.MustCompile(`cannot unmarshal (.+?) into Go (?:struct field (\S+) of type|value of type) (\S+)`)

// typeMessage says in onus's words what the YAML decoder says in Go's:
// "cannot unmarshal string into Go struct field Config.Nudges of type int"
// becomes "\"two\" is not a whole number".
func typeMessage(msg, value string) string {
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := m[3]
	switch {
	case strings.HasPrefix(want, "[]"):
		want = "a list"
	case strings.HasPrefix(want, "map[") || strings.Contains(want, "."):
		want = "a mapping (key: value)"
	case strings.HasPrefix(want, "int") || strings.HasPrefix(want, "uint"):
		want = "a whole number"
	case strings.HasPrefix(want, "float"):
		want = "a number"
	case want == "bool":
		want = "true or false"
	case want == "string":
		want = "text"
	}
	got := fmt.Sprintf("%q", value)
	switch value {
	case "":
		got = "this " + m[1]
	case "[", "-":
		got = "a list"
	case "{":
		got = "a mapping"
	}
	return fmt.Sprintf("%s is not %s", got, want)
}

// ParseMain parses onus.yaml. name is used in error messages.
func ParseMain(name string, r io.Reader) (*Config, error) {
	doc, _, err := parseDocument(name, r)
	if err != nil {
		return nil, err
	}
	cfg := &Config{File: name}
	root := doc.root()
	if root == nil {
		return nil, &Problem{File: name, Line: 1, Message: "file is empty; it needs at least a sources list"}
	}
	if err := doc.decode(root, cfg); err != nil {
		return nil, err
	}
	if cfg.Version > Version {
		return nil, &Problem{File: name, Line: doc.line("$.version"), Message: fmt.Sprintf("version %d is newer than this onus understands (%d); upgrade onus", cfg.Version, Version)}
	}
	for i, s := range cfg.Sources {
		if s == nil {
			return nil, &Problem{File: name, Line: doc.line(fmt.Sprintf("$.sources[%d]", i)), Message: "empty source entry"}
		}
		s.Index = i
		s.Line = doc.line(fmt.Sprintf("$.sources[%d]", i))
	}
	cfg.positions = doc
	return cfg, nil
}

// ParseControls parses one controls file: a single control, a list of
// controls, or a mapping with a "controls" list. With an error it still
// returns the controls that decoded.
func ParseControls(name string, r io.Reader) ([]*Control, error) {
	doc, _, err := parseDocument(name, r)
	if err != nil {
		return nil, err
	}
	root := doc.root()
	if root == nil {
		return nil, nil
	}
	var items []ast.Node
	switch n := root.(type) {
	case *ast.SequenceNode:
		items = n.Values
	case *ast.MappingNode:
		if v := mappingValue(n, "controls"); v != nil {
			seq, ok := v.(*ast.SequenceNode)
			if !ok {
				return nil, &Problem{File: name, Line: v.GetToken().Position.Line, Message: "controls must be a list"}
			}
			items = seq.Values
			if len(n.Values) > 1 {
				return nil, &Problem{File: name, Line: n.GetToken().Position.Line, Message: "a file with a controls list may hold nothing else"}
			}
		} else {
			items = []ast.Node{n}
		}
	default:
		return nil, &Problem{File: name, Line: root.GetToken().Position.Line, Message: "a controls file holds a control (a mapping) or a list of controls"}
	}
	var out []*Control
	var probs Problems
	for _, item := range items {
		c := &Control{File: name, Line: item.GetToken().Position.Line}
		if err := doc.decode(item, c); err != nil {
			probs = appendErr(probs, err)
			continue
		}
		out = append(out, c)
	}
	if len(probs) > 0 {
		return out, probs
	}
	return out, nil
}

func mappingValue(m *ast.MappingNode, key string) ast.Node {
	for _, kv := range m.Values {
		if kv.Key != nil && kv.Key.String() == key {
			return kv.Value
		}
	}
	return nil
}

// ParseRACI parses raci.yaml.
func ParseRACI(name string, r io.Reader) (*RACI, error) {
	doc, _, err := parseDocument(name, r)
	if err != nil {
		return nil, err
	}
	out := &RACI{File: name}
	root := doc.root()
	if root == nil {
		return out, nil
	}
	if err := doc.decode(root, out); err != nil {
		return nil, err
	}
	if out.Version > Version {
		return nil, &Problem{File: name, Line: doc.line("$.version"), Message: fmt.Sprintf("version %d is newer than this onus understands (%d); upgrade onus", out.Version, Version)}
	}
	for i, a := range out.Activities {
		if a == nil {
			return nil, &Problem{File: name, Line: doc.line(fmt.Sprintf("$.activities[%d]", i)), Message: "empty activity entry"}
		}
		a.Line = doc.line(fmt.Sprintf("$.activities[%d]", i))
	}
	for id, t := range out.Teams {
		if t == nil {
			out.Teams[id] = &Team{}
			t = out.Teams[id]
		}
		t.Line = doc.line("$.teams." + id)
	}
	return out, nil
}

// UnmarshalYAML records the expression and where it starts.
func (e *Expr) UnmarshalYAML(node ast.Node) error {
	switch n := node.(type) {
	case *ast.StringNode:
		e.Src = n.Value
		e.Line, e.Col = n.Token.Position.Line, n.Token.Position.Column
		if n.Token.Type == 0 {
			break
		}
		// Quoted scalars start one column before their text.
		if s := n.Token.Origin; len(strings.TrimSpace(s)) > 0 {
			if c := strings.TrimSpace(s)[0]; c == '\'' || c == '"' {
				e.Col++
			}
		}
	case *ast.LiteralNode:
		e.Src = n.Value.Value
		// The text of a block scalar starts on the line after "|".
		e.Line, e.Col = n.Start.Position.Line+1, 0
	case *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode:
		e.Src = node.String()
		e.Line, e.Col = node.GetToken().Position.Line, node.GetToken().Position.Column
	case *ast.NullNode:
		return nil
	default:
		return fmt.Errorf("an expression must be a string, got %s", node.Type())
	}
	return nil
}
