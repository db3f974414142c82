package http

import "net/http"

// handleFinding shows one finding: evidence, owner, history, messages
// sent, exceptions, and what I may do with it.
func (s *Server) handleFinding(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.Authz.Finding(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "finding", d.EntityName+" — "+d.Control, "findings", d)
}
