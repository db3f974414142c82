package http

import "net/http"

// handleControls lists the controls with the last evaluation's counts.
func (s *Server) handleControls(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Authz.Controls(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := map[string]any{"controls": cs}
	if !isAPI(r) {
		// The form to ask for an exception over a scope, where allowed.
		data["scope_requests"] = s.Authz.ScopeRequests(r.Context())
	}
	s.respond(w, r, "controls", "Controls", "controls", data)
}
