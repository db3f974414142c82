package schedule

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/monitor"
	"github.com/onus-sec/onus/store"
)

// Metrics are the scheduler's Prometheus metrics, in Registry (nil when
// they were registered with another Registerer, such as onus serve's).
type Metrics struct {
	Registry *prometheus.Registry

	runs, failures *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	lastRun        *prometheus.GaugeVec
	running        *prometheus.GaugeVec
	syncDuration   *prometheus.HistogramVec
	syncRecords    *prometheus.GaugeVec
	syncHealthy    *prometheus.GaugeVec
}

// Metric names, for dashboards and alerts.
const (
	MetricJobRuns      = "onus_job_runs_total"
	MetricJobFailures  = "onus_job_failures_total"
	MetricJobDuration  = "onus_job_duration_seconds"
	MetricJobLastRun   = "onus_job_last_run_timestamp_seconds"
	MetricJobRunning   = "onus_job_running"
	MetricSyncDuration = "onus_sync_duration_seconds"
	MetricSyncRecords  = "onus_sync_records"
	MetricSyncHealthy  = "onus_source_healthy"
)

// newMetrics registers the metrics with reg; with a nil reg, in a new
// Registry that Metrics.Registry holds (onus schedule --metrics serves it).
func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	var registry *prometheus.Registry
	if reg == nil {
		registry = prometheus.NewRegistry()
		reg = registry
	} else if r, ok := reg.(*prometheus.Registry); ok {
		registry = r
	}
	buckets := []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	m := &Metrics{
		Registry: registry,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricJobRuns,
			Help: "Runs of each scheduled job, finished or failed."}, []string{"job"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricJobFailures,
			Help: "Runs of each scheduled job that ended with an error (a stop is not one)."}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricJobDuration,
			Help: "How long each scheduled job ran.", Buckets: buckets}, []string{"job"}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricJobLastRun,
			Help: "When each job's last run started (Unix seconds)."}, []string{"job"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricJobRunning,
			Help: "1 while the job runs."}, []string{"job"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricSyncDuration,
			Help: "How long reading each source took.", Buckets: buckets}, []string{"source"}),
		syncRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricSyncRecords,
			Help: "Records the last sync of each source returned."}, []string{"source"}),
		syncHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricSyncHealthy,
			Help: "1 when the last sync of the source was good, 0 when it failed or looked wrong."}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.failures, m.duration, m.lastRun, m.running, m.syncDuration, m.syncRecords, m.syncHealthy} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// known makes a job's series exist from the start, before its first run
// in this process (a counter at 0, "not running"), as Prometheus expects
// of label values known in advance, with the start of its last run on
// record, when there is one.
func (m *Metrics) known(job string, last *store.JobRun) {
	m.runs.WithLabelValues(job).Add(0)
	m.failures.WithLabelValues(job).Add(0)
	m.running.WithLabelValues(job).Set(0)
	if last != nil && !last.Started.IsZero() {
		m.lastRun.WithLabelValues(job).Set(float64(last.Started.UnixMilli()) / 1000)
	}
}

func (m *Metrics) observe(job string, run store.JobRun) {
	m.running.WithLabelValues(job).Set(0)
	m.runs.WithLabelValues(job).Inc()
	if run.Error != "" && !run.Interrupted {
		m.failures.WithLabelValues(job).Inc()
	} else {
		m.failures.WithLabelValues(job).Add(0) // the series exists from the first run
	}
	m.duration.WithLabelValues(job).Observe(run.Duration.Seconds())
	m.lastRun.WithLabelValues(job).Set(float64(run.Started.UnixMilli()) / 1000)
}

func (m *Metrics) synced(sr monitor.SourceReport) {
	m.syncDuration.WithLabelValues(sr.Source).Observe(sr.Seconds)
	m.syncRecords.WithLabelValues(sr.Source).Set(float64(sr.Records))
	ok := 0.0
	if sr.Status == onus.SyncOK {
		ok = 1
	}
	m.syncHealthy.WithLabelValues(sr.Source).Set(ok)
}
