package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/policy"
	"github.com/onus-sec/onus/store"
)

// Incremental evaluation (docs/performance.md "Incremental re-runs").
//
// A control reads entities of its kind and, through links, of other
// kinds; every control reads people (the owners, the managers, the people
// settings). Its inputs are the evaluator's version, its definition, the
// settings that change correlation and ownership, the manual links, the
// snapshot in force and the health of every source of the kinds it can
// reach, and the exceptions in force for it. Their digests are kept with
// the control's evaluation stamp. An evaluation whose digests for a
// control are those stored, and that does not read the clock, carries the
// control over: its findings, exemptions and unknowns stay as they are,
// its statistics are those of the evaluation before, and its stamp moves
// to now. Only the sources of the kinds the other controls reach (and the
// people) are loaded and correlated.

// evaluatorVersion names what the evaluation makes of the same inputs.
// Change it when evaluation, correlation or the ledger's rules change, so
// that an upgraded onus evaluates every control again.
const evaluatorVersion = "1"

// EnvFull is the environment variable that, set to 1 (or true), makes
// every evaluation full, as --full does for one.
const EnvFull = "ONUS_FULL_EVALUATION"

// ControlReason is a control evaluated by an incremental evaluation, and
// why: the inputs that changed since it was last evaluated, "reads now",
// "evidence shows ages", "not evaluated before".
type ControlReason struct {
	Control string `json:"control"`
	Reason  string `json:"reason"`
}

// plan is what an evaluation does: every control, or the controls whose
// inputs changed and the sources their kinds need.
type plan struct {
	// full says why every control is evaluated; "" for an incremental
	// evaluation.
	full      string
	inputs    map[string]string // control → its inputs (JSON of digests)
	readsNow  map[string]bool   // control → whether it reads the clock
	ages      map[string]bool   // control → its stored Ages, for carried ones
	evaluated []ControlReason
	carried   map[string]onus.ControlStat // control → its statistics, carried over
	// exceptions holds the digest of the exceptions in force for each
	// control, to check that none was decided for a carried control
	// between planning and judging.
	exceptions map[string]string
	// load holds the sources to load; nil loads every source.
	load map[string]bool
	// prev is the report of the evaluation before (nil when unreadable).
	prev *EvalReport
}

func (p *plan) isCarried(control string) bool { _, ok := p.carried[control]; return ok }

// carriedIDs returns the carried controls, sorted.
func (p *plan) carriedIDs() []string {
	out := make([]string, 0, len(p.carried))
	for id := range p.carried {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// kindGraph is, per kind, the kinds an entity of it can read.
type kindGraph struct {
	cfg *config.Config
	// to maps a kind to the kinds its sources link to; creators maps a
	// kind to the kinds whose sources create entities of it by a link.
	to, creators map[string][]string
	kinds        []string
}

func newKindGraph(cfg *config.Config) *kindGraph {
	g := &kindGraph{cfg: cfg, to: map[string][]string{}, creators: map[string][]string{}}
	add := func(m map[string][]string, k, v string) {
		if !slices.Contains(m[k], v) {
			m[k] = append(m[k], v)
		}
	}
	for _, s := range cfg.Sources {
		if !slices.Contains(g.kinds, s.Kind) {
			g.kinds = append(g.kinds, s.Kind)
		}
		for _, ls := range s.Links {
			for _, l := range ls {
				add(g.to, s.Kind, l.To)
				if l.Create {
					add(g.creators, l.To, s.Kind)
				}
			}
		}
	}
	return g
}

// closure returns the kinds reachable from the given ones: through links,
// through the sources that create entities of a reached kind, and always
// the people and what they reach. A kind "" (a control over every kind)
// reaches every kind.
func (g *kindGraph) closure(kinds ...string) map[string]bool {
	out := map[string]bool{}
	todo := append([]string{g.cfg.PersonKind()}, kinds...)
	for len(todo) > 0 {
		k := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if k == "" {
			todo = append(todo, g.kinds...)
			continue
		}
		if out[k] {
			continue
		}
		out[k] = true
		todo = append(todo, g.to[k]...)
		todo = append(todo, g.creators[k]...)
	}
	return out
}

// exprFacts walks an expression: whether it reads the clock (now, or a
// helper that measures from now), and every name it mentions (string
// literals, fields, identifiers), to find the sources it names.
func exprFacts(p *policy.Program, names map[string]bool) (readsNow bool) {
	if p == nil {
		return false
	}
	ast.PreOrderVisit(p.AST(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.IdentKind:
			if e.AsIdent() == "now" {
				readsNow = true
			}
			names[e.AsIdent()] = true
		case ast.CallKind:
			switch e.AsCall().FunctionName() {
			case "days_since", "age":
				readsNow = true
			}
		case ast.SelectKind:
			names[e.AsSelect().FieldName()] = true
		case ast.LiteralKind:
			if s, ok := e.AsLiteral().(types.String); ok {
				names[string(s)] = true
			}
		}
	}))
	return readsNow
}

// digest is a short hash of a value's JSON, without the positions in
// the configuration's files (fields File, Line, Col and Index, at any
// depth): moving a control within its file, or loading the same files
// from another directory, changes nothing it reads.
func digest(v any) string {
	b, err := json.Marshal(v)
	if err == nil {
		var x any
		if err = json.Unmarshal(b, &x); err == nil {
			b, err = json.Marshal(dropPositions(x))
		}
	}
	if err != nil {
		// Nothing to compare: a digest that never matches.
		return "unhashable " + err.Error()
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func dropPositions(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for _, k := range []string{"File", "Line", "Col", "Index"} {
			delete(v, k)
		}
		for k, e := range v {
			v[k] = dropPositions(e)
		}
	case []any:
		for i, e := range v {
			v[i] = dropPositions(e)
		}
	}
	return x
}

// buildVersion names the onus binary: its module version and the commit
// it was built from.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			v += " " + s.Value
		}
	}
	return v
}

// plan decides what the evaluation at now evaluates. full forces a full
// evaluation; why says why.
func (m *Monitor) plan(ctx context.Context, now time.Time, compiled *evaluate.Compiled, full string) (*plan, error) {
	cfg := m.Config
	p := &plan{full: full, inputs: map[string]string{}, readsNow: map[string]bool{}, ages: map[string]bool{}, carried: map[string]onus.ControlStat{}, exceptions: map[string]string{}}
	states, err := m.Store.SourceStates(ctx)
	if err != nil {
		return nil, err
	}
	manual, err := ManualLinks(ctx, m.Store)
	if err != nil {
		return nil, err
	}
	approved, err := m.Store.Exceptions(ctx, onus.ExceptionFilter{States: []onus.ExceptionState{onus.ExceptionApproved}})
	if err != nil {
		return nil, err
	}
	inForce := map[string][]*onus.Exception{}
	for _, x := range approved {
		if x.Active(now) {
			inForce[x.Control] = append(inForce[x.Control], x)
		}
	}
	g := newKindGraph(cfg)
	// What every control reads.
	common := map[string]string{
		"evaluator":    digest([]string{evaluatorVersion, readerVersion, buildVersion()}),
		"settings":     digest([]any{cfg.Correlate, cfg.PossibleMatch, cfg.Identity, cfg.People, cfg.Ownership, cfg.Exceptions.RestartDeadline, cfg.PersonKind()}),
		"raci":         digest(cfg.RACI),
		"manual links": digest(manual),
	}
	peopleNames := map[string]bool{}
	peopleNow := false
	for _, pe := range []*policy.Program{compiled.Departed, compiled.OnLeave, compiled.LeftOn, compiled.TimeZone, compiled.Channel} {
		peopleNow = exprFacts(pe, peopleNames) || peopleNow
	}
	srcPart := func(src *config.Source) string {
		st := states[src.Name]
		s := *src
		if st == nil {
			return digest([]any{s, "never synced"})
		}
		var good int64
		if st.Good != nil {
			good = st.Good.Snapshot
		}
		return digest([]any{s, good, st.Healthy, st.Reason})
	}
	closures := map[string]map[string]bool{}
	for _, ctl := range compiled.Controls {
		names := cloneSet(peopleNames)
		readsNow := peopleNow
		for _, pr := range []*policy.Program{ctl.Scope, ctl.Check, ctl.Owner} {
			readsNow = exprFacts(pr, names) || readsNow
		}
		xs := inForce[ctl.ID]
		for _, x := range xs {
			// A scope exception is CEL over the control's entities: what it
			// names and whether it reads the clock count too.
			if x.Scope != "" {
				if sp, err := compiled.Env.Compile("exception", config.Expr{Src: x.Scope}, ctl.Kind, policy.Bool); err == nil {
					readsNow = exprFacts(sp, names) || readsNow
				} else {
					readsNow = readsNow || strings.Contains(x.Scope, "now")
				}
			}
		}
		p.exceptions[ctl.ID] = exceptionsDigest(xs)
		// The kinds it reads: its own and what links reach, the people, and
		// the kinds of sources its expressions name (`"okta" in
		// entity.sources` on a device reads the health of okta).
		kinds := []string{ctl.Kind}
		for _, src := range cfg.Sources {
			if names[src.Name] {
				kinds = append(kinds, src.Kind)
			}
		}
		cl := g.closure(kinds...)
		closures[ctl.ID] = cl
		parts := map[string]string{
			"control":    digest([]any{ctl.Control, ctl.Kind, ctl.Deadline, ctl.Severity}),
			"exceptions": p.exceptions[ctl.ID],
		}
		for k, v := range common {
			parts[k] = v
		}
		for _, src := range cfg.Sources {
			if cl[src.Kind] {
				parts["source "+src.Name] = srcPart(src)
			}
		}
		b, _ := json.Marshal(parts)
		p.inputs[ctl.ID] = string(b)
		p.readsNow[ctl.ID] = readsNow
	}
	// Whether an incremental evaluation is possible at all.
	var stored map[string]onus.ControlInputs
	var stats map[string]onus.ControlStat
	if p.full == "" {
		last, err := m.Store.LastRun(ctx, "eval")
		switch {
		case onus.ErrorCode(err) == onus.ENOTFOUND:
			p.full = "first evaluation"
		case err != nil:
			return nil, err
		case last.Status != "ok":
			p.full = fmt.Sprintf("the evaluation before (run %d) did not finish", last.ID)
		default:
			if stored, err = m.Store.ControlInputs(ctx); err != nil {
				return nil, err
			}
			st, err := m.Store.ControlStats(ctx, last.ID)
			if err != nil {
				return nil, err
			}
			stats = map[string]onus.ControlStat{}
			for _, s := range st {
				stats[s.Control] = s
			}
			var prev EvalReport
			if json.Unmarshal(last.Summary, &prev) == nil {
				p.prev = &prev
			} else {
				p.full = fmt.Sprintf("the report of the evaluation before (run %d) cannot be read", last.ID)
			}
			for id, ci := range stored {
				if ci.Run != last.ID {
					delete(stored, id) // stamped by an earlier evaluation, or a gate run
				}
			}
			if p.full == "" {
				p.evaluated, p.carried = decide(compiled, p.inputs, p.readsNow, stored, stats, last, now)
				for id := range p.carried {
					p.ages[id] = stored[id].Ages
				}
				if len(p.carried) == 0 {
					p.full = "every control's inputs changed"
				}
			}
		}
	}
	if p.full == "every control's inputs changed" {
		return p, nil // each with its reason
	}
	if p.full != "" {
		p.evaluated, p.carried = nil, map[string]onus.ControlStat{}
		for _, ctl := range compiled.Controls {
			p.evaluated = append(p.evaluated, ControlReason{Control: ctl.ID, Reason: p.full})
		}
		return p, nil
	}
	// The sources to load: those of the kinds the evaluated controls read,
	// the people's, and those of the kinds whose entities link to people
	// (the people directory's assets).
	need := g.closure()
	for _, s := range cfg.Sources {
		for _, ls := range s.Links {
			for _, l := range ls {
				if l.To == cfg.PersonKind() {
					for k := range g.closure(s.Kind) {
						need[k] = true
					}
				}
			}
		}
	}
	for _, ev := range p.evaluated {
		for k := range closures[ev.Control] {
			need[k] = true
		}
	}
	p.load = map[string]bool{}
	for _, s := range cfg.Sources {
		if need[s.Kind] {
			p.load[s.Name] = true
		}
	}
	return p, nil
}

func cloneSet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// decide splits the controls into those evaluated (and why) and those
// carried over (with their statistics of the evaluation before).
func decide(compiled *evaluate.Compiled, inputs map[string]string, readsNow map[string]bool, stored map[string]onus.ControlInputs, stats map[string]onus.ControlStat, last *store.Run, now time.Time) ([]ControlReason, map[string]onus.ControlStat) {
	var evaluated []ControlReason
	carried := map[string]onus.ControlStat{}
	for _, ctl := range compiled.Controls {
		id := ctl.ID
		ci, ok := stored[id]
		st, hasStats := stats[id]
		switch {
		case !ok || ci.Inputs == "" || !hasStats:
			evaluated = append(evaluated, ControlReason{id, "not evaluated before"})
		case readsNow[id]:
			evaluated = append(evaluated, ControlReason{id, "reads now"})
		case ci.Ages && !last.EvalNow.Equal(now):
			evaluated = append(evaluated, ControlReason{id, "evidence shows ages"})
		case ci.Inputs != inputs[id]:
			evaluated = append(evaluated, ControlReason{id, changedInputs(ci.Inputs, inputs[id])})
		default:
			carried[id] = st
		}
	}
	return evaluated, carried
}

// changedInputs names the inputs whose digests differ.
func changedInputs(before, after string) string {
	var a, b map[string]string
	if json.Unmarshal([]byte(before), &a) != nil || json.Unmarshal([]byte(after), &b) != nil {
		return "inputs changed"
	}
	var out []string
	for k, v := range b {
		if a[k] != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return "changed: " + strings.Join(out, ", ")
}

// exceptionsDigest is the digest of a control's exceptions in force: what
// of them the evaluation reads.
func exceptionsDigest(xs []*onus.Exception) string {
	type xpart struct {
		ID            int64
		Entity, Scope string
		Expires       time.Time
		State         onus.ExceptionState
		Approver      string
		Finding       int64
		Severity      onus.Severity
	}
	xp := make([]xpart, 0, len(xs))
	for _, x := range xs {
		xp = append(xp, xpart{x.ID, x.Entity, x.Scope, x.Expires.UTC(), x.State, x.Approver, x.Finding, x.Severity})
	}
	sort.Slice(xp, func(i, j int) bool { return xp[i].ID < xp[j].ID })
	return digest(xp)
}

// errCarryStale says an exception was decided for a control the
// evaluation carries over, after it was planned.
var errCarryStale = errors.New("monitor: an exception of a control carried over changed")

// checkExceptions fails with errCarryStale when the exceptions in force
// for a carried control are not those the plan saw.
func (p *plan) checkExceptions(inForce []*onus.Exception) error {
	if len(p.carried) == 0 {
		return nil
	}
	by := map[string][]*onus.Exception{}
	for _, x := range inForce {
		by[x.Control] = append(by[x.Control], x)
	}
	for id := range p.carried {
		if exceptionsDigest(by[id]) != p.exceptions[id] {
			return errCarryStale
		}
	}
	return nil
}

// keepUnloaded completes the report of an evaluation that did not load
// every source: the entity counts of kinds not loaded, the links only
// their sources declare, and the health and unmatched records of their
// sources are those of the evaluation before (when it read the same
// snapshot); the rest is computed from what was loaded.
func keepUnloaded(rep *EvalReport, l *Loaded, prev *EvalReport) {
	if len(l.Skipped) == 0 {
		return
	}
	loadedKinds, skippedKinds := map[string]bool{}, map[string]bool{}
	for _, s := range l.Input.Sources {
		if l.Skipped[s.Name] {
			skippedKinds[s.Kind] = true
			rep.NotLoaded = append(rep.NotLoaded, s.Name)
		} else {
			loadedKinds[s.Kind] = true
		}
	}
	if prev == nil {
		return
	}
	rep.KeptFromRun = prev.Run
	kinds := rep.Kinds[:0]
	for _, k := range rep.Kinds {
		if !skippedKinds[k.Kind] || loadedKinds[k.Kind] {
			kinds = append(kinds, k)
		}
	}
	for _, k := range prev.Kinds {
		if skippedKinds[k.Kind] && !loadedKinds[k.Kind] {
			kinds = append(kinds, k)
		}
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].Kind < kinds[j].Kind })
	rep.Kinds = kinds
	for name, st := range prev.Links {
		if _, ok := rep.Links[name]; !ok {
			if rep.Links == nil {
				rep.Links = map[string]*inventory.LinkStat{}
			}
			rep.Links[name] = st
		}
	}
	before := map[string]SourceHealth{}
	for _, h := range prev.Sources {
		before[h.Source] = h
	}
	for i := range rep.Sources {
		h := &rep.Sources[i]
		if !l.Skipped[h.Source] {
			continue
		}
		st := l.States[h.Source]
		if st != nil && st.Good != nil {
			h.Records, h.SyncedAt = st.Good.Records, st.Good.Started
		}
		if b, ok := before[h.Source]; ok && h.Snapshot != 0 && b.Snapshot == h.Snapshot {
			h.SyncedAt = b.SyncedAt
			h.Unmatched = b.Unmatched
			if h.Healthy && !b.Healthy {
				// Skipped records that cannot be told whose they are: found
				// when the snapshot was last correlated.
				h.Healthy, h.Reason = false, b.Reason
			}
		}
	}
}

// namesSkipped reports whether a manual link names a record of a source not
// loaded, or an entity of a kind not loaded: whether it applied is not
// known without them.
func namesSkipped(l inventory.Manual, skipped map[string]bool, cfg *config.Config) bool {
	if len(skipped) == 0 {
		return false
	}
	for _, ref := range []string{l.A, l.B} {
		head, _, _ := strings.Cut(ref, ":")
		if skipped[head] {
			return true
		}
		for _, s := range cfg.Sources {
			if s.Kind == head && skipped[s.Name] {
				return true
			}
		}
	}
	return false
}
