package component_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"minik8s/api/client"
	"minik8s/api/component"
	coordinationv1 "minik8s/api/coordination/v1"
	"minik8s/test/apiservertest"
)

// TestElected runs two replicas on one Lease of a real apiserver: one
// works, the other waits; when the leader's work fails Run returns that
// error, and the standby takes over.
func TestElected(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	o := component.DefaultLeaderElection("component-test")
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 2*time.Second, 1500*time.Millisecond, 100*time.Millisecond
	var working atomic.Int32
	boom := errors.New("boom")
	type replica struct {
		e    *component.Elected
		fail chan struct{}
		done chan error
		work atomic.Bool
	}
	start := func(id string) *replica {
		r := &replica{fail: make(chan struct{}), done: make(chan error, 1)}
		oo := o
		oo.Identity = id
		e, err := component.NewElected(component.ElectedConfig{Client: c, Options: oo, Work: func(ctx context.Context) error {
			if working.Add(1) > 1 {
				t.Error("two replicas work at once")
			}
			defer working.Add(-1)
			r.work.Store(true)
			select {
			case <-ctx.Done():
				return nil
			case <-r.fail:
				return boom
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if e.Identity() != id {
			t.Errorf("identity %q", e.Identity())
		}
		r.e = e
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go func() { r.done <- e.Run(ctx) }()
		return r
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	a := start("a")
	waitFor("a to work", a.work.Load)
	b := start("b")
	time.Sleep(300 * time.Millisecond)
	if b.work.Load() || b.e.IsLeader() || !a.e.IsLeader() {
		t.Fatal("the standby works while the leader holds the lease")
	}
	if err := a.e.Check().Check(context.Background()); err != nil {
		t.Errorf("leader unhealthy: %v", err)
	}
	close(a.fail)
	select {
	case err := <-a.done:
		if !errors.Is(err, boom) {
			t.Errorf("Run = %v, want the work's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the work failed")
	}
	waitFor("b to take over", b.work.Load)
}

// TestElectedReleasesOnCancel: a leader whose context ends (a clean
// SIGTERM) stops its work and then gives the Lease up, so a standby
// leads long before the 10s lease could expire; the standby's own
// cancel releases it again.
func TestElectedReleasesOnCancel(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	leases := client.For[*coordinationv1.Lease](c)
	o := component.DefaultLeaderElection("release-test")
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 10*time.Second, 8*time.Second, 100*time.Millisecond
	var working atomic.Int32
	type replica struct {
		cancel   context.CancelFunc
		done     chan error
		work     atomic.Bool
		workDone atomic.Bool
	}
	start := func(id string) *replica {
		r := &replica{done: make(chan error, 1)}
		oo := o
		oo.Identity = id
		e, err := component.NewElected(component.ElectedConfig{Client: c, Options: oo, Work: func(ctx context.Context) error {
			if working.Add(1) > 1 {
				t.Error("two replicas work at once")
			}
			r.work.Store(true)
			<-ctx.Done()
			time.Sleep(200 * time.Millisecond) // work that takes a while to stop
			working.Add(-1)
			r.workDone.Store(true)
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		t.Cleanup(cancel)
		go func() { r.done <- e.Run(ctx) }()
		return r
	}
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	holder := func() (string, int32) {
		t.Helper()
		l, err := leases.Get(context.Background(), o.ResourceNamespace, o.ResourceName)
		if err != nil {
			t.Fatal(err)
		}
		return l.GetSpec().GetHolderIdentity(), l.GetSpec().GetLeaseDurationSeconds()
	}
	stop := func(r *replica) {
		t.Helper()
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if !r.workDone.Load() {
			t.Error("Run returned before its work did")
		}
	}

	a := start("a")
	waitFor("a to work", 10*time.Second, a.work.Load)
	b := start("b")
	time.Sleep(300 * time.Millisecond)
	if b.work.Load() {
		t.Fatal("the standby works while the leader holds the lease")
	}
	stopped := time.Now()
	stop(a)
	waitFor("b to take over", 5*time.Second, b.work.Load)
	if took := time.Since(stopped); took > 3*time.Second {
		t.Errorf("b took over %s after a stopped; the lease was not released", took)
	}
	if h, _ := holder(); h != "b" {
		t.Errorf("holder %q after takeover, want b", h)
	}

	stop(b)
	if h, d := holder(); h != "" || d != 1 {
		t.Errorf("after the last leader stopped: holder %q, leaseDurationSeconds %d; want released (\"\", 1)", h, d)
	}
}
