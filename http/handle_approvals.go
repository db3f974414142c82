package http

import "net/http"

// handleApprovals lists the exceptions waiting for my decision.
func (s *Server) handleApprovals(w http.ResponseWriter, r *http.Request) {
	list, err := s.Authz.Approvals(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "approvals", "Approvals", "approvals", map[string]any{"approvals": list})
}
