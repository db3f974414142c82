package http

import (
	"fmt"
	"net/http"
	"time"

	"github.com/onus-sec/onus"
)

// handleRequestException asks for an exception for a finding: a reason
// and an expiry within the policy of its severity.
func (s *Server) handleRequestException(w http.ResponseWriter, r *http.Request) {
	id, in, err := idBody(r, "reason", "expires")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	exp, err := time.Parse("2006-01-02", in["expires"])
	if err != nil {
		if exp, err = time.Parse(time.RFC3339, in["expires"]); err != nil {
			s.fail(w, r, onus.Errorf(onus.EINVALID, "expires must be a date (YYYY-MM-DD)"))
			return
		}
	}
	x, err := s.Authz.RequestException(r.Context(), id, in["reason"], exp.UTC())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, fmt.Sprintf("/findings/%d", id), "requested", x)
}

// handleExceptionForm is where the "ask for an exception" link of a nudge
// lands: the form on the finding's page.
func (s *Server) handleExceptionForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/findings/%d#exception", id), http.StatusSeeOther)
}
