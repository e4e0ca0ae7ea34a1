// Package metrics holds kube-proxy's Prometheus metrics, named as
// Kubernetes names them where Kubernetes has them.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are one proxier's metrics; proxiers given none make an
// unregistered set.
type Metrics struct {
	SyncDuration        *prometheus.HistogramVec
	LastSync            prometheus.Gauge
	RulesTotal          *prometheus.GaugeVec
	RestoreFailures     prometheus.Counter
	ProgrammingLatency  prometheus.Histogram
	ChainsWritten       *prometheus.HistogramVec
	ServicesProxied     prometheus.Gauge
	UserspaceConns      *prometheus.CounterVec
	UserspaceDialErrors prometheus.Counter
}

// New creates the metrics and registers them on reg (nil: not registered).
func New(reg prometheus.Registerer) *Metrics {
	buckets := prometheus.ExponentialBuckets(0.001, 2, 15) // 1ms .. ~16s
	m := &Metrics{
		SyncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubeproxy_sync_proxy_rules_duration_seconds", Help: "How long one sync of the proxy rules took, by kind (full or partial).",
			Buckets: buckets,
		}, []string{"kind"}),
		LastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubeproxy_sync_proxy_rules_last_timestamp_seconds", Help: "When the proxy rules were last synced successfully (Unix seconds).",
		}),
		RulesTotal: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kubeproxy_sync_proxy_rules_iptables_total", Help: "Rules kube-proxy has in each iptables table after the last sync.",
		}, []string{"table"}),
		RestoreFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubeproxy_sync_proxy_rules_iptables_restore_failures_total", Help: "Failed iptables-restore runs.",
		}),
		ProgrammingLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kubeproxy_network_programming_duration_seconds", Help: "From kube-proxy seeing a Service or Endpoints change to the rules for it being applied.",
			Buckets: buckets,
		}),
		ChainsWritten: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubeproxy_sync_proxy_rules_chains_written", Help: "Chains rewritten by one sync, by table.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}, []string{"table"}),
		ServicesProxied: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubeproxy_services_proxied", Help: "Service ports the proxier currently programs.",
		}),
		UserspaceConns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubeproxy_userspace_connections_total", Help: "Connections (TCP) and sessions (UDP) the userspace proxy accepted, by protocol.",
		}, []string{"protocol"}),
		UserspaceDialErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubeproxy_userspace_backend_dial_errors_total", Help: "Failed connections to backends (each was retried on the next one).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.SyncDuration, m.LastSync, m.RulesTotal, m.RestoreFailures, m.ProgrammingLatency,
			m.ChainsWritten, m.ServicesProxied, m.UserspaceConns, m.UserspaceDialErrors)
	}
	return m
}
