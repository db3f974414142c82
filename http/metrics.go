package http

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/store"
)

// metrics are the server's Prometheus metrics: request latency by route,
// and the findings and outbox counted from the store at each scrape.
type metrics struct {
	clock    onus.Clock
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
}

// Registry lets other parts (the scheduler) register their metrics on
// the same /metrics.
func (s *Server) Registry() prometheus.Registerer { return s.metrics.reg }

func newMetrics(st *store.DB, clock onus.Clock) *metrics {
	m := &metrics{clock: clock, reg: prometheus.NewRegistry()}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "onus_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.005, .01, .025, .05, .1, .2, .3, .5, 1, 2.5, 5},
	}, []string{"route", "code"})
	m.reg.MustRegister(m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{store: st})
	return m
}

func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.clock.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		code := sw.status
		if code == 0 {
			code = 200
		}
		m.duration.WithLabelValues(route, http.StatusText(code)).Observe(m.clock.Now().Sub(start).Seconds())
	})
}

// MetricsHandler serves the metrics without authentication, for a
// separate listener (onus serve --metrics-listen) that only the
// monitoring network reaches.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

// metricsGate lets through only the requests that authenticate restricted
// to /metrics: a bearer token with the metrics scope. The counts are the
// whole organisation's, so neither a person's session nor their token
// reads them.
func (s *Server) metricsGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, _ := r.Context().Value(keyMetrics).(bool); ok {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="onus metrics"`)
		s.fail(w, r, onus.Errorf(onus.EUNAUTHORIZED, "/metrics needs Authorization: Bearer with a token of the metrics scope (onus token create --service prometheus --scopes metrics), or scrape the --metrics-listen address"))
	})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

var (
	findingsDesc = prometheus.NewDesc("onus_findings", "Findings by state and severity.", []string{"state", "severity"}, nil)
	outboxDesc   = prometheus.NewDesc("onus_outbox_messages", "Outbox messages by status.", []string{"status"}, nil)
)

// storeCollector counts from the store when Prometheus scrapes.
type storeCollector struct{ store *store.DB }

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- findingsDesc
	ch <- outboxDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if fs, err := c.store.FindingCounts(ctx); err == nil {
		for _, f := range fs {
			ch <- prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(f.Count), f.Key, f.Key2)
		}
	}
	if os, err := c.store.OutboxCounts(ctx); err == nil {
		for _, o := range os {
			ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(o.Count), o.Key)
		}
	}
}
