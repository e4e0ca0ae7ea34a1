package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"minik8s/api/client"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	"minik8s/kube-proxy/conntrack"
	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/iptables"
	"minik8s/kube-proxy/metrics"
	"minik8s/kube-proxy/nftables"
	"minik8s/kube-proxy/proxy"
	"minik8s/kube-proxy/userspace"
)

// Proxier is what both modes offer the server.
type Proxier interface {
	State() *proxy.State
	SyncLoop(ctx context.Context)
	LastSync() time.Time
}

// Deps are what a caller may substitute (tests run kube-proxy inside a
// network namespace they created).
type Deps struct {
	// IPTables defaults to the exec-backed runner.
	IPTables ipt.Interface
	// NFTables is the nftables mode's backend (default: netlink).
	NFTables nftables.Backend
	// Dialer is the userspace mode's backend dialer (default net.Dialer).
	Dialer userspace.Dialer
	// Registry receives the metrics (default a new one with Go and
	// process collectors).
	Registry *prometheus.Registry
}

// ProxyServer is a configured kube-proxy. NewProxyServer connects and
// binds; Run serves.
type ProxyServer struct {
	opts     Options
	client   *client.Client
	factory  *informer.Factory
	proxier  Proxier
	ipt      ipt.Interface
	nft      nftables.Backend
	healthz  *component.HTTPServer
	metricsS *component.HTTPServer
	registry *prometheus.Registry
	log      *slog.Logger
	// healthTimeout: /healthz fails when a change waited this long for a
	// sync (Kubernetes uses twice the sync period).
	healthTimeout time.Duration
}

// NewProxyServer validates o, creates the client, informers and proxier,
// and binds the health and metrics listeners (in the calling thread's
// network namespace).
func NewProxyServer(o Options, d Deps) (*ProxyServer, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := slog.Default().With("component", "kube-proxy", "node", o.HostnameOverride)
	s := &ProxyServer{opts: o, log: log, healthTimeout: 2 * o.SyncPeriod, registry: d.Registry}
	if s.registry == nil {
		s.registry = component.NewRegistry()
	}
	s.ipt = d.IPTables
	if s.ipt == nil {
		r, err := ipt.NewBackend(o.IPTablesBackend)
		if err != nil {
			return nil, err
		}
		s.ipt = r
	}
	c, err := o.NewClient("kube-proxy/"+o.HostnameOverride, client.WithKeepalive(30*time.Second, 10*time.Second))
	if err != nil {
		return nil, err
	}
	s.client = c
	m := metrics.New(s.registry)
	switch o.ProxyMode {
	case ModeIPTables:
		var cidr netip.Prefix
		if o.ClusterCIDR != "" {
			cidr = netip.MustParsePrefix(o.ClusterCIDR).Masked()
		}
		s.proxier = iptables.NewProxier(iptables.ProxierConfig{
			Render:   iptables.Config{ClusterCIDR: cidr, MasqueradeBit: o.MasqueradeBit},
			Hostname: o.HostnameOverride, SyncPeriod: o.SyncPeriod, MinSyncPeriod: o.MinSyncPeriod,
		}, s.ipt, conntrack.Netlink{}, m, log)
	case ModeNFTables:
		var cidr netip.Prefix
		if o.ClusterCIDR != "" {
			cidr = netip.MustParsePrefix(o.ClusterCIDR).Masked()
		}
		s.nft = d.NFTables
		if s.nft == nil {
			nft, err := nftables.New()
			if err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("--proxy-mode nftables: %w", err)
			}
			s.nft = nft
		}
		s.proxier = nftables.NewProxier(nftables.ProxierConfig{
			Render:   nftables.Config{ClusterCIDR: cidr, MasqueradeBit: o.MasqueradeBit},
			Hostname: o.HostnameOverride, SyncPeriod: o.SyncPeriod, MinSyncPeriod: o.MinSyncPeriod,
		}, s.nft, conntrack.Netlink{}, m, log)
	case ModeUserspace:
		s.proxier = userspace.NewProxier(userspace.Config{
			Hostname: o.HostnameOverride, SyncPeriod: o.SyncPeriod, MinSyncPeriod: o.MinSyncPeriod,
			UDPIdleTimeout: o.UDPIdleTimeout, Dialer: d.Dialer,
		}, s.ipt, m, log)
	}
	s.factory = informer.NewFactory(c, 0)
	informer.For[*corev1.Service](s.factory, "").AddEventHandler(s.proxier.State().ServiceHandler())
	informer.For[*corev1.Endpoints](s.factory, "").AddEventHandler(s.proxier.State().EndpointsHandler())

	// Both servers answer the component base's paths; /healthz keeps
	// the JSON body Kubernetes' kube-proxy serves.
	health := component.NewHealth(s.registry)
	health.AddReadyz(component.NamedCheck("proxier-sync", func(context.Context) error {
		if st := s.health(); !st.Healthy {
			return fmt.Errorf("rules last synced %s, a change pending since %s", st.LastUpdated.Format(time.RFC3339), st.PendingSince.Format(time.RFC3339))
		}
		return nil
	}))
	mux := http.NewServeMux()
	mux.Handle("/", health.Handler())
	mux.HandleFunc("/healthz", s.serveHealthz)
	if s.healthz, err = component.Listen(o.HealthzBindAddress, mux); err != nil {
		s.Close()
		return nil, fmt.Errorf("healthz listener: %w", err)
	}
	if s.metricsS, err = component.Listen(o.MetricsBindAddress, mux); err != nil {
		s.Close()
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	return s, nil
}

// HealthzAddr is the bound /healthz address ("" when disabled).
func (s *ProxyServer) HealthzAddr() string { return s.healthz.Addr() }

// MetricsAddr is the bound /metrics address ("" when disabled).
func (s *ProxyServer) MetricsAddr() string { return s.metricsS.Addr() }

// Proxier returns the running proxier (for tests).
func (s *ProxyServer) Proxier() Proxier { return s.proxier }

// Close drains the health and metrics servers and releases the client;
// Run does it on return.
func (s *ProxyServer) Close() {
	_ = s.healthz.Shutdown()
	_ = s.metricsS.Shutdown()
	if s.client != nil {
		_ = s.client.Close()
	}
}

// Run serves until ctx ends. It removes the other mode's rules (a switch
// of --proxy-mode leaves nothing behind), starts the informers, waits for
// their first lists, and then runs the proxier's sync loop on the calling
// goroutine - so every iptables call and proxy socket is made in the
// calling thread's network namespace.
func (s *ProxyServer) Run(ctx context.Context) error {
	defer s.Close()
	if err := s.cleanupOtherMode(); err != nil {
		s.log.Warn("removing the other proxy mode's rules", "err", err)
	}
	s.factory.Start(ctx)
	if !s.factory.WaitForCacheSync(ctx) {
		return ctx.Err()
	}
	s.log.Info("kube-proxy running", "mode", s.opts.ProxyMode, "server", s.opts.Server, "kubeconfig", s.opts.Kubeconfig,
		"healthz", s.HealthzAddr(), "metrics", s.MetricsAddr(), "clusterCIDR", s.opts.ClusterCIDR)
	s.proxier.SyncLoop(ctx)
	return nil
}

// cleanupOtherMode removes what the modes not running left behind.
func (s *ProxyServer) cleanupOtherMode() error {
	switch s.opts.ProxyMode {
	case ModeIPTables:
		return errors.Join(userspace.Cleanup(s.ipt), cleanupNFTables())
	case ModeNFTables:
		return cleanupIPTables(s.ipt)
	}
	return errors.Join(iptables.Cleanup(s.ipt), cleanupNFTables())
}

// cleanupNFTables deletes the nftables mode's table, in the calling
// thread's network namespace; a kernel without nftables has none.
func cleanupNFTables() error {
	nft, err := nftables.New()
	if err != nil {
		return nil
	}
	return nftables.Cleanup(context.Background(), nft)
}

// healthStatus is /healthz's body, shaped like Kubernetes'.
type healthStatus struct {
	LastUpdated  time.Time `json:"lastUpdated"`
	CurrentTime  time.Time `json:"currentTime"`
	PendingSince time.Time `json:"pendingSince,omitzero"`
	Healthy      bool      `json:"healthy"`
}

// health is healthy once the rules were synced and no change has waited
// for a sync longer than the health timeout.
func (s *ProxyServer) health() healthStatus {
	now := time.Now()
	st := healthStatus{LastUpdated: s.proxier.LastSync(), CurrentTime: now, PendingSince: s.proxier.State().PendingSince()}
	st.Healthy = !st.LastUpdated.IsZero() && (st.PendingSince.IsZero() || now.Sub(st.PendingSince) < s.healthTimeout)
	return st
}

// serveHealthz answers 200 when healthy, 503 otherwise, with the status
// as JSON.
func (s *ProxyServer) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	st := s.health()
	w.Header().Set("Content-Type", "application/json")
	if !st.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(st)
}

// Cleanup removes every mode's rules and chains (--cleanup) through r,
// or when r is nil through the default iptables, and the nftables mode's
// table.
func Cleanup(r ipt.Interface) error {
	if r == nil {
		var err error
		if r, err = ipt.New(); err != nil {
			return err
		}
	}
	return errors.Join(cleanupIPTables(r), cleanupNFTables())
}

// cleanupIPTables removes the iptables and userspace modes' rules.
func cleanupIPTables(r ipt.Interface) error {
	owned := func(c string) bool { return iptables.Owned(c) || userspace.Owned(c) }
	return ipt.Cleanup(r, append(append([]ipt.Jump(nil), iptables.Jumps...), userspace.Jumps...), owned)
}

// Run runs kube-proxy with o until ctx ends (or, with --cleanup, cleans
// up and returns).
func Run(ctx context.Context, o *Options) error {
	if o.Cleanup {
		r, err := ipt.NewBackend(o.IPTablesBackend)
		if err != nil {
			return err
		}
		if err := Cleanup(r); err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		slog.Info("removed kube-proxy's iptables rules and chains and its nftables table")
		return nil
	}
	s, err := NewProxyServer(*o, Deps{})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
