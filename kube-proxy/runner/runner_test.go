package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	"minik8s/api/workqueue"
)

type harness struct {
	t     *testing.T
	clock *workqueue.FakeClock
	runs  chan time.Time
	fail  chan bool
	r     *Runner
}

func start(t *testing.T, min, max, retry time.Duration, failures ...bool) *harness {
	h := &harness{t: t, clock: workqueue.NewFakeClock(time.Unix(0, 0)), runs: make(chan time.Time, 10), fail: make(chan bool, 10)}
	for _, f := range failures {
		h.fail <- f
	}
	h.r = New(func() error {
		h.runs <- h.clock.Now()
		select {
		case f := <-h.fail:
			if f {
				return errors.New("failed")
			}
		default:
		}
		return nil
	}, min, max, retry).WithClock(h.clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.r.Loop(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// expectRun waits for a run at fake time at (seconds).
func (h *harness) expectRun(at float64) {
	h.t.Helper()
	select {
	case got := <-h.runs:
		if want := time.Unix(0, 0).Add(time.Duration(at * float64(time.Second))); !got.Equal(want) {
			h.t.Fatalf("run at %v, want %v", got.Sub(time.Unix(0, 0)), want.Sub(time.Unix(0, 0)))
		}
	case <-time.After(2 * time.Second):
		h.t.Fatalf("no run (expected at %vs)", at)
	}
}

func (h *harness) expectNoRun() {
	h.t.Helper()
	select {
	case got := <-h.runs:
		h.t.Fatalf("unexpected run at %v", got.Sub(time.Unix(0, 0)))
	case <-time.After(50 * time.Millisecond):
	}
}

// waitParked waits until the loop sleeps on the fake clock.
func (h *harness) waitParked() {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for h.clock.Waiters() == 0 {
		if time.Now().After(deadline) {
			h.t.Fatal("loop never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) step(d time.Duration) {
	h.waitParked()
	h.clock.Step(d)
}

func TestRunnerBoundsFrequency(t *testing.T) {
	h := start(t, time.Second, 10*time.Second, 0)
	h.expectRun(0) // the first run is at once

	// A lone request right after a run: the burst allows it at once.
	h.waitParked()
	h.r.Run()
	h.expectRun(0)

	// More requests: rate limited to one per second, merged into one run.
	h.waitParked()
	h.r.Run()
	h.r.Run()
	h.r.Run()
	h.step(500 * time.Millisecond)
	h.expectNoRun()
	h.step(500 * time.Millisecond)
	h.expectRun(1)
	h.expectNoRun()

	// Not asked: runs at the maximum interval.
	h.step(9 * time.Second)
	h.expectNoRun()
	h.step(time.Second)
	h.expectRun(11)

	// Asked long after the last run: at once, twice.
	h.step(5 * time.Second)
	h.r.Run()
	h.expectRun(16)
	h.waitParked()
	h.r.Run()
	h.expectRun(16)
}

func TestRunnerRetriesFailures(t *testing.T) {
	h := start(t, 0, time.Hour, 3*time.Second, true)
	h.expectRun(0)
	h.step(2 * time.Second)
	h.expectNoRun()
	h.step(time.Second)
	h.expectRun(3)
	// Success: back to runs on request only.
	h.step(10 * time.Second)
	h.expectNoRun()
	h.r.Run()
	h.expectRun(13)
}
