// Package app assembles the controller-manager from its flags: the API
// client, leader election on the Lease kube-system/controller-manager, the
// /healthz and /metrics endpoints, and - only while leading - the shared
// informers and every enabled controller.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	_ "minik8s/api/all" // every kind: the garbage collector watches them all
	"minik8s/api/client"
	"minik8s/api/informer"
	"minik8s/api/leaderelection"
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
// leadership (an error: the process should exit so that it starts over
// as a clean standby, as Kubernetes' does). ready, if not nil, receives
// the served addresses once /healthz answers.
func Run(ctx context.Context, o Options, ready chan<- Ready) error {
	if err := o.Validate(); err != nil {
		return err
	}
	enabled, _ := o.EnabledControllers()
	cfg, err := client.ConfigFromFlags(o.Server, o.Kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.NewForConfig(cfg, client.WithUserAgent("controller-manager"))
	if err != nil {
		return err
	}
	defer c.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := controller.NewMetrics(reg)
	leading := prometheus.NewGauge(prometheus.GaugeOpts{Name: "leader_election_master_status", Help: "1 while this replica leads, else 0."})
	reg.MustRegister(leading)

	var elector *leaderelection.Elector
	host, _ := os.Hostname()
	identity := o.LeaderElectIdentity
	if identity == "" {
		identity = host + "_" + uuid.NewString()
	}
	runControllers := func(ctx context.Context) error {
		leading.Set(1)
		defer leading.Set(0)
		return startControllers(ctx, c, o, enabled, metrics, host)
	}
	errc := make(chan error, 2)
	if o.LeaderElect {
		elector, err = leaderelection.New(leaderelection.Config{
			Client: c, Namespace: o.LeaderElectNamespace, Name: o.LeaderElectName, Identity: identity,
			LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod,
			OnStartedLeading: func(ctx context.Context) {
				if err := runControllers(ctx); err != nil {
					errc <- err
				}
			},
			OnNewLeader: func(id string) { slog.Info("leader is now", "identity", id, "self", id == identity) },
		})
		if err != nil {
			return err
		}
	}

	var hs *http.Server
	healthAddr := ""
	if o.Port >= 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.Port)))
		if err != nil {
			return fmt.Errorf("listen for /healthz: %w", err)
		}
		healthAddr = l.Addr().String()
		hs = &http.Server{Handler: healthMux(elector, reg), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
	}
	slog.Info("controller-manager starting", "servers", cfg.Servers, "controllers", enabled, "leaderElect", o.LeaderElect, "identity", identity, "health", healthAddr)
	if ready != nil {
		ready <- Ready{HealthAddr: healthAddr}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if elector != nil {
			elector.Run(runCtx)
			return
		}
		if err := runControllers(runCtx); err != nil {
			errc <- err
		}
	}()
	select {
	case <-done:
	case err = <-errc:
		cancel()
		<-done
		return err
	}
	select {
	case err = <-errc:
		return err
	default:
	}
	if ctx.Err() == nil {
		return errors.New("leader election lost")
	}
	return nil
}

func healthMux(e *leaderelection.Elector, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	health := func(w http.ResponseWriter, _ *http.Request) {
		if e != nil {
			if err := e.Healthy(); err != nil {
				http.Error(w, "leaderElection: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	}
	mux.HandleFunc("/healthz", health)
	mux.HandleFunc("/livez", health)
	mux.HandleFunc("/readyz", health)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
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
