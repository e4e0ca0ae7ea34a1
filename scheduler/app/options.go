package app

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"minik8s/api/component"
	"minik8s/scheduler/framework"
)

// DefaultSchedulerName is the scheduler pods get when they name none.
const DefaultSchedulerName = "default-scheduler"

// Options are the scheduler's settings, from flags and an optional config
// file. Precedence: built-in defaults, then the config file, then flags
// given on the command line.
type Options struct {
	// ClientOptions are --kubeconfig and --server (the apiserver address
	// list, "host:port,host:port", replacing the kubeconfig's server).
	component.ClientOptions
	// SchedulerName is the spec.schedulerName this scheduler serves; also
	// the source.component of its events.
	SchedulerName string

	// LeaderElectionOptions are the --leader-elect flags. An empty
	// ResourceName derives the lease from the scheduler name: "scheduler"
	// for the default scheduler, the scheduler name otherwise (two
	// different schedulers must not share a lease).
	component.LeaderElectionOptions

	// BindAddress and Port serve /healthz and /metrics; Port 0 disables them.
	BindAddress string
	Port        int

	// ConfigFile is a YAML (or JSON) FileConfig.
	ConfigFile string
	// Weights are the score weights (see framework.DefaultWeights).
	Weights framework.Weights
	// PercentageOfNodesToScore: see framework.Config.
	PercentageOfNodesToScore int
	// PodInitialBackoff and PodMaxBackoff bound the retry back-off of pods.
	PodInitialBackoff time.Duration
	PodMaxBackoff     time.Duration
	// ParallelBinds bounds the binding (and status) calls in flight.
	ParallelBinds int

	weightsFlag string
	setFlags    map[string]bool
}

// FileConfig is the --config file. Every field is optional; flags given
// on the command line override it.
//
//	schedulerName: my-scheduler
//	percentageOfNodesToScore: 0
//	podInitialBackoffSeconds: 1
//	podMaxBackoffSeconds: 10
//	parallelBinds: 64
//	scoreWeights:
//	  LeastAllocated: 1
//	  BalancedAllocation: 1
//	  SelectorSpread: 2
//	  NodeAffinity: 2
//	  InterPodAffinity: 2
//	  TaintToleration: 3
//	leaderElection:
//	  leaderElect: true
//	  leaseDuration: 15s
//	  renewDeadline: 10s
//	  retryPeriod: 2s
//	  resourceName: scheduler
//	  resourceNamespace: kube-system
//	clientConnection:
//	  kubeconfig: /etc/kubernetes/scheduler.conf
type FileConfig struct {
	SchedulerName            *string          `json:"schedulerName,omitempty"`
	PercentageOfNodesToScore *int             `json:"percentageOfNodesToScore,omitempty"`
	PodInitialBackoffSeconds *int             `json:"podInitialBackoffSeconds,omitempty"`
	PodMaxBackoffSeconds     *int             `json:"podMaxBackoffSeconds,omitempty"`
	ParallelBinds            *int             `json:"parallelBinds,omitempty"`
	ScoreWeights             map[string]int64 `json:"scoreWeights,omitempty"`
	LeaderElection           *struct {
		LeaderElect       *bool   `json:"leaderElect,omitempty"`
		LeaseDuration     *string `json:"leaseDuration,omitempty"`
		RenewDeadline     *string `json:"renewDeadline,omitempty"`
		RetryPeriod       *string `json:"retryPeriod,omitempty"`
		ResourceName      *string `json:"resourceName,omitempty"`
		ResourceNamespace *string `json:"resourceNamespace,omitempty"`
	} `json:"leaderElection,omitempty"`
	// ClientConnection is Kubernetes' KubeSchedulerConfiguration field of
	// the same name; only its kubeconfig is read.
	ClientConnection *struct {
		Kubeconfig *string `json:"kubeconfig,omitempty"`
	} `json:"clientConnection,omitempty"`
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	le := component.DefaultLeaderElection("")
	return &Options{
		SchedulerName:         DefaultSchedulerName,
		LeaderElectionOptions: le,
		BindAddress:           "127.0.0.1",
		Port:                  10259,
		Weights:               framework.DefaultWeights(),
		PodInitialBackoff:     time.Second,
		PodMaxBackoff:         10 * time.Second,
		ParallelBinds:         64,
	}
}

// AddFlags registers the flags on fs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	o.ClientOptions.AddFlags(fs, "")
	fs.StringVar(&o.SchedulerName, "scheduler-name", o.SchedulerName, "schedule only pods whose spec.schedulerName is this; also the source of events")
	o.LeaderElectionOptions.AddFlags(fs)
	// The scheduler's older short names for the same settings; both
	// spellings set one value.
	fs.DurationVar(&o.LeaseDuration, "lease-duration", o.LeaseDuration, "same as --leader-elect-lease-duration")
	fs.DurationVar(&o.RenewDeadline, "renew-deadline", o.RenewDeadline, "same as --leader-elect-renew-deadline")
	fs.DurationVar(&o.RetryPeriod, "retry-period", o.RetryPeriod, "same as --leader-elect-retry-period")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "address for /healthz and /metrics")
	fs.IntVar(&o.Port, "port", o.Port, "port for /healthz and /metrics (0 disables)")
	fs.StringVar(&o.ConfigFile, "config", o.ConfigFile, "scheduler config file (YAML); flags given explicitly override it")
	fs.StringVar(&o.weightsFlag, "score-weights", "", "score weights as Name=weight,... over the defaults "+framework.DefaultWeights().String())
	fs.IntVar(&o.PercentageOfNodesToScore, "percentage-of-nodes-to-score", o.PercentageOfNodesToScore, "stop filtering after finding this % of nodes feasible (0: adaptive, 100: all)")
	fs.DurationVar(&o.PodInitialBackoff, "pod-initial-backoff", o.PodInitialBackoff, "back-off after a pod's first failed attempt (doubles per attempt)")
	fs.DurationVar(&o.PodMaxBackoff, "pod-max-backoff", o.PodMaxBackoff, "longest back-off of a pod")
	fs.IntVar(&o.ParallelBinds, "parallel-binds", o.ParallelBinds, "binding and status calls in flight at once")
}

// Complete applies the config file and the explicitly set flags (parsed
// from fs) and checks the result.
func (o *Options) Complete(fs *flag.FlagSet) error {
	o.setFlags = map[string]bool{}
	if fs != nil {
		fs.Visit(func(f *flag.Flag) {
			name := f.Name
			switch name {
			case "leader-elect-lease-duration", "leader-elect-renew-deadline", "leader-elect-retry-period":
				name = strings.TrimPrefix(name, "leader-elect-") // the alias sets the same value
			}
			o.setFlags[name] = true
		})
	}
	if o.ConfigFile != "" {
		if err := o.applyFile(o.ConfigFile); err != nil {
			return err
		}
	}
	if o.weightsFlag != "" {
		if err := framework.ParseWeights(o.weightsFlag, o.Weights); err != nil {
			return fmt.Errorf("--score-weights: %w", err)
		}
	}
	if o.Identity == "" {
		o.Identity = component.DefaultIdentity()
	}
	return o.Validate()
}

// LeaseNameOrDefault returns the lease this scheduler campaigns for.
func (o *Options) LeaseNameOrDefault() string {
	switch {
	case o.ResourceName != "":
		return o.ResourceName
	case o.SchedulerName == DefaultSchedulerName:
		return "scheduler"
	default:
		return o.SchedulerName
	}
}

// Validate checks the settings.
func (o *Options) Validate() error {
	var errs []error
	if o.SchedulerName == "" {
		errs = append(errs, errors.New("--scheduler-name must not be empty"))
	}
	if err := o.LeaderElectionOptions.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Port < 0 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d out of range", o.Port))
	}
	if o.PercentageOfNodesToScore < 0 || o.PercentageOfNodesToScore > 100 {
		errs = append(errs, fmt.Errorf("--percentage-of-nodes-to-score %d: want 0-100", o.PercentageOfNodesToScore))
	}
	if o.PodInitialBackoff <= 0 || o.PodMaxBackoff < o.PodInitialBackoff {
		errs = append(errs, fmt.Errorf("pod back-off %s..%s: want 0 < initial <= max", o.PodInitialBackoff, o.PodMaxBackoff))
	}
	if o.ParallelBinds < 1 {
		errs = append(errs, fmt.Errorf("--parallel-binds %d: at least 1", o.ParallelBinds))
	}
	return errors.Join(errs...)
}

// applyFile reads the config file; fields whose flag was given explicitly
// keep the flag's value.
func (o *Options) applyFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	var fc FileConfig
	if err := yaml.UnmarshalStrict(raw, &fc); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	setStr := func(flagName string, dst *string, v *string) {
		if v != nil && !o.setFlags[flagName] {
			*dst = *v
		}
	}
	setInt := func(flagName string, dst *int, v *int) {
		if v != nil && !o.setFlags[flagName] {
			*dst = *v
		}
	}
	var errs []error
	setDur := func(flagName string, dst *time.Duration, v *string) {
		if v == nil || o.setFlags[flagName] {
			return
		}
		d, err := time.ParseDuration(*v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config %s: %s: %w", path, flagName, err))
			return
		}
		*dst = d
	}
	setSeconds := func(flagName string, dst *time.Duration, v *int) {
		if v != nil && !o.setFlags[flagName] {
			*dst = time.Duration(*v) * time.Second
		}
	}
	setStr("scheduler-name", &o.SchedulerName, fc.SchedulerName)
	setInt("percentage-of-nodes-to-score", &o.PercentageOfNodesToScore, fc.PercentageOfNodesToScore)
	setSeconds("pod-initial-backoff", &o.PodInitialBackoff, fc.PodInitialBackoffSeconds)
	setSeconds("pod-max-backoff", &o.PodMaxBackoff, fc.PodMaxBackoffSeconds)
	setInt("parallel-binds", &o.ParallelBinds, fc.ParallelBinds)
	for name, w := range fc.ScoreWeights {
		if err := o.Weights.Set(name, w); err != nil {
			errs = append(errs, fmt.Errorf("config %s: scoreWeights: %w", path, err))
		} else if w < 0 {
			errs = append(errs, fmt.Errorf("config %s: scoreWeights: %s: negative weight", path, name))
		}
	}
	if le := fc.LeaderElection; le != nil {
		if le.LeaderElect != nil && !o.setFlags["leader-elect"] {
			o.LeaderElect = *le.LeaderElect
		}
		setDur("lease-duration", &o.LeaseDuration, le.LeaseDuration)
		setDur("renew-deadline", &o.RenewDeadline, le.RenewDeadline)
		setDur("retry-period", &o.RetryPeriod, le.RetryPeriod)
		setStr("leader-elect-resource-name", &o.ResourceName, le.ResourceName)
		setStr("leader-elect-resource-namespace", &o.ResourceNamespace, le.ResourceNamespace)
	}
	if cc := fc.ClientConnection; cc != nil {
		setStr("kubeconfig", &o.Kubeconfig, cc.Kubeconfig)
	}
	return errors.Join(errs...)
}
