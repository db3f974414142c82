package http

import (
	"fmt"
	"net/http"
)

// handleDecide approves or rejects an exception waiting for my decision:
// never my own request.
func (s *Server) handleDecide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, in, err := idBody(r, "note")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		x, err := s.Authz.Decide(r.Context(), id, approve, in["note"])
		if err != nil {
			s.fail(w, r, err)
			return
		}
		flash := "rejected"
		if approve {
			flash = "approved"
		}
		to := "/approvals"
		if r.PostFormValue("back") == "exception" {
			to = fmt.Sprintf("/exceptions/%d", id)
		}
		s.done(w, r, to, flash, x)
	}
}
