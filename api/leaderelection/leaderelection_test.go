package leaderelection_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	coordinationv1 "minik8s/api/coordination/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/leaderelection"
	"minik8s/test/apiservertest"
)

type candidate struct {
	el      *leaderelection.Elector
	cancel  context.CancelFunc
	done    chan struct{}
	leading atomic.Bool
}

func start(t *testing.T, c *client.Client, id string, release bool, active *atomic.Int32, overlap *atomic.Bool) *candidate {
	t.Helper()
	cd := &candidate{done: make(chan struct{})}
	el, err := leaderelection.New(leaderelection.Config{
		Client: c, Namespace: "kube-system", Name: "test-component", Identity: id,
		LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
		ReleaseOnCancel: release,
		OnStartedLeading: func(ctx context.Context) {
			if active.Add(1) > 1 {
				overlap.Store(true)
			}
			cd.leading.Store(true)
			<-ctx.Done()
			cd.leading.Store(false)
			active.Add(-1)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cd.el = el
	ctx, cancel := context.WithCancel(context.Background())
	cd.cancel = cancel
	go func() { defer close(cd.done); el.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-cd.done })
	return cd
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFailover: one of two candidates leads; when it stops without
// releasing, the other takes over once the lease expires, with
// leaseTransitions incremented; when a leader releases, takeover is quick.
// Two never lead at once.
func TestFailover(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	var active atomic.Int32
	var overlap atomic.Bool
	a := start(t, c, "a", false, &active, &overlap)
	waitFor(t, "a to lead", 10*time.Second, a.leading.Load)
	b := start(t, c, "b", true, &active, &overlap)
	time.Sleep(time.Second)
	if b.leading.Load() {
		t.Fatal("b leads while a holds the lease")
	}
	leases := client.For[*coordinationv1.Lease](c)
	lease, err := leases.Get(context.Background(), "kube-system", "test-component")
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.GetHolderIdentity() != "a" || lease.Spec.GetLeaseTransitions() != 0 || lease.Spec.GetLeaseDurationSeconds() != 2 {
		t.Fatalf("lease spec %v", lease.Spec)
	}

	// a stops without releasing: b must wait for expiry.
	stopped := time.Now()
	a.cancel()
	<-a.done
	waitFor(t, "b to take over", 10*time.Second, b.leading.Load)
	if took := time.Since(stopped); took < 1500*time.Millisecond {
		t.Fatalf("b took over after %s, before the 2s lease could expire", took)
	}
	lease, _ = leases.Get(context.Background(), "kube-system", "test-component")
	if lease.Spec.GetHolderIdentity() != "b" || lease.Spec.GetLeaseTransitions() != 1 {
		t.Fatalf("after failover: %v", lease.Spec)
	}

	// b releases on stop: a new candidate takes over well before expiry.
	cand := start(t, c, "c", false, &active, &overlap)
	time.Sleep(300 * time.Millisecond)
	stopped = time.Now()
	b.cancel()
	<-b.done
	waitFor(t, "c to take over", 10*time.Second, cand.leading.Load)
	if took := time.Since(stopped); took > 1500*time.Millisecond {
		t.Fatalf("takeover after release took %s", took)
	}
	if overlap.Load() {
		t.Fatal("two candidates led at the same time")
	}
}

// TestReleaseOnlyWhileHeld: a releasing candidate whose lease was taken
// over by another holder leaves that holder's lease alone on shutdown.
func TestReleaseOnlyWhileHeld(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	var active atomic.Int32
	var overlap atomic.Bool
	a := start(t, c, "a", true, &active, &overlap)
	waitFor(t, "a to lead", 10*time.Second, a.leading.Load)
	leases := client.For[*coordinationv1.Lease](c)
	ctx := context.Background()
	var taken *coordinationv1.Lease
	for taken == nil { // a's renewals may conflict with the takeover: retry
		l, err := leases.Get(ctx, "kube-system", "test-component")
		if err != nil {
			t.Fatal(err)
		}
		l.Spec.HolderIdentity = proto.String("x")
		if taken, err = leases.Update(ctx, l); err != nil && !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
	a.cancel()
	<-a.done
	l, err := leases.Get(ctx, "kube-system", "test-component")
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.GetHolderIdentity() != "x" || l.Metadata.GetResourceVersion() != taken.Metadata.GetResourceVersion() {
		t.Errorf("lease of another holder changed on release: holder %q rv %s, want x rv %s",
			l.Spec.GetHolderIdentity(), l.Metadata.GetResourceVersion(), taken.Metadata.GetResourceVersion())
	}
}
