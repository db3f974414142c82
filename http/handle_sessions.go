package http

import (
	"net/http"
	"net/url"

	"github.com/onus-sec/onus/store"
)

// sessionsPage lists sign-ins.
type sessionsPage struct {
	Sessions []store.SessionInfo `json:"sessions"`
	Current  string              `json:"current,omitempty"` // the handle of the session of this request
	Email    string              `json:"email,omitempty"`   // whose, when one person's were asked for
}

// handleSessions lists my active sign-ins; administrators and auditors
// see everyone's (?email= narrows to one person).
func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	email := r.URL.Query().Get("email")
	list, err := s.Authz.Sessions(r.Context(), email, s.Ops.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := sessionsPage{Sessions: list, Email: email}
	if se := sessionOf(r); se != nil {
		p.Current = se.Handle()
	}
	s.respond(w, r, "sessions", "Sessions", "sessions", p)
}

// handleRevokeSession ends one session: mine, or anyone's for an
// administrator.
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request) {
	info, err := s.Authz.RevokeSession(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, "/sessions", "ended", map[string]any{"id": info.Handle, "email": info.Email, "revoked": true})
}

// handleRevokeSessionsOf ends every session of a person (the form's
// email): mine ("sign out everywhere"), or anyone's for an administrator.
func (s *Server) handleRevokeSessionsOf(w http.ResponseWriter, r *http.Request) {
	in := map[string]string{"email": ""}
	if err := body(r, in); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.Authz.RevokeSessionsOf(r.Context(), in["email"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if se := sessionOf(r); se != nil && se.Email == in["email"] && !isAPI(r) {
		// I ended my own sessions, this one with them.
		http.Redirect(w, r, "/signin?done=signedout", http.StatusSeeOther)
		return
	}
	s.done(w, r, "/sessions?"+url.Values{"email": {in["email"]}}.Encode(), "ended", map[string]any{"email": in["email"], "revoked": n})
}
