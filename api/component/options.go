package component

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"minik8s/api/client"
)

// ClientOptions are the flags naming the apiserver, spelled as Kubernetes
// spells them: --kubeconfig (its current context names the servers and
// credentials) and --server, which replaces the kubeconfig's server and
// may list several apiservers separated by commas.
type ClientOptions struct {
	// Server is the apiserver address list (HOST:PORT or https://HOST:PORT,
	// comma-separated); it replaces the kubeconfig's server when both are
	// set.
	Server string
	// Kubeconfig is a kubeconfig file naming the apiserver and the
	// credentials (its current context).
	Kubeconfig string
}

// AddFlags registers --server and --kubeconfig on fs with o's values as
// defaults. without says what the daemon does when neither is given (""
// for the usual: the in-cluster config in a pod, else the default server).
func (o *ClientOptions) AddFlags(fs *flag.FlagSet, without string) {
	if without == "" {
		without = "in a pod the in-cluster config, else " + client.DefaultServer
	}
	fs.StringVar(&o.Server, "server", o.Server, "apiserver address(es) HOST:PORT or https://HOST:PORT, comma-separated for several; replaces the kubeconfig's server (without either flag: "+without+")")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig file whose current context names the apiserver and credentials")
}

// Given reports whether either flag names an apiserver.
func (o ClientOptions) Given() bool { return o.Server != "" || o.Kubeconfig != "" }

// Config resolves the flags into a client configuration: the kubeconfig
// with --server replacing its server, else --server, else the in-cluster
// config in a pod, else client.DefaultServer.
func (o ClientOptions) Config() (*client.Config, error) {
	return client.ConfigFromFlags(o.Server, o.Kubeconfig)
}

// RequireConfig is Config for a daemon that must be told where the
// apiserver is (the add-ons, which run in pods): without --server and
// --kubeconfig it takes the in-cluster config, and outside a pod it fails
// naming the flags rather than falling back to client.DefaultServer.
func (o ClientOptions) RequireConfig() (*client.Config, error) {
	o.Server = strings.TrimSpace(o.Server)
	if !o.Given() {
		if _, err := client.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("no apiserver given: set --server HOST:PORT or --kubeconfig, or run in a pod (%v)", err)
		}
	}
	return o.Config()
}

// NewClient connects a client for the flags, identified by userAgent
// ("scheduler/default-scheduler").
func (o ClientOptions) NewClient(userAgent string, opts ...client.Option) (*client.Client, error) {
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	return client.NewForConfig(cfg, append([]client.Option{client.WithUserAgent(userAgent)}, opts...)...)
}

// LeaderElectionOptions are the --leader-elect flags of an active-standby
// daemon, named as Kubernetes names them.
type LeaderElectionOptions struct {
	// LeaderElect makes the daemon work only while it holds the Lease
	// ResourceNamespace/ResourceName; without it the daemon works at once.
	LeaderElect bool
	// LeaseDuration is how long a standby waits after the last renewal
	// before taking over; RenewDeadline how long the leader keeps trying
	// to renew before it stops working; RetryPeriod the time between
	// attempts.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// ResourceName and ResourceNamespace name the Lease.
	ResourceName      string
	ResourceNamespace string
	// Identity names this replica in the Lease; "" is DefaultIdentity().
	Identity string
}

// DefaultLeaderElection returns Kubernetes' defaults for a lease named
// name in kube-system: leading on, 15s lease, 10s renew deadline, 2s
// retry period.
func DefaultLeaderElection(name string) LeaderElectionOptions {
	return LeaderElectionOptions{
		LeaderElect:       true,
		LeaseDuration:     15 * time.Second,
		RenewDeadline:     10 * time.Second,
		RetryPeriod:       2 * time.Second,
		ResourceName:      name,
		ResourceNamespace: "kube-system",
	}
}

// AddFlags registers --leader-elect, --leader-elect-lease-duration,
// --leader-elect-renew-deadline, --leader-elect-retry-period,
// --leader-elect-resource-name, --leader-elect-resource-namespace and
// --leader-elect-identity on fs with o's values as defaults.
func (o *LeaderElectionOptions) AddFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "run active-standby: work only while holding the leader-election Lease")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration, "how long a standby waits after the last renewal before taking over (whole seconds)")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline, "how long the leader keeps trying to renew before it stops working")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod, "time between attempts to acquire or renew the Lease")
	fs.StringVar(&o.ResourceName, "leader-elect-resource-name", o.ResourceName, "name of the leader-election Lease")
	fs.StringVar(&o.ResourceNamespace, "leader-elect-resource-namespace", o.ResourceNamespace, "namespace of the leader-election Lease")
	fs.StringVar(&o.Identity, "leader-elect-identity", o.Identity, "identity in the Lease (default HOSTNAME_<random>)")
}

// Validate checks the durations, naming the flags; nothing is checked
// when LeaderElect is off.
func (o LeaderElectionOptions) Validate() error {
	if !o.LeaderElect {
		return nil
	}
	switch {
	case o.LeaseDuration < time.Second:
		return fmt.Errorf("--leader-elect-lease-duration %s: at least 1s (leases count whole seconds)", o.LeaseDuration)
	case o.RenewDeadline >= o.LeaseDuration:
		return fmt.Errorf("--leader-elect-renew-deadline %s must be less than --leader-elect-lease-duration %s", o.RenewDeadline, o.LeaseDuration)
	case o.RetryPeriod <= 0 || o.RetryPeriod >= o.RenewDeadline:
		return fmt.Errorf("--leader-elect-retry-period %s must be positive and less than --leader-elect-renew-deadline %s", o.RetryPeriod, o.RenewDeadline)
	}
	return nil
}

// DefaultIdentity is a replica's identity in a Lease when none is given:
// the hostname and a random suffix, so two replicas on one host differ.
func DefaultIdentity() string {
	host, _ := os.Hostname()
	return host + "_" + uuid.NewString()
}
