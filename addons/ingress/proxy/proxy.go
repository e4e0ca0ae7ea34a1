// Package proxy is the ingress controller's data path: an http.Handler
// that routes each request by the current routes.Table straight to a
// backend pod (never through the Service VIP), round robin over the ready
// endpoints, over a keep-alive connection pool, with one retry on another
// endpoint when a connection fails, X-Forwarded-* headers, WebSocket
// upgrades, and Prometheus metrics. The table is swapped atomically:
// requests in flight finish with the table they started with.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"minik8s/addons/ingress/routes"
)

// Options tune a Proxy; zero values take the defaults named.
type Options struct {
	// ConnectTimeout bounds dialing an endpoint before the request goes to
	// the next one (default 1s). Endpoints are pods on the cluster's own
	// bridges, which answer a SYN at once; one that does not is most
	// likely a pod just deleted whose address is still listed until the
	// Endpoints change arrives, and TCP ignores the host-unreachable
	// answer while it connects, so only this bound ends the wait.
	ConnectTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a backend's response
	// headers after the request is sent (default 60s).
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes pooled connections idle this long (default 90s).
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost is the keep-alive pool size per endpoint (default 64).
	MaxIdleConnsPerHost int
	// Registry receives the metrics (default: a new registry, see Registry).
	Registry *prometheus.Registry
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Proxy routes requests by its current Table. Use New; it is safe for
// concurrent use.
type Proxy struct {
	table     atomic.Pointer[routes.Table]
	rr        sync.Map // backend key -> *atomic.Uint64
	transport *conns
	rp        *httputil.ReverseProxy
	log       *slog.Logger
	reg       *prometheus.Registry
	fallback  *tls.Certificate
	generated atomic.Int64 // tables swapped in

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// counters and observers cache the vectors' children: looking a
	// child up hashes its label values under a lock on every request.
	counters  sync.Map // requestLabels -> prometheus.Counter
	observers sync.Map // ingress -> prometheus.Observer
	retries   prometheus.Counter
	reloads   prometheus.Counter
	lastLoad  prometheus.Gauge
}

// New returns a Proxy serving the empty table (every request 404) until
// the first Swap.
func New(o Options) (*Proxy, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 60 * time.Second
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = 64
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	fallback, err := selfSignedCertificate()
	if err != nil {
		return nil, fmt.Errorf("fallback certificate: %w", err)
	}
	p := &Proxy{log: o.Logger, reg: o.Registry, fallback: fallback}
	p.table.Store(routes.Empty())
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	std := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          0, // no global cap: MaxIdleConnsPerHost bounds each endpoint
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       o.IdleConnTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		// Backends are pods speaking plain HTTP/1.1 (Upgrade needs it).
		ForceAttemptHTTP2: false,
		// Pass bodies through as the backend encoded them: the transport
		// must not ask for gzip and decompress on the client's behalf.
		DisableCompression: true,
	}
	p.transport = &conns{dialer: dialer, headerTimeout: o.ResponseHeaderTimeout, idleTimeout: o.IdleConnTimeout,
		maxIdle: o.MaxIdleConnsPerHost, std: std}
	p.rp = &httputil.ReverseProxy{
		Rewrite:      p.rewrite,
		Transport:    &retryTransport{p: p},
		ErrorHandler: p.errorHandler,
		ErrorLog:     slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
		// Reuse the copy buffers: without a pool ReverseProxy allocates
		// (and zeroes) 32 KiB for every response.
		BufferPool: bufferPool{},
		// FlushInterval 0: a response of known length goes out in one
		// write; ReverseProxy flushes streams (server-sent events, chunked
		// bodies of unknown length) after every write by itself.
	}
	p.initMetrics()
	return p, nil
}

// Swap makes t the routing table of every request that starts from now
// on; requests in flight keep the table they started with.
func (p *Proxy) Swap(t *routes.Table) {
	p.table.Store(t)
	p.generated.Add(1)
	p.reloads.Inc()
	p.lastLoad.SetToCurrentTime()
}

// Table is the current routing table.
func (p *Proxy) Table() *routes.Table { return p.table.Load() }

// Registry holds the proxy's metrics, for the /metrics handler.
func (p *Proxy) Registry() *prometheus.Registry { return p.reg }

// CloseIdleConnections empties the keep-alive pools.
func (p *Proxy) CloseIdleConnections() { p.transport.CloseIdleConnections() }

// TLSConfig presents, by SNI, the current table's certificate for the
// requested host, or a self-signed fallback (as ingress-nginx's "fake
// certificate") when no TLS section covers it.
func (p *Proxy) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := p.table.Load().Certificate(hello.ServerName); c != nil {
				return c, nil
			}
			return p.fallback, nil
		},
	}
}

// target is what the handler chose for one request, carried to the
// transport in the request's context.
type target struct {
	backend *routes.Backend
	first   uint64 // round-robin position of the first attempt
	retried bool
}

type targetKey struct{}

// ServeHTTP routes r by the current table.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// One allocation holds the request's recorder and target.
	st := &struct {
		rec recorder
		t   target
	}{rec: recorder{ResponseWriter: w, code: http.StatusOK}}
	rec := &st.rec
	_, be := p.table.Load().Match(r.Host, r.URL.Path)
	ingress := ""
	switch {
	case be == nil:
		http.Error(rec, "default backend - 404", http.StatusNotFound)
	case len(be.Endpoints) == 0:
		ingress = be.Ingress
		p.log.Debug("no endpoints", "ingress", be.Ingress, "backend", be.Key, "reason", be.Reason)
		http.Error(rec, "503 Service Temporarily Unavailable", http.StatusServiceUnavailable)
	default:
		ingress = be.Ingress
		t := &st.t
		t.backend, t.first = be, p.counter(be.Key).Add(1)-1
		p.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), targetKey{}, t)))
	}
	p.requestCounter(ingress, rec.code, r.Method).Inc()
	p.observer(ingress).Observe(time.Since(start).Seconds())
}

// counter is the round-robin position of a backend, shared by the tables
// that have it, so a reload does not send the next requests to the first
// endpoint again.
func (p *Proxy) counter(key string) *atomic.Uint64 {
	if c, ok := p.rr.Load(key); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := p.rr.LoadOrStore(key, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

type requestLabels struct {
	ingress string
	code    int
	method  string
}

func (p *Proxy) requestCounter(ingress string, code int, method string) prometheus.Counter {
	key := requestLabels{ingress, code, method}
	if c, ok := p.counters.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c := p.requests.WithLabelValues(ingress, strconv.Itoa(code), method)
	p.counters.Store(key, c)
	return c
}

func (p *Proxy) observer(ingress string) prometheus.Observer {
	if o, ok := p.observers.Load(ingress); ok {
		return o.(prometheus.Observer)
	}
	o := p.latency.WithLabelValues(ingress)
	p.observers.Store(ingress, o)
	return o
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// rewrite addresses the outgoing request to the chosen endpoint, keeps the
// client's Host, and sets the X-Forwarded-* headers from this hop only:
// incoming X-Forwarded-* are not trusted (ingress-nginx's default,
// use-forwarded-headers=false).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(targetKey{}).(*target)
	eps := t.backend.Endpoints
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = eps[t.first%uint64(len(eps))]
	pr.Out.Host = pr.In.Host
	clientIP, _, err := net.SplitHostPort(pr.In.RemoteAddr)
	if err != nil {
		clientIP = pr.In.RemoteAddr
	}
	proto, port := "http", "80"
	if pr.In.TLS != nil {
		proto, port = "https", "443"
	}
	switch la := pr.In.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		port = strconv.Itoa(la.Port) // without formatting the address
	case net.Addr:
		if _, p, err := net.SplitHostPort(la.String()); err == nil {
			port = p
		}
	}
	// One array backs the five values (Header.Set allocates one each);
	// each slice is capped so an Add to one cannot write into the next.
	v := [...]string{clientIP, clientIP, pr.In.Host, proto, port}
	h := pr.Out.Header
	h["X-Forwarded-For"] = v[0:1:1]
	h["X-Real-Ip"] = v[1:2:2]
	h["X-Forwarded-Host"] = v[2:3:3]
	h["X-Forwarded-Proto"] = v[3:4:4]
	h["X-Forwarded-Port"] = v[4:5:5]
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusBadGateway
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		code = http.StatusGatewayTimeout
	}
	if r.Context().Err() != nil {
		code = 499 // the client went away, as nginx counts it
	}
	t, _ := r.Context().Value(targetKey{}).(*target)
	if t != nil {
		p.log.Info("backend request failed", "ingress", t.backend.Ingress, "backend", t.backend.Key, "err", err)
	}
	w.WriteHeader(code)
}

// retryTransport sends a request to its target endpoint and, when the
// connection fails, once more to the next endpoint in round-robin order:
// any request when the dial failed (nothing was sent), only idempotent
// ones otherwise. Requests with a body are not retried, the body is gone.
type retryTransport struct{ p *Proxy }

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.p.transport.RoundTrip(req)
	if err == nil {
		return resp, nil
	}
	t, _ := req.Context().Value(targetKey{}).(*target)
	if t == nil || t.retried || len(t.backend.Endpoints) < 2 || req.Context().Err() != nil ||
		(req.Body != nil && req.Body != http.NoBody) || (!isDialError(err) && !idempotent(req.Method)) {
		return nil, err
	}
	t.retried = true
	next := t.backend.Endpoints[(t.first+1)%uint64(len(t.backend.Endpoints))]
	rt.p.retries.Inc()
	rt.p.log.Debug("retrying on another endpoint", "backend", t.backend.Key, "failed", req.URL.Host, "next", next, "err", err)
	r2 := req.Clone(req.Context())
	r2.URL.Host = next
	return rt.p.transport.RoundTrip(r2)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// isDialError is true when no connection could be made: the request was
// never sent.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// recorder keeps the status code for the metrics; Unwrap lets
// http.ResponseController (and so ReverseProxy's Upgrade hijack and
// flushes) reach the real ResponseWriter.
type recorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
