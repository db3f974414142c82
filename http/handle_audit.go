package http

import "net/http"

// handleAudit shows the audit log, newest first (administrators and
// auditors).
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	log, err := s.Authz.AuditLog(r.Context(), 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "audit", "Audit log", "audit", map[string]any{"entries": log})
}
