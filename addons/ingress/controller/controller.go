// Package controller is the ingress controller around the routes and proxy
// packages: informers on IngressClasses, Ingresses, Services, Endpoints and
// kubernetes.io/tls Secrets signal a sync loop that rebuilds the routing
// table from the caches and swaps it into the proxy, then writes
// status.loadBalancer.ingress of the served Ingresses. It also owns the
// HTTP, HTTPS and health listeners.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/addons/ingress/proxy"
	"minik8s/addons/ingress/routes"
	"minik8s/api/client"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/scheme"
)

// Options configure a Controller.
type Options struct {
	// ClientOptions name the apiserver (--server, a comma list, replaces
	// the --kubeconfig's server) as every daemon's do; neither is the
	// in-cluster config.
	component.ClientOptions
	// HTTPAddr and HTTPSAddr are the proxy's listeners; empty disables one.
	HTTPAddr, HTTPSAddr string
	// HealthAddr serves /healthz, /readyz and /metrics; empty disables.
	HealthAddr string
	// Controller is the IngressClass controller name served (default
	// routes.ControllerName).
	Controller string
	// PublishAddresses are written to status.loadBalancer.ingress of the
	// served Ingresses (the addresses clients reach the proxy at, such as
	// the node's IP); empty writes no status.
	PublishAddresses []string
	// SyncDelay coalesces bursts of changes into one rebuild (default 50ms).
	SyncDelay time.Duration
	// Proxy tunes the data path.
	Proxy proxy.Options
	// ExtraClientOptions are added to the apiserver client's (tests act
	// as the add-on's service account with client.WithImpersonation).
	ExtraClientOptions []client.Option
}

// Controller watches the API and serves the Ingresses of its classes.
// Create it with New (which binds the listeners), then Run it.
type Controller struct {
	opts   Options
	log    *slog.Logger
	client *client.Client
	proxy  *proxy.Proxy

	httpL, httpsL, healthL net.Listener

	synced atomic.Bool
	kick   chan struct{}

	classes   *informer.Informer[*networkingv1.IngressClass]
	ingresses *informer.Informer[*networkingv1.Ingress]
	services  *informer.Informer[*corev1.Service]
	endpoints *informer.Informer[*corev1.Endpoints]
	secrets   *informer.Informer[*corev1.Secret]
}

// New connects the apiserver client and binds the listeners, so that their
// addresses are known before Run.
func New(o Options) (*Controller, error) {
	if o.Controller == "" {
		o.Controller = routes.ControllerName
	}
	if o.SyncDelay <= 0 {
		o.SyncDelay = 50 * time.Millisecond
	}
	cfg, err := o.RequireConfig()
	if err != nil {
		return nil, err
	}
	log := slog.Default().With("component", "ingress")
	if o.Proxy.Logger == nil {
		o.Proxy.Logger = log
	}
	p, err := proxy.New(o.Proxy)
	if err != nil {
		return nil, err
	}
	c := &Controller{opts: o, log: log, proxy: p, kick: make(chan struct{}, 1)}
	if c.client, err = client.NewForConfig(cfg, append([]client.Option{client.WithUserAgent("ingress-controller"), client.WithLogger(log)}, o.ExtraClientOptions...)...); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		addr string
		dst  *net.Listener
	}{{o.HTTPAddr, &c.httpL}, {o.HTTPSAddr, &c.httpsL}, {o.HealthAddr, &c.healthL}} {
		if l.addr == "" {
			continue
		}
		if *l.dst, err = net.Listen("tcp", l.addr); err != nil {
			c.closeListeners()
			_ = c.client.Close()
			return nil, fmt.Errorf("listen on %s: %w", l.addr, err)
		}
	}
	return c, nil
}

func (c *Controller) closeListeners() {
	for _, l := range []net.Listener{c.httpL, c.httpsL, c.healthL} {
		if l != nil {
			l.Close()
		}
	}
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// HTTPAddr, HTTPSAddr and HealthAddr are the bound addresses ("" when disabled).
func (c *Controller) HTTPAddr() string   { return addrOf(c.httpL) }
func (c *Controller) HTTPSAddr() string  { return addrOf(c.httpsL) }
func (c *Controller) HealthAddr() string { return addrOf(c.healthL) }

// Proxy is the data path, for tests and the benchmark.
func (c *Controller) Proxy() *proxy.Proxy { return c.proxy }

// Ready reports whether the caches synced and a table built from them is
// being served: before that, every host would get a 404.
func (c *Controller) Ready() bool { return c.synced.Load() }

// Run watches the API and serves until ctx ends, then drains the
// listeners (in-flight requests get 10 s) and returns the first serving
// error, if any.
func (c *Controller) Run(ctx context.Context) error {
	defer c.client.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	factory := informer.NewFactory(c.client, 0)
	c.classes = informer.For[*networkingv1.IngressClass](factory, "")
	c.ingresses = informer.For[*networkingv1.Ingress](factory, "")
	c.services = informer.For[*corev1.Service](factory, "")
	c.endpoints = informer.For[*corev1.Endpoints](factory, "")
	// Only TLS Secrets: the apiserver filters by type, the others never
	// reach this process.
	c.secrets = informer.New[*corev1.Secret](client.For[*corev1.Secret](c.client), "", client.ListOptions{FieldSelector: "type=" + routes.SecretTypeTLS}, 0)
	c.classes.AddEventHandler(kicker[*networkingv1.IngressClass](c))
	c.ingresses.AddEventHandler(kicker[*networkingv1.Ingress](c))
	c.services.AddEventHandler(kicker[*corev1.Service](c))
	c.endpoints.AddEventHandler(kicker[*corev1.Endpoints](c))
	c.secrets.AddEventHandler(kicker[*corev1.Secret](c))
	factory.Start(ctx)
	go c.secrets.Run(ctx)

	errs := make(chan error, 4)
	var wg sync.WaitGroup
	var servers []*http.Server
	serve := func(l net.Listener, h http.Handler, tlsOn bool) {
		if l == nil {
			return
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)}
		if tlsOn {
			srv.TLSConfig = c.proxy.TLSConfig()
		}
		servers = append(servers, srv)
		wg.Go(func() {
			var err error
			if tlsOn {
				err = srv.ServeTLS(l, "", "")
			} else {
				err = srv.Serve(l)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("serve on %s: %w", l.Addr(), err)
			}
		})
	}
	serve(c.healthL, c.proxy.HealthMux(c.Ready), false)
	serve(c.httpL, c.proxy, false)
	serve(c.httpsL, c.proxy, true)
	c.log.Info("ingress controller starting", "http", c.HTTPAddr(), "https", c.HTTPSAddr(), "health", c.HealthAddr(), "controller", c.opts.Controller, "publish", c.opts.PublishAddresses)

	wg.Go(func() { c.loop(ctx) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	c.closeListeners()
	wg.Wait()
	c.proxy.CloseIdleConnections()
	return err
}

// kicker turns every event into a (coalesced) sync request; the handlers
// never touch the objects.
func kicker[T scheme.Object](c *Controller) informer.HandlerFuncs[T] {
	return informer.HandlerFuncs[T]{
		AddFunc:    func(T) { c.signal() },
		UpdateFunc: func(_, _ T) { c.signal() },
		DeleteFunc: func(T) { c.signal() },
	}
}

func (c *Controller) signal() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// loop waits for the caches, then rebuilds the table on every signal, at
// most once per SyncDelay. Status writes run in statusLoop, so a slow
// apiserver never delays a reload.
func (c *Controller) loop(ctx context.Context) {
	if !informer.WaitForCacheSync(ctx, c.classes.HasSynced, c.ingresses.HasSynced, c.services.HasSynced, c.endpoints.HasSynced, c.secrets.HasSynced) {
		return
	}
	statusKick := make(chan struct{}, 1)
	go c.statusLoop(ctx, statusKick)
	for first := true; ; first = false {
		c.sync()
		if first {
			c.synced.Store(true)
			c.log.Info("caches synced, serving", "ingresses", len(c.proxy.Table().Ingresses()))
		}
		select {
		case statusKick <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		// Let a burst (a rollout touching many Endpoints) settle.
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.opts.SyncDelay):
		}
		select {
		case <-c.kick:
		default:
		}
	}
}

// sync builds the table from the caches and swaps it in.
func (c *Controller) sync() {
	start := time.Now()
	all := labels.Everything()
	t := routes.Build(routes.Input{
		Classes:    c.classes.Lister().List(all),
		Ingresses:  c.ingresses.Lister().List(all),
		Services:   c.services.Lister().List(all),
		Endpoints:  c.endpoints.Lister().List(all),
		Secrets:    c.secrets.Lister().List(all),
		Controller: c.opts.Controller,
	})
	c.proxy.Swap(t)
	c.log.Debug("routing table swapped", "ingresses", len(t.Ingresses()), "routes", len(t.Routes()), "took", time.Since(start))
	for _, cf := range t.Conflicts() {
		c.log.Debug("ingress conflict", "conflict", cf.String())
	}
	for _, p := range t.Problems() {
		c.log.Debug("ingress problem", "problem", p)
	}
}

// statusLoop writes the status of the current table's Ingresses after
// every swap, and every 10 s while a write failed.
func (c *Controller) statusLoop(ctx context.Context, kick <-chan struct{}) {
	retry := time.NewTicker(10 * time.Second)
	defer retry.Stop()
	ok := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-retry.C:
			if ok {
				continue
			}
		}
		ok = c.updateStatus(ctx, c.proxy.Table())
	}
}

// updateStatus sets status.loadBalancer.ingress of every served Ingress
// to PublishAddresses, writing only those that differ.
func (c *Controller) updateStatus(ctx context.Context, t *routes.Table) bool {
	if len(c.opts.PublishAddresses) == 0 {
		return true
	}
	want := make([]*networkingv1.IngressLoadBalancerIngress, 0, len(c.opts.PublishAddresses))
	for _, a := range c.opts.PublishAddresses {
		if net.ParseIP(a) != nil {
			want = append(want, &networkingv1.IngressLoadBalancerIngress{Ip: a})
		} else {
			want = append(want, &networkingv1.IngressLoadBalancerIngress{Hostname: a})
		}
	}
	res := client.For[*networkingv1.Ingress](c.client)
	ok := true
	for _, key := range t.Ingresses() {
		ns, name := informer.SplitKey(key)
		cached, err := c.ingresses.Lister().Get(ns, name)
		if err != nil || sameAddresses(cached.GetStatus().GetLoadBalancer().GetIngress(), want) {
			continue
		}
		ing := proto.Clone(cached).(*networkingv1.Ingress)
		ing.Status = &networkingv1.IngressStatus{LoadBalancer: &networkingv1.IngressLoadBalancerStatus{Ingress: want}}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = res.UpdateStatus(wctx, ing)
		cancel()
		switch {
		case err == nil:
			c.log.Info("ingress status updated", "ingress", key, "addresses", c.opts.PublishAddresses)
		case apierrors.IsNotFound(err):
		default:
			// A conflict means a newer object is on its way: its event
			// triggers another sync; other errors wait for the retry.
			ok = false
			c.log.Info("update ingress status", "ingress", key, "err", err)
		}
	}
	return ok
}

func sameAddresses(have, want []*networkingv1.IngressLoadBalancerIngress) bool {
	return slices.EqualFunc(have, want, func(a, b *networkingv1.IngressLoadBalancerIngress) bool {
		return a.GetIp() == b.GetIp() && a.GetHostname() == b.GetHostname()
	})
}
