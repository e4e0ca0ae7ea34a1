package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"minik8s/api/client"
)

// Options are the controller-manager's flags, named as Kubernetes names them.
type Options struct {
	// Server is the apiserver address list; it replaces the kubeconfig's
	// server when both are set.
	Server string
	// Kubeconfig is a kubeconfig file naming the apiserver and the
	// credentials (its current context).
	Kubeconfig string
	// Controllers is the --controllers list: "*" (every controller enabled
	// by default), "name" (enable), "-name" (disable).
	Controllers string

	LeaderElect          bool
	LeaseDuration        time.Duration
	RenewDeadline        time.Duration
	RetryPeriod          time.Duration
	LeaderElectNamespace string
	LeaderElectName      string
	LeaderElectIdentity  string
	BindAddress          string
	Port                 int
	ConcurrentSyncs      int
	ConcurrentEndpoints  int
	MinResyncPeriod      time.Duration
	ClusterCIDR          string
	NodeCIDRMaskSize     int
	AllocateNodeCIDRs    bool
	NodeMonitorGrace     time.Duration
	NodeMonitorPeriod    time.Duration
	PodEvictionTimeout   time.Duration
	TerminatedPodGCLimit int
	NamespaceSyncPeriod  time.Duration
	GCIgnoredResources   string
	RootCAFile           string

	// The csrsigning controller's flags: the CA that signs approved
	// requests of the kubernetes.io signers, and the longest lifetime.
	ClusterSigningCertFile string
	ClusterSigningKeyFile  string
	ClusterSigningDuration time.Duration

	// The horizontal pod autoscaler's flags.
	HPASyncPeriod              time.Duration
	HPADownscaleStabilization  time.Duration
	HPATolerance               float64
	HPACPUInitializationPeriod time.Duration
	HPAInitialReadinessDelay   time.Duration
	ConcurrentHPASyncs         int

	// The resource-quota controller's flags.
	ResourceQuotaSyncPeriod      time.Duration
	ConcurrentResourceQuotaSyncs int
}

// AddFlags registers the options on fs with their defaults.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Server, "server", "", "apiserver HOST:PORT or http://HOST:PORT, or a comma-separated list of several; replaces the kubeconfig's server (default "+client.DefaultServer+" without --kubeconfig)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file whose current context names the apiserver and credentials")
	fs.StringVar(&o.Controllers, "controllers", "*", "controllers to run: '*' runs all enabled by default, 'foo' enables foo, '-foo' disables foo; known: "+strings.Join(KnownControllers(), ", "))
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "run only while holding the Lease kube-system/controller-manager (active-standby replicas)")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a standby waits after the last renewal before taking over")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it stops leading")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "time between attempts to acquire or renew the lease")
	fs.StringVar(&o.LeaderElectNamespace, "leader-elect-resource-namespace", "kube-system", "namespace of the leader-election Lease")
	fs.StringVar(&o.LeaderElectName, "leader-elect-resource-name", "controller-manager", "name of the leader-election Lease")
	fs.StringVar(&o.LeaderElectIdentity, "leader-elect-identity", "", "identity in the Lease (default HOSTNAME_<random>)")
	fs.StringVar(&o.BindAddress, "bind-address", "127.0.0.1", "address of /healthz and /metrics")
	fs.IntVar(&o.Port, "port", 10257, "port of /healthz and /metrics (0 picks a free one, -1 disables)")
	fs.IntVar(&o.ConcurrentSyncs, "concurrent-syncs", 5, "workers per workload controller (replicaset, deployment, daemonset, job, statefulset, ...)")
	fs.IntVar(&o.ConcurrentEndpoints, "concurrent-endpoint-syncs", 5, "workers of the endpoints controller")
	fs.DurationVar(&o.MinResyncPeriod, "min-resync-period", 12*time.Hour, "informers replay their caches to the controllers this often (0: never)")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", "10.244.0.0/16", "CIDR of pod addresses; node IPAM carves a --node-cidr-mask-size range per node from it")
	fs.IntVar(&o.NodeCIDRMaskSize, "node-cidr-mask-size", 24, "prefix length of each node's pod CIDR")
	fs.BoolVar(&o.AllocateNodeCIDRs, "allocate-node-cidrs", true, "let the nodeipam controller assign spec.podCIDR")
	fs.DurationVar(&o.NodeMonitorGrace, "node-monitor-grace-period", 40*time.Second, "a node whose heartbeat is older than this becomes Ready=Unknown and is tainted unreachable")
	fs.DurationVar(&o.NodeMonitorPeriod, "node-monitor-period", 5*time.Second, "how often the node lifecycle controller checks heartbeats")
	fs.DurationVar(&o.PodEvictionTimeout, "pod-eviction-timeout", 300*time.Second, "how long pods without a toleration of their node's not-ready/unreachable taint stay before eviction")
	fs.IntVar(&o.TerminatedPodGCLimit, "terminated-pod-gc-threshold", 12500, "finished pods kept before the pod garbage collector deletes the oldest (0 disables)")
	fs.DurationVar(&o.NamespaceSyncPeriod, "namespace-sync-period", 5*time.Minute, "how often namespaces are reconciled without a change")
	fs.StringVar(&o.GCIgnoredResources, "gc-ignored-resources", "events,bindings,componentstatuses,selfsubjectreviews,tokenreviews", "resources the garbage collector does not watch (those without list and watch among them)")
	fs.StringVar(&o.RootCAFile, "root-ca-file", "", "cluster CA bundle (PEM) published as ConfigMap kube-root-ca.crt in every namespace (the root-ca-cert-publisher runs only with it)")
	fs.StringVar(&o.ClusterSigningCertFile, "cluster-signing-cert-file", "", "PEM CA certificate csrsigning signs approved CertificateSigningRequests of the kubernetes.io signers with (it runs only with this and --cluster-signing-key-file)")
	fs.StringVar(&o.ClusterSigningKeyFile, "cluster-signing-key-file", "", "PEM private key of --cluster-signing-cert-file")
	fs.DurationVar(&o.ClusterSigningDuration, "cluster-signing-duration", 8760*time.Hour, "the longest lifetime of a signed certificate; a request's spec.expirationSeconds may ask for less")
	fs.DurationVar(&o.HPASyncPeriod, "horizontal-pod-autoscaler-sync-period", 15*time.Second, "how often every HorizontalPodAutoscaler reads its pods' usage and rescales its target")
	fs.DurationVar(&o.HPADownscaleStabilization, "horizontal-pod-autoscaler-downscale-stabilization", 5*time.Minute, "an autoscaler scales down only to the highest size recommended within this window (unless its spec.behavior sets one)")
	fs.Float64Var(&o.HPATolerance, "horizontal-pod-autoscaler-tolerance", 0.1, "no rescale while usage/target stays within 1 +- this")
	fs.DurationVar(&o.HPACPUInitializationPeriod, "horizontal-pod-autoscaler-cpu-initialization-period", 5*time.Minute, "after a pod starts, its CPU counts only while it is ready")
	fs.DurationVar(&o.HPAInitialReadinessDelay, "horizontal-pod-autoscaler-initial-readiness-delay", 30*time.Second, "after a pod starts, readiness changes within this delay count as its initial readiness")
	fs.IntVar(&o.ConcurrentHPASyncs, "concurrent-horizontal-pod-autoscaler-syncs", 5, "workers of the horizontal pod autoscaler")
	fs.DurationVar(&o.ResourceQuotaSyncPeriod, "resource-quota-sync-period", 5*time.Minute, "how often every ResourceQuota's status.used is recounted from its namespace")
	fs.IntVar(&o.ConcurrentResourceQuotaSyncs, "concurrent-resource-quota-syncs", 5, "workers of the resource-quota controller")
}

// DefaultOptions returns the flag defaults, for callers that do not parse flags.
func DefaultOptions() Options {
	var o Options
	fs := flag.NewFlagSet("defaults", flag.ContinueOnError)
	o.AddFlags(fs)
	return o
}

// Validate checks the flags.
func (o *Options) Validate() error {
	var errs []error
	if _, err := o.EnabledControllers(); err != nil {
		errs = append(errs, err)
	}
	if o.LeaderElect {
		if o.RenewDeadline >= o.LeaseDuration {
			errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline %s must be less than --leader-elect-lease-duration %s", o.RenewDeadline, o.LeaseDuration))
		}
		if o.RetryPeriod >= o.RenewDeadline {
			errs = append(errs, fmt.Errorf("--leader-elect-retry-period %s must be less than --leader-elect-renew-deadline %s", o.RetryPeriod, o.RenewDeadline))
		}
	}
	if (o.ClusterSigningCertFile == "") != (o.ClusterSigningKeyFile == "") {
		errs = append(errs, errors.New("--cluster-signing-cert-file and --cluster-signing-key-file must be given together"))
	}
	if o.ClusterSigningDuration <= 0 {
		errs = append(errs, fmt.Errorf("--cluster-signing-duration %s: must be positive", o.ClusterSigningDuration))
	}
	if o.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d: must be at most 65535", o.Port))
	}
	_, cidr, err := net.ParseCIDR(o.ClusterCIDR)
	if err != nil {
		errs = append(errs, fmt.Errorf("--cluster-cidr %q: %v", o.ClusterCIDR, err))
	} else if ones, bits := cidr.Mask.Size(); o.NodeCIDRMaskSize < ones || o.NodeCIDRMaskSize > bits {
		errs = append(errs, fmt.Errorf("--node-cidr-mask-size %d must be between the cluster CIDR's prefix %d and %d", o.NodeCIDRMaskSize, ones, bits))
	}
	if o.NodeMonitorGrace <= 0 || o.NodeMonitorPeriod <= 0 {
		errs = append(errs, errors.New("--node-monitor-grace-period and --node-monitor-period must be positive"))
	}
	if o.PodEvictionTimeout < 0 {
		errs = append(errs, errors.New("--pod-eviction-timeout must not be negative"))
	}
	if o.ConcurrentSyncs < 1 || o.ConcurrentEndpoints < 1 || o.ConcurrentHPASyncs < 1 {
		errs = append(errs, errors.New("--concurrent-syncs, --concurrent-endpoint-syncs and --concurrent-horizontal-pod-autoscaler-syncs must be at least 1"))
	}
	if o.ResourceQuotaSyncPeriod <= 0 || o.ConcurrentResourceQuotaSyncs < 1 {
		errs = append(errs, errors.New("--resource-quota-sync-period must be positive and --concurrent-resource-quota-syncs at least 1"))
	}
	if o.HPASyncPeriod <= 0 {
		errs = append(errs, errors.New("--horizontal-pod-autoscaler-sync-period must be positive"))
	}
	if o.HPADownscaleStabilization < 0 || o.HPACPUInitializationPeriod < 0 || o.HPAInitialReadinessDelay < 0 {
		errs = append(errs, errors.New("--horizontal-pod-autoscaler-downscale-stabilization, -cpu-initialization-period and -initial-readiness-delay must not be negative"))
	}
	if o.HPATolerance < 0 {
		errs = append(errs, errors.New("--horizontal-pod-autoscaler-tolerance must not be negative"))
	}
	return errors.Join(errs...)
}

// EnabledControllers resolves --controllers into the sorted names to run.
func (o *Options) EnabledControllers() ([]string, error) {
	spec := strings.TrimSpace(o.Controllers)
	if spec == "" {
		spec = "*"
	}
	known := KnownControllers()
	enabled := map[string]bool{}
	star := false
	explicit := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case item == "*":
			star = true
		case strings.HasPrefix(item, "-"):
			name := item[1:]
			if !slices.Contains(known, name) {
				return nil, fmt.Errorf("--controllers: unknown controller %q (known: %s)", name, strings.Join(known, ", "))
			}
			explicit[name] = false
		default:
			if !slices.Contains(known, item) {
				return nil, fmt.Errorf("--controllers: unknown controller %q (known: %s)", item, strings.Join(known, ", "))
			}
			explicit[item] = true
		}
	}
	for _, name := range known {
		if star && !disabledByDefault[name] {
			enabled[name] = true
		}
		if v, ok := explicit[name]; ok {
			enabled[name] = v
		}
	}
	var out []string
	for name, on := range enabled {
		if on {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}
