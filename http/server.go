// Package http is the web application and JSON API of "onus serve": the
// pages everyone signs in to, and /api/v1 for scripts and the CLI.
//
// Routes are declared in one place (routes.go), one handler per file.
// Pages are html/template files embedded in the binary and parsed at
// start-up, so a broken template stops the server before it listens.
// Handlers never read the store directly: they go through authz.Service,
// which restricts every query to what the signed-in person may see.
package http

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are the settings of a server that do not come from the
// configuration, or are resolved from it (secrets read from env: and
// file:).
type Options struct {
	// DemoSignIn lets anyone pick a person and act as them ("onus demo").
	DemoSignIn bool
	// OIDCClientSecret is the resolved client secret.
	OIDCClientSecret string
	// BreakGlassHash is the resolved bcrypt hash of the break-glass
	// administrator's password; empty turns break-glass off.
	BreakGlassHash string
	// TLS is set when the server terminates TLS itself.
	TLS bool
	// SignInRate is how many sign-in attempts one address may make per
	// minute (serve.rate_limits.signin_per_minute, else 10).
	SignInRate int
	// TokenRate is how many requests with a bearer token one address may
	// make per minute (serve.rate_limits.token_per_minute, else 600).
	TokenRate int
	// AcceptShrink syncs a source accepting a large drop in records, then
	// evaluates; nil hides the action.
	AcceptShrink func(ctx context.Context, source, actor string) error
	// RefsExist checks that each reference names a record or entity of
	// the current inventory, for links made by hand; nil refuses them.
	RefsExist func(ctx context.Context, refs ...string) error
}

// Server serves the web application and the API.
type Server struct {
	Authz  *authz.Service
	Store  *store.DB
	Config *config.Config
	Log    *slog.Logger
	// Ops is the machine's clock: sessions, tokens, rate limits.
	Ops     onus.Clock
	Options Options

	pages   map[string]*template.Template
	mux     *http.ServeMux
	oidc    *oidcClient
	metrics *metrics
	signin  *limiter
	tokens  *limiter
	proxies []netip.Prefix
	secure  bool
}

// New builds a server: templates are parsed, routes registered and the
// identity provider discovered (a provider that cannot be reached fails
// here, not at the first sign-in).
func New(ctx context.Context, az *authz.Service, log *slog.Logger, ops onus.Clock, opt Options) (*Server, error) {
	s := &Server{Authz: az, Store: az.Store, Config: az.Config, Log: log, Ops: ops, Options: opt}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	cfg := &az.Config.Serve
	if opt.DemoSignIn && cfg.OIDC != nil {
		return nil, onus.Errorf(onus.EINVALID, "serve: the demo sign-in lets anyone act as anyone; it cannot run beside serve.oidc")
	}
	for _, p := range cfg.TrustedProxies {
		if pr, err := netip.ParsePrefix(p); err == nil {
			s.proxies = append(s.proxies, pr)
		} else if a, err := netip.ParseAddr(p); err == nil {
			s.proxies = append(s.proxies, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	s.secure = opt.TLS || strings.HasPrefix(cfg.URL, "https://")
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	if cfg.OIDC != nil {
		c, err := newOIDC(ctx, cfg, opt.OIDCClientSecret)
		if err != nil {
			return nil, err
		}
		s.oidc = c
	}
	rate, tokenRate := opt.SignInRate, opt.TokenRate
	if rl := cfg.RateLimits; rl != nil {
		if rate <= 0 {
			rate = rl.SignIn
		}
		if tokenRate <= 0 {
			tokenRate = rl.Token
		}
	}
	if rate <= 0 {
		rate = 10
	}
	if tokenRate <= 0 {
		tokenRate = 600
	}
	s.signin = newLimiter(rate, time.Minute, ops)
	s.tokens = newLimiter(tokenRate, time.Minute, ops)
	s.metrics = newMetrics(s.Store, ops)
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.mux.Handle(rt.Method+" "+rt.Path, s.metrics.instrument(rt.Method+" "+rt.Path, rt.Handler))
	}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", s.metrics.instrument("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static))))
	s.mux.Handle("GET /metrics", s.metricsGate(s.metrics.handler()))
	s.mux.Handle("/api/", s.metrics.instrument("/api/ (no route)", http.HandlerFunc(s.handleNoRoute)))
	return s, nil
}

// handleNoRoute answers an API call that no route takes, in JSON like
// every other API error: 405 with the methods the path takes (its Allow
// header), or 404.
func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := s.mux.Handler(other); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		s.fail(w, r, onus.Errorf(onus.ENOTFOUND, "no API route %s", r.URL.Path))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "method_not_allowed",
		"message": fmt.Sprintf("%s takes %s, not %s", r.URL.Path, strings.Join(allow, ", "), r.Method)}})
}

// Handler returns the server's handler with every middleware.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	h = s.csrf(h)
	h = s.authenticate(h)
	h = s.headers(h)
	h = s.logRequests(h)
	return h
}

// Serve listens on ln until ctx ends, then shuts down gracefully. The
// background runners (the scheduler) run beside it with a context that
// ends with the server's; the first error of either ends both, and Serve
// returns only when every runner has returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener, certFile, keyFile string, background ...func(context.Context) error) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 1+len(background))
	go func() {
		var err error
		if certFile != "" {
			err = srv.ServeTLS(ln, certFile, keyFile)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errs <- err
	}()
	var jobs sync.WaitGroup
	for _, run := range background {
		jobs.Add(1)
		go func() {
			defer jobs.Done()
			err := run(ctx)
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			if err != nil {
				err = fmt.Errorf("serve: background job: %w", err)
			}
			errs <- err
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
	}
	cancel()
	shut, done := context.WithTimeout(context.Background(), 20*time.Second)
	defer done()
	if err := srv.Shutdown(shut); err != nil && first == nil {
		first = err
	}
	// A job finishes, or hands back, what it was doing before onus exits.
	jobs.Wait()
	return first
}
