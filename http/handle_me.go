package http

import "net/http"

// handleMe is My page: my open items soonest due first, with why they
// matter, how to fix them and when they are due in my time zone; my
// assets; my roles in the matrix; my exception requests.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	me, err := s.Authz.Me(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "me", "My page", "me", me)
}
