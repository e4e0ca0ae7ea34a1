// Package leaderelection makes one of several replicas of a component the
// active one, using nothing but a Lease object in the API: the holder
// renews spec.renewTime; the others wait until the lease has not been
// renewed for leaseDurationSeconds and then take it over, incrementing
// spec.leaseTransitions. Every write is an optimistic-concurrency update,
// so two candidates can never both win the same lease.
//
// Expiry is judged by the local clock from when this candidate last saw
// the lease change, not by comparing renewTime with the local clock, so
// clock skew between machines does not matter. A leader that fails to
// renew for RenewDeadline (shorter than LeaseDuration) stops leading
// before any other candidate may consider the lease expired.
package leaderelection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

// Config describes one candidate.
type Config struct {
	Client    *client.Client
	Namespace string // kube-system
	Name      string // the component: scheduler, controller-manager
	Identity  string // unique per replica, e.g. hostname_pid
	// LeaseDuration is how long a lease stays valid after its last renewal
	// (default 15s); RenewDeadline how long a leader keeps trying to renew
	// before giving up (default 10s, must be less); RetryPeriod the time
	// between attempts (default 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// OnStartedLeading runs in its own goroutine when this candidate
	// becomes the leader; its context is cancelled when leadership is lost.
	OnStartedLeading func(ctx context.Context)
	// OnStoppedLeading runs after leadership is lost (or Run ends while leading).
	OnStoppedLeading func()
	// OnNewLeader is told about every change of the observed holder.
	OnNewLeader func(identity string)
	// ReleaseOnCancel gives the lease up when Run's context ends, so a
	// standby takes over at once instead of after LeaseDuration.
	ReleaseOnCancel bool
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

// Elector campaigns for one lease.
type Elector struct {
	cfg    Config
	leases *client.Resource[*coordinationv1.Lease]
	log    *slog.Logger

	mu           sync.Mutex
	observed     *coordinationv1.Lease // last lease seen
	observedTime time.Time             // local time it was seen to change
	leading      bool
	lastRenew    time.Time
}

// New checks the config and returns an Elector.
func New(cfg Config) (*Elector, error) {
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 15 * time.Second
	}
	if cfg.RenewDeadline == 0 {
		cfg.RenewDeadline = 10 * time.Second
	}
	if cfg.RetryPeriod == 0 {
		cfg.RetryPeriod = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.Client == nil:
		return nil, errors.New("leader election: no client")
	case cfg.Name == "" || cfg.Namespace == "":
		return nil, errors.New("leader election: lease namespace and name are required")
	case cfg.Identity == "":
		return nil, errors.New("leader election: identity is required")
	case cfg.RenewDeadline >= cfg.LeaseDuration:
		return nil, fmt.Errorf("leader election: renew deadline %s must be less than lease duration %s", cfg.RenewDeadline, cfg.LeaseDuration)
	case cfg.RetryPeriod >= cfg.RenewDeadline:
		return nil, fmt.Errorf("leader election: retry period %s must be less than renew deadline %s", cfg.RetryPeriod, cfg.RenewDeadline)
	case cfg.OnStartedLeading == nil:
		return nil, errors.New("leader election: OnStartedLeading is required")
	}
	return &Elector{
		cfg:    cfg,
		leases: client.For[*coordinationv1.Lease](cfg.Client),
		log:    slog.With("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity),
	}, nil
}

// IsLeader reports whether this candidate holds the lease now.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// Healthy is an error when this candidate leads but has not renewed for
// longer than the lease duration (it is stuck); standbys are healthy.
func (e *Elector) Healthy() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading && e.cfg.Now().Sub(e.lastRenew) > e.cfg.LeaseDuration {
		return fmt.Errorf("leader has not renewed lease %s/%s for %s", e.cfg.Namespace, e.cfg.Name, e.cfg.Now().Sub(e.lastRenew).Round(time.Second))
	}
	return nil
}

// Run campaigns until it leads, leads until it cannot renew, and returns;
// it also returns when ctx ends, releasing the lease if it held it.
func (e *Elector) Run(ctx context.Context) {
	if !e.acquire(ctx) {
		return
	}
	leadCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.cfg.OnStartedLeading(leadCtx)
	}()
	e.renew(ctx)
	cancel()
	<-done
	e.mu.Lock()
	e.leading = false
	e.mu.Unlock()
	if ctx.Err() != nil && e.cfg.ReleaseOnCancel {
		e.release()
	}
	if e.cfg.OnStoppedLeading != nil {
		e.cfg.OnStoppedLeading()
	}
}

func (e *Elector) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// acquire retries every RetryPeriod until the lease is ours or ctx ends.
func (e *Elector) acquire(ctx context.Context) bool {
	for {
		ok, err := e.tryAcquireOrRenew(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.Info("lease not acquired", "err", err)
		}
		if ok {
			e.log.Info("became leader")
			return true
		}
		if !e.wait(ctx, e.cfg.RetryPeriod) {
			return false
		}
	}
}

// renew keeps the lease until a renewal has not succeeded for RenewDeadline.
func (e *Elector) renew(ctx context.Context) {
	for {
		deadline := e.cfg.Now().Add(e.cfg.RenewDeadline)
		renewed := false
		for e.cfg.Now().Before(deadline) {
			actx, cancel := context.WithDeadline(ctx, deadline)
			ok, err := e.tryAcquireOrRenew(actx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if ok {
				renewed = true
				break
			}
			e.log.Warn("lease renewal failed", "err", err)
			if !e.wait(ctx, e.cfg.RetryPeriod) {
				return
			}
		}
		if !renewed {
			e.log.Error("lost leadership: could not renew the lease in time", "renewDeadline", e.cfg.RenewDeadline)
			return
		}
		if !e.wait(ctx, e.cfg.RetryPeriod) {
			return
		}
	}
}

func holder(l *coordinationv1.Lease) string { return l.GetSpec().GetHolderIdentity() }

// tryAcquireOrRenew does one attempt: create the lease, renew it, or take
// it over when it expired. It reports whether this candidate holds it.
func (e *Elector) tryAcquireOrRenew(ctx context.Context) (bool, error) {
	now := e.cfg.Now()
	nowTS := timestampOf(now)
	cur, err := e.leases.Get(ctx, e.cfg.Namespace, e.cfg.Name)
	if apierrors.IsNotFound(err) {
		lease := &coordinationv1.Lease{
			Metadata: &metav1.ObjectMeta{Name: e.cfg.Name, Namespace: e.cfg.Namespace},
			Spec: &coordinationv1.LeaseSpec{
				HolderIdentity:       proto.String(e.cfg.Identity),
				LeaseDurationSeconds: proto.Int32(leaseSeconds(e.cfg.LeaseDuration)),
				AcquireTime:          nowTS,
				RenewTime:            nowTS,
				LeaseTransitions:     proto.Int32(0),
			},
		}
		created, err := e.leases.Create(ctx, lease)
		if err != nil {
			return false, err
		}
		e.observe(created, now, true)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	e.observe(cur, now, false)
	e.mu.Lock()
	expired := e.observedTime.Add(time.Duration(cur.GetSpec().GetLeaseDurationSeconds()) * time.Second).Before(now)
	e.mu.Unlock()
	if h := holder(cur); h != "" && h != e.cfg.Identity && !expired {
		return false, fmt.Errorf("lease held by %s", h)
	}
	next := proto.Clone(cur).(*coordinationv1.Lease)
	if next.Spec == nil {
		next.Spec = &coordinationv1.LeaseSpec{}
	}
	s := next.Spec
	if holder(cur) != e.cfg.Identity {
		// A new holder, whether the lease expired or was released.
		s.AcquireTime = nowTS
		s.LeaseTransitions = proto.Int32(s.GetLeaseTransitions() + 1)
	}
	s.HolderIdentity = proto.String(e.cfg.Identity)
	s.LeaseDurationSeconds = proto.Int32(int32(e.cfg.LeaseDuration / time.Second))
	s.RenewTime = nowTS
	updated, err := e.leases.Update(ctx, next)
	if err != nil {
		return false, err // a Conflict means another candidate wrote first
	}
	e.observe(updated, now, true)
	return true, nil
}

// observe records the lease as seen at now; the expiry clock restarts only
// when the lease changed.
func (e *Elector) observe(l *coordinationv1.Lease, now time.Time, ours bool) {
	e.mu.Lock()
	changed := e.observed == nil || e.observed.GetMetadata().GetResourceVersion() != l.GetMetadata().GetResourceVersion()
	prevHolder := holder(e.observed)
	if changed {
		e.observed = l
		e.observedTime = now
	}
	if ours {
		e.leading = true
		e.lastRenew = now
	}
	newHolder := holder(l)
	e.mu.Unlock()
	if newHolder != prevHolder && e.cfg.OnNewLeader != nil {
		e.cfg.OnNewLeader(newHolder)
	}
}

// release gives the lease up on a clean shutdown so a standby need not
// wait for it to expire.
func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RetryPeriod)
	defer cancel()
	cur, err := e.leases.Get(ctx, e.cfg.Namespace, e.cfg.Name)
	if err != nil || holder(cur) != e.cfg.Identity {
		return
	}
	next := proto.Clone(cur).(*coordinationv1.Lease)
	next.Spec.HolderIdentity = proto.String("")
	next.Spec.LeaseDurationSeconds = proto.Int32(1)
	next.Spec.RenewTime = timestampOf(e.cfg.Now())
	if _, err := e.leases.Update(ctx, next); err != nil {
		e.log.Info("could not release the lease", "err", err)
		return
	}
	e.log.Info("released the lease")
}

// timestampOf keeps microseconds, as Kubernetes' MicroTime does.
func timestampOf(t time.Time) *timestamppb.Timestamp {
	return timestamppb.New(t.Truncate(time.Microsecond))
}

// leaseSeconds is the lease duration as the Lease stores it, in whole
// seconds rounded up: a sub-second duration (tests use them) must not
// read as 0, which would tell other candidates the lease is already free.
func leaseSeconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}
