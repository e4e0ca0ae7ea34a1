package server

import (
	"context"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Metrics are the apiserver's request metrics, by verb and resource.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
}

// NewMetrics registers the request metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Requests by verb, resource and gRPC code.",
		}, []string{"verb", "resource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_request_duration_seconds",
			Help:    "Request latency by verb and resource (watches: until the stream is set up is not separated; they count their whole life).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"verb", "resource"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_registered_watchers",
			Help: "Open watch streams by resource.",
		}, []string{"resource"}),
	}
	reg.MustRegister(m.requests, m.latency, m.inflight)
	return m
}

type resourced interface{ GetResource() string }

func verbOf(method string) string { return strings.ToLower(path.Base(method)) }

func (m *Metrics) observe(verb, resource string, start time.Time, err error) {
	m.requests.WithLabelValues(verb, resource, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(verb, resource).Observe(time.Since(start).Seconds())
}

func (m *Metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	res := ""
	if r, ok := req.(resourced); ok {
		res = r.GetResource()
	}
	verb := verbOf(info.FullMethod)
	if u, ok := req.(interface{ GetSubresource() string }); ok && u.GetSubresource() != "" {
		verb += "/" + u.GetSubresource()
	}
	m.observe(verb, res, start, err)
	return resp, err
}

// recvStream captures the resource of the first message of a stream.
type recvStream struct {
	grpc.ServerStream
	resource string
	m        *Metrics
}

func (s *recvStream) RecvMsg(msg any) error {
	err := s.ServerStream.RecvMsg(msg)
	if r, ok := msg.(resourced); ok && err == nil && s.resource == "" {
		s.resource = r.GetResource()
		s.m.inflight.WithLabelValues(s.resource).Inc()
	}
	return err
}

func (m *Metrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	rs := &recvStream{ServerStream: ss, m: m}
	err := h(srv, rs)
	if rs.resource != "" {
		m.inflight.WithLabelValues(rs.resource).Dec()
	}
	m.observe(verbOf(info.FullMethod), rs.resource, start, err)
	return err
}
