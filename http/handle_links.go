package http

import (
	"net/http"
	"strconv"

	"github.com/onus-sec/onus"
)

// handleLinks lists the decisions made by hand about what is one thing
// (administrators and auditors).
func (s *Server) handleLinks(w http.ResponseWriter, r *http.Request) {
	ls, err := s.Authz.ManualLinks(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "links", "Links made by hand", "links", map[string]any{"links": ls})
}

// handleLink records that two records or entities are one thing
// (linked=true, the default) or never one thing (linked=false), from the
// next evaluation on (administrators).
func (s *Server) handleLink(w http.ResponseWriter, r *http.Request) {
	in := map[string]string{"a": "", "b": "", "linked": "true", "reason": ""}
	if err := body(r, in); err != nil {
		s.fail(w, r, err)
		return
	}
	linked, err := strconv.ParseBool(in["linked"])
	if err != nil {
		s.fail(w, r, onus.Errorf(onus.EINVALID, "linked must be true or false"))
		return
	}
	l, err := s.Authz.Link(r.Context(), in["a"], in["b"], linked, in["reason"], s.Options.RefsExist)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	flash := "unlinked"
	if linked {
		flash = "linked"
	}
	s.done(w, r, "/links", flash, l)
}

// handleForgetLink drops the decision about a pair: the keys alone decide
// again from the next evaluation (administrators).
func (s *Server) handleForgetLink(w http.ResponseWriter, r *http.Request) {
	in := map[string]string{"a": "", "b": ""}
	if err := body(r, in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Authz.ForgetLink(r.Context(), in["a"], in["b"]); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, "/links", "forgot", map[string]any{"a": in["a"], "b": in["b"], "forgotten": true})
}
