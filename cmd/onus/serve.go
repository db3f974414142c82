package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/authz"
	"github.com/onus-sec/onus/config"
	webhttp "github.com/onus-sec/onus/http"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/notify"
	"github.com/onus-sec/onus/store"
)

// serveEnv is what a background job started beside the web server gets.
type serveEnv struct {
	Config  *config.Config
	Store   *store.DB
	Log     *slog.Logger // the base logger: each job names its subsystem
	Metrics prometheus.Registerer
	// Business is the clock evaluations and nudges run as; Wall is the
	// machine's clock.
	Business onus.Clock
	Wall     onus.Clock
	Actor    string
	// Schedule runs the loop (the schedule: section) beside the server.
	Schedule bool
}

// backgroundJobs are started by "onus serve" beside the HTTP server and
// stopped with it (SIGTERM): the scheduler registers itself here. The
// first error of a job or the server stops them all.
var backgroundJobs []func(env *serveEnv) (func(context.Context) error, error)

type serveFlags struct {
	listen   string
	tlsCert  string
	tlsKey   string
	schedule bool
	// metrics is the address of a second listener that serves /metrics
	// without a token; empty for none.
	metrics string
	// now starts business time at this instant (it then runs with the
	// machine's clock): for tests and rehearsals on dated data. Hidden.
	now string
}

func (f *serveFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "listen", envOr("ONUS_LISTEN", "127.0.0.1:8080"), "address to listen on [$ONUS_LISTEN]")
	cmd.Flags().StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (overrides serve.tls.cert)")
	cmd.Flags().StringVar(&f.tlsKey, "tls-key", "", "the certificate's key (overrides serve.tls.key)")
	cmd.Flags().StringVar(&f.metrics, "metrics-listen", os.Getenv("ONUS_METRICS_LISTEN"), "also serve /metrics without a token on this address, for Prometheus on a private network (127.0.0.1:9464); on --listen, /metrics needs a token with the metrics scope [$ONUS_METRICS_LISTEN]")
	cmd.Flags().StringVar(&f.now, "now", "", "start business time at this instant; it then runs with the clock (tests, rehearsals on dated data)")
	cmd.Flags().MarkHidden("now")
	cmd.Flags().BoolVar(&f.schedule, "schedule", true, "run the loop beside the web application: sync, evaluate, plan and deliver on the schedule: section (docs/schedule.md)")
}

func (a *app) serveCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the web application and API everyone signs in to",
		Long: `serve runs onus's web application and JSON API (/api/v1) on the store of
a configuration. People sign in through the organisation's identity provider
(serve.oidc in onus.yaml) and see what is theirs: their open items, their
team's, the approvals waiting for them; security administrators and auditors
see everything. /healthz and /readyz are for operations; /metrics needs a
service token with the metrics scope, or is served without one on
--metrics-listen. Beside the web application, serve runs the loop of the
schedule: section (--schedule=false turns it off).

Sign-in, roles, rate limits, TLS and reverse proxies are set under serve: in
onus.yaml; see docs/serving.md. The CLI's except, outbox resend/confirm,
link and unlink act through a server with --server URL --token onus_….`,
		Example: `  onus serve --config /etc/onus --listen 127.0.0.1:8080 --metrics-listen 127.0.0.1:9464
  onus demo --serve                     # the bundled example with a demo sign-in
  onus token create --service prometheus --scopes metrics --expires 366d   # for /metrics on --listen`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			business := onus.Clock(onus.ClockFunc(time.Now))
			if f.now != "" {
				t0, err := a.parseNow(f.now)
				if err != nil {
					return err
				}
				wall0 := time.Now()
				business = onus.ClockFunc(func() time.Time { return t0.Add(time.Since(wall0)) })
			}
			db, err := store.Open(cmd.Context(), a.databasePath(cfg))
			if err != nil {
				return err
			}
			defer db.Close()
			return a.serve(cmd, cfg, db, f, cfg.Serve.DemoSignIn, business)
		},
	}
	f.add(cmd)
	return cmd
}

// serve runs the web server until the command's context ends.
func (a *app) serve(cmd *cobra.Command, cfg *config.Config, db *store.DB, f serveFlags, demo bool, business onus.Clock) error {
	ctx := cmd.Context()
	level := slog.LevelInfo
	if cmd.Flags().Changed("log-level") || cmd.Root().PersistentFlags().Changed("log-level") {
		_ = level.UnmarshalText([]byte(a.logLevel))
	}
	base := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	log := base.With(onus.LogSubsystem, "serve")
	db.SetLog(base.With(onus.LogSubsystem, "store"))
	opt := webhttp.Options{DemoSignIn: demo}
	if o := cfg.Serve.OIDC; o != nil {
		s, err := notify.Secret(o.ClientSecret)
		if err != nil {
			return onus.Errorf(onus.EINVALID, "serve.oidc.client_secret: %s", onus.ErrorMessage(err))
		}
		opt.OIDCClientSecret = s
	}
	if bg := cfg.Serve.BreakGlass; bg != nil {
		h, err := notify.Secret(bg.PasswordHash)
		if err != nil {
			return onus.Errorf(onus.EINVALID, "serve.break_glass.password_hash: %s", onus.ErrorMessage(err))
		}
		opt.BreakGlassHash = h
	}
	cert, key := f.tlsCert, f.tlsKey
	if cert == "" && cfg.Serve.TLS != nil {
		cert, key = abs(cfg.Dir, cfg.Serve.TLS.Cert), abs(cfg.Dir, cfg.Serve.TLS.Key)
	}
	opt.TLS = cert != ""
	if !demo && cfg.Serve.OIDC == nil && opt.BreakGlassHash == "" {
		// The pages and tokens still work for scripts, but no person can
		// sign in: say so rather than serve a sign-in page with no way in.
		log.Warn("no sign-in method is configured: set serve.oidc (docs/serving.md) or serve.break_glass; only API tokens work")
		fmt.Fprintf(a.stderr, "onus: warning: no sign-in method is configured in %s (serve.oidc or serve.break_glass): nobody can sign in, only API tokens work\n", cfg.File)
	}
	opt.AcceptShrink = func(ctx context.Context, source, actor string) error {
		m := &monitor.Monitor{Config: cfg, Store: db, Log: log, Actor: "web:" + actor}
		srep, err := m.Sync(ctx, monitor.SyncOptions{Only: []string{source}, AcceptShrink: []string{source}})
		if err != nil {
			return err
		}
		_, err = m.Eval(ctx, business.Now(), srep.Snapshots)
		return err
	}
	opt.RefsExist = func(ctx context.Context, refs ...string) error {
		inv, err := monitor.LoadInventory(ctx, cfg, db)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if !inv.RefExists(ref) {
				return onus.Errorf(onus.ENOTFOUND, "%s names no record or entity (a record is source:record-id; an entity id is kind:key:value)", ref)
			}
		}
		return nil
	}
	db.SetPool(8)
	if err := db.Optimize(ctx); err != nil {
		log.Warn("optimize", onus.LogError, err.Error())
	}
	az := authz.New(db, cfg, business)
	srv, err := webhttp.New(ctx, az, log, a.clock, opt)
	if err != nil {
		return err
	}
	env := &serveEnv{Config: cfg, Store: db, Log: base, Metrics: srv.Registry(), Business: business, Wall: a.clock, Actor: actor(), Schedule: f.schedule && !demo}
	var jobs []func(context.Context) error
	for _, mk := range backgroundJobs {
		job, err := mk(env)
		if err != nil {
			return err
		}
		if job != nil {
			jobs = append(jobs, job)
		}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return onus.Errorf(onus.EINVALID, "serve: cannot listen on %s: %v", f.listen, err)
	}
	if f.metrics != "" {
		mln, err := net.Listen("tcp", f.metrics)
		if err != nil {
			ln.Close()
			return onus.Errorf(onus.EINVALID, "serve: --metrics-listen: cannot listen on %s: %v", f.metrics, err)
		}
		log.Info("serving metrics", "address", "http://"+mln.Addr().String()+"/metrics")
		jobs = append(jobs, metricsJob(mln, srv.MetricsHandler(), log))
	}
	scheme := "http"
	if opt.TLS {
		scheme = "https"
	}
	log.Info("listening", "address", ln.Addr().String(), "tls", opt.TLS, "demo_signin", demo, "oidc", cfg.Serve.OIDC != nil)
	a.printf("onus is serving on %s://%s/%s\n", scheme, ln.Addr().String(), demoHint(demo))
	return srv.Serve(ctx, ln, cert, key, jobs...)
}

func demoHint(demo bool) string {
	if demo {
		return " (demo sign-in: pick anyone; press Ctrl-C to stop)"
	}
	return ""
}

func abs(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// metricsJob serves /metrics on its own listener until ctx ends.
func metricsJob(ln net.Listener, h http.Handler, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		errs := make(chan error, 1)
		go func() { errs <- srv.Serve(ln) }()
		select {
		case err := <-errs:
			return fmt.Errorf("metrics listener: %w", err)
		case <-ctx.Done():
		}
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	}
}
