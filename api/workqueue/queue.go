// Package workqueue is the controllers' rate-limited, de-duplicating work
// queue, shaped like client-go's.
//
// Guarantees:
//   - an item is queued at most once however often it is added before a
//     worker takes it (de-duplication);
//   - an item is never handed to two workers at once: added again while
//     being processed, it is queued again only when Done is called;
//   - AddAfter delays an item; AddRateLimited delays it by the RateLimiter
//     (per-item exponential back-off and an overall token bucket by default),
//     and Forget resets that back-off after a success.
//
// The usual worker loop:
//
//	for {
//		key, shutdown := q.Get()
//		if shutdown {
//			return
//		}
//		if err := sync(ctx, key); err != nil {
//			q.AddRateLimited(key)
//		} else {
//			q.Forget(key)
//		}
//		q.Done(key)
//	}
package workqueue

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Config configures a Queue; zero fields take the defaults.
type Config[T comparable] struct {
	// Clock drives delays; default RealClock.
	Clock Clock
	// RateLimiter decides AddRateLimited delays; default
	// DefaultControllerRateLimiter on Clock.
	RateLimiter RateLimiter[T]
}

// Queue is a work queue of comparable items (usually "namespace/name"
// keys). It is safe for concurrent use; create it with New or NewWithConfig
// and end it with ShutDown.
type Queue[T comparable] struct {
	clock   Clock
	limiter RateLimiter[T]

	mu         sync.Mutex
	cond       *sync.Cond // signalled when queue, processing or shuttingDown change
	queue      []T
	dirty      map[T]struct{} // queued, or to be queued again on Done
	processing map[T]struct{}
	shutting   bool

	waiting   waitHeap[T]
	waitIndex map[T]*waitEntry[T]
	wake      chan struct{}
	stop      chan struct{}
	loopDone  chan struct{}
}

// New returns a queue with the default clock and rate limiter.
func New[T comparable]() *Queue[T] { return NewWithConfig(Config[T]{}) }

// NewWithConfig returns a queue configured by cfg. It starts one goroutine
// for delayed items, which ShutDown ends.
func NewWithConfig[T comparable](cfg Config[T]) *Queue[T] {
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.RateLimiter == nil {
		cfg.RateLimiter = DefaultControllerRateLimiter[T](cfg.Clock)
	}
	q := &Queue[T]{
		clock:      cfg.Clock,
		limiter:    cfg.RateLimiter,
		dirty:      map[T]struct{}{},
		processing: map[T]struct{}{},
		waitIndex:  map[T]*waitEntry[T]{},
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		loopDone:   make(chan struct{}),
	}
	q.cond = sync.NewCond(&q.mu)
	go q.delayLoop()
	return q
}

// Add queues item unless it is already queued; an item being processed is
// queued again when it is Done. Adds after ShutDown are ignored.
func (q *Queue[T]) Add(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(item)
}

func (q *Queue[T]) addLocked(item T) {
	if q.shutting {
		return
	}
	if _, ok := q.dirty[item]; ok {
		return
	}
	q.dirty[item] = struct{}{}
	if _, ok := q.processing[item]; ok {
		return
	}
	q.queue = append(q.queue, item)
	q.cond.Signal()
}

// AddAfter queues item once d has passed (at once if d <= 0). If the item
// is already waiting, the earlier of the two times wins.
func (q *Queue[T]) AddAfter(item T, d time.Duration) {
	if d <= 0 {
		q.Add(item)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutting {
		return
	}
	at := q.clock.Now().Add(d)
	if e, ok := q.waitIndex[item]; ok {
		if at.Before(e.at) {
			e.at = at
			heap.Fix(&q.waiting, e.index)
		}
	} else {
		e := &waitEntry[T]{item: item, at: at}
		heap.Push(&q.waiting, e)
		q.waitIndex[item] = e
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// AddRateLimited queues item after the delay its RateLimiter gives, which
// also counts one more requeue of the item.
func (q *Queue[T]) AddRateLimited(item T) { q.AddAfter(item, q.limiter.When(item)) }

// Forget resets item's back-off; call it when the item was processed
// successfully (it does not remove the item from the queue).
func (q *Queue[T]) Forget(item T) { q.limiter.Forget(item) }

// NumRequeues returns how many times item was rate-limited since its last Forget.
func (q *Queue[T]) NumRequeues(item T) int { return q.limiter.NumRequeues(item) }

// Get blocks until an item is ready and hands it to the caller, who must
// call Done with it. shutdown is true (and item the zero T) once the queue
// is shut down and has no ready items left.
func (q *Queue[T]) Get() (item T, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shutting {
		q.cond.Wait()
	}
	if len(q.queue) == 0 {
		return item, true
	}
	item = q.queue[0]
	var zero T
	q.queue[0] = zero
	q.queue = q.queue[1:]
	q.processing[item] = struct{}{}
	delete(q.dirty, item)
	return item, false
}

// Done marks item as processed; if it was added meanwhile it is queued again.
func (q *Queue[T]) Done(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, item)
	if _, ok := q.dirty[item]; ok {
		q.queue = append(q.queue, item)
		q.cond.Signal()
	}
	q.cond.Broadcast() // wake ShutDownWithDrain
}

// Len returns the number of ready items (not the delayed or in-process ones).
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// ShutDown stops accepting items, drops the delayed ones and makes Get
// return shutdown once the ready items are handed out. Safe to call twice.
func (q *Queue[T]) ShutDown() {
	q.mu.Lock()
	if !q.shutting {
		q.shutting = true
		close(q.stop)
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	<-q.loopDone
}

// ShutDownWithDrain is ShutDown that then waits until every ready item has
// been handed out and every handed-out item is Done, or ctx ends. Workers
// must keep running meanwhile. It returns ctx's error if ctx ended first.
func (q *Queue[T]) ShutDownWithDrain(ctx context.Context) error {
	q.ShutDown()
	stopWake := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.cond.Broadcast()
	})
	defer stopWake()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) > 0 || len(q.processing) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		q.cond.Wait()
	}
	return nil
}

// ShuttingDown reports whether ShutDown was called.
func (q *Queue[T]) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shutting
}

// delayLoop moves delayed items into the queue when they are due.
func (q *Queue[T]) delayLoop() {
	defer close(q.loopDone)
	for {
		q.mu.Lock()
		now := q.clock.Now()
		for len(q.waiting) > 0 && !q.waiting[0].at.After(now) {
			e := heap.Pop(&q.waiting).(*waitEntry[T])
			delete(q.waitIndex, e.item)
			q.addLocked(e.item)
		}
		var timer <-chan time.Time
		if len(q.waiting) > 0 {
			timer = q.clock.After(q.waiting[0].at.Sub(now))
		}
		q.mu.Unlock()
		select {
		case <-q.stop:
			return
		case <-q.wake:
		case <-timer:
		}
	}
}

type waitEntry[T comparable] struct {
	item  T
	at    time.Time
	index int
}

// waitHeap orders delayed items by due time.
type waitHeap[T comparable] []*waitEntry[T]

func (h waitHeap[T]) Len() int           { return len(h) }
func (h waitHeap[T]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waitHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waitHeap[T]) Push(x any) {
	e := x.(*waitEntry[T])
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *waitHeap[T]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
