package http

import (
	"fmt"
	"net/http"
)

// handleClaim records "I fixed it" for a finding I am Responsible for.
func (s *Server) handleClaim(w http.ResponseWriter, r *http.Request) {
	id, in, err := idBody(r, "note")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Authz.ClaimFix(r.Context(), id, in["note"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, fmt.Sprintf("/findings/%d", id), "claimed", map[string]any{"finding": id, "claim": "pending"})
}
