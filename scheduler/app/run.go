package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"

	_ "minik8s/api/all" // register every kind for the client and informers
	"minik8s/api/component"
	"minik8s/api/record"
	"minik8s/scheduler/framework"
	"minik8s/scheduler/queue"
)

// ErrLostLeadership is returned by Run when this instance stopped leading
// while it was meant to keep running; the process should exit and be
// restarted, as Kubernetes' scheduler does.
var ErrLostLeadership = component.ErrLostLeadership

// Hooks let callers (tests, the benchmark) observe a running scheduler.
type Hooks struct {
	// Ready is called with the address /healthz and /metrics are served
	// on ("" when disabled) once the informers have synced.
	Ready func(httpAddr string)
}

// Run runs the scheduler until ctx ends (nil) or, with leader election,
// until leadership is lost (ErrLostLeadership). It is wiring: the client,
// the recorder, the Scheduler, its health and metrics server and the
// leader-elected scheduling loop.
func Run(ctx context.Context, o *Options, hooks Hooks) error {
	log := slog.Default().With("scheduler", o.SchedulerName)
	c, err := o.NewClient("scheduler/" + o.SchedulerName)
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

	le := o.LeaderElectionOptions
	le.ResourceName = o.LeaseNameOrDefault()
	elected, err := component.NewElected(component.ElectedConfig{
		Client: c, Options: le, Leading: metrics.leader, Log: log,
		Work: func(ctx context.Context) error { s.Schedule(ctx); return nil },
	})
	if err != nil {
		return err
	}
	var synced atomic.Bool
	health := component.NewHealth(metrics.Registry)
	health.AddLivez(elected.Check())
	health.AddReadyz(component.NamedCheck("sched-handler-sync", func(context.Context) error {
		if !synced.Load() {
			return errors.New("informers not synced")
		}
		return nil
	}), component.ShutdownCheck(ctx))
	addr := ""
	if o.Port != 0 {
		addr = net.JoinHostPort(o.BindAddress, strconv.Itoa(o.Port))
	}
	hs, err := component.Listen(addr, health.Handler())
	if err != nil {
		return fmt.Errorf("serve healthz/metrics: %w", err)
	}
	defer hs.Shutdown()

	if err := s.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	synced.Store(true)
	if hooks.Ready != nil {
		hooks.Ready(hs.Addr())
	}
	log.Info("scheduler started", "weights", o.Weights.String(), "leaderElect", o.LeaderElect, "http", hs.Addr())
	return elected.Run(ctx)
}
