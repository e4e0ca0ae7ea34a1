package client

import (
	"context"
	"math/rand/v2"
	"time"

	apierrors "minik8s/api/errors"
)

// Backoff describes a capped exponential back-off with jitter: the n-th wait
// (from 0) is min(Duration*Factor^n, Cap), stretched by up to Jitter of itself
// at random. Steps is the number of attempts, including the first.
type Backoff struct {
	Steps    int
	Duration time.Duration
	Factor   float64
	Jitter   float64
	Cap      time.Duration
}

// DefaultRetry is the back-off RetryOnConflict uses for a zero Backoff:
// 8 attempts waiting 10ms, 20ms, 40ms, ... up to 1s, plus up to 10% jitter,
// about 1.3s in all - long enough to outlast a few racing writers, short
// enough that a controller's work queue takes over after that.
var DefaultRetry = Backoff{Steps: 8, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.1, Cap: time.Second}

// Delay returns the wait after attempt n (0-based), jitter included.
func (b Backoff) Delay(n int) time.Duration {
	d := float64(b.Duration)
	for i := 0; i < n && (b.Cap <= 0 || d < float64(b.Cap)); i++ {
		d *= max(b.Factor, 1)
	}
	if b.Cap > 0 && d > float64(b.Cap) {
		d = float64(b.Cap)
	}
	if b.Jitter > 0 {
		d += d * b.Jitter * rand.Float64()
	}
	return time.Duration(d)
}

// Retry calls fn until it succeeds, returns an error retriable rejects, or
// Steps attempts are spent; it returns fn's last error, or ctx's error when
// ctx ends while waiting.
func (b Backoff) Retry(ctx context.Context, retriable func(error) bool, fn func() error) error {
	steps := max(b.Steps, 1)
	var err error
	for n := 0; n < steps; n++ {
		if err = fn(); err == nil || !retriable(err) {
			return err
		}
		if n == steps-1 {
			break
		}
		t := time.NewTimer(b.Delay(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return err
}

// RetryOnConflict runs fn (which should re-read the object, change it and
// write it) again while it fails with a Conflict, as the optimistic
// concurrency contract asks. A zero backoff means DefaultRetry. It returns
// nil, fn's first non-conflict error, the last Conflict when the attempts are
// spent, or ctx's error.
func RetryOnConflict(ctx context.Context, backoff Backoff, fn func() error) error {
	if backoff.Steps == 0 {
		backoff = DefaultRetry
	}
	return backoff.Retry(ctx, apierrors.IsConflict, fn)
}
