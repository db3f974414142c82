package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/config"
	"github.com/onus-sec/onus/connector"
	"github.com/onus-sec/onus/internal/columns"
	"github.com/onus-sec/onus/report"
	"github.com/onus-sec/onus/schedule"
	"github.com/onus-sec/onus/store"
)

func (a *app) scheduleCmd() *cobra.Command {
	var once bool
	var metricsAddr string
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run the loop by itself: syncs, evaluation, nudges and delivery on their schedules",
		Long: `schedule runs onus's loop until it is stopped (Ctrl-C or SIGTERM): each
source is synced on its own interval or cron expression (schedule: in
onus.yaml), every successful sync is followed by an evaluation, every
evaluation by nudge planning, and planned messages are delivered
continuously, each in its recipient's working hours. File sources are
watched: when an export changes it is synced and evaluated at once.

A job never overlaps itself. A tick missed while onus was not running is run
once at start. On SIGTERM no new job starts; running jobs may finish within
schedule.shutdown_grace, and delivery stops after the message in flight,
so nothing is left sending.

With --once it runs, in order, every job that is due now (its tick passed,
it never ran, or its last run was cut short) and what those trigger, then
exits: for a cron entry instead of a long-running process. Exit status 2
means a job failed.

"onus status" shows every job's last run, duration, error and next run.
"onus serve" runs the same scheduler beside the web app.`,
		Example: `  onus schedule --config acme
  onus schedule --once                    # from cron, every few minutes
  onus schedule --metrics 127.0.0.1:9464  # Prometheus metrics at /metrics`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			m, err := a.openMonitor(cmd)
			if err != nil {
				return err
			}
			defer m.Store.Close()
			log := a.log
			if f := cmd.Flag("log-level"); !once && (f == nil || !f.Changed) {
				// A service says what it does unless told otherwise.
				log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			clock := onus.ClockFunc(time.Now)
			s, err := schedule.New(schedule.Options{Config: m.Config, Store: m.Store, Clock: clock, Wall: clock, Log: log, Actor: actor()})
			if err != nil {
				return err
			}
			for _, c := range connector.Collectors() {
				if err := s.Metrics().Register(c); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			if once {
				runErr := s.RunDue(ctx)
				if errors.Is(runErr, context.Canceled) {
					return runErr
				}
				if err := a.writeJobs(ctx, m.Config, m.Store); err != nil {
					return err
				}
				if runErr != nil {
					return errUnhealthy
				}
				return nil
			}
			if metricsAddr != "" {
				stop, err := serveMetrics(ctx, metricsAddr, s, log)
				if err != nil {
					return err
				}
				defer stop()
			}
			a.printf("onus schedule: %d jobs on %s; stop with Ctrl-C or SIGTERM (onus status shows them)\n", len(s.Status()), m.Store.Path())
			return s.Run(ctx)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run the jobs that are due now, then exit (for cron)")
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (onus serve does this at /metrics)")
	return cmd
}

// serveMetrics serves the scheduler's metrics until the returned function
// is called.
func serveMetrics(ctx context.Context, addr string, s *schedule.Scheduler, log *slog.Logger) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, onus.Errorf(onus.EINVALID, "--metrics: cannot listen on %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics(), promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", onus.LogError, err)
		}
	}()
	log.Info("serving metrics", "addr", "http://"+l.Addr().String()+"/metrics")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// mainConfig reads onus.yaml only, for commands that read the store and
// must not fail on a problem elsewhere in the configuration.
func (a *app) mainConfig() *config.Config {
	f, err := os.Open(filepath.Join(a.configDir, config.MainFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	cfg, err := config.ParseMain(f.Name(), f)
	if err != nil || cfg == nil {
		return nil
	}
	cfg.Dir = a.configDir
	return cfg
}

// jobsReport is the scheduler's part of onus status -o json.
type jobsReport struct {
	Jobs  []schedule.JobStatus `json:"jobs"`
	Notes []string             `json:"notes,omitempty"`
}

func (a *app) readJobs(ctx context.Context, cfg *config.Config, db *store.DB) (*jobsReport, error) {
	st, notes, err := schedule.ReadStatus(ctx, cfg, db, a.clock.Now())
	if err != nil {
		return nil, err
	}
	return &jobsReport{Jobs: st, Notes: notes}, nil
}

func (a *app) writeJobs(ctx context.Context, cfg *config.Config, db *store.DB) error {
	rep, err := a.readJobs(ctx, cfg, db)
	if err != nil {
		return err
	}
	if a.output == report.JSON {
		return report.WriteJSON(a.stdout, rep)
	}
	writeJobTable(a.stdout, rep)
	return nil
}

// writeJobTable writes each job's schedule, last run and next run.
func writeJobTable(w io.Writer, rep *jobsReport) {
	tw := columns.NewWriter(w)
	fmt.Fprintln(tw, "JOB\tSCHEDULE\tLAST RUN\tTOOK\tRESULT\tNEXT\t")
	for _, j := range rep.Jobs {
		last, took, result := "never", "", ""
		if l := j.Last; l != nil && !l.Started.IsZero() {
			last = l.Started.Local().Format("2006-01-02 15:04:05")
			if l.Runs > 0 {
				took = l.Duration.Round(time.Millisecond).String()
			}
			switch {
			case j.Running:
				result = "running (" + j.Trigger + ")"
			case l.Interrupted:
				result = "interrupted: runs again at start"
			case l.Error != "":
				result = "FAILED: " + clip(l.Error, 70)
			default:
				result = "ok (" + clip(l.Trigger, 30) + ")"
			}
		}
		next := ""
		switch {
		case j.Due:
			next = "due now"
		case !j.Next.IsZero():
			next = j.Next.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", j.Name, j.Schedule, last, took, result, next)
	}
	tw.Flush()
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
