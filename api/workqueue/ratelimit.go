package workqueue

import (
	"math"
	"sync"
	"time"
)

// RateLimiter decides how long an item waits before it is retried.
// Implementations are safe for concurrent use.
type RateLimiter[T comparable] interface {
	// When records one more failure of item and returns how long to wait.
	When(item T) time.Duration
	// Forget clears item's failure history (call it after a success).
	Forget(item T)
	// NumRequeues returns the failures recorded for item since the last Forget.
	NumRequeues(item T) int
}

// ItemExponentialRateLimiter waits base*2^failures per item, capped at max.
type ItemExponentialRateLimiter[T comparable] struct {
	mu       sync.Mutex
	failures map[T]int
	base     time.Duration
	max      time.Duration
}

// NewItemExponentialRateLimiter returns a per-item exponential limiter.
func NewItemExponentialRateLimiter[T comparable](base, max time.Duration) *ItemExponentialRateLimiter[T] {
	return &ItemExponentialRateLimiter[T]{failures: map[T]int{}, base: base, max: max}
}

// When returns base*2^n for the item's n-th failure (from 0), at most max.
func (r *ItemExponentialRateLimiter[T]) When(item T) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.failures[item]
	r.failures[item] = n + 1
	d := float64(r.base) * math.Pow(2, float64(n))
	if d > float64(r.max) {
		return r.max
	}
	return time.Duration(d)
}

// Forget clears the item's failures.
func (r *ItemExponentialRateLimiter[T]) Forget(item T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.failures, item)
}

// NumRequeues returns the item's failures.
func (r *ItemExponentialRateLimiter[T]) NumRequeues(item T) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures[item]
}

// BucketRateLimiter is a token bucket shared by all items: burst tokens,
// refilled at qps per second. When reserves a token and returns the wait
// until it is available, so a storm of retries is spread out.
type BucketRateLimiter[T comparable] struct {
	mu     sync.Mutex
	clock  Clock
	qps    float64
	burst  float64
	tokens float64
	last   time.Time
}

// NewBucketRateLimiter returns a full bucket of burst tokens refilled at qps.
func NewBucketRateLimiter[T comparable](clock Clock, qps float64, burst int) *BucketRateLimiter[T] {
	return &BucketRateLimiter[T]{clock: clock, qps: qps, burst: float64(burst), tokens: float64(burst), last: clock.Now()}
}

// When takes a token (possibly one not yet refilled) and returns the wait
// until it is.
func (r *BucketRateLimiter[T]) When(T) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	r.tokens = math.Min(r.burst, r.tokens+now.Sub(r.last).Seconds()*r.qps)
	r.last = now
	r.tokens--
	if r.tokens >= 0 {
		return 0
	}
	return time.Duration(-r.tokens / r.qps * float64(time.Second))
}

// Forget does nothing: the bucket has no per-item state.
func (r *BucketRateLimiter[T]) Forget(T) {}

// NumRequeues is always 0: the bucket has no per-item state.
func (r *BucketRateLimiter[T]) NumRequeues(T) int { return 0 }

// MaxOfRateLimiter waits as long as the longest of its limiters.
type MaxOfRateLimiter[T comparable] struct {
	limiters []RateLimiter[T]
}

// NewMaxOfRateLimiter combines limiters; every one records each failure.
func NewMaxOfRateLimiter[T comparable](limiters ...RateLimiter[T]) *MaxOfRateLimiter[T] {
	return &MaxOfRateLimiter[T]{limiters: limiters}
}

// When returns the longest wait of the limiters.
func (r *MaxOfRateLimiter[T]) When(item T) time.Duration {
	var d time.Duration
	for _, l := range r.limiters {
		d = max(d, l.When(item))
	}
	return d
}

// Forget forgets the item in every limiter.
func (r *MaxOfRateLimiter[T]) Forget(item T) {
	for _, l := range r.limiters {
		l.Forget(item)
	}
}

// NumRequeues returns the highest count of the limiters.
func (r *MaxOfRateLimiter[T]) NumRequeues(item T) int {
	n := 0
	for _, l := range r.limiters {
		n = max(n, l.NumRequeues(item))
	}
	return n
}

// DefaultControllerRateLimiter is what controllers use: per item 5ms, 10ms,
// 20ms, ... up to 1000s, and overall at most 10 retries a second after a
// burst of 100, whichever waits longer.
func DefaultControllerRateLimiter[T comparable](clock Clock) RateLimiter[T] {
	return NewMaxOfRateLimiter[T](
		NewItemExponentialRateLimiter[T](5*time.Millisecond, 1000*time.Second),
		NewBucketRateLimiter[T](clock, 10, 100),
	)
}
