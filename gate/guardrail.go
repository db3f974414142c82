package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"text/template"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
)

// Guardrail is a rule over a proposed change. Its check is true when the
// subject is acceptable.
type Guardrail struct {
	File string `yaml:"-" json:"file"`
	Line int    `yaml:"-" json:"line"`

	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"`
	// Input is the input kind the guardrail reads.
	Input    string        `yaml:"input" json:"input"`
	Scope    config.Expr   `yaml:"scope" json:"-"`
	Check    config.Expr   `yaml:"check" json:"-"`
	Severity onus.Severity `yaml:"-" json:"severity"`
	SevText  string        `yaml:"severity" json:"-"`
	// Message is a text/template over the subject (.Address, .Type, .Path,
	// .Line, .File) and .Env.
	MessageText string `yaml:"message" json:"-"`
	Why         string `yaml:"why" json:"why,omitempty"`
	Fix         string `yaml:"fix" json:"fix,omitempty"`
	// Activity is the row of the responsibility matrix the guardrail
	// belongs to; its Responsible owns a violation CODEOWNERS does not.
	Activity string   `yaml:"activity" json:"activity,omitempty"`
	Tags     []string `yaml:"tags" json:"tags,omitempty"`
	Disabled bool     `yaml:"disabled" json:"-"`

	// NeedsKEV is set when the check reads the KEV catalog.
	NeedsKEV bool `yaml:"-" json:"-"`

	scope, check   cel.Program
	scopeP, checkP cel.Program // partial evaluation, for subjects with unknown values
	message        *template.Template
}

// pass is the internal status of a passing check.
const pass Status = "pass"

// activation returns what expressions see for a subject: vars, or a
// partial activation that marks the values known only after apply. It is
// built once per subject and shared by every guardrail.
func activation(s *Subject, vars map[string]any) (any, error) {
	if len(s.Unknown) == 0 {
		return vars, nil
	}
	pats := make([]*cel.AttributePatternType, len(s.Unknown))
	for i, p := range s.Unknown {
		ap := cel.AttributePattern("resource")
		for _, q := range p {
			switch q := q.(type) {
			case string:
				ap = ap.QualString(q)
			case int:
				ap = ap.QualInt(int64(q))
			}
		}
		pats[i] = ap
	}
	return cel.PartialVars(vars, pats...)
}

// eval returns "" when the subject is out of scope, pass, or a failing
// status with its message. act comes from activation.
func (g *Guardrail) eval(s *Subject, vars map[string]any, act any) (Status, string) {
	scope, check := g.scope, g.check
	if len(s.Unknown) > 0 {
		scope, check = g.scopeP, g.checkP
	}
	if scope != nil {
		v, _, err := scope.Eval(act)
		switch {
		case err != nil:
			// A scope that cannot be evaluated on a subject does not apply
			// to it: scopes select, they do not judge.
			return "", ""
		case types.IsUnknown(v):
			// It may apply once the values are known: judge the check.
		case v != types.True:
			return "", ""
		}
	}
	v, _, err := check.Eval(act)
	switch {
	case err != nil:
		return Error, fmt.Sprintf("%s: the check failed on %s: %v", g.ID, s.Address, err)
	case types.IsUnknown(v):
		return Unknown, fmt.Sprintf("%s: cannot tell before apply (%s)", s.Address, strings.ToLower(g.Title[:1])+g.Title[1:])
	case v == types.True:
		return pass, ""
	}
	return Fail, g.render(s, vars)
}

func (g *Guardrail) render(s *Subject, vars map[string]any) string {
	if g.message == nil {
		return g.Title
	}
	var b strings.Builder
	// Only names reach a message, never values: a plan's values may be
	// sensitive.
	data := struct {
		Address, Type, Path, File, Env string
		Line                           int
	}{s.Address, s.Type, s.Path, s.File, vars["env"].(string), s.Line}
	if err := g.message.Execute(&b, data); err != nil {
		return g.Title
	}
	return strings.TrimSpace(b.String())
}

// Pack is a set of compiled guardrails.
type Pack struct {
	Guardrails []*Guardrail
}

// Guardrail returns the guardrail with the id, or nil.
func (p *Pack) Guardrail(id string) *Guardrail {
	for _, g := range p.Guardrails {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// newEnv is the CEL environment of guardrails: `resource` (the subject),
// `env` (the environment's name), `kev` (CVE ids in the CISA catalog), and
// helpers.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("resource", cel.DynType),
		cel.Variable("env", cel.StringType),
		cel.Variable("kev", cel.MapType(cel.StringType, cel.BoolType)),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(), ext.Sets(), ext.Lists(), ext.Encoders(),
		cel.Function("iam_allows_all",
			cel.Overload("iam_allows_all_string", []*cel.Type{cel.StringType}, cel.BoolType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Bool(iamAllowsAll(string(v.(types.String)))) }))),
	)
}

// iamAllowsAll reports whether an IAM policy document allows every action
// on every resource. A document that does not parse is not judged here.
func iamAllowsAll(doc string) bool {
	var p struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	type stmt struct {
		Effect   string
		Action   any
		Resource any
	}
	var list []stmt
	if json.Unmarshal(p.Statement, &list) != nil {
		var one stmt
		if json.Unmarshal(p.Statement, &one) != nil {
			return false
		}
		list = []stmt{one}
	}
	star := func(v any) bool {
		switch v := v.(type) {
		case string:
			return v == "*"
		case []any:
			for _, x := range v {
				if x == "*" {
					return true
				}
			}
		}
		return false
	}
	for _, s := range list {
		if strings.EqualFold(s.Effect, "allow") && star(s.Action) && star(s.Resource) {
			return true
		}
	}
	return false
}

// costLimit bounds one evaluation, so a careless comprehension cannot stall
// a CI job.
const costLimit = 1_000_000

// Compile compiles guardrails; every error names its file and line.
func Compile(gs []*Guardrail) (*Pack, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	var probs config.Problems
	seen := map[string]*Guardrail{}
	p := &Pack{}
	for _, g := range gs {
		if err := g.compile(env); err != nil {
			probs = append(probs, asProblems(err)...)
			continue
		}
		if prev := seen[g.ID]; prev != nil {
			probs = append(probs, &config.Problem{File: g.File, Line: g.Line, Message: fmt.Sprintf("guardrail %s is also defined at %s:%d", g.ID, prev.File, prev.Line)})
			continue
		}
		seen[g.ID] = g
		if !g.Disabled {
			p.Guardrails = append(p.Guardrails, g)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return p, nil
}

func asProblems(err error) config.Problems {
	var ps config.Problems
	if errors.As(err, &ps) {
		return ps
	}
	var p *config.Problem
	if errors.As(err, &p) {
		return config.Problems{p}
	}
	return config.Problems{{Message: err.Error()}}
}

func (g *Guardrail) compile(env *cel.Env) error {
	bad := func(format string, args ...any) error {
		return &config.Problem{File: g.File, Line: g.Line, Message: fmt.Sprintf(format, args...)}
	}
	if g.ID == "" {
		return bad("a guardrail needs an id")
	}
	if !slices.Contains(Kinds, g.Input) {
		return bad("guardrail %s: input %q is not one of %s", g.ID, g.Input, strings.Join(Kinds, ", "))
	}
	sev, err := onus.ParseSeverity(g.SevText)
	if err != nil {
		return bad("guardrail %s: severity %q is not one of critical, high, medium, low", g.ID, g.SevText)
	}
	g.Severity = sev
	if g.Check.IsZero() {
		return bad("guardrail %s needs a check: a CEL expression that is true when the resource is acceptable", g.ID)
	}
	if g.Title == "" {
		g.Title = g.ID
	}
	if g.MessageText != "" {
		t, err := template.New(g.ID).Option("missingkey=error").Parse(g.MessageText)
		if err != nil {
			return bad("guardrail %s: message: %v", g.ID, err)
		}
		g.message = t
	}
	compile := func(x config.Expr) (cel.Program, cel.Program, bool, error) {
		checked, iss := env.Compile(x.Src)
		if iss != nil && iss.Err() != nil {
			p := &config.Problem{File: g.File, Line: x.Line, Col: x.Col, Message: "CEL: " + iss.Err().Error()}
			if errs := iss.Errors(); len(errs) > 0 {
				p.Line, p.Col = position(x, errs[0].Location.Line(), errs[0].Location.Column())
				p.Message = "CEL: " + errs[0].Message
			}
			return nil, nil, false, p
		}
		if t := checked.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
			return nil, nil, false, &config.Problem{File: g.File, Line: x.Line, Col: x.Col,
				Message: fmt.Sprintf("the expression returns %s; it must be true or false", t)}
		}
		kev := false
		for _, r := range checked.NativeRep().ReferenceMap() {
			if r.Name == "kev" {
				kev = true
			}
		}
		prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
		if err != nil {
			return nil, nil, false, &config.Problem{File: g.File, Line: x.Line, Message: "CEL: " + err.Error()}
		}
		part, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize, cel.OptPartialEval), cel.CostLimit(costLimit))
		if err != nil {
			return nil, nil, false, &config.Problem{File: g.File, Line: x.Line, Message: "CEL: " + err.Error()}
		}
		return prg, part, kev, nil
	}
	if !g.Scope.IsZero() {
		var kev bool
		if g.scope, g.scopeP, kev, err = compile(g.Scope); err != nil {
			return err
		}
		g.NeedsKEV = g.NeedsKEV || kev
	}
	var kev bool
	if g.check, g.checkP, kev, err = compile(g.Check); err != nil {
		return err
	}
	g.NeedsKEV = g.NeedsKEV || kev
	return nil
}

// position maps a line and 0-based column inside an expression to its file.
func position(x config.Expr, line, col int) (int, int) {
	if line <= 1 {
		if x.Col > 0 {
			return x.Line, x.Col + col
		}
		return x.Line, col + 1
	}
	return x.Line + line - 1, col + 1
}

// ParseGuardrails reads one guardrails file: a guardrail, a list of them,
// or a mapping with a "guardrails" list. Unknown keys are errors.
func ParseGuardrails(name string, r io.Reader) ([]*Guardrail, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, &config.Problem{File: name, Message: err.Error()}
	}
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return nil, yamlProblem(name, err)
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, nil
	}
	var items []ast.Node
	switch n := f.Docs[0].Body.(type) {
	case *ast.SequenceNode:
		items = n.Values
	case *ast.MappingNode:
		items = []ast.Node{n}
		for _, kv := range n.Values {
			if kv.Key != nil && kv.Key.String() == "guardrails" {
				seq, ok := kv.Value.(*ast.SequenceNode)
				if !ok || len(n.Values) > 1 {
					return nil, &config.Problem{File: name, Line: kv.Key.GetToken().Position.Line, Message: "guardrails must be a list, alone in its file"}
				}
				items = seq.Values
			}
		}
	default:
		return nil, &config.Problem{File: name, Line: 1, Message: "a guardrails file holds a guardrail (a mapping) or a list of them"}
	}
	var out []*Guardrail
	var probs config.Problems
	for _, item := range items {
		g := &Guardrail{File: name, Line: item.GetToken().Position.Line}
		dec := yaml.NewDecoder(bytes.NewReader(nil), yaml.DisallowUnknownField())
		if err := dec.DecodeFromNode(item, g); err != nil {
			probs = append(probs, yamlProblem(name, err))
			continue
		}
		out = append(out, g)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return out, nil
}

func yamlProblem(name string, err error) *config.Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		p := &config.Problem{File: name, Message: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil {
			p.Line, p.Col = tk.Position.Line, tk.Position.Column
		}
		return p
	}
	return &config.Problem{File: name, Message: err.Error()}
}

// LoadGuardrails reads every *.yaml file under dir in fsys, in name order.
func LoadGuardrails(fsys fs.FS, dir string) ([]*Guardrail, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []*Guardrail
	var probs config.Problems
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		name := path.Join(dir, e.Name())
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		gs, err := ParseGuardrails(name, f)
		f.Close()
		if err != nil {
			probs = append(probs, asProblems(err)...)
			continue
		}
		out = append(out, gs...)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return out, nil
}
