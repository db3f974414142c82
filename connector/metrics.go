package connector

import "github.com/prometheus/client_golang/prometheus"

// Metrics of every pull in this process, by source: what a scrape of
// onus serve's or onus schedule's /metrics shows of the connectors. They
// are package-level because a process reads each source through one
// connector at a time; Collectors registers them.
var (
	metricPages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onus_connector_pages_total",
		Help: "Pages a connector read, by source."}, []string{"source"})
	metricRecords = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onus_connector_records_total",
		Help: "Records a connector read, by source."}, []string{"source"})
	metricRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onus_connector_requests_total",
		Help: "HTTP requests a connector made, retries included, by source."}, []string{"source"})
	metricRetries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onus_connector_retries_total",
		Help: "Requests tried again after a timeout, a 5xx, a 429 or a 503, by source."}, []string{"source"})
	metricWaited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onus_connector_rate_limit_wait_seconds_total",
		Help: "Time spent waiting for vendors' rate limits, Retry-After and retry backoff, by source."}, []string{"source"})
	metricPulls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onus_connector_pulls_total",
		Help: "Pulls by source, kind (full, incremental) and result (ok, failed)."}, []string{"source", "kind", "result"})
)

// Collectors returns the connectors' metrics, to register with a
// Prometheus registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{metricPages, metricRecords, metricRequests, metricRetries, metricWaited, metricPulls}
}

// record adds one pull's figures to the metrics.
func record(src, kind string, pages, records int, st *Stats, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	metricPages.WithLabelValues(src).Add(float64(pages))
	metricRecords.WithLabelValues(src).Add(float64(records))
	metricRequests.WithLabelValues(src).Add(float64(st.Requests.Load()))
	metricRetries.WithLabelValues(src).Add(float64(st.Retries.Load()))
	metricWaited.WithLabelValues(src).Add(float64(st.Waited.Load()) / 1e9)
	metricPulls.WithLabelValues(src, kind, result).Inc()
}
