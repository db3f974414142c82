// Package exception is the workflow of accepted risk: an exception is
// requested for a finding, or for a control over a scope, with a reason and
// an expiry; it is approved or rejected by the finding's Accountable person
// or an approver team, never by whoever asked for it; it ends when it
// expires or is revoked, and an extension goes through approval again.
// Every decision is kept; nothing is edited in place.
package exception

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/evaluate"
	"github.com/onus-sec/onus/ledger"
	"github.com/onus-sec/onus/policy"
	"github.com/onus-sec/onus/raci"
)

// Store is what the workflow reads and writes: the findings, the
// exceptions and the people directory.
type Store interface {
	// Finding returns a finding; ENOTFOUND when there is none.
	Finding(ctx context.Context, id int64) (onus.Finding, error)
	// CreateException stores a new request and sets its id.
	CreateException(ctx context.Context, x *onus.Exception) error
	// Exception returns an exception; ENOTFOUND when there is none.
	Exception(ctx context.Context, id int64) (*onus.Exception, error)
	// Decide moves an exception; ECONFLICT when the exception is not in
	// one of d.From.
	Decide(ctx context.Context, d onus.Decision) (*onus.Exception, error)
	// Directory returns the people of the last evaluation.
	Directory(ctx context.Context) (*onus.Directory, error)
}

// The services of onus are enough for the workflow.
var _ Store = (interface {
	onus.FindingService
	onus.ExceptionService
	onus.DirectoryService
})(nil)

// Service runs the workflow for one configuration.
type Service struct {
	Store  Store
	Config *config.Config
	// Clock is the operational clock of decisions: when a request is made
	// or decided, and the instant expiries are checked against. Nil is the
	// machine's clock.
	Clock onus.Clock
	// Guardrail looks up a guardrail of onus gate by id, so that its
	// exceptions go through the same workflow as controls'; nil when
	// there are none.
	Guardrail func(id string) *Guardrail
}

// Guardrail is what the workflow needs to know of a guardrail.
type Guardrail struct {
	Severity onus.Severity
	Activity string
	// CheckScope reports whether a scope compiles for the guardrail's
	// exceptions.
	CheckScope func(scope string) error
}

func (s *Service) guardrail(id string) *Guardrail {
	if s.Guardrail == nil || s.Config.Control(id) != nil {
		return nil
	}
	return s.Guardrail(id)
}

func (s *Service) now() time.Time { return onus.Or(s.Clock).Now() }

// Request asks for an exception.
type Request struct {
	// Finding, or Control and Scope.
	Finding   int64
	Control   string
	Scope     string
	Reason    string
	Expires   time.Time
	Requester string
}

// Request records a request after checking it: a reason, a requester, an
// expiry in the future and within the maximum for the severity, a finding
// that is open, or a scope that compiles.
func (s *Service) Request(ctx context.Context, r Request) (*onus.Exception, error) {
	now := s.now()
	x := &onus.Exception{Reason: strings.TrimSpace(r.Reason), Requester: strings.ToLower(strings.TrimSpace(r.Requester)),
		RequestedAt: now, Expires: r.Expires.UTC()}
	if !strings.Contains(x.Requester, "@") {
		return nil, onus.Errorf(onus.EINVALID, "say who asks: --as must be an e-mail address")
	}
	if x.Reason == "" {
		return nil, onus.Errorf(onus.EINVALID, "an exception needs a reason: why is the risk acceptable, and what limits it")
	}
	switch {
	case r.Finding != 0 && (r.Control != "" || r.Scope != ""):
		return nil, onus.Errorf(onus.EINVALID, "ask for an exception for one finding, or for a control over a scope, not both")
	case r.Finding != 0:
		f, err := s.Store.Finding(ctx, r.Finding)
		if err != nil {
			return nil, err
		}
		if f.State != onus.StateOpen {
			return nil, onus.Errorf(onus.ECONFLICT, "finding %d is %s: only an open finding can be exempted", f.ID, f.State)
		}
		x.Finding, x.Control, x.Entity, x.Severity = f.ID, f.Control, f.Entity, f.Severity
	case r.Control != "" && s.guardrail(r.Control) != nil:
		g := s.guardrail(r.Control)
		if strings.TrimSpace(r.Scope) == "" {
			return nil, onus.Errorf(onus.EINVALID, "an exception for a guardrail needs --scope, a CEL filter over repository, path, address, type and env")
		}
		if err := g.CheckScope(r.Scope); err != nil {
			return nil, onus.Errorf(onus.EINVALID, "the scope does not compile: %v", err)
		}
		x.Control, x.Scope, x.Severity = r.Control, strings.TrimSpace(r.Scope), g.Severity
	case r.Control != "":
		ctl := s.Config.Control(r.Control)
		if ctl == nil {
			return nil, onus.Errorf(onus.ENOTFOUND, "no control %s", r.Control)
		}
		if strings.TrimSpace(r.Scope) == "" {
			return nil, onus.Errorf(onus.EINVALID, "an exception for a control needs --scope, a CEL filter of the entities it covers")
		}
		if err := s.checkScope(ctl, r.Scope); err != nil {
			return nil, err
		}
		x.Control, x.Scope = ctl.ID, strings.TrimSpace(r.Scope)
		x.Severity, _ = onus.ParseSeverity(ctl.Severity)
	default:
		return nil, onus.Errorf(onus.EINVALID, "say what to exempt: --finding ID, or --control ID with --scope")
	}
	if err := s.checkExpiry(x, now); err != nil {
		return nil, err
	}
	if err := s.Store.CreateException(ctx, x); err != nil {
		return nil, err
	}
	return x, nil
}

func (s *Service) checkExpiry(x *onus.Exception, now time.Time) error {
	if !x.Expires.After(now) {
		return onus.Errorf(onus.EINVALID, "the expiry %s is not in the future", x.Expires.Format("2006-01-02"))
	}
	if limit := s.Config.ExceptionMax(x.Severity); x.Expires.Sub(now) > limit {
		return onus.Errorf(onus.EINVALID, "a %s exception may last at most %s (until %s); ask for less, and extend it later if needed",
			x.Severity, onus.FormatDuration(limit), now.Add(limit).Format("2006-01-02"))
	}
	return nil
}

func (s *Service) checkScope(ctl *config.Control, scope string) error {
	compiled, err := evaluate.Compile(&config.Config{File: s.Config.File, Sources: s.Config.Sources, Controls: []*config.Control{ctl},
		Identity: s.Config.Identity, People: config.People{Kind: s.Config.People.Kind}}, s.now())
	if err != nil {
		return err
	}
	kind := ""
	if len(compiled.Controls) == 1 {
		kind = compiled.Controls[0].Kind
	}
	if _, err := compiled.Env.Compile("--scope", config.Expr{Src: scope, Line: 1, Col: 1}, kind, policy.Bool); err != nil {
		return onus.Errorf(onus.EINVALID, "the scope does not compile: %v", err)
	}
	return nil
}

// MayDecide reports whether who may approve or reject an exception: its
// finding's Accountable person (for a scope, the activity's Accountable
// person), or a member of an approver team; never its requester.
func (s *Service) MayDecide(ctx context.Context, x *onus.Exception, who string) error {
	who = strings.ToLower(strings.TrimSpace(who))
	if !strings.Contains(who, "@") {
		return onus.Errorf(onus.EINVALID, "say who decides: --as must be an e-mail address")
	}
	if who == x.Requester {
		return onus.Errorf(onus.ECONFLICT, "%s asked for exception %d and cannot decide it: someone accountable must", who, x.ID)
	}
	dir, err := s.Store.Directory(ctx)
	if err != nil {
		return err
	}
	m := raci.New(s.Config.RACI, dir)
	var allowed []string
	if x.Finding != 0 {
		f, err := s.Store.Finding(ctx, x.Finding)
		if err != nil {
			return err
		}
		if f.Accountable.Email != "" {
			allowed = append(allowed, f.Accountable.Email)
		}
	} else if ctl := s.Config.Control(x.Control); ctl != nil {
		if act := m.Activity(ctl.Activity); act != nil {
			if r, _ := m.First(act.A, raci.Subject{}, raci.DefaultChainLimit); r.Person.Email != "" {
				allowed = append(allowed, r.Person.Email)
			}
		}
	} else if g := s.guardrail(x.Control); g != nil {
		if act := m.Activity(g.Activity); act != nil {
			if r, _ := m.First(act.A, raci.Subject{}, raci.DefaultChainLimit); r.Person.Email != "" {
				allowed = append(allowed, r.Person.Email)
			}
		}
	}
	for _, id := range s.Config.Exceptions.Approvers {
		if t := m.Team(id); t != nil {
			if t.Lead != "" {
				allowed = append(allowed, t.Lead)
			}
			allowed = append(allowed, t.Members...)
		}
	}
	if slices.Contains(allowed, who) {
		return nil
	}
	if len(allowed) == 0 {
		return onus.Errorf(onus.ECONFLICT, "nobody may decide exception %d: its activity has no Accountable person and no approver team is configured", x.ID)
	}
	return onus.Errorf(onus.ECONFLICT, "%s may not decide exception %d: only its Accountable person or an approver team (%s) may",
		who, x.ID, strings.Join(s.Config.Exceptions.Approvers, ", "))
}

// Approve approves a requested exception.
func (s *Service) Approve(ctx context.Context, id int64, who, note string) (*onus.Exception, error) {
	x, err := s.Store.Exception(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.MayDecide(ctx, x, who); err != nil {
		return nil, err
	}
	if !x.Expires.After(s.now()) {
		return nil, onus.Errorf(onus.ECONFLICT, "exception %d would already have expired on %s; ask again", id, x.Expires.Format("2006-01-02"))
	}
	who = strings.ToLower(who)
	return s.Store.Decide(ctx, onus.Decision{ID: id, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionApproved,
		Actor: who, Approver: who, Note: orDefault(note, fmt.Sprintf("until %s", x.Expires.Format("2006-01-02"))), Move: ledger.Move(s.Config, s.now())})
}

// Reject rejects a requested exception; a reason is required.
func (s *Service) Reject(ctx context.Context, id int64, who, note string) (*onus.Exception, error) {
	if strings.TrimSpace(note) == "" {
		return nil, onus.Errorf(onus.EINVALID, "say why the exception is rejected (--note), so the requester knows what to do instead")
	}
	x, err := s.Store.Exception(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.MayDecide(ctx, x, who); err != nil {
		return nil, err
	}
	who = strings.ToLower(who)
	return s.Store.Decide(ctx, onus.Decision{ID: id, From: []onus.ExceptionState{onus.ExceptionRequested}, To: onus.ExceptionRejected,
		Actor: who, Approver: who, Note: note})
}

// Revoke ends an approved exception early. Its requester may withdraw it;
// those who may approve it may revoke it.
func (s *Service) Revoke(ctx context.Context, id int64, who, note string) (*onus.Exception, error) {
	x, err := s.Store.Exception(ctx, id)
	if err != nil {
		return nil, err
	}
	who = strings.ToLower(strings.TrimSpace(who))
	if who != x.Requester {
		if err := s.MayDecide(ctx, x, who); err != nil {
			return nil, err
		}
	}
	return s.Store.Decide(ctx, onus.Decision{ID: id, From: []onus.ExceptionState{onus.ExceptionApproved, onus.ExceptionRequested},
		To: onus.ExceptionRevoked, Actor: who, Note: orDefault(note, "revoked"), Move: ledger.Move(s.Config, s.now())})
}

// Extend asks for an approved exception to last longer. The extension is
// a new request that replaces the original once approved.
func (s *Service) Extend(ctx context.Context, id int64, expires time.Time, who, reason string) (*onus.Exception, error) {
	x, err := s.Store.Exception(ctx, id)
	if err != nil {
		return nil, err
	}
	if x.State != onus.ExceptionApproved {
		return nil, onus.Errorf(onus.ECONFLICT, "exception %d is %s: only an approved exception can be extended", id, x.State)
	}
	if !expires.After(x.Expires) {
		return nil, onus.Errorf(onus.EINVALID, "the new expiry must be after the current one (%s)", x.Expires.Format("2006-01-02"))
	}
	ext := &onus.Exception{Control: x.Control, Finding: x.Finding, Entity: x.Entity, Scope: x.Scope, Severity: x.Severity,
		Reason: orDefault(strings.TrimSpace(reason), x.Reason), Requester: strings.ToLower(strings.TrimSpace(who)),
		RequestedAt: s.now(), Expires: expires.UTC(), Replaces: x.ID}
	if !strings.Contains(ext.Requester, "@") {
		return nil, onus.Errorf(onus.EINVALID, "say who asks: --as must be an e-mail address")
	}
	if err := s.checkExpiry(ext, s.now()); err != nil {
		return nil, err
	}
	if err := s.Store.CreateException(ctx, ext); err != nil {
		return nil, err
	}
	return ext, nil
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
