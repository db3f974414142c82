package http

import (
	"fmt"
	"net/http"

	"github.com/onus-sec/onus/authz"
)

// exceptionPage is an exception with what the signed-in person may do
// with it.
type exceptionPage struct {
	*authz.ExceptionDetail
	MayRevoke bool `json:"may_revoke"`
	MayExtend bool `json:"may_extend"`
}

// handleException shows an exception with its history.
func (s *Server) handleException(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.Authz.Exception(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := exceptionPage{ExceptionDetail: d}
	p.MayRevoke, p.MayExtend = s.Authz.ExceptionActions(r.Context(), d.Exception)
	s.respond(w, r, "exception", fmt.Sprintf("Exception %d", id), "approvals", p)
}
