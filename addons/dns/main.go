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
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"minik8s/addons/dns/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dns:", err)
		os.Exit(1)
	}
}

// flags holds the command line; newFlags also serves the manifest test,
// which checks that deploy/addons/dns.yaml passes only flags that exist.
type flags struct {
	server, kubeconfig, listen, domain, upstream string
	healthPort                                   int
	verbose                                      bool
}

func newFlags(out io.Writer) (*flag.FlagSet, *flags) {
	f := &flags{}
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.server, "server", "", "apiserver address(es) HOST:PORT or http://HOST:PORT, comma-separated; replaces the kubeconfig's server (default: in a pod, the in-cluster config: the kubernetes Service with the pod's service-account token)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file whose current context names the apiserver and credentials")
	fs.StringVar(&f.listen, "listen", ":53", "DNS address, served over UDP and TCP")
	fs.StringVar(&f.domain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	fs.StringVar(&f.upstream, "upstream", "", "HOST[:PORT] to forward names outside the cluster domain to; empty refuses them")
	fs.IntVar(&f.healthPort, "health-port", 8080, "port of /healthz, /readyz and /metrics (0 disables)")
	fs.BoolVar(&f.verbose, "v", false, "debug logging")
	return fs, f
}

// options checks the flags and turns them into server options.
func (f *flags) options() (server.Options, error) {
	// Neither flag: the in-cluster config (the pod's service account and
	// the kubernetes Service), which server.New resolves.
	o := server.Options{
		Servers:       []string{f.server},
		Kubeconfig:    f.kubeconfig,
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
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
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
