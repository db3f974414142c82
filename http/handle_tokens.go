package http

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onus-sec/onus"
)

// handleTokens lists my API tokens.
func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Authz.Tokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "tokens", "API tokens", "tokens", map[string]any{"tokens": ts})
}

// handleCreateToken makes a personal token and shows it once.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	in := map[string]string{"name": "", "scopes": "", "days": ""}
	if err := body(r, in); err != nil {
		s.fail(w, r, err)
		return
	}
	days := 30
	if in["days"] != "" {
		n, err := strconv.Atoi(in["days"])
		if err != nil {
			s.fail(w, r, onus.Errorf(onus.EINVALID, "days must be a number"))
			return
		}
		days = n
	}
	scopes := strings.Fields(strings.ReplaceAll(in["scopes"], ",", " "))
	tok, t, err := s.Authz.CreateToken(r.Context(), in["name"], scopes, time.Duration(days)*24*time.Hour, s.Ops.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if isAPI(r) {
		writeJSON(w, http.StatusOK, map[string]any{"token": tok, "details": t})
		return
	}
	// The token is shown in the response to the POST only: no redirect,
	// nothing kept.
	ts, _ := s.Authz.Tokens(r.Context())
	s.render(w, r, http.StatusOK, "tokens", "API tokens", "tokens", map[string]any{"tokens": ts, "new": tok})
}

// handleRevokeToken revokes one of my tokens.
func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Authz.RevokeToken(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, "/tokens", "revoked", map[string]any{"id": id, "revoked": true})
}
