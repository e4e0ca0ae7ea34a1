package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dashboard's own: requests by page and status, and the
// event streams open now.
type metrics struct {
	requests *prometheus.CounterVec
	streams  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dashboard_http_requests_total",
			Help: "Requests served, by route and status code.",
		}, []string{"route", "code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dashboard_event_streams",
			Help: "Server-sent event streams open now.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.streams)
	}
	return m
}

// request counts r by its route pattern (never by its path, which names
// objects and would grow the label set without bound).
func (m *metrics) request(r *http.Request, code int) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	if i := strings.IndexByte(route, ' '); i >= 0 {
		route = route[i+1:]
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}
