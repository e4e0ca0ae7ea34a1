// Package queue is the scheduler's queue of pending pods, shaped like
// Kubernetes' scheduling queue:
//
//   - activeQ holds pods ready to be tried, highest priority first, then
//     oldest first;
//   - backoffQ holds pods that failed recently, each until its back-off
//     (1s, 2s, 4s, ... up to 10s by attempt) has passed;
//   - unschedulable holds pods no node could take. They leave only when a
//     cluster event that could change the verdict arrives (a node is added,
//     a placed pod is deleted, ...; see ClusterEvent), or after
//     MaxInUnschedulable as a safety net - never in a hot loop.
//
// A pod popped for scheduling is "in flight" until AddUnschedulable or
// Done. Events that arrive meanwhile are remembered, so a pod that fails
// because of a node that appeared during its own cycle is not parked as
// unschedulable with that event lost.
//
// Time comes from a workqueue.Clock; tests drive it with a FakeClock and
// call FlushBackoffCompleted / FlushUnschedulableLeftover directly.
package queue

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/workqueue"
	"minik8s/scheduler/framework"
)

// ErrClosed is returned by Pop once the queue is closed.
var ErrClosed = errors.New("scheduling queue closed")

// Defaults as in Kubernetes.
const (
	DefaultInitialBackoff     = time.Second
	DefaultMaxBackoff         = 10 * time.Second
	DefaultMaxInUnschedulable = 5 * time.Minute
)

// Config tunes a Queue; zero fields take the defaults.
type Config struct {
	Clock              workqueue.Clock
	InitialBackoff     time.Duration
	MaxBackoff         time.Duration
	MaxInUnschedulable time.Duration
}

// QueuedPodInfo is a pending pod with its queueing history.
type QueuedPodInfo struct {
	*framework.PodInfo
	// Added is when the pod first entered the queue (for e2e latency).
	Added time.Time
	// Timestamp is when the pod last entered its current sub-queue.
	Timestamp time.Time
	// Attempts counts scheduling attempts (Pops).
	Attempts int
	// UnschedulablePlugins are the filters that rejected the pod in its
	// last attempt; empty after an error.
	UnschedulablePlugins map[string]bool

	index int // position in the heap it is in, -1 otherwise
}

func key(p *corev1.Pod) string {
	if uid := p.GetMetadata().GetUid(); uid != "" {
		return uid
	}
	return p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
}

// ID is the queue's identity of the pod: its UID (namespace/name without one).
func (q *QueuedPodInfo) ID() string { return key(q.Pod) }

func priority(p *corev1.Pod) int32 { return p.GetSpec().GetPriority() }

type inFlight struct {
	// seq is the number of events recorded before the pod was popped.
	seq     int
	deleted bool
	updated *corev1.Pod
}

// Queue holds the pending pods. It is safe for concurrent use.
type Queue struct {
	clock              workqueue.Clock
	initialBackoff     time.Duration
	maxBackoff         time.Duration
	maxInUnschedulable time.Duration

	mu            sync.Mutex
	cond          *sync.Cond // signalled when activeQ gains a pod or the queue closes
	active        podHeap
	backoff       podHeap
	unschedulable map[string]*QueuedPodInfo
	where         map[string]*QueuedPodInfo // every queued pod (not in flight), by key
	inFlight      map[string]*inFlight
	events        []ClusterEvent // recorded while pods are in flight
	eventBase     int            // sequence number of events[0]
	closed        bool
	onMove        func(event string, n int)
}

// New returns an empty queue.
func New(cfg Config) *Queue {
	if cfg.Clock == nil {
		cfg.Clock = workqueue.RealClock{}
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxInUnschedulable <= 0 {
		cfg.MaxInUnschedulable = DefaultMaxInUnschedulable
	}
	q := &Queue{
		clock:              cfg.Clock,
		initialBackoff:     cfg.InitialBackoff,
		maxBackoff:         cfg.MaxBackoff,
		maxInUnschedulable: cfg.MaxInUnschedulable,
		unschedulable:      map[string]*QueuedPodInfo{},
		where:              map[string]*QueuedPodInfo{},
		inFlight:           map[string]*inFlight{},
	}
	q.cond = sync.NewCond(&q.mu)
	q.active.less = func(a, b *QueuedPodInfo) bool {
		if pa, pb := priority(a.Pod), priority(b.Pod); pa != pb {
			return pa > pb
		}
		return a.Timestamp.Before(b.Timestamp)
	}
	q.backoff.less = func(a, b *QueuedPodInfo) bool { return q.backoffTime(a).Before(q.backoffTime(b)) }
	return q
}

// backoffTime is when p's back-off ends: Timestamp plus
// InitialBackoff*2^(Attempts-1), at most MaxBackoff.
func (q *Queue) backoffTime(p *QueuedPodInfo) time.Time {
	d := q.initialBackoff
	for i := 1; i < p.Attempts && d < q.maxBackoff; i++ {
		d *= 2
	}
	return p.Timestamp.Add(min(d, q.maxBackoff))
}

// Add queues a new pending pod in activeQ (an already queued pod is updated).
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(pod)
}

func (q *Queue) addLocked(pod *corev1.Pod) {
	if q.closed {
		return
	}
	k := key(pod)
	if f, ok := q.inFlight[k]; ok {
		f.updated = pod
		return
	}
	if old, ok := q.where[k]; ok {
		q.updateLocked(old, pod)
		return
	}
	now := q.clock.Now()
	p := &QueuedPodInfo{PodInfo: framework.NewPodInfo(pod), Added: now, Timestamp: now, index: -1}
	q.where[k] = p
	heap.Push(&q.active, p)
	q.cond.Signal()
}

// Update replaces a pending pod. A pod waiting as unschedulable whose spec
// or labels changed is tried again (after its back-off); an unknown pod
// is added.
func (q *Queue) Update(old, cur *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	k := key(cur)
	if f, ok := q.inFlight[k]; ok {
		if old == nil || podSpecChanged(old, cur) {
			f.updated = cur
		}
		return
	}
	p, ok := q.where[k]
	if !ok {
		q.addLocked(cur)
		return
	}
	q.updateLocked(p, cur)
}

func (q *Queue) updateLocked(p *QueuedPodInfo, cur *corev1.Pod) {
	changed := podSpecChanged(p.Pod, cur)
	if changed {
		p.PodInfo = framework.NewPodInfo(cur)
	} else {
		// Keep the parsed info; only refresh the object (resourceVersion, status).
		pi := *p.PodInfo
		pi.Pod = cur
		p.PodInfo = &pi
	}
	switch {
	case p.index >= 0 && q.active.contains(p):
		heap.Fix(&q.active, p.index)
	case p.index >= 0:
		heap.Fix(&q.backoff, p.index)
	case changed:
		delete(q.unschedulable, p.ID())
		q.requeueLocked(p)
	}
}

// Delete drops a pod from the queue (it was deleted or got bound).
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := key(pod)
	if f, ok := q.inFlight[k]; ok {
		f.deleted = true
	}
	p, ok := q.where[k]
	if !ok {
		return
	}
	delete(q.where, k)
	delete(q.unschedulable, k)
	if p.index >= 0 {
		if q.active.contains(p) {
			heap.Remove(&q.active, p.index)
		} else {
			heap.Remove(&q.backoff, p.index)
		}
	}
}

// Pop waits for the next pod to schedule and marks it in flight; the
// caller must hand it back with AddUnschedulable or end it with Done. It
// returns ErrClosed after Close and ctx's error when ctx ends.
func (q *Queue) Pop(ctx context.Context) (*QueuedPodInfo, error) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.cond.Broadcast()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 {
		if q.closed {
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.cond.Wait()
	}
	p := heap.Pop(&q.active).(*QueuedPodInfo)
	delete(q.where, p.ID())
	p.Attempts++
	q.inFlight[p.ID()] = &inFlight{seq: q.eventBase + len(q.events)}
	return p, nil
}

// Done ends the in-flight state of a pod that was placed (assumed); it is
// a no-op for pods not in flight.
func (q *Queue) Done(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, id)
	q.pruneEventsLocked()
}

// pruneEventsLocked drops recorded events no in-flight pod needs.
func (q *Queue) pruneEventsLocked() {
	if len(q.inFlight) == 0 {
		q.eventBase += len(q.events)
		q.events = q.events[:0]
		return
	}
	oldest := q.eventBase + len(q.events)
	for _, f := range q.inFlight {
		oldest = min(oldest, f.seq)
	}
	if n := oldest - q.eventBase; n > 0 {
		q.events = append(q.events[:0], q.events[n:]...)
		q.eventBase = oldest
	}
}

// AddUnschedulable returns a popped pod that could not be placed.
// rejectedBy names the filters that rejected it; nil means it failed for
// another reason (an error, a failed binding), and it is retried after its
// back-off. A pod deleted meanwhile is dropped; a pod updated meanwhile,
// or for which a helpful cluster event arrived during its cycle, goes to
// the back-off queue rather than waiting as unschedulable.
func (q *Queue) AddUnschedulable(p *QueuedPodInfo, rejectedBy map[string]bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := p.ID()
	f := q.inFlight[k]
	delete(q.inFlight, k)
	defer q.pruneEventsLocked()
	if q.closed || (f != nil && f.deleted) {
		return
	}
	if _, ok := q.where[k]; ok {
		return // re-added while in flight (a new object with the same UID cannot exist)
	}
	p.UnschedulablePlugins = rejectedBy
	p.Timestamp = q.clock.Now()
	p.index = -1
	q.where[k] = p
	retry := rejectedBy == nil
	if f != nil && f.updated != nil {
		p.PodInfo = framework.NewPodInfo(f.updated)
		retry = true
	}
	if f != nil && !retry {
		for _, ev := range q.events[max(f.seq-q.eventBase, 0):] {
			if ev.mayHelp(rejectedBy) {
				retry = true
				break
			}
		}
	}
	if retry {
		heap.Push(&q.backoff, p)
		return
	}
	q.unschedulable[k] = p
}

// requeueLocked moves p (in no heap) to backoffQ, or to activeQ if its
// back-off has already passed.
func (q *Queue) requeueLocked(p *QueuedPodInfo) {
	if q.backoffTime(p).After(q.clock.Now()) {
		heap.Push(&q.backoff, p)
		return
	}
	p.Timestamp = q.clock.Now()
	heap.Push(&q.active, p)
	q.cond.Signal()
}

// OnEvent moves the unschedulable pods the event may help to backoffQ or
// activeQ, and remembers the event for the pods in flight. It returns how
// many pods moved.
func (q *Queue) OnEvent(ev ClusterEvent) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.inFlight) > 0 {
		q.events = append(q.events, ev)
	}
	moved := 0
	for k, p := range q.unschedulable {
		if !ev.mayHelp(p.UnschedulablePlugins) {
			continue
		}
		delete(q.unschedulable, k)
		q.requeueLocked(p)
		moved++
	}
	if moved > 0 && q.onMove != nil {
		q.onMove(ev.Name, moved)
	}
	return moved
}

// SetOnMove registers a callback told how many pods each event moved (metrics).
func (q *Queue) SetOnMove(fn func(event string, moved int)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.onMove = fn
}

// FlushBackoffCompleted moves pods whose back-off has passed to activeQ.
func (q *Queue) FlushBackoffCompleted() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for q.backoff.Len() > 0 && !q.backoffTime(q.backoff.items[0]).After(now) {
		p := heap.Pop(&q.backoff).(*QueuedPodInfo)
		p.Timestamp = now
		heap.Push(&q.active, p)
		q.cond.Signal()
	}
}

// FlushUnschedulableLeftover retries pods that have waited as
// unschedulable for longer than MaxInUnschedulable, in case an event that
// would have helped them was missed.
func (q *Queue) FlushUnschedulableLeftover() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for k, p := range q.unschedulable {
		if now.Sub(p.Timestamp) > q.maxInUnschedulable {
			delete(q.unschedulable, k)
			q.requeueLocked(p)
		}
	}
}

// Run flushes the back-off queue every flushPeriod and the unschedulable
// leftovers every 30s until ctx ends.
func (q *Queue) Run(ctx context.Context, flushPeriod time.Duration) {
	last := q.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.clock.After(flushPeriod):
		}
		q.FlushBackoffCompleted()
		if now := q.clock.Now(); now.Sub(last) >= 30*time.Second {
			last = now
			q.FlushUnschedulableLeftover()
		}
	}
}

// Close wakes Pop callers with ErrClosed; later adds are ignored.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Pending returns the number of pods in activeQ, backoffQ and unschedulable.
func (q *Queue) Pending() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// PendingPods lists the queued pods (not those in flight), for debugging.
func (q *Queue) PendingPods() []*corev1.Pod {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(q.where))
	for _, p := range q.where {
		out = append(out, p.Pod)
	}
	return out
}

// podHeap is a heap of pods ordered by less; each pod knows its index.
type podHeap struct {
	items []*QueuedPodInfo
	less  func(a, b *QueuedPodInfo) bool
}

func (h *podHeap) contains(p *QueuedPodInfo) bool {
	return p.index >= 0 && p.index < len(h.items) && h.items[p.index] == p
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	p := x.(*QueuedPodInfo)
	p.index = len(h.items)
	h.items = append(h.items, p)
}
func (h *podHeap) Pop() any {
	old := h.items
	p := old[len(old)-1]
	old[len(old)-1] = nil
	h.items = old[:len(old)-1]
	p.index = -1
	return p
}
