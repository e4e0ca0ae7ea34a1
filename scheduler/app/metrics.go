package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Results of a scheduling attempt, the values of the "result" label.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

// Metrics are the scheduler's Prometheus metrics, named as Kubernetes
// names them where an equivalent exists. Each Scheduler has its own
// registry, so several can run in one process (tests).
type Metrics struct {
	Registry *prometheus.Registry

	profile string

	attempts         *prometheus.CounterVec
	e2eLatency       *prometheus.HistogramVec
	algorithmLatency prometheus.Histogram
	bindingLatency   prometheus.Histogram
	queueMoves       *prometheus.CounterVec
	leader           prometheus.Gauge
}

// NewMetrics registers the metrics (plus Go and process collectors) in a
// new registry.
func NewMetrics(schedulerName string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	constLabels := prometheus.Labels{"profile": schedulerName}
	latencyBuckets := prometheus.ExponentialBuckets(0.001, 2, 16) // 1ms .. ~33s
	m := &Metrics{
		Registry: reg,
		profile:  schedulerName,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scheduler_schedule_attempts_total", ConstLabels: constLabels,
			Help: "Scheduling attempts by result: scheduled, unschedulable (no node fits) or error.",
		}, []string{"result"}),
		e2eLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scheduler_e2e_scheduling_duration_seconds", ConstLabels: constLabels, Buckets: latencyBuckets,
			Help: "Time from a pod entering the scheduling queue to its successful binding, including queueing and retries.",
		}, []string{"result"}),
		algorithmLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scheduler_scheduling_algorithm_duration_seconds", ConstLabels: constLabels,
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
			Help:    "Time to filter and score the nodes for one pod.",
		}),
		bindingLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "scheduler_binding_duration_seconds", ConstLabels: constLabels, Buckets: latencyBuckets,
			Help: "Time of the binding call to the apiserver.",
		}),
		queueMoves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scheduler_queue_incoming_pods_total", ConstLabels: constLabels,
			Help: "Unschedulable pods moved back to the active or backoff queue, by the cluster event that moved them.",
		}, []string{"event"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leader_election_master_status", ConstLabels: constLabels,
			Help: "1 while this instance holds the scheduler's lease (or runs without leader election).",
		}),
	}
	reg.MustRegister(m.attempts, m.e2eLatency, m.algorithmLatency, m.bindingLatency, m.queueMoves, m.leader)
	for _, r := range []string{resultScheduled, resultUnschedulable, resultError} {
		m.attempts.WithLabelValues(r)
	}
	return m
}

// registerQueue exposes the queue depth and cache sizes, read when scraped.
func (m *Metrics) registerQueue(pending func() (active, backoff, unschedulable int), cacheStats func() (nodes, pods, assumed int)) {
	depth := func(i int) func() float64 {
		return func() float64 {
			a, b, u := pending()
			return float64([]int{a, b, u}[i])
		}
	}
	size := func(i int) func() float64 {
		return func() float64 {
			n, p, a := cacheStats()
			return float64([]int{n, p, a}[i])
		}
	}
	for i, q := range []string{"active", "backoff", "unschedulable"} {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scheduler_pending_pods", ConstLabels: prometheus.Labels{"queue": q, "profile": m.profile},
			Help: "Pods waiting in the scheduling queue, by sub-queue.",
		}, depth(i)))
	}
	for i, t := range []string{"nodes", "pods", "assumed_pods"} {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scheduler_cache_size", ConstLabels: prometheus.Labels{"type": t, "profile": m.profile},
			Help: "Objects in the scheduler cache, by type.",
		}, size(i)))
	}
}
