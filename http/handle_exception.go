package http

import (
	"fmt"
	"net/http"
)

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
	s.respond(w, r, "exception", fmt.Sprintf("Exception %d", id), "approvals", d)
}
