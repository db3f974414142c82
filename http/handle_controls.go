package http

import "net/http"

// handleControls lists the controls with the last evaluation's counts.
func (s *Server) handleControls(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Authz.Controls(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "controls", "Controls", "controls", map[string]any{"controls": cs})
}
