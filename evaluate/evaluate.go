package evaluate

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/inventory"
	"github.com/onus-sec/onus/policy"
	"github.com/onus-sec/onus/raci"
)

// Per-entity outcomes of one control, packed in a byte each.
const (
	OutOfScope uint8 = iota
	Passed
	Failed
	Unknown
)

// Result is one failing or unknown (control, entity) pair.
type Result struct {
	Entity  int32
	ID      string
	Name    string
	Kind    string
	Outcome onus.Outcome
	// Reason says why an unknown result could not be evaluated.
	Reason   string
	Evidence []onus.Evidence
	// Person and Device are the finding's subject (see onus.Finding).
	Person, Device *onus.Subject
	Owner          Assignment
	// Exemption is the approved exception that covers this failure, or nil.
	Exemption *onus.Exception
	// OwnerHeld is set when the entity, or one it links to, has a record
	// that was skipped as malformed: the owner found may be wrong for
	// want of that record, so the finding keeps the owner it has.
	OwnerHeld bool
}

// Ownership is who a failing entity's finding goes to, and why.
type Ownership struct {
	Person onus.Person
	Reason string
	// Gap is set when no person could be found: the finding goes to the
	// fallback contact, or to nobody.
	Gap bool
}

// ControlResult is everything one control found.
type ControlResult struct {
	Control *Control
	// Outcomes holds one of OutOfScope, Passed, Failed, Unknown per entity
	// of the inventory.
	Outcomes             []uint8
	Pass, Fail, UnknownN int
	Failures             []Result
	Unknowns             []Result
	unknownReasons       map[string]int
	// Ages is set when a failure's evidence shows a time with its age
	// ("3 days ago"): the evidence changes with the clock alone.
	Ages bool
}

// TopUnknownReasons returns the most common reasons for unknown results.
func (c *ControlResult) TopUnknownReasons(n int) []string {
	type rc struct {
		r string
		c int
	}
	var rs []rc
	for r, cnt := range c.unknownReasons {
		rs = append(rs, rc{r, cnt})
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].c != rs[j].c {
			return rs[i].c > rs[j].c
		}
		return rs[i].r < rs[j].r
	})
	var out []string
	for i := 0; i < len(rs) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s (%d)", rs[i].r, rs[i].c))
	}
	return out
}

// Results are the outcome of one evaluation.
type Results struct {
	Now      time.Time
	Controls []*ControlResult
	// Directory is the people directory the owners were resolved with.
	Directory *raci.Directory
}

// Control returns the result of the control with the given id, or nil.
func (r *Results) Control(id string) *ControlResult {
	for _, c := range r.Controls {
		if c.Control.ID == id {
			return c
		}
	}
	return nil
}

// Options tune an evaluation.
type Options struct {
	// Workers is how many goroutines evaluate; GOMAXPROCS by default.
	Workers int
	// Directory is the people directory; built from the inventory when nil.
	Directory *raci.Directory
	// Exceptions are the approved, unexpired exceptions.
	Exceptions []*onus.Exception
}

// Evaluate runs every control over the inventory.
func Evaluate(inv *inventory.Inventory, c *Compiled, now time.Time, o Options) *Results {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	unhealthy := map[int]string{}
	// skipped maps an entity to the sources whose record of it could not
	// be read, and the line of that record.
	skipped := map[int32]map[int]int{}
	for i, s := range inv.Sources {
		if !s.Healthy {
			unhealthy[i] = s.Name
		}
		if s.Snapshot == nil {
			continue
		}
		for j := range s.Snapshot.Records.Len() {
			if !s.Snapshot.Records.Skipped(j) {
				continue
			}
			e := inv.Owner(inventory.RecRef{Src: uint16(i), Idx: uint32(j)})
			if e < 0 {
				continue
			}
			if skipped[e] == nil {
				skipped[e] = map[int]int{}
			}
			skipped[e][i] = s.Snapshot.Records.Loc(j)
		}
	}
	res := &Results{Now: now}
	dir := o.Directory
	if dir == nil {
		dir = Directory(inv, c)
	}
	res.Directory = dir
	matrix := raci.New(c.Config.RACI, dir)
	rules := compileExceptions(c, o.Exceptions)
	for _, ctl := range c.Controls {
		var ents []int32
		if ctl.Kind != "" {
			ents = inv.OfKind(ctl.Kind)
		} else {
			ents = make([]int32, inv.Len())
			for i := range ents {
				ents[i] = int32(i)
			}
		}
		cr := &ControlResult{Control: ctl, Outcomes: make([]uint8, inv.Len()), unknownReasons: map[string]int{}}
		parts := make([]*part, workers)
		per := (len(ents) + workers - 1) / workers
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			lo, hi := w*per, min((w+1)*per, len(ents))
			if lo >= hi {
				continue
			}
			wg.Add(1)
			go func(w int, ents []int32) {
				defer wg.Done()
				ev := &evaluator{inv: inv, c: c, ctl: ctl, now: now, unhealthy: unhealthy, skipped: skipped, sess: c.Env.NewSession(inv), owners: newOwners(inv, c, matrix), rules: rules[ctl.ID]}
				parts[w] = ev.run(ents, cr.Outcomes)
			}(w, ents[lo:hi])
		}
		wg.Wait()
		for _, p := range parts {
			if p == nil {
				continue
			}
			cr.Pass += p.pass
			cr.Ages = cr.Ages || p.ages
			cr.Fail += len(p.failures)
			cr.UnknownN += len(p.unknowns)
			cr.Failures = append(cr.Failures, p.failures...)
			cr.Unknowns = append(cr.Unknowns, p.unknowns...)
			for _, u := range p.unknowns {
				cr.unknownReasons[u.Reason]++
			}
		}
		sort.Slice(cr.Failures, func(i, j int) bool { return cr.Failures[i].ID < cr.Failures[j].ID })
		sort.Slice(cr.Unknowns, func(i, j int) bool { return cr.Unknowns[i].ID < cr.Unknowns[j].ID })
		res.Controls = append(res.Controls, cr)
	}
	return res
}

type part struct {
	ages     bool
	pass     int
	failures []Result
	unknowns []Result
}

type evaluator struct {
	inv       *inventory.Inventory
	c         *Compiled
	ctl       *Control
	now       time.Time
	unhealthy map[int]string
	skipped   map[int32]map[int]int
	sess      *policy.Session
	owners    *owners
	rules     []exceptionRule
}

func (ev *evaluator) run(ents []int32, outcomes []uint8) *part {
	p := &part{}
	track := len(ev.unhealthy) > 0
	for _, e := range ents {
		if reason := ev.damaged(e); reason != "" {
			ev.unknown(p, outcomes, e, reason)
			continue
		}
		var tr *policy.Tracker
		if track {
			tr = &policy.Tracker{}
			ev.sess.Track(tr)
		}
		if ev.ctl.Scope != nil {
			in, err := ev.sess.EvalBool(ev.ctl.Scope, e)
			if err != nil {
				ev.unknown(p, outcomes, e, "scope: "+cleanErr(err))
				continue
			}
			if reason := ev.stale(tr); reason != "" {
				ev.unknown(p, outcomes, e, reason)
				continue
			}
			if !in {
				continue
			}
		}
		ok, err := ev.sess.EvalBool(ev.ctl.Check, e)
		if err != nil {
			ev.unknown(p, outcomes, e, cleanErr(err))
			continue
		}
		if reason := ev.stale(tr); reason != "" {
			ev.unknown(p, outcomes, e, reason)
			continue
		}
		if ok {
			outcomes[e] = Passed
			p.pass++
			continue
		}
		// Evaluate the check again, recording what it read, for evidence.
		tr = &policy.Tracker{}
		ev.sess.Track(tr)
		_, _ = ev.sess.EvalBool(ev.ctl.Check, e)
		ev.sess.Track(nil)
		if reason := ev.possible(e, tr); reason != "" {
			// A record that may be this entity's was kept apart: the
			// failure may be a false one. Unknown, not guessed.
			ev.unknown(p, outcomes, e, reason)
			continue
		}
		outcomes[e] = Failed
		r := ev.result(e, onus.Fail)
		r.Evidence = tr.Evidence(ev.now)
		for _, rd := range tr.Reads {
			if _, isTime := rd.Value.(time.Time); isTime && rd.Present {
				p.ages = true
			}
		}
		r.Owner = ev.owners.resolve(ev.sess, ev.ctl, e)
		r.OwnerHeld = ev.touchesSkipped(e, 2)
		r.Exemption = ev.exempt(e, r.ID)
		r.Person, r.Device = Subjects(ev.inv, e, ev.c.Config.People.Kind)
		p.failures = append(p.failures, r)
	}
	ev.sess.Track(nil)
	return p
}

// Subjects names who and what a finding on entity e is about: the person
// the entity links to (an account's person, a laptop's owner), and the
// entity it reaches that person through (the laptop a piece of software
// is on). A person entity has no subject person: it is the subject.
func Subjects(inv *inventory.Inventory, e int32, peopleKind string) (person, device *onus.Subject) {
	if peopleKind == "" {
		peopleKind = "person"
	}
	if inv.Kind(e) == peopleKind {
		return nil, nil
	}
	sub := func(t int32) *onus.Subject { return &onus.Subject{ID: inv.ID(t), Name: inv.Name(t)} }
	names := inv.LinkNames(e)
	for _, name := range names {
		if t, ok := inv.Link(e, name); ok && inv.Kind(t) == peopleKind {
			person = sub(t)
			break
		}
	}
	for _, name := range names {
		t, ok := inv.Link(e, name)
		if !ok || inv.Kind(t) == peopleKind {
			continue
		}
		for _, tn := range inv.LinkNames(t) {
			if p, ok := inv.Link(t, tn); ok && inv.Kind(p) == peopleKind {
				device = sub(t)
				if person == nil {
					person = sub(p)
				}
				return person, device
			}
		}
	}
	return person, device
}

func (ev *evaluator) result(e int32, o onus.Outcome) Result {
	return Result{Entity: e, ID: ev.inv.ID(e), Name: ev.inv.Name(e), Kind: ev.inv.Kind(e), Outcome: o}
}

func (ev *evaluator) unknown(p *part, outcomes []uint8, e int32, reason string) {
	outcomes[e] = Unknown
	r := ev.result(e, onus.Unknown)
	r.Reason = reason
	p.unknowns = append(p.unknowns, r)
}

// touchesSkipped reports whether e, or an entity it links to within hops
// links, has a skipped record.
func (ev *evaluator) touchesSkipped(e int32, hops int) bool {
	if len(ev.skipped) == 0 {
		return false
	}
	if ev.skipped[e] != nil {
		return true
	}
	if hops == 0 {
		return false
	}
	for _, name := range ev.inv.LinkNames(e) {
		if t, ok := ev.inv.Link(e, name); ok && ev.touchesSkipped(t, hops-1) {
			return true
		}
	}
	return false
}

// damaged returns why an entity with a record skipped as malformed cannot
// be judged, or "". Which results depend on the lost record cannot be
// told exactly (a missing link reads no source), so none is trusted: every
// result of the entity is unknown until the record is repaired.
func (ev *evaluator) damaged(e int32) string {
	sk := ev.skipped[e]
	if sk == nil {
		return ""
	}
	var why []string
	for si, loc := range sk {
		why = append(why, fmt.Sprintf("%s (record at line or index %d)", ev.inv.Sources[si].Name, loc))
	}
	sort.Strings(why)
	return "a record of it was skipped as malformed in " + strings.Join(why, ", ")
}

// possible returns the possible match that makes a failure unknown: the
// check read a source the entity has no record in, and a record of that
// source may be the entity's (or the entity may be another's).
func (ev *evaluator) possible(e int32, tr *policy.Tracker) string {
	srcs, text, ok := ev.inv.PossibleMatch(e)
	if !ok {
		return ""
	}
	for _, si := range srcs {
		if !tr.Sources[si] {
			continue
		}
		if _, has := ev.inv.InSource(e, si); !has {
			return text
		}
	}
	return ""
}

// stale returns why a result read an unhealthy source, or "".
func (ev *evaluator) stale(tr *policy.Tracker) string {
	if tr == nil {
		return ""
	}
	var names []string
	for si := range tr.Sources {
		if name, bad := ev.unhealthy[si]; bad {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return "depends on unhealthy source " + strings.Join(names, ", ")
}

// cleanErr shortens CEL's errors for people.
func cleanErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "no such key: ")
	if s != err.Error() {
		return "missing data: " + s
	}
	return s
}

// exceptionRule is an approved exception ready to match failures.
type exceptionRule struct {
	x     *onus.Exception
	scope *policy.Program // nil for an exception for one entity
}

// compileExceptions groups the exceptions by control and compiles their
// scopes. A scope that no longer compiles (the control changed) exempts
// nothing rather than everything.
func compileExceptions(c *Compiled, xs []*onus.Exception) map[string][]exceptionRule {
	out := map[string][]exceptionRule{}
	for _, x := range xs {
		ctl := c.control(x.Control)
		if ctl == nil {
			continue
		}
		r := exceptionRule{x: x}
		if x.Scope != "" {
			p, err := c.Env.Compile("exception", config.Expr{Src: x.Scope}, ctl.Kind, policy.Bool)
			if err != nil {
				continue
			}
			r.scope = p
		}
		out[x.Control] = append(out[x.Control], r)
	}
	return out
}

func (c *Compiled) control(id string) *Control {
	for _, ctl := range c.Controls {
		if ctl.ID == id {
			return ctl
		}
	}
	return nil
}

// exempt returns the exception covering a failing entity: one for the
// entity itself first, then the first scope that matches it.
func (ev *evaluator) exempt(e int32, id string) *onus.Exception {
	for _, r := range ev.rules {
		if r.scope == nil && r.x.Entity == id {
			return r.x
		}
	}
	for _, r := range ev.rules {
		if r.scope != nil {
			if ok, err := ev.sess.EvalBool(r.scope, e); err == nil && ok {
				return r.x
			}
		}
	}
	return nil
}
