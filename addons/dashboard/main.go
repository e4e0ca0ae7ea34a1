// Command dashboard is the cluster's web dashboard add-on: a login page,
// a small single-page app of plain HTML, CSS and JavaScript embedded in
// the binary, and the JSON and server-sent-event endpoints behind it
// (package web). It holds no rights of its own: a user logs in with a
// bearer token, and every apiserver call made for them carries that
// token, so RBAC decides what they see and may change. The app on
// --port, /healthz, /readyz and /metrics on --health-port. See
// docs/dashboard.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"minik8s/addons/dashboard/web"
	"minik8s/api/client"
	"minik8s/api/component"

	_ "minik8s/api/all"
)

func main() {
	component.Main("dashboard", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stderr) })
}

// flags holds the command line; newFlags also serves the manifest test,
// which checks that deploy/addons/dashboard.yaml passes only flags that
// exist.
type flags struct {
	client     component.ClientOptions
	port       int
	healthPort int
	bind       string
	verbosity  component.Verbosity
}

func newFlags(out io.Writer) (*flag.FlagSet, *flags) {
	f := &flags{}
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(out)
	f.client.AddFlags(fs, "in a pod, the in-cluster config: the kubernetes Service and the cluster CA; only the users' tokens are ever sent")
	fs.StringVar(&f.bind, "bind-address", "", "address to listen on (empty: all)")
	fs.IntVar(&f.port, "port", 9090, "port of the dashboard (plain HTTP)")
	fs.IntVar(&f.healthPort, "health-port", 9091, "port of /healthz, /readyz and /metrics (0 disables)")
	f.verbosity.AddFlags(fs)
	return fs, f
}

// addrs checks the ports and returns the listen addresses.
func (f *flags) addrs() (app, health string, err error) {
	if f.port <= 0 || f.port > 65535 {
		return "", "", fmt.Errorf("--port %d: not a port", f.port)
	}
	if f.healthPort < 0 || f.healthPort > 65535 || f.healthPort == f.port {
		return "", "", fmt.Errorf("--health-port %d: not a port, or the app's", f.healthPort)
	}
	app = f.bind + ":" + strconv.Itoa(f.port)
	if f.healthPort > 0 {
		health = f.bind + ":" + strconv.Itoa(f.healthPort)
	}
	return app, health, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs, f := newFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	f.verbosity.SetDefault(stderr)
	appAddr, healthAddr, err := f.addrs()
	if err != nil {
		return err
	}
	if !f.client.Given() {
		if _, err := client.InClusterConfig(); err != nil {
			return fmt.Errorf("no apiserver given: set --server HOST:PORT or --kubeconfig, or run in a pod (%v)", err)
		}
	}
	cfg, err := f.client.Config()
	if err != nil {
		return err
	}
	log := slog.Default().With("component", "dashboard")
	// The connection carries no credentials of the dashboard: each call
	// carries its user's token (web.WithToken).
	c, err := client.NewForConfig(web.UserConfig(cfg), client.WithUserAgent("dashboard"), client.WithLogger(log))
	if err != nil {
		return err
	}
	defer c.Close()

	reg := component.NewRegistry()
	srv := web.New(web.Options{API: web.NewAPI(c), Logger: log, Metrics: reg})
	health := component.NewHealth(reg)
	health.AddReadyz(component.ShutdownCheck(ctx))
	app, err := component.Listen(appAddr, srv)
	if err != nil {
		return err
	}
	hs, err := component.Listen(healthAddr, health.Handler())
	if err != nil {
		_ = app.Shutdown()
		return err
	}
	log.Info("serving", "addr", app.Addr(), "health", hs.Addr())
	select {
	case <-ctx.Done():
	case <-app.Done():
	case <-hs.Done():
	}
	return errors.Join(app.Shutdown(), hs.Shutdown())
}
