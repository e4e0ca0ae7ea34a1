package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"minik8s/api/component"
)

func (p *Proxy) initMetrics() {
	p.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ingress_requests_total",
		Help: "Requests proxied, by Ingress (namespace/name, empty for the default 404 backend), status code and method.",
	}, []string{"ingress", "code", "method"})
	p.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ingress_request_duration_seconds",
		Help:    "Time from receiving a request to the end of its response, by Ingress.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"ingress"})
	p.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ingress_upstream_retries_total",
		Help: "Requests sent a second time to another endpoint after a connection failure.",
	})
	p.reloads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ingress_config_reloads_total",
		Help: "Routing tables swapped in.",
	})
	p.lastLoad = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ingress_config_last_reload_timestamp_seconds",
		Help: "When the current routing table was swapped in (Unix time).",
	})
	p.reg.MustRegister(p.requests, p.latency, p.retries, p.reloads, p.lastLoad,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// HealthMux serves /healthz and /livez (the process answers), /readyz
// (also ready(): the caches synced and a table was built) and /metrics,
// through the component base every daemon shares.
func (p *Proxy) HealthMux(ready func() bool) http.Handler {
	h := component.NewHealth(p.reg)
	h.AddReadyz(component.NamedCheck("routes", func(context.Context) error {
		if ready != nil && !ready() {
			return errors.New("caches not synced")
		}
		return nil
	}))
	return h.Handler()
}

// selfSignedCertificate is presented for server names no Ingress has a
// certificate for.
func selfSignedCertificate() (*tls.Certificate, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "minik8s ingress fallback certificate"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}, nil
}
