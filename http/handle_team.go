package http

import (
	"net/http"

	"github.com/onus-sec/onus/authz"
)

type teamPage struct {
	Members []authz.Member `json:"members"`
	// Total counts the open findings of the whole chain; Shown those listed.
	Total int `json:"total_open"`
	Shown int `json:"shown"`
}

// handleTeam is My team: the open items of everyone below me in the
// management chain, overdue first, with what they were last told.
func (s *Server) handleTeam(w http.ResponseWriter, r *http.Request) {
	members, total, err := s.Authz.Team(r.Context(), 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	shown := 0
	for _, m := range members {
		shown += len(m.Items)
	}
	s.respond(w, r, "team", "My team", "team", teamPage{Members: members, Total: total, Shown: shown})
}
