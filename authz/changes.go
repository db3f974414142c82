package authz

import (
	"context"
	"strings"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/exception"
	"github.com/onus-sec/onus/store"
)

// RevokeException ends an approved (or still requested) exception early:
// its requester may withdraw it, and those who may approve it may revoke
// it. The finding reopens with the due date the configuration says
// (exceptions.restart_deadline).
func (s *Service) RevokeException(ctx context.Context, id int64, note string) (*onus.Exception, error) {
	sub, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.Person {
		return nil, forbidden("exceptions are revoked by a person of the directory: their requester or the Accountable one")
	}
	x, err := s.visibleException(ctx, sub, id)
	if err != nil {
		return nil, err
	}
	if x.Requester != sub.Email {
		if err := s.exceptions().MayDecide(ctx, x, sub.Email); err != nil {
			return nil, forbidden("%s", onus.ErrorMessage(err))
		}
	}
	defer s.changed()
	return s.exceptions().Revoke(ctx, id, sub.Email, note)
}

// ExtendException asks for an approved exception to last longer: a new
// request that replaces it once approved. Its requester may ask, and so
// may whoever could ask for it anew (the finding's Responsible person and
// their managers; for a scope, the people who hold a role in its
// activity, and administrators).
func (s *Service) ExtendException(ctx context.Context, id int64, expires time.Time, reason string) (*onus.Exception, error) {
	sub, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.Person {
		return nil, forbidden("exceptions are asked for by a person of the directory")
	}
	x, err := s.visibleException(ctx, sub, id)
	if err != nil {
		return nil, err
	}
	if x.Requester != sub.Email {
		allowed := false
		if x.Finding != 0 {
			if f, err := s.Store.Finding(ctx, x.Finding); err == nil {
				allowed = s.mayRequest(ctx, sub, f)
			}
		} else {
			allowed = s.mayRequestScope(ctx, sub, x.Control) == nil
		}
		if !allowed {
			return nil, forbidden("only the requester of exception %d, or someone who may ask for it anew, can ask to extend it", id)
		}
	}
	defer s.changed()
	return s.exceptions().Extend(ctx, id, expires, sub.Email, reason)
}

// RequestScopeException asks for an exception for a control over a scope
// (a CEL filter of its entities). A security administrator may ask, and so
// may a person named, directly or through a team, as R, A or C of the
// control's activity: the people who run it. The Accountable person or an
// approver team decides, never the requester.
func (s *Service) RequestScopeException(ctx context.Context, control, scope, reason string, expires time.Time) (*onus.Exception, error) {
	sub, err := writer(ctx)
	if err != nil {
		return nil, err
	}
	if !sub.Person {
		return nil, forbidden("exceptions are asked for by a person of the directory")
	}
	if err := s.mayRequestScope(ctx, sub, control); err != nil {
		return nil, err
	}
	defer s.changed()
	return s.exceptions().Request(ctx, exception.Request{Control: control, Scope: scope, Reason: reason, Expires: expires, Requester: sub.Email})
}

func (s *Service) mayRequestScope(ctx context.Context, sub *Subject, control string) error {
	ctl := s.Config.Control(control)
	if ctl == nil {
		return onus.Errorf(onus.ENOTFOUND, "no control %s", control)
	}
	if sub.Admin {
		return nil
	}
	_, m, err := s.directory(ctx)
	if err != nil {
		return err
	}
	team := func(id string) (string, []string, bool) {
		t := m.Team(id)
		if t == nil {
			return "", nil, false
		}
		return t.Lead, t.Members, true
	}
	if a := m.Activity(ctl.Activity); a != nil {
		var roles []string
		roles = append(append(append(roles, a.R...), a.A...), a.C...)
		if member(sub.Email, roles, team) {
			return nil
		}
	}
	return forbidden("an exception over a scope of %s is asked for by a security administrator or someone holding R, A or C in its activity %q", control, ctl.Activity)
}

// ManualLinks lists the decisions made by hand about what is one thing
// (security administrators and auditors).
func (s *Service) ManualLinks(ctx context.Context) ([]store.ManualLink, error) {
	if _, err := s.staff(ctx); err != nil {
		return nil, err
	}
	ls, err := s.Store.ManualLinks(ctx)
	if ls == nil {
		ls = []store.ManualLink{}
	}
	return ls, err
}

// Link records that two records or entities are one thing (linked) or
// never one thing (security administrators). exists checks that each
// reference names a record or entity of the current inventory.
func (s *Service) Link(ctx context.Context, a, b string, linked bool, reason string, exists func(ctx context.Context, refs ...string) error) (*store.ManualLink, error) {
	sub, err := s.admin(ctx)
	if err != nil {
		return nil, err
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || b == "" {
		return nil, onus.Errorf(onus.EINVALID, "name two references: a record (source:record-id) or an entity id (kind:key:value)")
	}
	if a == b {
		return nil, onus.Errorf(onus.EINVALID, "%s and %s are the same reference", a, b)
	}
	if exists == nil {
		return nil, onus.Errorf(onus.EINVALID, "this server cannot check references; link on the database file")
	}
	if err := exists(ctx, a, b); err != nil {
		return nil, err
	}
	l := store.ManualLink{A: a, B: b, Linked: linked, Actor: sub.Email, Reason: strings.TrimSpace(reason)}
	if err := s.Store.SetManualLink(ctx, l); err != nil {
		return nil, err
	}
	return &l, nil
}

// ForgetLink drops an earlier link or unlink of a pair (security
// administrators): the keys alone decide again.
func (s *Service) ForgetLink(ctx context.Context, a, b string) error {
	sub, err := s.admin(ctx)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteManualLink(ctx, strings.TrimSpace(a), strings.TrimSpace(b), sub.Email); err != nil {
		return err
	}
	return nil
}

// ExceptionActions says what the subject may do with an exception they
// see: revoke it (its requester, or who may decide it, while it is
// requested or approved), and ask to extend it (while it is approved).
func (s *Service) ExceptionActions(ctx context.Context, x *onus.Exception) (revoke, extend bool) {
	sub := FromContext(ctx)
	if sub == nil || !sub.CanWrite() || !sub.Person {
		return false, false
	}
	mine := x.Requester == sub.Email
	if x.State == onus.ExceptionApproved || x.State == onus.ExceptionRequested {
		// Deciding reads the directory: only when it matters.
		revoke = mine || s.exceptions().MayDecide(ctx, x, sub.Email) == nil
	}
	if x.State == onus.ExceptionApproved {
		if mine {
			extend = true
		} else if x.Finding != 0 {
			if f, err := s.Store.Finding(ctx, x.Finding); err == nil {
				extend = s.mayRequest(ctx, sub, f)
			}
		} else {
			extend = s.mayRequestScope(ctx, sub, x.Control) == nil
		}
	}
	return revoke, extend
}

// ScopeRequests returns the ids of the controls the subject may ask for
// an exception over a scope of (nil when none).
func (s *Service) ScopeRequests(ctx context.Context) map[string]bool {
	sub := FromContext(ctx)
	if sub == nil || !sub.CanWrite() || !sub.Person {
		return nil
	}
	out := map[string]bool{}
	for _, c := range s.Config.Controls {
		if s.mayRequestScope(ctx, sub, c.ID) == nil {
			out[c.ID] = true
		}
	}
	return out
}
