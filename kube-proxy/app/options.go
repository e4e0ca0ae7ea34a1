// Package app assembles kube-proxy from its flags: the apiserver client,
// Service and Endpoints informers feeding the chosen proxier (iptables or
// userspace), and the /healthz and /metrics servers.
package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"minik8s/api/component"
)

// Proxy modes.
const (
	ModeIPTables  = "iptables"
	ModeNFTables  = "nftables"
	ModeUserspace = "userspace"
)

// Options are kube-proxy's flags, named as Kubernetes names them.
type Options struct {
	// ClientOptions are --kubeconfig and --server (the apiserver address
	// list, replacing the kubeconfig's server).
	component.ClientOptions
	HostnameOverride   string
	ProxyMode          string
	ClusterCIDR        string
	SyncPeriod         time.Duration
	MinSyncPeriod      time.Duration
	MasqueradeBit      int
	IPTablesBackend    string
	UDPIdleTimeout     time.Duration
	HealthzBindAddress string
	MetricsBindAddress string
	Cleanup            bool
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		ProxyMode:          ModeIPTables,
		ClusterCIDR:        "10.244.0.0/16",
		SyncPeriod:         30 * time.Second,
		MinSyncPeriod:      time.Second,
		MasqueradeBit:      14,
		UDPIdleTimeout:     time.Second,
		HealthzBindAddress: "127.0.0.1:10256",
		MetricsBindAddress: "127.0.0.1:10249",
	}
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	o.ClientOptions.AddFlags(fs, "")
	fs.StringVar(&o.HostnameOverride, "hostname-override", o.HostnameOverride, "this node's name, matched against endpoints' nodeName (default: the hostname)")
	fs.StringVar(&o.ProxyMode, "proxy-mode", o.ProxyMode, "iptables (DNAT in the kernel), nftables (DNAT in the kernel through kube-proxy's own nftables table, verdict maps instead of a rule per service) or userspace (connections spliced by this process)")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", o.ClusterCIDR, "the pod network; traffic to a service from outside it is masqueraded (empty: none is)")
	fs.DurationVar(&o.SyncPeriod, "sync-period", o.SyncPeriod, "interval of full resyncs of the rules (between them only changes are written)")
	fs.DurationVar(&o.MinSyncPeriod, "min-sync-period", o.MinSyncPeriod, "least time between two syncs; changes arriving meanwhile are applied together")
	fs.IntVar(&o.MasqueradeBit, "iptables-masquerade-bit", o.MasqueradeBit, "bit of the packet mark that means \"masquerade\" (0-31)")
	fs.StringVar(&o.IPTablesBackend, "iptables-backend", o.IPTablesBackend,
		"iptables backend: empty for whatever the iptables command is (nf_tables here), nft, or legacy (x_tables: full syncs of many services are faster, every change rewrites the whole table)")
	fs.DurationVar(&o.UDPIdleTimeout, "udp-timeout", o.UDPIdleTimeout, "userspace mode: how long an idle UDP session is kept")
	fs.StringVar(&o.HealthzBindAddress, "healthz-bind-address", o.HealthzBindAddress, "address of /healthz (empty disables)")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "address of /metrics (empty disables)")
	fs.BoolVar(&o.Cleanup, "cleanup", o.Cleanup, "remove every iptables rule and chain and the nftables table kube-proxy made (all modes), then exit")
}

// Validate checks the options and fills in the hostname.
func (o *Options) Validate() error {
	var errs []error
	switch o.ProxyMode {
	case ModeIPTables, ModeNFTables, ModeUserspace:
	default:
		errs = append(errs, fmt.Errorf("--proxy-mode %q: must be iptables, nftables or userspace", o.ProxyMode))
	}
	if o.ClusterCIDR != "" {
		if _, err := netip.ParsePrefix(o.ClusterCIDR); err != nil {
			errs = append(errs, fmt.Errorf("--cluster-cidr: %v", err))
		}
	}
	switch o.IPTablesBackend {
	case "", "nft", "legacy":
	default:
		errs = append(errs, fmt.Errorf("--iptables-backend %q: must be nft or legacy (or empty)", o.IPTablesBackend))
	}
	if o.SyncPeriod <= 0 {
		errs = append(errs, fmt.Errorf("--sync-period %s: must be positive", o.SyncPeriod))
	}
	if o.MinSyncPeriod < 0 || o.MinSyncPeriod > o.SyncPeriod {
		errs = append(errs, fmt.Errorf("--min-sync-period %s: must be between 0 and --sync-period", o.MinSyncPeriod))
	}
	if o.MasqueradeBit < 0 || o.MasqueradeBit > 31 {
		errs = append(errs, fmt.Errorf("--iptables-masquerade-bit %d: must be 0-31", o.MasqueradeBit))
	}
	for flagName, a := range map[string]string{"--healthz-bind-address": o.HealthzBindAddress, "--metrics-bind-address": o.MetricsBindAddress} {
		if a != "" {
			if _, _, err := net.SplitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %v", flagName, a, err))
			}
		}
	}
	if o.HostnameOverride == "" {
		h, err := os.Hostname()
		if err != nil {
			errs = append(errs, fmt.Errorf("hostname: %v (set --hostname-override)", err))
		}
		o.HostnameOverride = strings.ToLower(strings.TrimSpace(h))
	}
	return errors.Join(errs...)
}
