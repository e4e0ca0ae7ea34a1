package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the per-controller sync figures served on /metrics. A nil
// *Metrics records nothing.
type Metrics struct {
	syncs    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "controller_syncs_total", Help: "Syncs run, by controller.",
		}, []string{"controller"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "controller_sync_errors_total", Help: "Syncs that failed and were requeued, by controller.",
		}, []string{"controller"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "controller_sync_duration_seconds", Help: "Time spent in one sync, by controller.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"controller"}),
	}
	reg.MustRegister(m.syncs, m.errors, m.duration)
	return m
}

func (m *Metrics) observeSync(name string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.syncs.WithLabelValues(name).Inc()
	m.duration.WithLabelValues(name).Observe(d.Seconds())
	if err != nil {
		m.errors.WithLabelValues(name).Inc()
	}
}
