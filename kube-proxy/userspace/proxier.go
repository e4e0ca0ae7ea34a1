// Package userspace is kube-proxy's userspace mode, the seed's "older"
// one: for every service port the proxy opens a local listener, iptables
// REDIRECTs the service's IP:port to it, and the proxy accepts each
// connection itself and splices it to a backend chosen round robin
// (retrying the next backend when one refuses). TCP and UDP.
//
// It costs a copy through this process per byte, which is why the iptables
// mode replaced it; it is kept because the seed describes it and because
// its choice is exact round robin, not random.
package userspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"

	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/metrics"
	"minik8s/kube-proxy/proxy"
	"minik8s/kube-proxy/runner"
)

// Dialer opens connections to backends. *net.Dialer is one; tests give
// one that dials inside a network namespace.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config configures a Proxier.
type Config struct {
	Hostname string
	// ListenIP is where the proxy sockets listen (default 0.0.0.0: the
	// REDIRECTed traffic arrives at this host's addresses and 127.0.0.1).
	ListenIP      netip.Addr
	SyncPeriod    time.Duration
	MinSyncPeriod time.Duration
	// UDPIdleTimeout ends a UDP client's session after this long without
	// packets (default 10s).
	UDPIdleTimeout time.Duration
	// Dialer defaults to a *net.Dialer.
	Dialer Dialer
}

// dialTimeouts are the attempts for one connection: a backend that does
// not answer within the timeout is given up for the next, with the next
// timeout (Kubernetes' userspace proxy used the same schedule).
var dialTimeouts = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}

// Proxier is the userspace proxier. Informer handlers feed State();
// SyncLoop opens and closes sockets and keeps the redirect rules.
type Proxier struct {
	cfg     Config
	ipt     ipt.Interface
	lb      *LoadBalancer
	metrics *metrics.Metrics
	log     *slog.Logger
	state   *proxy.State
	runner  *runner.Runner

	// Sync goroutine only.
	sockets  map[proxy.ServicePortName]*socket
	applied  []byte
	needFull bool
	lastFull time.Time

	mu       sync.Mutex
	lastSync time.Time
	wg       sync.WaitGroup // socket goroutines
}

// NewProxier returns a userspace proxier.
func NewProxier(cfg Config, r ipt.Interface, m *metrics.Metrics, log *slog.Logger) *Proxier {
	if !cfg.ListenIP.IsValid() {
		cfg.ListenIP = netip.IPv4Unspecified()
	}
	if cfg.UDPIdleTimeout <= 0 {
		cfg.UDPIdleTimeout = 10 * time.Second
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{}
	}
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Proxier{cfg: cfg, ipt: r, lb: NewLoadBalancer(), metrics: m, log: log.With("proxier", "userspace"),
		sockets: map[proxy.ServicePortName]*socket{}, needFull: true}
	p.runner = runner.New(p.sync, cfg.MinSyncPeriod, cfg.SyncPeriod, time.Second)
	p.state = proxy.NewState(cfg.Hostname, p.runner.Run)
	return p
}

// State is where informer handlers record changes.
func (p *Proxier) State() *proxy.State { return p.state }

// SyncLoop syncs until ctx ends, then closes every proxy socket. Sockets
// are opened on the calling goroutine's thread, so in a network namespace
// the caller locks it there first.
func (p *Proxier) SyncLoop(ctx context.Context) {
	p.runner.Loop(ctx)
	p.Close()
}

// Sync runs one sync now (not concurrently with SyncLoop).
func (p *Proxier) Sync() error { return p.sync() }

// LastSync is when the proxier last synced successfully.
func (p *Proxier) LastSync() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastSync
}

// ProxyPort returns the local port serving a service port (0: none).
func (p *Proxier) ProxyPort(n proxy.ServicePortName) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.sockets[n]; s != nil {
		return s.port
	}
	return 0
}

// Close stops every proxy socket and waits for their goroutines; the
// redirect rules stay (a restart reuses nothing but rewrites them).
func (p *Proxier) Close() {
	p.mu.Lock()
	for n, s := range p.sockets {
		s.close()
		delete(p.sockets, n)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxier) sync() error {
	start := time.Now()
	full := p.needFull || (p.cfg.SyncPeriod > 0 && start.Sub(p.lastFull) >= p.cfg.SyncPeriod)
	ch := p.state.Apply()
	svcs, eps := p.state.Services(), p.state.Endpoints()
	names := ch.Ports
	if full {
		names = map[proxy.ServicePortName]bool{}
		for n := range svcs {
			names[n] = true
		}
		for n := range p.sockets {
			names[n] = true
		}
	}
	for n := range names {
		sp := svcs[n]
		p.mu.Lock()
		cur := p.sockets[n]
		p.mu.Unlock()
		if sp == nil {
			if cur != nil {
				cur.close()
				p.mu.Lock()
				delete(p.sockets, n)
				p.mu.Unlock()
			}
			p.lb.Remove(n)
			continue
		}
		p.lb.Update(n, eps[n], sp.StickyMaxAge)
		if cur != nil && cur.protocol == sp.Protocol {
			cur.setService(sp)
			continue
		}
		if cur != nil {
			cur.close()
		}
		s, err := p.open(sp)
		if err != nil {
			p.log.Error("open proxy socket", "service", n.String(), "err", err)
			p.mu.Lock()
			delete(p.sockets, n)
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		p.sockets[n] = s
		p.mu.Unlock()
		p.log.Info("opened proxy socket", "service", n.String(), "protocol", sp.Protocol, "port", s.port)
	}

	var portals []Portal
	p.mu.Lock()
	for _, s := range p.sockets {
		portals = append(portals, Portal{Service: s.service(), ProxyPort: s.port})
	}
	p.mu.Unlock()
	data := RenderPortals(portals)
	if full {
		for _, c := range chains {
			if err := p.ipt.EnsureChain(ipt.TableNAT, c); err != nil {
				return p.fail(err)
			}
		}
		for _, j := range Jumps {
			if err := p.ipt.EnsureRule(j.Table, j.Chain, j.Rule...); err != nil {
				return p.fail(err)
			}
		}
	}
	if full || !bytes.Equal(data, p.applied) {
		if err := p.ipt.Restore(ipt.TableNAT, data); err != nil {
			return p.fail(err)
		}
		p.applied = data
	}
	p.needFull = false
	if full {
		p.lastFull = start
	}
	end := time.Now()
	kind := "partial"
	if full {
		kind = "full"
	}
	p.metrics.SyncDuration.WithLabelValues(kind).Observe(end.Sub(start).Seconds())
	p.metrics.LastSync.Set(float64(end.UnixNano()) / 1e9)
	p.metrics.RulesTotal.WithLabelValues("nat").Set(float64(bytes.Count(data, []byte("\n-A "))))
	p.metrics.ServicesProxied.Set(float64(len(portals)))
	if !ch.Since.IsZero() {
		p.metrics.ProgrammingLatency.Observe(end.Sub(ch.Since).Seconds())
	}
	p.mu.Lock()
	p.lastSync = end
	p.mu.Unlock()
	return nil
}

func (p *Proxier) fail(err error) error {
	p.needFull, p.applied = true, nil
	p.metrics.RestoreFailures.Inc()
	p.log.Error("sync userspace proxy rules failed", "err", err)
	return err
}

// Cleanup removes the userspace mode's jumps and chains.
func Cleanup(r ipt.Interface) error { return ipt.Cleanup(r, Jumps, Owned) }

// socket is the proxy for one service port.
type socket struct {
	protocol string
	port     int
	mu       sync.Mutex
	sp       *proxy.ServicePort
	closer   func()
}

func (s *socket) service() *proxy.ServicePort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sp
}

func (s *socket) setService(sp *proxy.ServicePort) {
	s.mu.Lock()
	s.sp = sp
	s.mu.Unlock()
}

func (s *socket) close() { s.closer() }

// open starts the proxy socket of sp on a free local port.
func (p *Proxier) open(sp *proxy.ServicePort) (*socket, error) {
	addr := netip.AddrPortFrom(p.cfg.ListenIP, 0).String()
	s := &socket{protocol: sp.Protocol, sp: sp}
	switch sp.Protocol {
	case "TCP":
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			return nil, fmt.Errorf("listen for %s: %w", sp.Name, err)
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		t := &tcpProxy{p: p, l: l, name: sp.Name, conns: map[net.Conn]struct{}{}}
		s.closer = t.close
		p.wg.Add(1)
		go func() { defer p.wg.Done(); t.serve() }()
	case "UDP":
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return nil, fmt.Errorf("listen for %s: %w", sp.Name, err)
		}
		s.port = c.LocalAddr().(*net.UDPAddr).Port
		u := &udpProxy{p: p, conn: c, pc: ipv4.NewPacketConn(c), name: sp.Name, clients: map[string]*udpClient{}}
		if err := u.pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("listen for %s: ask for destination addresses: %w", sp.Name, err)
		}
		s.closer = u.close
		p.wg.Add(1)
		go func() { defer p.wg.Done(); u.serve() }()
	default:
		return nil, fmt.Errorf("protocol %s is not supported in userspace mode", sp.Protocol)
	}
	return s, nil
}

// dialBackend connects to an endpoint of n for client, moving on to the
// next endpoint (with a longer timeout) when one fails.
func (p *Proxier) dialBackend(n proxy.ServicePortName, client netip.Addr, network string) (net.Conn, string, error) {
	tries := max(len(dialTimeouts), p.lb.Endpoints(n))
	var lastErr error = ErrNoEndpoints
	for i := 0; i < tries; i++ {
		ep, err := p.lb.Next(n, client, i > 0)
		if err != nil {
			return nil, "", err
		}
		timeout := dialTimeouts[min(i, len(dialTimeouts)-1)]
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		c, err := p.cfg.Dialer.DialContext(ctx, network, ep)
		cancel()
		if err == nil {
			return c, ep, nil
		}
		lastErr = err
		p.metrics.UserspaceDialErrors.Inc()
		p.log.Debug("backend refused, trying the next", "service", n.String(), "endpoint", ep, "err", err)
	}
	return nil, "", lastErr
}

func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// tcpProxy accepts the connections of one service port.
type tcpProxy struct {
	p    *Proxier
	l    net.Listener
	name proxy.ServicePortName

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // client and backend sides in use
	closed bool
	wg     sync.WaitGroup
}

// close stops accepting and ends the connections in flight.
func (t *tcpProxy) close() {
	_ = t.l.Close()
	t.mu.Lock()
	t.closed = true
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
}

// track adds c to the connections close ends; false when already closed.
func (t *tcpProxy) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *tcpProxy) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	_ = c.Close()
}

func (t *tcpProxy) serve() {
	defer t.wg.Wait()
	for {
		in, err := t.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.p.log.Warn("accept", "service", t.name.String(), "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.p.metrics.UserspaceConns.WithLabelValues("TCP").Inc()
		if !t.track(in) {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer t.untrack(in)
			t.splice(in)
		}()
	}
}

// splice copies both ways until both sides are done; a half-close on one
// side is passed on to the other.
func (t *tcpProxy) splice(in net.Conn) {
	out, ep, err := t.p.dialBackend(t.name, addrOf(in.RemoteAddr()), "tcp")
	if err != nil {
		t.p.log.Debug("no backend for connection", "service", t.name.String(), "err", err)
		return
	}
	if !t.track(out) {
		return
	}
	defer t.untrack(out)
	t.p.log.Debug("proxying", "service", t.name.String(), "client", in.RemoteAddr().String(), "endpoint", ep)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}
