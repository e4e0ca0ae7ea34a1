package workqueue

import (
	"testing"
	"time"
)

func TestItemExponential(t *testing.T) {
	r := NewItemExponentialRateLimiter[string](5*time.Millisecond, 40*time.Millisecond)
	want := []time.Duration{5, 10, 20, 40, 40}
	for i, w := range want {
		if got := r.When("a"); got != w*time.Millisecond {
			t.Errorf("failure %d: %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := r.When("b"); got != 5*time.Millisecond {
		t.Errorf("other item: %v, want 5ms (independent)", got)
	}
	if r.NumRequeues("a") != 5 {
		t.Errorf("NumRequeues = %d", r.NumRequeues("a"))
	}
	r.Forget("a")
	if got := r.When("a"); got != 5*time.Millisecond || r.NumRequeues("a") != 1 {
		t.Errorf("after Forget: %v, %d", got, r.NumRequeues("a"))
	}
	big := NewItemExponentialRateLimiter[int](time.Millisecond, 1000*time.Second)
	for i := 0; i < 200; i++ {
		if d := big.When(1); d < 0 || d > 1000*time.Second {
			t.Fatalf("failure %d: %v out of range (overflow?)", i, d)
		}
	}
}

func TestBucket(t *testing.T) {
	clk := NewFakeClock(t0)
	r := NewBucketRateLimiter[int](clk, 10, 3)
	tests := []struct {
		step time.Duration
		want time.Duration
	}{
		{0, 0}, {0, 0}, {0, 0}, // burst
		{0, 100 * time.Millisecond}, // one token short at 10 qps
		{0, 200 * time.Millisecond}, // reservations queue up
		{time.Second, 0},            // refilled (capped at burst)
		{0, 0},
		{0, 0},
		{0, 100 * time.Millisecond},
	}
	for i, tt := range tests {
		clk.Step(tt.step)
		if got := r.When(i); got != tt.want {
			t.Errorf("call %d: %v, want %v", i, got, tt.want)
		}
	}
}

func TestDefaultControllerRateLimiter(t *testing.T) {
	clk := NewFakeClock(t0)
	r := DefaultControllerRateLimiter[int](clk)
	if d := r.When(1); d != 5*time.Millisecond {
		t.Errorf("first failure: %v, want 5ms", d)
	}
	for i := 2; i <= 100; i++ { // drain the bucket with other items
		r.When(i)
	}
	// Bucket now empty: a fresh item waits for a token (100ms at 10 qps),
	// longer than its own 5ms.
	if d := r.When(1000); d != 100*time.Millisecond {
		t.Errorf("after burst: %v, want 100ms", d)
	}
	if r.NumRequeues(1) != 1 {
		t.Errorf("NumRequeues = %d", r.NumRequeues(1))
	}
	r.Forget(1)
	if r.NumRequeues(1) != 0 {
		t.Errorf("NumRequeues after Forget = %d", r.NumRequeues(1))
	}
}
