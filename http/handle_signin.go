package http

import (
	"crypto/subtle"
	"net/http"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/raci"
	"github.com/onus-sec/onus/store"
)

type signInPage struct {
	OIDC       bool
	BreakGlass bool
	Demo       bool
	People     []*raci.Person
	Next       string
	Refusal    string
}

// localPath keeps a "next" address on this site.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/me"
	}
	return p
}

// handleSignIn shows the ways to sign in, and sets the cookie the sign-in
// forms repeat against cross-site request forgery.
func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	d := signInPage{OIDC: s.oidc != nil, BreakGlass: s.Options.BreakGlassHash != "", Demo: s.Options.DemoSignIn,
		Next: localPath(r.URL.Query().Get("next"))}
	if d.Demo {
		people, err := s.Authz.People(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		sort.Slice(people, func(i, j int) bool { return people[i].Name < people[j].Name })
		d.People = people
	}
	c, err := r.Cookie(s.csrfCookieName())
	if err != nil || len(c.Value) < 20 {
		c = &http.Cookie{Name: s.csrfCookieName(), Value: authz.NewSecret(), Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode}
		http.SetCookie(w, c)
		r.AddCookie(c)
	}
	s.render(w, r, http.StatusOK, "signin", "Sign in", "", d)
}

// refuse shows why someone cannot sign in.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.Log.Warn("sign-in refused", logRemote, s.clientIP(r), "reason", msg)
	s.render(w, r, status, "signin", "Sign-in refused", "", signInPage{OIDC: s.oidc != nil, Demo: s.Options.DemoSignIn,
		BreakGlass: s.Options.BreakGlassHash != "", Refusal: msg, Next: "/me"})
}

// startSession signs someone in: a new session row, its cookie, and the
// audit entry.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, email, method, next string) {
	now := s.Ops.Now()
	secret := authz.NewSecret()
	se := &store.Session{ID: authz.HashToken(secret), Email: email, Method: method, CSRF: authz.NewSecret(),
		CreatedAt: now, ExpiresAt: now.Add(s.Config.Serve.SessionLength()), IP: s.clientIP(r), UserAgent: clipUA(r.UserAgent())}
	if err := s.Store.CreateSession(r.Context(), se); err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: secret, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, Expires: se.ExpiresAt})
	http.SetCookie(w, &http.Cookie{Name: s.csrfCookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	http.Redirect(w, r, localPath(next), http.StatusSeeOther)
}

func clipUA(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

const oidcCookie = "onus_oidc"

// handleLogin sends the browser to the identity provider with a fresh
// state, nonce and PKCE verifier, kept in a short-lived cookie.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		s.fail(w, r, onus.Errorf(onus.ENOTFOUND, "sign-in through an identity provider is not configured (serve.oidc)"))
		return
	}
	if !s.signin.allow(s.clientIP(r)) {
		s.tooMany(w, r, s.signin, "Too many sign-in attempts from your address")
		return
	}
	state, nonce, verifier := authz.NewSecret(), authz.NewSecret(), oauth2.GenerateVerifier()
	next := localPath(r.URL.Query().Get("next"))
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state + "." + nonce + "." + verifier + "." + next, Path: "/auth/callback",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, s.oidc.authURL(state, nonce, verifier), http.StatusFound)
}

// handleCallback finishes the sign-in: the state must match the cookie,
// the code is exchanged with the verifier, the ID token verified with the
// nonce, and the e-mail matched to a working person of the directory.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		s.fail(w, r, onus.Errorf(onus.ENOTFOUND, "sign-in through an identity provider is not configured (serve.oidc)"))
		return
	}
	if !s.signin.allow(s.clientIP(r)) {
		s.tooMany(w, r, s.signin, "Too many sign-in attempts from your address")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/callback", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	c, err := r.Cookie(oidcCookie)
	parts := []string{}
	if err == nil {
		parts = strings.SplitN(c.Value, ".", 4)
	}
	q := r.URL.Query()
	if len(parts) != 4 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(parts[0])) != 1 {
		s.refuse(w, r, http.StatusBadRequest, "This sign-in answer does not match a sign-in started here (state mismatch). Start again.")
		return
	}
	if e := q.Get("error"); e != "" {
		s.refuse(w, r, http.StatusForbidden, "Your identity provider refused the sign-in: "+e)
		return
	}
	email, err := s.oidc.exchange(r.Context(), q.Get("code"), parts[2], parts[1], s.Ops.Now)
	if err != nil {
		if se, ok := err.(*errSignIn); ok {
			s.refuse(w, r, http.StatusForbidden, "Sign-in refused: "+se.msg+".")
			return
		}
		s.fail(w, r, err)
		return
	}
	sub, err := s.Authz.SignIn(r.Context(), email, "oidc")
	if err != nil {
		s.refuseSubject(w, r, err)
		return
	}
	s.startSession(w, r, sub.Email, "oidc", parts[3])
}

func (s *Server) refuseSubject(w http.ResponseWriter, r *http.Request, err error) {
	if rf, ok := err.(*authz.Refusal); ok {
		_ = s.Store.Audit(r.Context(), "anonymous", "signin.refused", "", rf.Message)
		s.refuse(w, r, http.StatusForbidden, rf.Message)
		return
	}
	s.fail(w, r, err)
}

// handleDemoSignIn signs in as a person picked from the directory. It
// exists only when the server runs for "onus demo".
func (s *Server) handleDemoSignIn(w http.ResponseWriter, r *http.Request) {
	if !s.Options.DemoSignIn {
		s.fail(w, r, onus.Errorf(onus.ENOTFOUND, "the demo sign-in is off"))
		return
	}
	sub, err := s.Authz.SignIn(r.Context(), r.PostFormValue("email"), "demo")
	if err != nil {
		s.refuseSubject(w, r, err)
		return
	}
	s.startSession(w, r, sub.Email, "demo", r.PostFormValue("next"))
}

// handleBreakGlass signs in the local administrator with a password
// checked against a bcrypt hash. Off unless serve.break_glass is set.
func (s *Server) handleBreakGlass(w http.ResponseWriter, r *http.Request) {
	bg := s.Config.Serve.BreakGlass
	if s.Options.BreakGlassHash == "" || bg == nil {
		s.fail(w, r, onus.Errorf(onus.ENOTFOUND, "break-glass sign-in is off"))
		return
	}
	if !s.signin.allow(s.clientIP(r)) {
		s.tooMany(w, r, s.signin, "Too many sign-in attempts from your address")
		return
	}
	user, pw := r.PostFormValue("user"), r.PostFormValue("password")
	hashErr := bcrypt.CompareHashAndPassword([]byte(s.Options.BreakGlassHash), []byte(pw))
	if subtle.ConstantTimeCompare([]byte(user), []byte(bg.User)) != 1 || hashErr != nil {
		_ = s.Store.Audit(r.Context(), "anonymous", "signin.break-glass.refused", "", "from "+s.clientIP(r))
		s.refuse(w, r, http.StatusForbidden, "Wrong break-glass user or password.")
		return
	}
	s.Log.Warn("break-glass sign-in", logRemote, s.clientIP(r))
	s.startSession(w, r, "break-glass:"+bg.User, "break-glass", "/findings")
}

// handleSignOut revokes the session.
func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	if se := sessionOf(r); se != nil {
		if err := s.Store.RevokeSession(r.Context(), se.ID, se.Email); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	http.Redirect(w, r, "/signin?done=signedout", http.StatusSeeOther)
}

// handleHome sends people to their page.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	if authz.FromContext(r.Context()) == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/me", http.StatusSeeOther)
}
