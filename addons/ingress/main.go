// Command ingress is the cluster's ingress controller add-on: a reverse
// proxy of its own (net/http) that serves the networking.k8s.io/v1
// Ingresses of the IngressClasses whose controller is minik8s.io/ingress
// (and Ingresses without a class when such a class is the default). It
// watches IngressClasses, Ingresses, Services, Endpoints and
// kubernetes.io/tls Secrets through the apiserver, rebuilds its routing
// table on every change and swaps it in atomically, and sends each request
// straight to a ready endpoint of the backend Service. HTTP on --http-port,
// HTTPS (certificates by SNI) on --https-port, /healthz, /readyz and
// /metrics on --health-port. See docs/ingress.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"minik8s/addons/ingress/controller"
	"minik8s/addons/ingress/routes"
	"minik8s/api/component"
)

func main() {
	component.Main("ingress", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stderr) })
}

// flags holds the command line; newFlags also serves the manifest test,
// which checks that deploy/addons/ingress.yaml passes only flags that exist.
type flags struct {
	client                      component.ClientOptions
	controller, publish         string
	httpPort, httpsPort         int
	healthPort                  int
	connectTimeout, readTimeout time.Duration
	verbosity                   component.Verbosity
}

func newFlags(out io.Writer) (*flag.FlagSet, *flags) {
	f := &flags{}
	fs := flag.NewFlagSet("ingress", flag.ContinueOnError)
	fs.SetOutput(out)
	f.client.AddFlags(fs, "in a pod, the in-cluster config: the kubernetes Service with the pod's service-account token")
	fs.StringVar(&f.controller, "controller-class", routes.ControllerName, "spec.controller of the IngressClasses to serve")
	fs.StringVar(&f.publish, "publish-addresses", "", "comma-separated IPs or hostnames written to status.loadBalancer.ingress of served Ingresses (in the manifest: the node's IP); empty writes no status")
	fs.IntVar(&f.httpPort, "http-port", 80, "HTTP port (0 disables)")
	fs.IntVar(&f.httpsPort, "https-port", 443, "HTTPS port (0 disables)")
	fs.IntVar(&f.healthPort, "health-port", 10254, "port of /healthz, /readyz and /metrics (0 disables)")
	fs.DurationVar(&f.connectTimeout, "upstream-connect-timeout", time.Second, "bound on connecting to an endpoint before trying another")
	fs.DurationVar(&f.readTimeout, "upstream-response-timeout", 60*time.Second, "bound on waiting for a backend's response headers")
	f.verbosity.AddFlags(fs)
	return fs, f
}

// options checks the flags and turns them into controller options.
func (f *flags) options() (controller.Options, error) {
	o := controller.Options{
		ClientOptions: f.client,
		Controller:    f.controller,
	}
	o.Proxy.ConnectTimeout = f.connectTimeout
	o.Proxy.ResponseHeaderTimeout = f.readTimeout
	for _, p := range []struct {
		name string
		port int
		dst  *string
	}{{"http-port", f.httpPort, &o.HTTPAddr}, {"https-port", f.httpsPort, &o.HTTPSAddr}, {"health-port", f.healthPort, &o.HealthAddr}} {
		if p.port < 0 || p.port > 65535 {
			return o, fmt.Errorf("--%s %d: not a port", p.name, p.port)
		}
		if p.port > 0 {
			*p.dst = ":" + strconv.Itoa(p.port)
		}
	}
	for _, a := range strings.Split(f.publish, ",") {
		if a = strings.TrimSpace(a); a != "" {
			if strings.Contains(a, "$(") {
				return o, fmt.Errorf("--publish-addresses %q: an unexpanded variable (is the env var set?)", f.publish)
			}
			o.PublishAddresses = append(o.PublishAddresses, a)
		}
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
	c, err := controller.New(o)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
