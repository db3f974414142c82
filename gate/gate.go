// Package gate is onus's enforcement in CI: guardrails, written in CEL like
// controls, evaluated over a proposed change (a Terraform plan, Kubernetes
// manifests, a scanner's SARIF report, a CycloneDX SBOM), with an
// enforcement ladder per environment: the same violation blocks a change to
// production and only warns in development.
//
// Evaluation is a pure function of (subjects, guardrails, ladder,
// exceptions, owners, now); reading files is done by the parsers in this
// package, and cmd/onus only wires.
package gate

import (
	"bufio"
	"cmp"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onus-sec/onus"
)

// Input kinds, detected from a file's content.
const (
	Terraform  = "terraform"
	Kubernetes = "kubernetes"
	SARIF      = "sarif"
	CycloneDX  = "cyclonedx"
)

// Kinds lists the input kinds.
var Kinds = []string{Terraform, Kubernetes, SARIF, CycloneDX}

// Subject is one thing guardrails look at: a resource change in a plan, an
// object in a manifest, a result in a SARIF report, a vulnerability in an
// SBOM.
type Subject struct {
	// Kind is the input kind the subject came from.
	Kind string `json:"kind"`
	// File is the input file, as given on the command line.
	File string `json:"file"`
	// Path is the repository file the subject is about, for CODEOWNERS:
	// the manifest, the scanned file, the Terraform module's directory.
	Path string `json:"path,omitempty"`
	// Line is the line in Path, when known.
	Line int `json:"line,omitempty"`
	// Address names the subject: a resource address, Kind/namespace/name,
	// a rule at a location, a vulnerability in a component.
	Address string `json:"address"`
	// Key, when set, identifies the subject in the ledger better than
	// Address does (a SARIF result's fingerprint instead of its line).
	Key string `json:"-"`
	// Type is the resource type, the object kind, or the rule id.
	Type string `json:"type,omitempty"`
	// Value is what expressions see as `resource`.
	Value map[string]any `json:"-"`
	// Unknown lists the attribute paths under `resource` that are only
	// known after apply ("after.bucket", "after.ingress.0.cidr_blocks").
	Unknown [][]any `json:"-"`
	// Skips are the inline skip annotations found on the subject.
	Skips []Skip `json:"-"`
}

// Skip is an inline annotation asking to skip a guardrail, citing the
// exception that allows it.
type Skip struct {
	Guardrail string
	// Exception is the cited exception id, or 0 when none is cited.
	Exception int64
	// Where says where the annotation was found.
	Where string
}

// Action is what a violation does to the change.
type Action string

// Actions, strongest first.
const (
	Block  Action = "block"
	Warn   Action = "warn"
	Inform Action = "inform"
	Off    Action = "off"
)

func (a Action) rank() int {
	switch a {
	case Block:
		return 0
	case Warn:
		return 1
	case Inform:
		return 2
	}
	return 3
}

// Status is the outcome of one guardrail on one subject.
type Status string

// Statuses of a result. Passing results are counted, not listed.
const (
	Fail     Status = "fail"
	Unknown  Status = "unknown"  // the check depends on values known only after apply
	Excepted Status = "excepted" // it fails, and an approved exception covers it
	Error    Status = "error"    // the expression failed at run time
)

// Result is one guardrail that did not pass on one subject.
type Result struct {
	Guardrail string          `json:"guardrail"`
	Title     string          `json:"title,omitempty"`
	Severity  onus.Severity   `json:"severity"`
	Status    Status          `json:"status"`
	Action    Action          `json:"action"`
	Subject   *Subject        `json:"subject"`
	Message   string          `json:"message"`
	Fix       string          `json:"fix,omitempty"`
	Activity  string          `json:"activity,omitempty"`
	Owners    []string        `json:"owners,omitempty"`
	OwnerFrom string          `json:"owner_from,omitempty"` // codeowners, matrix or ""
	Exception *onus.Exception `json:"exception,omitempty"`
	// Notes explain what else was seen: an exception that no longer
	// applies, a skip annotation that does not count.
	Notes []string `json:"notes,omitempty"`
}

// Report is the outcome of a gate run.
type Report struct {
	Env        string    `json:"env"`
	Repository string    `json:"repository,omitempty"`
	At         time.Time `json:"at"`
	Inputs     []Input   `json:"inputs"`
	// Evaluated counts (guardrail, subject) pairs in scope; Passed those
	// that passed.
	Evaluated int      `json:"evaluated"`
	Passed    int      `json:"passed"`
	Results   []Result `json:"results"`
	// Guardrails are the guardrails that applied, for SARIF and JUnit.
	Guardrails []*Guardrail `json:"-"`
	// Tally counts, per guardrail, the subjects in scope and those that
	// passed.
	Tally map[string]*Tally `json:"tally"`
	// Notices say what could not be evaluated, such as the KEV guardrail
	// without a catalog.
	Notices []string `json:"notices,omitempty"`
}

// Tally is how one guardrail fared.
type Tally struct {
	Evaluated int `json:"evaluated"`
	Passed    int `json:"passed"`
}

// Input is one file read.
type Input struct {
	File     string `json:"file"`
	Kind     string `json:"kind"`
	Subjects int    `json:"subjects"`
}

// Blocked reports whether the change must not go ahead: a blocking
// guardrail failed, or could not be decided.
func (r *Report) Blocked() bool {
	for _, res := range r.Results {
		if res.Action == Block && (res.Status == Fail || res.Status == Unknown || res.Status == Error) {
			return true
		}
	}
	return false
}

// Count returns how many results have the action and one of the statuses.
func (r *Report) Count(a Action, st ...Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Action == a && slices.Contains(st, res.Status) {
			n++
		}
	}
	return n
}

// Options are everything an evaluation depends on besides the subjects.
type Options struct {
	Env        string
	Repository string
	Ladder     *Ladder
	Pack       *Pack
	Exceptions *Exceptions
	Owners     *Owners
	KEV        KEV
	// Source is the repository's files, read for inline skip comments on
	// the lines SARIF results point at; nil reads nothing.
	Source fs.FS
	Now    time.Time
	// Workers bounds parallel evaluation; 0 means GOMAXPROCS.
	Workers int
}

// Evaluate runs the guardrails over the subjects.
func Evaluate(subjects []*Subject, inputs []Input, o Options) (*Report, error) {
	rungs, ok := o.Ladder.Envs[o.Env]
	if !ok {
		return nil, onus.Errorf(onus.EINVALID, "unknown environment %q: the ladder has %s", o.Env, strings.Join(o.Ladder.Names(), ", "))
	}
	rep := &Report{Env: o.Env, Repository: o.Repository, At: o.Now, Inputs: inputs, Results: []Result{}}
	kinds := map[string]bool{}
	for _, in := range inputs {
		kinds[in.Kind] = true
	}
	byKind := map[string][]*Guardrail{}
	for _, g := range o.Pack.Guardrails {
		if !kinds[g.Input] {
			continue
		}
		if g.NeedsKEV && o.KEV == nil {
			rep.Notices = append(rep.Notices, fmt.Sprintf("%s was not run: it needs the CISA KEV catalog (--kev FILE)", g.ID))
			continue
		}
		rep.Guardrails = append(rep.Guardrails, g)
		byKind[g.Input] = append(byKind[g.Input], g)
	}

	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type part struct {
		results []Result
		tally   map[string]*Tally
	}
	parts := make([]part, workers)
	var wg sync.WaitGroup
	chunk := (len(subjects) + workers - 1) / max(workers, 1)
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(subjects))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(p *part, subs []*Subject) {
			defer wg.Done()
			vars := map[string]any{"env": o.Env, "kev": o.KEV.lookup()}
			p.tally = map[string]*Tally{}
			for _, g := range rep.Guardrails {
				p.tally[g.ID] = &Tally{}
			}
			for _, s := range subs {
				vars["resource"] = s.Value
				act, err := activation(s, vars)
				for _, g := range byKind[s.Kind] {
					st, msg := Error, ""
					if err != nil {
						msg = fmt.Sprintf("%s: %v", s.Address, err)
					} else {
						st, msg = g.eval(s, vars, act)
					}
					if st == "" {
						continue
					}
					t := p.tally[g.ID]
					t.Evaluated++
					if st == pass {
						t.Passed++
						continue
					}
					p.results = append(p.results, Result{Guardrail: g.ID, Title: g.Title, Severity: g.Severity,
						Status: st, Subject: s, Fix: g.Fix, Activity: g.Activity, Message: msg})
				}
			}
		}(&parts[w], subjects[lo:hi])
	}
	wg.Wait()
	rep.Tally = map[string]*Tally{}
	for _, g := range rep.Guardrails {
		rep.Tally[g.ID] = &Tally{}
	}
	for _, p := range parts {
		for id, t := range p.tally {
			rep.Tally[id].Evaluated += t.Evaluated
			rep.Tally[id].Passed += t.Passed
			rep.Evaluated += t.Evaluated
			rep.Passed += t.Passed
		}
		rep.Results = append(rep.Results, p.results...)
	}

	src := sourceLines{fsys: o.Source, files: map[string][]string{}}
	for i := range rep.Results {
		r := &rep.Results[i]
		r.Action = rungs.Action(r.Severity)
		if r.Subject.Kind == SARIF && r.Status == Fail && r.Subject.Line > 0 {
			r.Subject.Skips = src.skips(r.Subject.Path, r.Subject.Line)
		}
		if r.Status == Unknown {
			r.Notes = append(r.Notes, "the check depends on values known only after apply; it cannot pass before then")
		}
		if r.Status == Fail {
			o.Exceptions.apply(r, o)
		}
		if o.Owners != nil {
			r.Owners, r.OwnerFrom = o.Owners.Resolve(r.Subject.Path, r.Activity)
		}
	}
	slices.SortStableFunc(rep.Results, func(a, b Result) int {
		return cmp.Or(
			cmp.Compare(a.Action.rank(), b.Action.rank()),
			cmp.Compare(a.Severity.Rank(), b.Severity.Rank()),
			strings.Compare(a.Guardrail, b.Guardrail),
			strings.Compare(a.Subject.File, b.Subject.File),
			strings.Compare(a.Subject.Address, b.Subject.Address),
		)
	})
	return rep, nil
}

// sourceLines reads repository files once each, for skip comments.
type sourceLines struct {
	fsys  fs.FS
	files map[string][]string
}

// skips returns the skip annotations on a line or the line above it.
func (sl *sourceLines) skips(name string, line int) []Skip {
	if sl.fsys == nil || name == "" || !fs.ValidPath(name) {
		return nil
	}
	lines, ok := sl.files[name]
	if !ok {
		if f, err := sl.fsys.Open(name); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
		}
		sl.files[name] = lines
	}
	var out []Skip
	for _, n := range []int{line, line - 1} {
		if n >= 1 && n <= len(lines) {
			for _, m := range skipComment.FindAllStringSubmatch(lines[n-1], -1) {
				out = append(out, parseSkips(m[1], fmt.Sprintf("comment at %s:%d", name, n))...)
			}
		}
	}
	return out
}
