package http

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/store"
)

// Log keys.
const (
	logRequestID = "request_id"
	logMethod    = "method"
	logPath      = "path"
	logStatus    = "status"
	logDuration  = "duration_ms"
	logUser      = "user"
	logRemote    = "remote"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keySession
	keyUser
	keyMetrics // a token with the metrics scope
)

// userNote lets the request log name who was signed in.
type userNote struct{ email string }

func noteUser(ctx context.Context, email string) {
	if n, ok := ctx.Value(keyUser).(*userNote); ok {
		n.email = email
	}
}

var requestSeq atomic.Uint64

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests gives each request an id (echoed in X-Request-Id), logs it
// when it ends, and turns a panic into a 500 that names the id.
func (s *Server) logRequests(next http.Handler) http.Handler {
	prefix := fmt.Sprintf("%x-", s.Ops.Now().UnixNano()&0xffffff)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := prefix + fmt.Sprint(requestSeq.Add(1))
		start := s.Ops.Now()
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Request-Id", id)
		note := &userNote{}
		r = r.WithContext(context.WithValue(context.WithValue(r.Context(), keyRequestID, id), keyUser, note))
		defer func() {
			if v := recover(); v != nil {
				s.Log.Error("panic", logRequestID, id, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					http.Error(sw, "internal error; request "+id, http.StatusInternalServerError)
				}
			}
			user := note.email
			s.Log.Info("request", logRequestID, id, logMethod, r.Method, logPath, r.URL.Path, logStatus, sw.status,
				logDuration, float64(s.Ops.Now().Sub(start).Microseconds())/1000, logRemote, s.clientIP(r), logUser, user)
		}()
		next.ServeHTTP(sw, r)
	})
}

// headers sets the security headers of every response. The pages load
// scripts and styles only from /static: no inline script or style, so
// the policy needs no unsafe-inline.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.https(r) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// trusted reports whether a request comes from a trusted proxy.
func (s *Server) trusted(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range s.proxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// https reports whether the client reached onus over TLS.
func (s *Server) https(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.trusted(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// clientIP is the peer's address, or with a trusted proxy the last
// address in X-Forwarded-For that is not a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !s.trusted(r) {
		return host
	}
	parts := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		p := strings.TrimSpace(parts[i])
		a, err := netip.ParseAddr(p)
		if err != nil {
			break
		}
		inside := false
		for _, pr := range s.proxies {
			if pr.Contains(a.Unmap()) {
				inside = true
			}
		}
		if !inside {
			return p
		}
	}
	return host
}

func (s *Server) cookieName() string {
	if s.secure {
		return "__Host-onus_session"
	}
	return "onus_session"
}

func (s *Server) csrfCookieName() string {
	if s.secure {
		return "__Host-onus_csrf"
	}
	return "onus_csrf"
}

// authenticate puts the subject in the context: from a bearer token, or
// from the session cookie. A request with neither goes on without one;
// the authz layer refuses what needs a subject.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		now := s.Ops.Now()
		if auth := r.Header.Get("Authorization"); auth != "" {
			tok, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok {
				s.fail(w, r, onus.Errorf(onus.EUNAUTHORIZED, "use Authorization: Bearer <token>"))
				return
			}
			if !s.tokens.allow(s.clientIP(r)) {
				s.tooMany(w, r, s.tokens, "too many requests with tokens from your address")
				return
			}
			t, err := s.Store.ActiveToken(ctx, authz.HashToken(strings.TrimSpace(tok)), now)
			if err != nil {
				s.fail(w, r, onus.Errorf(onus.EUNAUTHORIZED, "the token is not valid: it may have expired or been revoked"))
				return
			}
			if r.URL.Path == "/metrics" {
				if !t.HasScope(authz.ScopeMetrics) {
					s.fail(w, r, onus.Errorf(onus.EFORBIDDEN, "/metrics needs a token with the metrics scope (onus token create --service prometheus --scopes metrics)"))
					return
				}
				next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, keyMetrics, true)))
				return
			}
			if !t.HasScope("read") && !t.HasScope("write") {
				s.fail(w, r, onus.Errorf(onus.EFORBIDDEN, "this token may only read /metrics"))
				return
			}
			sub, err := s.tokenSubject(ctx, t)
			if err != nil {
				s.fail(w, r, onus.Errorf(onus.EUNAUTHORIZED, "the token's owner cannot sign in any more"))
				return
			}
			noteUser(ctx, sub.Email)
			next.ServeHTTP(w, r.WithContext(authz.WithSubject(ctx, sub)))
			return
		}
		c, err := r.Cookie(s.cookieName())
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r)
			return
		}
		se, err := s.Store.ActiveSession(ctx, authz.HashToken(c.Value), now)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		var sub *authz.Subject
		if user, ok := strings.CutPrefix(se.Email, "break-glass:"); ok && se.Method == "break-glass" {
			sub = authz.BreakGlass(user)
		} else if sub, err = s.Authz.Subject(ctx, se.Email, se.Method); err != nil {
			// Departed since signing in, or gone from the directory.
			next.ServeHTTP(w, r)
			return
		}
		noteUser(ctx, sub.Email)
		ctx = context.WithValue(authz.WithSubject(ctx, sub), keySession, se)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) tokenSubject(ctx context.Context, t *store.Token) (*authz.Subject, error) {
	var sub *authz.Subject
	if name, ok := strings.CutPrefix(t.Email, "service:"); ok {
		sub = &authz.Subject{Email: t.Email, Name: name + " (service)", Admin: t.Role == "admin", Auditor: t.Role == "auditor"}
	} else {
		var err error
		if sub, err = s.Authz.Subject(ctx, t.Email, "token"); err != nil {
			return nil, err
		}
	}
	sub.Method = "token"
	sub.ReadOnly = !t.HasScope("write")
	return sub, nil
}

func sessionOf(r *http.Request) *store.Session {
	se, _ := r.Context().Value(keySession).(*store.Session)
	return se
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// csrf protects every state change made with a cookie: the browser must
// say the request is same-origin (Sec-Fetch-Site or Origin), and the
// request must carry the session's CSRF token (a form field or the
// X-CSRF-Token header). Before sign-in, the token is a random cookie that
// the sign-in form repeats. Requests with a bearer token carry no ambient
// credential and need neither.
func (s *Server) csrf(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	deny := func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, onus.Errorf(onus.EFORBIDDEN, "this form has expired or did not come from onus: reload the page and try again"))
	}
	cop.SetDenyHandler(http.HandlerFunc(deny))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !unsafeMethod(r.Method) || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			next.ServeHTTP(w, r)
			return
		}
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue("csrf")
		}
		want := ""
		if se := sessionOf(r); se != nil {
			want = se.CSRF
		} else if c, err := r.Cookie(s.csrfCookieName()); err == nil {
			want = c.Value
		}
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			deny(w, r)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// limiter allows n events per key per window. Its counts live in this
// process: each replica of onus serve counts on its own, so behind a
// load balancer that spreads requests over N replicas a client may make
// up to N times as many.
type limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	clock  onus.Clock
	start  time.Time
	counts map[string]int
}

func newLimiter(n int, window time.Duration, clock onus.Clock) *limiter {
	return &limiter{n: n, window: window, clock: clock, counts: map[string]int{}}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if now.Sub(l.start) >= l.window {
		l.start, l.counts = now, map[string]int{}
	}
	l.counts[key]++
	return l.counts[key] <= l.n
}

// retryAfter is how long until the current window ends, in whole
// seconds, at least 1.
func (l *limiter) retryAfter() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	left := l.start.Add(l.window).Sub(l.clock.Now())
	secs := int((left + time.Second - 1) / time.Second)
	return max(secs, 1)
}

// codeRateLimited is the error code of a 429 answer.
const codeRateLimited = "rate_limited"

// tooMany answers 429 Too Many Requests with Retry-After: a JSON error to
// API clients and tokens, the sign-in page with the refusal to browsers.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, l *limiter, msg string) {
	wait := l.retryAfter()
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	s.Log.Warn("rate limited", logRemote, s.clientIP(r), logPath, r.URL.Path)
	msg = fmt.Sprintf("%s; try again in %d s", msg, wait)
	if isAPI(r) || r.URL.Path == "/metrics" || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]string{"code": codeRateLimited, "message": msg}})
		return
	}
	s.refuse(w, r, http.StatusTooManyRequests, msg+".")
}
