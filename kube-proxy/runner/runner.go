// Package runner calls a sync function with bounded frequency: soon after
// it is asked to, but at most once per minimum interval (after a burst of
// two), and at least once per maximum interval whether asked or not -
// kube-proxy's BoundedFrequencyRunner. Requests arriving while a run waits or runs are
// merged into the next run, so a burst of changes costs one sync.
package runner

import (
	"context"
	"math"
	"time"

	"minik8s/api/workqueue"
)

// burst is how many runs may happen back to back before the minimum
// interval applies: a lone change right after a sync is applied at once,
// while a stream of changes is applied once per interval (Kubernetes uses
// the same 2).
const burst = 2

// Runner runs fn from Loop's goroutine. Create it with New.
type Runner struct {
	fn          func() error
	minInterval time.Duration
	maxInterval time.Duration
	retry       time.Duration
	clock       workqueue.Clock
	requests    chan struct{}
}

// New returns a runner of fn: runs are rate limited to one per
// minInterval (with a burst of two), and happen at least once per
// maxInterval (0: only when asked). A run that returns an error is retried
// after retry (at least minInterval), asked or not.
func New(fn func() error, minInterval, maxInterval, retry time.Duration) *Runner {
	retry = max(retry, minInterval)
	if retry <= 0 {
		retry = time.Second // never retry a failing sync in a hot loop
	}
	return &Runner{fn: fn, minInterval: minInterval, maxInterval: maxInterval, retry: retry,
		clock: workqueue.RealClock{}, requests: make(chan struct{}, 1)}
}

// WithClock replaces the wall clock (for tests) and returns r.
func (r *Runner) WithClock(c workqueue.Clock) *Runner { r.clock = c; return r }

// Run asks for a run as soon as the rate limit allows. It never blocks;
// any number of calls before the run starts make one run.
func (r *Runner) Run() {
	select {
	case r.requests <- struct{}{}:
	default:
	}
}

// Loop runs fn on the calling goroutine until ctx ends: the first time at
// once, then as asked and as the intervals say. Callers that need fn on a
// particular OS thread (a network namespace) lock it before calling.
func (r *Runner) Loop(ctx context.Context) {
	tokens := float64(burst) // a token bucket refilled one per minInterval
	refilled := r.clock.Now()
	var last, retryAt time.Time // start of the last run; when to retry a failure
	pending := true             // the first run happens at once
	for {
		now := r.clock.Now()
		if r.minInterval > 0 {
			tokens = min(float64(burst), tokens+float64(now.Sub(refilled))/float64(r.minInterval))
			refilled = now
		}
		want := pending ||
			(r.maxInterval > 0 && !now.Before(last.Add(r.maxInterval))) ||
			(!retryAt.IsZero() && !now.Before(retryAt))
		if want && (r.minInterval <= 0 || tokens >= 1) {
			// Drain a request that arrived before this run: the run covers it.
			select {
			case <-r.requests:
			default:
			}
			if r.minInterval > 0 {
				tokens--
			}
			last, pending, retryAt = now, false, time.Time{}
			if err := r.fn(); err != nil {
				retryAt = r.clock.Now().Add(r.retry)
			}
			continue
		}
		var due time.Time
		if want {
			// Waiting for the next token.
			due = now.Add(time.Duration(math.Ceil((1 - tokens) * float64(r.minInterval))))
		} else {
			if r.maxInterval > 0 {
				due = last.Add(r.maxInterval)
			}
			if !retryAt.IsZero() && (due.IsZero() || retryAt.Before(due)) {
				due = retryAt
			}
		}
		var timer <-chan time.Time
		if !due.IsZero() {
			timer = r.clock.After(due.Sub(now))
		}
		select {
		case <-ctx.Done():
			return
		case <-r.requests:
			pending = true
		case <-timer:
		}
	}
}
