package http

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// handleRevokeException ends an exception early: its requester withdraws
// it, or someone who may decide it revokes it. The finding reopens.
func (s *Server) handleRevokeException(w http.ResponseWriter, r *http.Request) {
	id, in, err := idBody(r, "note")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	x, err := s.Authz.RevokeException(r.Context(), id, in["note"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, fmt.Sprintf("/exceptions/%d", id), "xrevoked", x)
}

// handleExtendException asks for an approved exception to last longer: a
// new request, approved again by the Accountable person.
func (s *Server) handleExtendException(w http.ResponseWriter, r *http.Request) {
	id, in, err := idBody(r, "expires", "reason")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	exp, err := parseDate(in["expires"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	x, err := s.Authz.ExtendException(r.Context(), id, exp, in["reason"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, fmt.Sprintf("/exceptions/%d", x.ID), "extended", x)
}

// handleRequestScopeException asks for an exception for a control over a
// scope, a CEL filter of its entities.
func (s *Server) handleRequestScopeException(w http.ResponseWriter, r *http.Request) {
	in := map[string]string{"control": "", "scope": "", "reason": "", "expires": ""}
	if err := body(r, in); err != nil {
		s.fail(w, r, err)
		return
	}
	exp, err := parseDate(in["expires"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	x, err := s.Authz.RequestScopeException(r.Context(), strings.TrimSpace(in["control"]), in["scope"], in["reason"], exp)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, fmt.Sprintf("/exceptions/%d", x.ID), "requested", x)
}

// parseDate reads an expiry: a date (YYYY-MM-DD) or an RFC 3339 time.
func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, onus.Errorf(onus.EINVALID, "expires must be a date (YYYY-MM-DD) or an RFC 3339 time")
}
