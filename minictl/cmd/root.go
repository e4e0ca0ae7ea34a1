// Package cmd implements minictl's commands: a kubectl-like client of the
// minik8s apiserver. Each command is a cobra.Command built over Options,
// which carries the global flags, the output streams and a lazily opened
// connection to the cluster, so commands can be run against a test cluster
// with captured output.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	_ "minik8s/api/all" // every kind minictl can print or apply
	"minik8s/api/client"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// Version is the client version; the build may stamp it with -ldflags.
var Version = "v0.1.0-minik8s"

// ResourceAPI is the part of the API client minictl uses for one resource;
// *client.Resource[scheme.Object] implements it.
type ResourceAPI interface {
	Create(ctx context.Context, obj scheme.Object) (scheme.Object, error)
	Get(ctx context.Context, namespace, name string) (scheme.Object, error)
	List(ctx context.Context, namespace string, opts client.ListOptions) (*client.List[scheme.Object], error)
	Update(ctx context.Context, obj scheme.Object) (scheme.Object, error)
	Delete(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions) (scheme.Object, error)
	Watch(ctx context.Context, namespace string, opts client.ListOptions) (client.Watch[scheme.Object], error)
}

// Cluster is a connection to the apiservers.
type Cluster interface {
	Resource(k *scheme.Kind) (ResourceAPI, error)
	Discovery(ctx context.Context) ([]*rpc.APIResource, error)
	Close() error
}

// grpcCluster adapts *client.Client to Cluster.
type grpcCluster struct{ c *client.Client }

func (g grpcCluster) Resource(k *scheme.Kind) (ResourceAPI, error) { return g.c.Dynamic(k.Resource) }
func (g grpcCluster) Discovery(ctx context.Context) ([]*rpc.APIResource, error) {
	return g.c.Discovery(ctx)
}
func (g grpcCluster) Close() error { return g.c.Close() }

// Connect opens a Cluster over gRPC to cfg's servers.
func Connect(cfg *client.Config) (Cluster, error) {
	c, err := client.NewForConfig(cfg, client.WithUserAgent("minictl/"+Version))
	if err != nil {
		return nil, err
	}
	return grpcCluster{c}, nil
}

// Options are the global flags and the environment every command runs in.
type Options struct {
	Server         string
	Kubeconfig     string
	Context        string
	Namespace      string
	RequestTimeout string
	// As, AsGroups and AsUID impersonate (kubectl's --as, --as-group,
	// --as-uid): the apiserver runs every call as that user once the
	// caller may impersonate it.
	As       string
	AsGroups []string
	AsUID    string

	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	Getenv func(string) string
	Now    func() time.Time
	// Connect opens the cluster; tests may substitute a test cluster.
	Connect func(cfg *client.Config) (Cluster, error)

	cmd     *cobra.Command
	cfg     *client.Config
	servers []string
	cluster Cluster
}

// Execute runs minictl with os.Args and returns the process exit code.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := &Options{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv, Now: time.Now, Connect: Connect}
	return o.Run(ctx, os.Args[1:])
}

// Run executes one command line and returns its exit code; errors are
// printed to ErrOut as one line each.
func (o *Options) Run(ctx context.Context, args []string) int {
	root := NewRootCommand(o)
	root.SetArgs(args)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	root.SetIn(o.In)
	err := root.ExecuteContext(ctx)
	if o.cluster != nil {
		_ = o.cluster.Close()
	}
	if err == nil {
		return 0
	}
	var exit *exitCodeError
	if errors.As(err, &exit) {
		// As kubectl exec: say so, and exit with the command's status.
		fmt.Fprintln(o.ErrOut, exit.Error())
		return exit.code
	}
	if err != errSilent {
		fmt.Fprintln(o.ErrOut, FormatError(err, o.servers))
	}
	return 1
}

// NewRootCommand builds the minictl command tree over o.
func NewRootCommand(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:           "minictl",
		Short:         "minictl controls a minik8s cluster",
		Long:          "minictl controls a minik8s cluster, speaking gRPC to its apiservers, with kubectl's verbs and output.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			o.cmd = c
			return o.complete(c)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	f := root.PersistentFlags()
	f.StringVarP(&o.Server, "server", "s", "", "apiserver HOST:PORT or https://HOST:PORT, or a comma-separated list of several (overrides the kubeconfig's server, as does $"+EnvServer+")")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "path to the kubeconfig file to use (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.Context, "context", "", "the kubeconfig context to use (default: its current-context)")
	f.StringVarP(&o.Namespace, "namespace", "n", "", "the namespace of this request (default \"default\")")
	f.StringVar(&o.RequestTimeout, "request-timeout", "0", "how long to wait for one server request (e.g. 1s, 2m); 0 waits forever")
	f.StringVar(&o.As, "as", "", "username to impersonate for the operation (a user or system:serviceaccount:NS:NAME)")
	f.StringArrayVar(&o.AsGroups, "as-group", nil, "group to impersonate for the operation; repeat for several")
	f.StringVar(&o.AsUID, "as-uid", "", "UID to impersonate for the operation")

	root.AddCommand(
		newGetCommand(o),
		newDescribeCommand(o),
		newApplyCommand(o),
		newCreateCommand(o),
		newReplaceCommand(o),
		newDeleteCommand(o),
		newLabelCommand(o, "label"),
		newLabelCommand(o, "annotate"),
		newVersionCommand(o),
		newAPIResourcesCommand(o),
		newScaleCommand(o),
		newRolloutCommand(o),
		newSetCommand(o),
		newRunCommand(o),
		newLogsCommand(o),
		newExecCommand(o),
		newTopCommand(o),
		newConfigCommand(o),
		newCertsCommand(o),
		newCertificateCommand(o),
		newAuthCommand(o),
	)
	return root
}

// complete loads the kubeconfig and settles the namespace and servers.
func (o *Options) complete(c *cobra.Command) error {
	cfg, err := ResolveConfig(o.Kubeconfig, o.Context, o.Server, o.getenv)
	if err != nil {
		return err
	}
	if o.As == "" && (len(o.AsGroups) > 0 || o.AsUID != "") {
		return fmt.Errorf("requesting uid or groups requires a user to impersonate (--as)")
	}
	if o.As != "" { // else the kubeconfig's as, as-groups, as-uid
		cfg.Impersonate = client.Impersonation{User: o.As, Groups: o.AsGroups, UID: o.AsUID}
	}
	o.cfg = cfg
	o.servers = cfg.Servers
	if o.Namespace == "" {
		o.Namespace = cfg.Namespace
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if _, err := o.timeout(); err != nil {
		return err
	}
	return nil
}

func (o *Options) getenv(k string) string {
	if o.Getenv == nil {
		return ""
	}
	return o.Getenv(k)
}

func (o *Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// namespaceExplicit says the user passed -n.
func (o *Options) namespaceExplicit() bool {
	if o.cmd == nil {
		return false
	}
	f := o.cmd.Flags().Lookup("namespace")
	return f != nil && f.Changed
}

func (o *Options) timeout() (time.Duration, error) {
	s := strings.TrimSpace(o.RequestTimeout)
	if s == "" || s == "0" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid --request-timeout %q: must be a duration such as 1s, 2m or 3h", o.RequestTimeout)
	}
	return d, nil
}

// requestContext bounds one server request by --request-timeout.
func (o *Options) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, _ := o.timeout(); d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// Cluster opens the connection on first use.
func (o *Options) Cluster() (Cluster, error) {
	if o.cluster != nil {
		return o.cluster, nil
	}
	connect := o.Connect
	if connect == nil {
		connect = Connect
	}
	c, err := connect(o.cfg)
	if err != nil {
		return nil, err
	}
	o.cluster = c
	return c, nil
}

// resource returns the API of kind k.
func (o *Options) resource(k *scheme.Kind) (ResourceAPI, error) {
	c, err := o.Cluster()
	if err != nil {
		return nil, err
	}
	return c.Resource(k)
}

// printErr reports one error line without stopping the command.
func (o *Options) printErr(err error) {
	fmt.Fprintln(o.ErrOut, FormatError(err, o.servers))
}
