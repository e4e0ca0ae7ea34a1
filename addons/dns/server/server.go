// Package server is the cluster DNS server around the zone package: it
// keeps a zone.Index in step with Services and Endpoints through
// informers, answers DNS over UDP and TCP with it, forwards names outside
// the cluster domain to an upstream server when one is configured, and
// serves /healthz, /readyz and /metrics.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"minik8s/addons/dns/zone"
	"minik8s/api/client"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
)

// Options configure a Server.
type Options struct {
	// ClientOptions name the apiserver (--server, a comma list, replaces
	// the --kubeconfig's server); neither is the in-cluster config.
	component.ClientOptions
	// Listen is the DNS address, served over both UDP and TCP. Port 0
	// picks a port free for both.
	Listen string
	// ClusterDomain is the zone this server is authoritative for.
	ClusterDomain string
	// Upstream (HOST:PORT) receives names outside the cluster domain;
	// empty refuses them, so nothing leaves the cluster unless asked to.
	Upstream string
	// HealthAddr serves /healthz, /readyz and /metrics; empty disables.
	HealthAddr string
	// ForwardTimeout bounds one upstream exchange (default 2s).
	ForwardTimeout time.Duration
}

// Forwarder sends a query to an upstream server over network ("udp" or
// "tcp") and returns its reply.
type Forwarder interface {
	Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error)
}

// Server is a DNS server for the cluster domain. Create it with New (which
// binds its sockets), then Run it.
type Server struct {
	opts    Options
	log     *slog.Logger
	index   *zone.Index
	forward Forwarder
	client  *client.Client

	udp    net.PacketConn
	tcp    net.Listener
	health *component.HTTPServer

	synced  atomic.Bool
	serving atomic.Int32 // DNS servers (UDP, TCP) that have started

	registry *prometheus.Registry
	requests *prometheus.CounterVec
	forwards *prometheus.CounterVec
}

// New checks o, connects the apiserver client and binds the DNS and health
// sockets, so that their addresses are known before Run.
func New(o Options) (*Server, error) {
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.Listen == "" {
		o.Listen = ":53"
	}
	if o.ForwardTimeout <= 0 {
		o.ForwardTimeout = 2 * time.Second
	}
	apiConfig, err := o.RequireConfig()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:     o,
		log:      slog.Default().With("component", "dns"),
		index:    zone.NewIndex(o.ClusterDomain, uint32(time.Now().Unix())),
		registry: prometheus.NewRegistry(),
	}
	if o.Upstream != "" {
		addr, err := upstreamAddr(o.Upstream)
		if err != nil {
			return nil, err
		}
		s.forward = NewUpstream(addr, o.ForwardTimeout)
	}
	s.initMetrics()
	c, err := client.NewForConfig(apiConfig, client.WithUserAgent("dns/"+zone.SchemaVersion), client.WithLogger(s.log))
	if err != nil {
		return nil, err
	}
	s.client = c
	if s.udp, s.tcp, err = listenDNS(o.Listen); err != nil {
		_ = c.Close()
		return nil, err
	}
	if s.health, err = component.Listen(o.HealthAddr, s.healthHandler()); err != nil {
		_ = c.Close()
		s.udp.Close()
		s.tcp.Close()
		return nil, fmt.Errorf("health listener: %w", err)
	}
	return s, nil
}

// Addr is the DNS address, the same port for UDP and TCP.
func (s *Server) Addr() string { return s.tcp.Addr().String() }

// HealthAddr is the bound health address, "" when disabled.
func (s *Server) HealthAddr() string { return s.health.Addr() }

// Index is the server's zone data.
func (s *Server) Index() *zone.Index { return s.index }

// Ready reports whether the caches have synced and both DNS transports
// serve: before that, an answer could deny a name that exists.
func (s *Server) Ready() bool { return s.synced.Load() && s.serving.Load() == 2 }

// Run watches the API and serves DNS until ctx ends, then shuts down and
// releases the sockets. It returns the first serving error, if any.
func (s *Server) Run(ctx context.Context) error {
	defer s.client.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	factory := informer.NewFactory(s.client, 0)
	services := informer.For[*corev1.Service](factory, "")
	endpoints := informer.For[*corev1.Endpoints](factory, "")
	services.AddEventHandler(informer.HandlerFuncs[*corev1.Service]{
		AddFunc:    func(o *corev1.Service) { s.index.SetService(zone.ServiceFromAPI(o)) },
		UpdateFunc: func(_, o *corev1.Service) { s.index.SetService(zone.ServiceFromAPI(o)) },
		DeleteFunc: func(o *corev1.Service) {
			s.index.DeleteService(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName())
		},
	})
	endpoints.AddEventHandler(informer.HandlerFuncs[*corev1.Endpoints]{
		AddFunc:    func(o *corev1.Endpoints) { s.index.SetEndpoints(zone.EndpointsFromAPI(o)) },
		UpdateFunc: func(_, o *corev1.Endpoints) { s.index.SetEndpoints(zone.EndpointsFromAPI(o)) },
		DeleteFunc: func(o *corev1.Endpoints) {
			s.index.DeleteEndpoints(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName())
		},
	})
	factory.Start(ctx)

	errs := make(chan error, 3)
	var wg sync.WaitGroup
	started := func() { s.serving.Add(1) }
	udp := &dns.Server{PacketConn: s.udp, Handler: s, NotifyStartedFunc: started}
	tcp := &dns.Server{Listener: s.tcp, Handler: s, NotifyStartedFunc: started}
	for _, srv := range []*dns.Server{udp, tcp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("serve dns on %s: %w", s.Addr(), err)
			}
		}()
	}
	go func() {
		if factory.WaitForCacheSync(ctx) {
			s.synced.Store(true)
			s.log.Info("caches synced, answering for the cluster domain", "domain", s.index.Domain(), "addr", s.Addr())
		}
	}()
	s.log.Info("dns server starting", "addr", s.Addr(), "domain", s.index.Domain(), "upstream", s.opts.Upstream, "health", s.HealthAddr())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	case <-s.health.Done(): // never, without a health server
		err = fmt.Errorf("serve health on %s: %w", s.HealthAddr(), s.health.Shutdown())
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	for _, srv := range []*dns.Server{udp, tcp} {
		_ = srv.ShutdownContext(sctx)
	}
	// A server that never started does not close its socket on Shutdown.
	s.udp.Close()
	s.tcp.Close()
	_ = s.health.Shutdown()
	wg.Wait()
	return err
}

// ServeDNS answers one query: from the index for the cluster domain, by
// the forwarder (or REFUSED) for other names.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	m := s.answer(req, network)
	if opt := req.IsEdns0(); opt != nil && m.IsEdns0() == nil {
		m.SetEdns0(maxUDPSize, false)
	}
	m.Truncate(responseSize(req, network))
	s.requests.WithLabelValues(network, dns.RcodeToString[m.Rcode]).Inc()
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write dns response", "remote", w.RemoteAddr(), "err", err)
	}
}

// maxUDPSize is the EDNS buffer size we advertise: the size that avoids
// IP fragmentation on common paths (DNS flag day 2020).
const maxUDPSize = 1232

// responseSize is how large a response the client takes: 512 bytes over
// UDP without EDNS, the advertised size (capped) with it, 64 KiB over TCP.
func responseSize(req *dns.Msg, network string) int {
	if network == "tcp" {
		return dns.MaxMsgSize
	}
	if opt := req.IsEdns0(); opt != nil {
		return min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
	}
	return dns.MinMsgSize
}

func (s *Server) answer(req *dns.Msg, network string) *dns.Msg {
	m := new(dns.Msg)
	if req.Opcode != dns.OpcodeQuery {
		return m.SetRcode(req, dns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return m.SetRcodeFormatError(req)
	}
	resp := s.index.Resolve(req.Question[0])
	if resp.Outside {
		if s.forward == nil {
			return m.SetRcode(req, dns.RcodeRefused)
		}
		return s.forwardQuery(req, network)
	}
	m.SetReply(req)
	m.RecursionAvailable = s.forward != nil
	if !s.synced.Load() {
		// An empty cache would deny names that exist; SERVFAIL makes the
		// client try again (or another server) instead of caching that.
		m.Rcode = dns.RcodeServerFailure
		return m
	}
	m.Authoritative = resp.Authoritative
	m.Rcode = resp.Rcode
	m.Answer, m.Ns, m.Extra = resp.Answer, resp.Ns, resp.Extra
	shuffleAddresses(m.Answer)
	return m
}

// shuffleAddresses spreads clients over the addresses of a headless
// service (like CoreDNS's loadbalance plugin): most clients take the first.
// Mixed answers (a CNAME before its target) keep their order.
func shuffleAddresses(rrs []dns.RR) {
	if len(rrs) < 2 {
		return
	}
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; t != dns.TypeA && t != dns.TypeAAAA {
			return
		}
	}
	rand.Shuffle(len(rrs), func(i, j int) { rrs[i], rrs[j] = rrs[j], rrs[i] })
}

func (s *Server) forwardQuery(req *dns.Msg, network string) *dns.Msg {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ForwardTimeout)
	defer cancel()
	in, err := s.forward.Forward(ctx, req, network)
	if err != nil || in == nil {
		s.forwards.WithLabelValues("error").Inc()
		s.log.Debug("forward failed", "name", req.Question[0].Name, "upstream", s.opts.Upstream, "err", err)
		m := new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		return m
	}
	s.forwards.WithLabelValues("ok").Inc()
	in.Id = req.Id
	return in
}

// Upstream forwards to one DNS server with miekg/dns clients.
type Upstream struct {
	addr     string
	udp, tcp *dns.Client
}

// NewUpstream returns a forwarder to addr (HOST:PORT).
func NewUpstream(addr string, timeout time.Duration) *Upstream {
	return &Upstream{
		addr: addr,
		udp:  &dns.Client{Net: "udp", Timeout: timeout, UDPSize: maxUDPSize},
		tcp:  &dns.Client{Net: "tcp", Timeout: timeout},
	}
}

// Forward sends req upstream over the transport it came in on, so a
// truncated UDP answer is passed back and the client retries over TCP.
func (u *Upstream) Forward(ctx context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	c := u.udp
	if network == "tcp" {
		c = u.tcp
	}
	in, _, err := c.ExchangeContext(ctx, req, u.addr)
	if err != nil {
		return nil, fmt.Errorf("forward %s to %s: %w", req.Question[0].Name, u.addr, err)
	}
	return in, nil
}

// upstreamAddr accepts HOST or HOST:PORT (port 53 by default).
func upstreamAddr(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	if net.ParseIP(strings.Trim(s, "[]")) == nil && strings.Contains(s, ":") {
		return "", fmt.Errorf("bad --upstream %q: want HOST[:PORT]", s)
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), "53"), nil
}

// listenDNS binds UDP and TCP on the same address. With port 0 it takes a
// free TCP port and binds UDP to the same number, retrying when UDP's is
// taken, so one HOST:PORT serves both as DNS clients expect.
func listenDNS(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("bad dns listen address %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen dns tcp %s: %w", addr, err)
		}
		bound := net.JoinHostPort(host, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
		pc, err := net.ListenPacket("udp", bound)
		if err == nil {
			return pc, l, nil
		}
		l.Close()
		if port != "0" || attempt >= 10 {
			return nil, nil, fmt.Errorf("listen dns udp %s: %w", bound, err)
		}
	}
}

// healthHandler serves the component base's /healthz, /livez and
// /metrics, and /readyz once the caches synced and both transports serve.
func (s *Server) healthHandler() http.Handler {
	h := component.NewHealth(s.registry)
	h.AddReadyz(component.NamedCheck("dns", func(context.Context) error {
		if !s.Ready() {
			return errors.New("caches not synced or DNS not serving yet")
		}
		return nil
	}))
	return h.Handler()
}

func (s *Server) initMetrics() {
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "minik8s_dns_requests_total", Help: "DNS responses sent, by transport and response code.",
	}, []string{"proto", "rcode"})
	s.forwards = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "minik8s_dns_forward_requests_total", Help: "Queries forwarded upstream, by result (ok or error).",
	}, []string{"result"})
	s.registry.MustRegister(s.requests, s.forwards, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}
