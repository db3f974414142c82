package http

import (
	"net/http"
	"strconv"

	"github.com/onus-sec/onus"
)

// handleTeam is My team: everyone below me in the management chain who
// has open or exempted items, most overdue first, with their counts; the
// open items of a page of them (?page=N, 20 people a page) or of one of
// them (?person=EMAIL), with what they were last told.
func (s *Server) handleTeam(w http.ResponseWriter, r *http.Request) {
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, r, onus.Errorf(onus.EINVALID, "page must be a number from 1"))
			return
		}
		page = n
	}
	t, err := s.Authz.Team(r.Context(), page, r.URL.Query().Get("person"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "team", "My team", "team", t)
}
