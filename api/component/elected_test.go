package component_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"minik8s/api/component"
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
