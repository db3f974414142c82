// Package evaluate runs controls over an inventory. It is pure: the
// inventory, the compiled controls, the responsibility matrix and the time
// go in; outcomes, evidence and owners come out. Nothing is stored here.
package evaluate

import (
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/policy"
)

// Control is a control ready to evaluate.
type Control struct {
	*config.Control
	// Kind is the entity kind the control applies to ("" for every kind).
	Kind     string
	Severity onus.Severity
	Scope    *policy.Program // nil: every entity of Kind
	Check    *policy.Program
	Owner    *policy.Program // nil: the matrix decides
	Deadline time.Duration
	FixTmpl  *template.Template
}

// Compiled is a configuration's controls and people rules, compiled.
type Compiled struct {
	Env      *policy.Env
	Controls []*Control
	Departed *policy.Program
	OnLeave  *policy.Program
	LeftOn   *policy.Program
	TimeZone *policy.Program
	Channel  *policy.Program
	Config   *config.Config
}

// Compile compiles every control of a configuration at time now. It
// returns all problems found, each with its file and line.
func Compile(cfg *config.Config, now time.Time) (*Compiled, error) {
	env, err := policy.NewEnv(policy.NewCatalog(cfg), now)
	if err != nil {
		return nil, err
	}
	out := &Compiled{Env: env, Config: cfg}
	var probs config.Problems
	add := func(err error) {
		if p, ok := err.(*config.Problem); ok {
			probs = append(probs, p)
		} else if err != nil {
			probs = append(probs, &config.Problem{Message: err.Error()})
		}
	}
	person := cfg.PersonKind()
	// The expressions over a person, compiled when set.
	for _, pe := range []struct {
		expr config.Expr
		typ  policy.Result
		out  **policy.Program
	}{
		{cfg.People.Departed, policy.Bool, &out.Departed},
		{cfg.People.OnLeave, policy.Bool, &out.OnLeave},
		{cfg.People.LeftOn, policy.Any, &out.LeftOn},
		{cfg.People.TimeZone, policy.Any, &out.TimeZone},
		{cfg.People.Channel, policy.Any, &out.Channel},
	} {
		if !pe.expr.IsZero() {
			p, err := env.Compile(cfg.File, pe.expr, person, pe.typ)
			add(err)
			*pe.out = p
		}
	}
	for _, cc := range cfg.Controls {
		if cc.Disabled {
			continue
		}
		c := &Control{Control: cc, Kind: cc.Kind, Deadline: cfg.Deadline(cc)}
		c.Severity, _ = onus.ParseSeverity(cc.Severity)
		if !cc.Scope.IsZero() {
			p, err := env.Compile(cc.File, cc.Scope, c.Kind, policy.Bool)
			if err != nil {
				add(err)
				continue
			}
			if c.Kind == "" {
				c.Kind = scopeKind(p)
				if c.Kind != "" {
					// Check the scope's paths now that its kind is known.
					if _, err := env.Compile(cc.File, cc.Scope, c.Kind, policy.Bool); err != nil {
						add(err)
						continue
					}
				}
			}
			c.Scope = p
		}
		if p, err := env.Compile(cc.File, cc.Check, c.Kind, policy.Bool); err != nil {
			add(err)
		} else {
			c.Check = p
		}
		if !cc.Owner.IsZero() {
			if p, err := env.Compile(cc.File, cc.Owner, c.Kind, policy.Any); err != nil {
				add(err)
			} else {
				c.Owner = p
			}
		}
		if cc.Fix != "" {
			c.FixTmpl, _ = template.New(cc.ID).Option("missingkey=zero").Parse(cc.Fix)
		}
		out.Controls = append(out.Controls, c)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	sort.Slice(out.Controls, func(i, j int) bool { return out.Controls[i].ID < out.Controls[j].ID })
	return out, nil
}

// scopeKind finds `entity.kind == "x"` among the top-level conjuncts of a
// scope, so that a control only visits entities of that kind.
func scopeKind(p *policy.Program) string {
	var find func(ast.Expr) string
	find = func(ex ast.Expr) string {
		if ex.Kind() != ast.CallKind {
			return ""
		}
		c := ex.AsCall()
		switch c.FunctionName() {
		case operators.LogicalAnd:
			for _, a := range c.Args() {
				if k := find(a); k != "" {
					return k
				}
			}
		case operators.Equals:
			args := c.Args()
			for i := 0; i < 2; i++ {
				sel, lit := args[i], args[1-i]
				if sel.Kind() == ast.SelectKind && lit.Kind() == ast.LiteralKind {
					s := sel.AsSelect()
					if s.FieldName() == "kind" && s.Operand().Kind() == ast.IdentKind && s.Operand().AsIdent() == "entity" {
						if v, ok := lit.AsLiteral().(types.String); ok {
							return string(v)
						}
					}
				}
			}
		}
		return ""
	}
	return find(p.AST())
}

// FixText renders a control's fix instructions for an entity.
func (c *Control) FixText(data any) string { return render(c.FixTmpl, c.Fix, data) }

// RenderFix renders fix instructions written as a text/template. A
// template that fails to render is shown as written.
func RenderFix(fix string, data any) string { return ParseFix(fix).Render(data) }

// Fix is parsed fix instructions, for rendering many times.
type Fix struct {
	t   *template.Template
	raw string
	// parts is the template as text and the fields it prints, when it
	// prints only fields of a finding and its entity ({{.Entity.Name}},
	// {{.Finding.ID}}…): RenderFinding then writes it without reflection.
	parts []fixPart
	plain bool
}

// fixPart is literal text, or one of the fields a fix template prints.
type fixPart struct {
	text  string
	field string // "" for text
}

// fixFields are the fields RenderFinding writes itself.
var fixFields = map[string]func(onus.Finding) string{
	"Entity.Name":        func(f onus.Finding) string { return f.EntityName },
	"Entity.ID":          func(f onus.Finding) string { return f.Entity },
	"Finding.ID":         func(f onus.Finding) string { return strconv.FormatInt(f.ID, 10) },
	"Finding.Control":    func(f onus.Finding) string { return f.Control },
	"Finding.Entity":     func(f onus.Finding) string { return f.Entity },
	"Finding.EntityName": func(f onus.Finding) string { return f.EntityName },
	"Finding.EntityKind": func(f onus.Finding) string { return f.EntityKind },
}

// ParseFix parses fix instructions; a template that does not parse is
// shown as written.
func ParseFix(fix string) Fix {
	t, err := template.New("fix").Option("missingkey=zero").Parse(fix)
	if err != nil {
		return Fix{raw: fix}
	}
	f := Fix{t: t, raw: fix}
	f.parts, f.plain = plainParts(t)
	return f
}

// plainParts splits a template made only of text and {{.A.B}} actions
// naming fixFields; ok is false for anything else (conditions, pipes,
// functions, other fields), which the template engine renders.
func plainParts(t *template.Template) (parts []fixPart, ok bool) {
	if t.Tree == nil || t.Tree.Root == nil || len(t.Templates()) != 1 {
		return nil, false
	}
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			parts = append(parts, fixPart{text: string(n.Text)})
		case *parse.ActionNode:
			p := n.Pipe
			if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return nil, false
			}
			field, isField := p.Cmds[0].Args[0].(*parse.FieldNode)
			if !isField {
				return nil, false
			}
			name := strings.Join(field.Ident, ".")
			if fixFields[name] == nil {
				return nil, false
			}
			parts = append(parts, fixPart{field: name})
		default:
			return nil, false
		}
	}
	return parts, true
}

// Render renders the instructions for one entity.
func (f Fix) Render(data any) string {
	if f.t == nil {
		return f.raw
	}
	return render(f.t, f.raw, data)
}

// RenderFinding renders the instructions for a finding: the template sees
// .Entity.Name, .Entity.ID and .Finding. A template that prints only such
// fields is written without the template engine, with the same result.
func (f Fix) RenderFinding(fd onus.Finding) string {
	if f.t == nil {
		return f.raw
	}
	if !f.plain {
		return render(f.t, f.raw, map[string]any{"Entity": map[string]string{"Name": fd.EntityName, "ID": fd.Entity}, "Finding": fd})
	}
	var b strings.Builder
	for _, p := range f.parts {
		if p.field == "" {
			b.WriteString(p.text)
		} else {
			b.WriteString(fixFields[p.field](fd))
		}
	}
	return strings.TrimSpace(b.String())
}

func render(t *template.Template, raw string, data any) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return raw
	}
	return strings.TrimSpace(b.String())
}
