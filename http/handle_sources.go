package http

import (
	"net/http"

	"github.com/onus-sec/onus"
)

// handleSources shows each source's health, last sync and counts.
func (s *Server) handleSources(w http.ResponseWriter, r *http.Request) {
	st, err := s.Authz.Sources(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "sources", "Sources", "sources", map[string]any{"sources": st, "can_accept": s.Options.AcceptShrink != nil})
}

// handleAcceptShrink syncs a source accepting its drop in records
// (administrators): the drop is real, not a broken export.
func (s *Server) handleAcceptShrink(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	actor, err := s.Authz.AcceptShrink(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Options.AcceptShrink == nil {
		s.fail(w, r, onus.Errorf(onus.ECONFLICT, "this server does not run syncs"))
		return
	}
	if err := s.Options.AcceptShrink(r.Context(), name, actor); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, "/sources", "accepted", map[string]string{"source": name, "accepted_by": actor})
}
