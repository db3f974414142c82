// Package policy is the language controls are written in: CEL over the
// inventory. An expression sees `entity` (the merged view, its sources as
// `entity.sources.NAME`, and its links such as `entity.owner.manager`) and
// `now`, plus helpers for the comparisons inventories need: versions,
// days, ages.
//
// Expressions are compiled and type-checked once, when the configuration
// is loaded; paths under `entity` are checked against what the sources
// map, so a misspelt source or field is an error with its file and line,
// not a silent failure on every entity.
package policy

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/inventory"
)

// Catalog is what the sources make available to expressions, per kind.
type Catalog struct {
	Kinds   map[string]*KindInfo
	Sources map[string]*SourceInfo
}

// KindInfo lists what entities of a kind have.
type KindInfo struct {
	Fields  map[string]bool
	Links   map[string]string // link name → target kind
	Sources []string
	Keys    map[string]bool
}

// SourceInfo lists what one source maps.
type SourceInfo struct {
	Kind   string
	Fields map[string]bool
}

// NewCatalog derives the catalog from a configuration.
func NewCatalog(cfg *config.Config) *Catalog {
	c := &Catalog{Kinds: map[string]*KindInfo{}, Sources: map[string]*SourceInfo{}}
	kind := func(name string) *KindInfo {
		k := c.Kinds[name]
		if k == nil {
			k = &KindInfo{Fields: map[string]bool{}, Links: map[string]string{}, Keys: map[string]bool{}}
			c.Kinds[name] = k
		}
		return k
	}
	for _, s := range cfg.Sources {
		k := kind(s.Kind)
		k.Sources = append(k.Sources, s.Name)
		si := &SourceInfo{Kind: s.Kind, Fields: map[string]bool{}}
		for f := range s.Map.Fields {
			k.Fields[f] = true
			si.Fields[f] = true
		}
		for key := range s.Map.Keys {
			k.Keys[key] = true
		}
		for name, ls := range s.Links {
			for _, l := range ls {
				k.Links[name] = l.To
				if l.Create {
					kind(l.To).Keys[l.By] = true
				}
			}
		}
		c.Sources[s.Name] = si
	}
	return c
}

// members returns, per kind, what each top-level name is.
func (c *Catalog) members() map[string]map[string]member {
	out := map[string]map[string]member{}
	for name, k := range c.Kinds {
		m := map[string]member{}
		for f := range k.Fields {
			m[f] = memberAttr
		}
		for l := range k.Links {
			m[l] = memberLink
		}
		// Identity keys read as fields too (entity.owner.email), unless a
		// mapped field has the same name.
		for key := range k.Keys {
			if _, taken := m[key]; !taken {
				m[key] = memberKey
			}
		}
		out[name] = m
	}
	return out
}

// Env compiles and runs expressions. It is bound to one evaluation time,
// which `now` and the helpers that measure ages use.
type Env struct {
	env     *cel.Env
	cat     *Catalog
	members map[string]map[string]member
	now     time.Time
}

// versionType is what the checker knows; versionRuntime is what values
// report at run time: the same name, with the Comparer trait that the
// standard comparison operators dispatch on.
var (
	versionType    = cel.OpaqueType("version")
	versionRuntime = types.NewObjectType("version", traits.ComparerType)
)

// versionVal is a parsed version inside CEL.
type versionVal struct{ v version }

func (v versionVal) ConvertToNative(t reflect.Type) (any, error) {
	if t.Kind() == reflect.String {
		return v.v.raw, nil
	}
	return nil, fmt.Errorf("cannot convert a version to %v", t)
}
func (v versionVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.StringType:
		return types.String(v.v.raw)
	case types.TypeType:
		return versionType
	}
	return types.NewErr("cannot convert a version to %s", t.TypeName())
}
func (v versionVal) Equal(o ref.Val) ref.Val {
	ov, ok := o.(versionVal)
	return types.Bool(ok && v.v.compare(ov.v) == 0)
}
func (v versionVal) Type() ref.Type { return versionRuntime }

// Compare implements traits.Comparer.
func (v versionVal) Compare(o ref.Val) ref.Val {
	ov, ok := o.(versionVal)
	if !ok {
		return types.NewErr("cannot compare a version with %s", o.Type().TypeName())
	}
	return types.Int(v.v.compare(ov.v))
}
func (v versionVal) Value() any { return v.v.raw }

// NewEnv returns an environment for expressions over the catalog's
// entities, evaluated at now.
func NewEnv(cat *Catalog, now time.Time) (*Env, error) {
	e := &Env{cat: cat, members: cat.members(), now: now}
	// The comparison operators dispatch at run time to traits.Comparer,
	// which versionVal implements; the declarations only let the checker
	// accept versions on both sides.
	cmp := func(name, op string) cel.EnvOption {
		return cel.Function(op, cel.Overload(name, []*cel.Type{versionType, versionType}, cel.BoolType))
	}
	env, err := cel.NewEnv(
		cel.Variable("entity", cel.DynType),
		cel.Variable("now", cel.TimestampType),
		ext.Strings(),
		ext.Sets(),
		ext.Lists(),
		cel.Function("version",
			cel.Overload("version_string", []*cel.Type{cel.StringType}, versionType,
				cel.UnaryBinding(func(s ref.Val) ref.Val {
					v, err := parseVersion(string(s.(types.String)))
					if err != nil {
						return types.NewErr("%v", err)
					}
					return versionVal{v}
				}))),
		cmp("less_version", operators.Less),
		cmp("less_equals_version", operators.LessEquals),
		cmp("greater_version", operators.Greater),
		cmp("greater_equals_version", operators.GreaterEquals),
		cel.Function("days",
			cel.Overload("days_int", []*cel.Type{cel.IntType}, cel.DurationType,
				cel.UnaryBinding(func(n ref.Val) ref.Val {
					return types.Duration{Duration: time.Duration(n.(types.Int)) * 24 * time.Hour}
				}))),
		cel.Function("days_since",
			cel.Overload("days_since_timestamp", []*cel.Type{cel.TimestampType}, cel.IntType,
				cel.UnaryBinding(func(t ref.Val) ref.Val {
					return types.Int(now.Sub(t.(types.Timestamp).Time) / (24 * time.Hour))
				}))),
		cel.Function("age",
			cel.Overload("age_timestamp", []*cel.Type{cel.TimestampType}, cel.DurationType,
				cel.UnaryBinding(func(t ref.Val) ref.Val {
					return types.Duration{Duration: now.Sub(t.(types.Timestamp).Time)}
				}))),
	)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	e.env = env
	return e, nil
}

// Result says what an expression must return.
type Result int

// Result types.
const (
	Bool Result = iota // scopes and checks
	Any                // owner expressions
)

// Program is a compiled expression.
type Program struct {
	prg cel.Program
	ast *cel.Ast
	// tracked is set when the runtime cost limit applies: the worst case
	// could not be bounded from the tree.
	tracked bool
	Expr    config.Expr
	File    string
}

// AST returns the checked expression tree.
func (p *Program) AST() ast.Expr { return p.ast.NativeRep().Expr() }

// costLimit bounds the work one evaluation may do, so that a careless
// comprehension over a large list cannot stall an evaluation.
const costLimit = 1_000_000

// Compile parses, type-checks and plans an expression. kind, when known,
// lets paths under entity be checked against what sources map. Errors are
// *config.Problem values with the file and line.
func (e *Env) Compile(file string, x config.Expr, kind string, want Result) (*Program, error) {
	if strings.TrimSpace(x.Src) == "" {
		return nil, &config.Problem{File: file, Line: x.Line, Message: "empty expression"}
	}
	checked, iss := e.env.Compile(x.Src)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		p := &config.Problem{File: file, Line: x.Line, Col: x.Col}
		if len(errs) > 0 {
			p.Line, p.Col = position(x, errs[0].Location.Line(), errs[0].Location.Column())
			p.Message = "CEL: " + errs[0].Message
			if len(errs) > 1 {
				p.Message += fmt.Sprintf(" (and %d more)", len(errs)-1)
			}
		} else {
			p.Message = "CEL: " + iss.Err().Error()
		}
		return nil, p
	}
	if want == Bool {
		switch t := checked.OutputType(); {
		case t.IsExactType(cel.BoolType), t.IsExactType(cel.DynType):
		default:
			return nil, &config.Problem{File: file, Line: x.Line, Col: x.Col,
				Message: fmt.Sprintf("the expression returns %s; it must be true or false", t)}
		}
	}
	if err := e.checkPaths(file, x, checked, kind); err != nil {
		return nil, err
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	tracked := false
	// Tracking the cost of every evaluation was a fifth of an evaluation's
	// time at 100,000 people. An expression whose worst case, estimated
	// from its tree, is within the limit cannot exceed it: only the others
	// (comprehensions over lists of unknown length) are tracked.
	if est, err := e.env.EstimateCost(checked, noSizes{}); err != nil || est.Max > costLimit {
		opts = append(opts, cel.CostLimit(costLimit))
		tracked = true
	}
	prg, err := e.env.Program(checked, opts...)
	if err != nil {
		return nil, &config.Problem{File: file, Line: x.Line, Col: x.Col, Message: "CEL: " + err.Error()}
	}
	return &Program{prg: prg, ast: checked, tracked: tracked, Expr: x, File: file}, nil
}

// noSizes leaves every size and call cost unknown to the cost estimate,
// which then assumes the worst.
type noSizes struct{}

func (noSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
func (noSizes) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// position maps a line and 0-based column inside an expression to the file.
func position(x config.Expr, line, col int) (int, int) {
	if line <= 1 {
		if x.Col > 0 {
			return x.Line, x.Col + col
		}
		return x.Line, col + 1
	}
	return x.Line + line - 1, col + 1
}

// checkPaths walks the expression for entity.a.b… selections and checks
// each step against the catalog.
func (e *Env) checkPaths(file string, x config.Expr, a *cel.Ast, kind string) error {
	native := a.NativeRep()
	info := native.SourceInfo()
	var first *config.Problem
	fail := func(id int64, msg string) {
		if first != nil {
			return
		}
		loc := info.GetStartLocation(id)
		line, col := position(x, loc.Line(), loc.Column())
		first = &config.Problem{File: file, Line: line, Col: col, Message: msg}
	}
	var walk func(ast.Expr)
	walk = func(ex ast.Expr) {
		switch ex.Kind() {
		case ast.SelectKind:
			if path, root, ok := selectPath(ex); ok {
				if msg := e.checkPath(kind, path); msg != "" {
					fail(root, msg)
				}
				return
			}
			walk(ex.AsSelect().Operand())
		case ast.CallKind:
			c := ex.AsCall()
			// "edr" in entity.sources
			if c.FunctionName() == operators.In && len(c.Args()) == 2 {
				if lit := c.Args()[0]; lit.Kind() == ast.LiteralKind {
					if s, ok := lit.AsLiteral().(types.String); ok {
						if path, _, ok := selectPath(c.Args()[1]); ok && len(path) == 1 && path[0] == "sources" {
							if msg := e.checkPath(kind, []string{"sources", string(s)}); msg != "" {
								fail(lit.ID(), msg)
							}
						}
					}
				}
			}
			if c.IsMemberFunction() {
				walk(c.Target())
			}
			for _, arg := range c.Args() {
				walk(arg)
			}
		case ast.ListKind:
			for _, el := range ex.AsList().Elements() {
				walk(el)
			}
		case ast.MapKind:
			for _, en := range ex.AsMap().Entries() {
				walk(en.AsMapEntry().Key())
				walk(en.AsMapEntry().Value())
			}
		case ast.ComprehensionKind:
			cp := ex.AsComprehension()
			walk(cp.IterRange())
			walk(cp.AccuInit())
			walk(cp.LoopCondition())
			walk(cp.LoopStep())
			walk(cp.Result())
		}
	}
	walk(native.Expr())
	if first != nil {
		return first
	}
	return nil
}

// selectPath returns the field names of a selection chain rooted at the
// entity variable (entity.owner.email → [owner email]) and the id of the
// root, where errors point.
func selectPath(ex ast.Expr) ([]string, int64, bool) {
	var path []string
	for ex.Kind() == ast.SelectKind {
		s := ex.AsSelect()
		path = append(path, s.FieldName())
		ex = s.Operand()
	}
	if ex.Kind() != ast.IdentKind || ex.AsIdent() != "entity" {
		return nil, 0, false
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, ex.ID(), true
}

// checkPath returns what is wrong with entity.path for a kind, or "".
func (e *Env) checkPath(kind string, path []string) string {
	k := e.cat.Kinds[kind]
	for i := 0; i < len(path) && k != nil; i++ {
		name := path[i]
		switch name {
		case "id", "kind", "name", "keys":
			return ""
		case "sources":
			if i+1 >= len(path) {
				return ""
			}
			src := path[i+1]
			si, ok := e.cat.Sources[src]
			if !ok || si.Kind != kind {
				return fmt.Sprintf("entity.sources.%s: no source called %s provides %s entities (sources of %s: %s)",
					src, src, kind, kind, strings.Join(k.Sources, ", "))
			}
			if i+2 < len(path) {
				f := path[i+2]
				if f != "id" && f != "name" && f != "records" && !si.Fields[f] {
					return fmt.Sprintf("entity.sources.%s.%s: source %s maps no field %s (its fields: %s)",
						src, f, src, f, strings.Join(sortedSet(si.Fields), ", "))
				}
			}
			return ""
		}
		if target, ok := k.Links[name]; ok {
			kind = target
			k = e.cat.Kinds[target]
			continue
		}
		if k.Fields[name] || k.Keys[name] {
			return "" // an attribute or key; what lies inside it is data
		}
		var known []string
		known = append(known, sortedSet(k.Fields)...)
		for key := range k.Keys {
			if !k.Fields[key] {
				known = append(known, key+" (key)")
			}
		}
		for l := range k.Links {
			known = append(known, l+" (link)")
		}
		sort.Strings(known)
		return fmt.Sprintf("entity.%s: %s entities have no field or link %s (known: %s)",
			strings.Join(path[:i+1], "."), kind, name, strings.Join(known, ", "))
	}
	return ""
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Session evaluates programs over one inventory. It is not safe for
// concurrent use; make one per goroutine.
type Session struct {
	env *Env
	sc  scope
	act activation
}

// NewSession returns a session over inv.
func (e *Env) NewSession(inv *inventory.Inventory) *Session {
	s := &Session{env: e, sc: scope{inv: inv, members: e.members}}
	s.act.now = types.Timestamp{Time: e.now}
	return s
}

// Track makes the next evaluations record their reads in t (nil stops).
func (s *Session) Track(t *Tracker) { s.sc.tracker = t }

// Eval evaluates a program on an entity. It returns the value, or an error
// when the expression could not be evaluated (missing data, a type error):
// such a result is unknown, not false.
func (s *Session) Eval(p *Program, e int32) (ref.Val, error) {
	s.act.entity = &EntityVal{s: &s.sc, E: e}
	out, _, err := p.prg.Eval(&s.act)
	if err != nil {
		return nil, err
	}
	if types.IsError(out) {
		return nil, out.(*types.Err)
	}
	return out, nil
}

// EvalBool evaluates a scope or check; a non-boolean result is an error.
func (s *Session) EvalBool(p *Program, e int32) (bool, error) {
	v, err := s.Eval(p, e)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the expression returned %s, not true or false", v.Type().TypeName())
	}
	return bool(b), nil
}

// EntityOf returns the entity a value is, when it is one.
func EntityOf(v ref.Val) (int32, bool) {
	ev, ok := v.(*EntityVal)
	if !ok {
		return -1, false
	}
	return ev.E, true
}

type activation struct {
	entity ref.Val
	now    ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "entity":
		return a.entity, true
	case "now":
		return a.now, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
