// Package app assembles the controller-manager from its flags: the API
// client, leader election on the Lease kube-system/controller-manager, the
// /healthz and /metrics endpoints, and - only while leading - the shared
// informers and every enabled controller.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	_ "minik8s/api/all" // every kind: the garbage collector watches them all
	"minik8s/api/client"
	"minik8s/api/component"
	"minik8s/api/informer"
	"minik8s/api/record"
	"minik8s/controller-manager/controller"
)

// Context is what a controller's start function gets: the shared client
// and informer factory, event recorders, metrics and the options.
type Context struct {
	Client   *client.Client
	Factory  *informer.Factory
	Metrics  *controller.Metrics
	Options  Options
	Log      *slog.Logger
	recorder func(component string) controller.EventRecorder
}

// Recorder returns the event recorder of a component ("replicaset-controller").
func (c *Context) Recorder(component string) controller.EventRecorder { return c.recorder(component) }

// StartFunc builds a controller, registering its informers on the
// factory, and returns the function that runs it until ctx ends (an
// error: its caches did not sync); a nil run function means the
// controller has nothing to do with these options.
type StartFunc func(ctx context.Context, cc *Context) (run func(ctx context.Context) error, err error)

// Ready carries what a started controller-manager serves.
type Ready struct {
	// HealthAddr is the host:port of /healthz and /metrics ("" when disabled).
	HealthAddr string
}

// Run runs the controller-manager until ctx ends, or until it loses
// leadership (component.ErrLostLeadership: the process should exit so
// that it starts over as a clean standby, as Kubernetes' does). ready, if
// not nil, receives the served addresses once /healthz answers. It is
// wiring: the client, metrics, the health server and the leader-elected
// controllers.
func Run(ctx context.Context, o Options, ready chan<- Ready) error {
	if err := o.Validate(); err != nil {
		return err
	}
	enabled, _ := o.EnabledControllers()
	c, err := o.NewClient("controller-manager")
	if err != nil {
		return err
	}
	defer c.Close()

	reg := component.NewRegistry()
	metrics := controller.NewMetrics(reg)
	leading := prometheus.NewGauge(prometheus.GaugeOpts{Name: "leader_election_master_status", Help: "1 while this replica leads, else 0."})
	reg.MustRegister(leading)

	host, _ := os.Hostname()
	elected, err := component.NewElected(component.ElectedConfig{
		Client: c, Options: o.LeaderElectionOptions, Leading: leading,
		Work: func(ctx context.Context) error { return startControllers(ctx, c, o, enabled, metrics, host) },
	})
	if err != nil {
		return err
	}
	health := component.NewHealth(reg)
	health.AddLivez(elected.Check())
	health.AddReadyz(component.ShutdownCheck(ctx))
	addr := ""
	if o.Port >= 0 {
		addr = net.JoinHostPort(o.BindAddress, strconv.Itoa(o.Port))
	}
	hs, err := component.Listen(addr, health.Handler())
	if err != nil {
		return fmt.Errorf("listen for /healthz: %w", err)
	}
	defer hs.Shutdown()
	slog.Info("controller-manager starting", "controllers", enabled, "leaderElect", o.LeaderElect, "identity", elected.Identity(), "health", hs.Addr())
	if ready != nil {
		ready <- Ready{HealthAddr: hs.Addr()}
	}
	return elected.Run(ctx)
}

// startControllers builds the enabled controllers over one informer
// factory, starts the informers and runs the controllers until ctx ends.
func startControllers(ctx context.Context, c *client.Client, o Options, enabled []string, metrics *controller.Metrics, host string) error {
	var recMu sync.Mutex
	recorders := map[string]*record.Recorder{}
	cc := &Context{
		Client:  c,
		Factory: informer.NewFactory(c, o.MinResyncPeriod),
		Metrics: metrics,
		Options: o,
		Log:     slog.Default(),
		recorder: func(component string) controller.EventRecorder {
			recMu.Lock()
			defer recMu.Unlock()
			r, ok := recorders[component]
			if !ok {
				r = record.New(c, component, host)
				recorders[component] = r
			}
			return r
		},
	}
	defer func() {
		recMu.Lock()
		defer recMu.Unlock()
		for _, r := range recorders {
			r.Stop()
		}
	}()
	type named struct {
		name string
		run  func(context.Context) error
	}
	var runs []named
	for _, name := range enabled {
		run, err := registry[name](ctx, cc)
		if err != nil {
			return fmt.Errorf("start controller %s: %w", name, err)
		}
		if run == nil {
			slog.Info("controller has nothing to do", "controller", name)
			continue
		}
		runs = append(runs, named{name, run})
		slog.Info("controller started", "controller", name)
	}
	cc.Factory.Start(ctx)
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(ctx); err != nil && ctx.Err() == nil {
				slog.Error("controller stopped", "controller", r.name, "err", err)
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}
