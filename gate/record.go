package gate

import (
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/ledger"
)

// EntityPrefix starts the entity id of every finding the gate records, so
// that monitoring's evaluations leave those findings alone and the gate's
// leave monitoring's alone.
const EntityPrefix = "gate:"

// EntityID names a subject in the ledger: the repository, the input file
// and the address, so that runs over different inputs (one plan per
// environment) each keep their own findings.
func EntityID(repository string, s *Subject) string {
	if s.Key != "" {
		return EntityPrefix + repository + ":" + s.File + "#" + s.Key
	}
	return EntityPrefix + repository + ":" + s.File + "#" + s.Address
}

// IsGateFinding reports whether a finding was recorded by the gate.
func IsGateFinding(f onus.Finding) bool { return strings.HasPrefix(f.Entity, EntityPrefix) }

// Covers reports whether a finding on record belongs to this run: same
// repository, one of its input files. Only those can be resolved by it.
func (r *Report) Covers(f onus.Finding) bool {
	for _, in := range r.Inputs {
		if strings.HasPrefix(f.Entity, EntityPrefix+r.Repository+":"+in.File+"#") {
			return true
		}
	}
	return false
}

// Failures returns the ledger keys of the violations a run would record,
// so the caller can load closed findings that fail again.
func (r *Report) Failures() []onus.FindingKey {
	var out []onus.FindingKey
	for _, res := range r.Results {
		if recordable(res) {
			out = append(out, onus.FindingKey{Control: res.Guardrail, Entity: EntityID(r.Repository, res.Subject)})
		}
	}
	return out
}

func recordable(res Result) bool {
	return res.Action != Off && (res.Status == Fail || res.Status == Excepted)
}

// Record turns a run on the default branch into ledger changes: each
// violation that reached it becomes a finding (control = guardrail, entity
// = the resource or file in its repository) with an owner and a deadline
// like every other gap; a finding of an earlier run over the same inputs
// that this run no longer sees is resolved. Unknown results change
// nothing. prev are the findings on record that Covers (open, exempted, and
// closed ones that fail again).
func Record(rep *Report, prev []onus.Finding, deadlines map[onus.Severity]time.Duration) ([]onus.FindingChange, ledger.Stats) {
	ids := map[string]int32{}
	var names []string
	entity := func(id string) int32 {
		if e, ok := ids[id]; ok {
			return e
		}
		e := int32(len(names))
		ids[id] = e
		names = append(names, id)
		return e
	}
	for _, f := range prev {
		entity(f.Entity)
	}
	for _, res := range rep.Results {
		entity(EntityID(rep.Repository, res.Subject))
	}
	if deadlines == nil {
		deadlines = config.DefaultDeadlines
	}
	res := &evaluate.Results{Now: rep.At}
	byID := map[string]*evaluate.ControlResult{}
	for _, g := range rep.Guardrails {
		out := make([]uint8, len(names))
		// Everything this run covers and does not see failing passes: the
		// resource was fixed, or is no longer in the change.
		for i := range out {
			out[i] = evaluate.Passed
		}
		cr := &evaluate.ControlResult{
			Control: &evaluate.Control{
				Control:  &config.Control{ID: g.ID, Title: g.Title, Activity: g.Activity, Severity: string(g.Severity), Fix: g.Fix, Why: g.Why},
				Kind:     g.Input,
				Severity: g.Severity,
				Deadline: deadlines[g.Severity],
			},
			Outcomes: out,
		}
		byID[g.ID] = cr
		res.Controls = append(res.Controls, cr)
	}
	for _, r := range rep.Results {
		cr := byID[r.Guardrail]
		if cr == nil {
			continue
		}
		id := EntityID(rep.Repository, r.Subject)
		e := ids[id]
		switch {
		case r.Status == Unknown || r.Status == Error:
			cr.Outcomes[e] = evaluate.Unknown
		case recordable(r):
			cr.Outcomes[e] = evaluate.Failed
			cr.Fail++
			cr.Failures = append(cr.Failures, evaluate.Result{Entity: e, ID: id, Name: r.Subject.Address, Kind: r.Subject.Kind,
				Outcome: onus.Fail, Owner: assignment(r), Exemption: r.Exception,
				Evidence: []onus.Evidence{{Path: "gate", Value: r.Message}}})
		}
	}
	return ledger.Diff(prev, res, resolver{ids: ids, names: names}, rep.At, ledger.Options{})
}

func assignment(r Result) evaluate.Assignment {
	a := evaluate.Assignment{}
	if len(r.Owners) == 0 {
		a.Gap, a.Reason = true, "no CODEOWNERS rule and no Responsible in the matrix for "+orNone(r.Activity)
		return a
	}
	first := r.Owners[0]
	if strings.Contains(first, "@") && !strings.HasPrefix(first, "@") {
		a.Person = onus.Person{Email: strings.ToLower(first)}
	} else {
		a.Person = onus.Person{Name: first}
	}
	a.Reason = "from " + r.OwnerFrom + ": " + strings.Join(r.Owners, ", ")
	return a
}

type resolver struct {
	ids   map[string]int32
	names []string
}

func (r resolver) Resolve(ids []string) map[string]int32 {
	out := make(map[string]int32, len(ids))
	for _, id := range ids {
		if e, ok := r.ids[id]; ok {
			out[id] = e
		}
	}
	return out
}

func (r resolver) ID(e int32) string { return r.names[e] }
