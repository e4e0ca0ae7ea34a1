// Command dns is the cluster DNS add-on (the kube-dns service): it watches
// Services and Endpoints through the apiserver and answers, over UDP and
// TCP, the names the Kubernetes DNS specification defines under the
// cluster domain - <svc>.<ns>.svc.cluster.local, SRV records of named
// ports, the names of a headless service's pods, <a-b-c-d>.<ns>.pod... -
// with TTL 5s. Names outside the domain are refused unless --upstream
// names a server to forward them to. /healthz, /readyz (ready once the
// caches synced) and /metrics are served on --health-port.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"strconv"

	"minik8s/addons/dns/server"
	"minik8s/api/component"
)

func main() {
	component.Main("dns", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stderr) })
}

// flags holds the command line; newFlags also serves the manifest test,
// which checks that deploy/addons/dns.yaml passes only flags that exist.
type flags struct {
	client                   component.ClientOptions
	listen, domain, upstream string
	healthPort               int
	verbosity                component.Verbosity
}

func newFlags(out io.Writer) (*flag.FlagSet, *flags) {
	f := &flags{}
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(out)
	f.client.AddFlags(fs, "in a pod, the in-cluster config: the kubernetes Service with the pod's service-account token")
	fs.StringVar(&f.listen, "listen", ":53", "DNS address, served over UDP and TCP")
	fs.StringVar(&f.domain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	fs.StringVar(&f.upstream, "upstream", "", "HOST[:PORT] to forward names outside the cluster domain to; empty refuses them")
	fs.IntVar(&f.healthPort, "health-port", 8080, "port of /healthz, /livez, /readyz and /metrics (0 disables)")
	f.verbosity.AddFlags(fs)
	return fs, f
}

// options checks the flags and turns them into server options.
func (f *flags) options() (server.Options, error) {
	// Neither --server nor --kubeconfig: the in-cluster config (the pod's
	// service account and the kubernetes Service), which server.New
	// resolves.
	o := server.Options{
		ClientOptions: f.client,
		Listen:        f.listen,
		ClusterDomain: f.domain,
		Upstream:      f.upstream,
	}
	if f.healthPort > 0 {
		o.HealthAddr = ":" + strconv.Itoa(f.healthPort)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs, f := newFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	f.verbosity.SetDefault(stderr)
	o, err := f.options()
	if err != nil {
		return err
	}
	s, err := server.New(o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
