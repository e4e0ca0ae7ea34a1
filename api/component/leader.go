package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"minik8s/api/client"
	"minik8s/api/leaderelection"
)

// ErrLostLeadership is returned by Elected.Run when the daemon stopped
// leading while it was meant to keep running: the process should exit and
// start over as a clean standby, as Kubernetes' daemons do.
var ErrLostLeadership = errors.New("lost leadership")

// ElectedConfig configures an Elected.
type ElectedConfig struct {
	// Client writes the Lease (unused when Options.LeaderElect is off).
	Client *client.Client
	// Options name the Lease and its timing; with LeaderElect off Run
	// works at once.
	Options LeaderElectionOptions
	// Work runs while this replica leads, until its context ends (nil)
	// or it fails (an error that ends Run).
	Work func(ctx context.Context) error
	// Leading, if set, is 1 while Work runs and 0 otherwise (Kubernetes'
	// leader_election_master_status).
	Leading prometheus.Gauge
	// Log defaults to slog.Default().
	Log *slog.Logger
}

// Elected runs a daemon's work only while it holds its Lease.
type Elected struct {
	cfg      ElectedConfig
	identity string
	elector  *leaderelection.Elector // nil without leader election
	led      atomic.Bool
	mu       sync.Mutex
	workErr  error
	stopRun  context.CancelFunc
}

// NewElected checks cfg and returns an Elected; its Check is valid before Run.
func NewElected(cfg ElectedConfig) (*Elected, error) {
	if cfg.Work == nil {
		return nil, errors.New("leader-elected run: no Work")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	e := &Elected{cfg: cfg}
	if !cfg.Options.LeaderElect {
		return e, nil
	}
	if err := cfg.Options.Validate(); err != nil {
		return nil, err
	}
	o := cfg.Options
	e.identity = o.Identity
	if e.identity == "" {
		e.identity = DefaultIdentity()
	}
	lease := o.ResourceNamespace + "/" + o.ResourceName
	el, err := leaderelection.New(leaderelection.Config{
		Client: cfg.Client, Namespace: o.ResourceNamespace, Name: o.ResourceName, Identity: e.identity,
		LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod,
		// A clean shutdown (Run's context ends) gives the Lease up once
		// Work has returned, so a standby takes over at its next retry
		// rather than after the lease duration, as Kubernetes' scheduler
		// does with ReleaseOnCancel.
		ReleaseOnCancel: true,
		OnStartedLeading: func(ctx context.Context) {
			e.led.Store(true)
			cfg.Log.Info("leading", "lease", lease, "identity", e.identity)
			if err := e.work(ctx); err != nil {
				e.mu.Lock()
				e.workErr = err
				stop := e.stopRun
				e.mu.Unlock()
				stop() // end the campaign too: Run returns the error
			}
		},
		OnStoppedLeading: func() { cfg.Log.Info("stopped leading", "lease", lease, "identity", e.identity) },
		OnNewLeader: func(id string) {
			if id != e.identity {
				cfg.Log.Info("leader is another replica", "lease", lease, "leader", id)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	e.elector = el
	return e, nil
}

// Identity is this replica's identity in the Lease ("" without leader
// election).
func (e *Elected) Identity() string { return e.identity }

// IsLeader reports whether Work may run now: always without leader
// election, else while the Lease is held.
func (e *Elected) IsLeader() bool { return e.elector == nil || e.elector.IsLeader() }

// Check is the "leaderElection" liveness check: it fails when this
// replica leads but has not renewed its Lease for longer than the lease
// duration (it is stuck and should be restarted); standbys pass.
func (e *Elected) Check() Check {
	return NamedCheck("leaderElection", func(context.Context) error {
		if e.elector == nil {
			return nil
		}
		return e.elector.Healthy()
	})
}

// work runs Work with the Leading gauge set.
func (e *Elected) work(ctx context.Context) error {
	if g := e.cfg.Leading; g != nil {
		g.Set(1)
		defer g.Set(0)
	}
	err := e.cfg.Work(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Run campaigns for the Lease and runs Work while leading (at once
// without leader election). It returns nil when ctx ends, Work's error
// when Work fails, and ErrLostLeadership when leadership is lost. When
// ctx ends or Work fails while leading, Run waits for Work to return and
// then releases the Lease (holder cleared, duration 1s, a conflict-checked
// update made only while this replica still holds it) before returning,
// so a standby need not wait for the lease to expire.
func (e *Elected) Run(ctx context.Context) error {
	if e.elector == nil {
		return e.work(ctx)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	e.stopRun = cancel
	e.mu.Unlock()
	e.cfg.Log.Info("campaigning for leadership", "lease", e.cfg.Options.ResourceNamespace+"/"+e.cfg.Options.ResourceName, "identity", e.identity)
	e.elector.Run(runCtx)
	e.mu.Lock()
	err := e.workErr
	e.mu.Unlock()
	switch {
	case err != nil:
		return err
	case ctx.Err() != nil:
		return nil
	case e.led.Load():
		return ErrLostLeadership
	}
	return errors.New("leader election ended without leading")
}
