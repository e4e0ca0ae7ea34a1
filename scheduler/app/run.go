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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	_ "minik8s/api/all" // register every kind for the client and informers
	"minik8s/api/client"
	"minik8s/api/leaderelection"
	"minik8s/api/record"
	"minik8s/scheduler/framework"
	"minik8s/scheduler/queue"
)

// ErrLostLeadership is returned by Run when this instance stopped leading
// while it was meant to keep running; the process should exit and be
// restarted, as Kubernetes' scheduler does.
var ErrLostLeadership = errors.New("lost leadership")

// Hooks let callers (tests, the benchmark) observe a running scheduler.
type Hooks struct {
	// Ready is called with the address /healthz and /metrics are served
	// on ("" when disabled) once the informers have synced.
	Ready func(httpAddr string)
}

// Run runs the scheduler until ctx ends (nil) or, with leader election,
// until leadership is lost (ErrLostLeadership).
func Run(ctx context.Context, o *Options, hooks Hooks) error {
	log := slog.Default().With("scheduler", o.SchedulerName)
	cfg, err := client.ConfigFromFlags(o.Servers, o.Kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.NewForConfig(cfg, client.WithUserAgent("scheduler/"+o.SchedulerName))
	if err != nil {
		return err
	}
	defer c.Close()
	host, _ := os.Hostname()
	rec := record.New(c, o.SchedulerName, host)
	defer rec.Stop()
	metrics := NewMetrics(o.SchedulerName)
	s := New(c, Config{
		SchedulerName: o.SchedulerName,
		Framework:     framework.Config{Weights: o.Weights, PercentageOfNodesToScore: int32(o.PercentageOfNodesToScore)},
		Queue:         queue.Config{InitialBackoff: o.PodInitialBackoff, MaxBackoff: o.PodMaxBackoff},
		ParallelBinds: o.ParallelBinds,
		Recorder:      rec,
		Metrics:       metrics,
	})
	defer s.Close()

	var electorRef atomic.Pointer[leaderelection.Elector] // read by /healthz
	var leading atomic.Bool
	health := func() error {
		if e := electorRef.Load(); e != nil {
			return e.Healthy()
		}
		return nil
	}
	addr, stopHTTP, err := serveHTTP(o, metrics, health)
	if err != nil {
		return err
	}
	defer stopHTTP()

	if err := s.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if hooks.Ready != nil {
		hooks.Ready(addr)
	}
	log.Info("scheduler started", "weights", o.Weights.String(), "leaderElect", o.LeaderElect, "http", addr)
	if !o.LeaderElect {
		metrics.leader.Set(1)
		s.Schedule(ctx)
		return nil
	}
	lease := o.LeaseNameOrDefault()
	elector, err := leaderelection.New(leaderelection.Config{
		Client: c, Namespace: o.LeaseNamespace, Name: lease, Identity: o.Identity,
		LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod,
		OnStartedLeading: func(lctx context.Context) {
			leading.Store(true)
			metrics.leader.Set(1)
			log.Info("leading: scheduling", "lease", o.LeaseNamespace+"/"+lease, "identity", o.Identity)
			s.Schedule(lctx)
		},
		OnStoppedLeading: func() {
			metrics.leader.Set(0)
			log.Info("stopped leading", "lease", o.LeaseNamespace+"/"+lease, "identity", o.Identity)
		},
		OnNewLeader: func(id string) {
			if id != o.Identity {
				log.Info("leader is another instance", "leader", id)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	electorRef.Store(elector)
	log.Info("campaigning for leadership", "lease", o.LeaseNamespace+"/"+lease, "identity", o.Identity)
	elector.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	if leading.Load() {
		return ErrLostLeadership
	}
	return fmt.Errorf("leader election ended without leading")
}

// serveHTTP serves /healthz and /metrics on o.BindAddress:o.Port (none
// when Port is 0) and returns the address and a stop function.
func serveHTTP(o *Options, m *Metrics, health func() error) (string, func(), error) {
	if o.Port == 0 {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.Port)))
	if err != nil {
		return "", nil, fmt.Errorf("serve healthz/metrics: %w", err)
	}
	mux := http.NewServeMux()
	healthz := func(w http.ResponseWriter, _ *http.Request) {
		if err := health(); err != nil {
			http.Error(w, "unhealthy: "+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/livez", healthz)
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("healthz/metrics server failed", "err", err)
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return ln.Addr().String(), stop, nil
}
