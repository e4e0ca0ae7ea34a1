package controller

import (
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	"minik8s/api/workqueue"
)

// ExpectationsTimeout is how long unfulfilled expectations block a
// controller before it stops trusting them and syncs anyway: a watch event
// that never comes (a create the apiserver accepted but whose event was
// lost) must not wedge a controller forever.
const ExpectationsTimeout = 5 * time.Minute

// Expectations remember, per controller key, how many pod creations and
// which pod deletions the controller has issued but not yet seen in its
// informer. While any are outstanding the controller does not act on its
// cache, which still lacks those changes; otherwise it would create or
// delete the same pods twice. Deletions are tracked by pod key, so a pod
// seen first as terminating and then as deleted counts once.
//
// Safe for concurrent use.
type Expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]*expectation
}

type expectation struct {
	add      int
	deleting map[string]struct{}
	at       time.Time
}

// NewExpectations returns empty expectations on the given clock (nil: time.Now).
func NewExpectations(now func() time.Time) *Expectations {
	if now == nil {
		now = time.Now
	}
	return &Expectations{now: now, items: map[string]*expectation{}}
}

// ExpectCreations records that n pods are about to be created for key. It
// replaces earlier expectations of key, which must be satisfied by then.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{add: n, deleting: map[string]struct{}{}, at: e.now()}
}

// ExpectDeletions records that the pods with podKeys are about to be
// deleted for key, replacing earlier expectations of key.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := make(map[string]struct{}, len(podKeys))
	for _, k := range podKeys {
		d[k] = struct{}{}
	}
	e.items[key] = &expectation{deleting: d, at: e.now()}
}

// CreationObserved lowers the creations expected for key by one: a pod
// appeared, or a create failed and will not produce one.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.add > 0 {
		x.add--
	}
}

// DeletionObserved records that the pod podKey is gone (or marked for
// deletion, or its delete failed); pods not expected are ignored.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		delete(x.deleting, podKey)
	}
}

// Satisfied reports whether the controller may act on its cache for key:
// nothing is expected, everything expected was seen, or the expectations
// are older than ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.add <= 0 && len(x.deleting) == 0 {
		return true
	}
	return e.now().Sub(x.at) > ExpectationsTimeout
}

// Pending returns the outstanding creations and deletions of key.
func (e *Expectations) Pending(key string) (creations, deletions int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		return max(x.add, 0), len(x.deleting)
	}
	return 0, 0
}

// Delete forgets key, when its controller object is gone.
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// OwnedPodEvents routes pod events to the key of the object that controls
// the pod (owner returns it, or "" for a pod no such object controls),
// recording what the expectations wait for: a new pod is an observed
// creation, a pod marked for deletion or gone an observed deletion. Every
// event about an owned pod enqueues its owner.
func OwnedPodEvents(exp *Expectations, queue *workqueue.Queue[string], owner func(*corev1.Pod) string) informer.HandlerFuncs[*corev1.Pod] {
	return informer.HandlerFuncs[*corev1.Pod]{
		AddFunc: func(p *corev1.Pod) {
			key := owner(p)
			if key == "" {
				return
			}
			if p.GetMetadata().GetDeletionTimestamp() != nil {
				exp.DeletionObserved(key, PodKey(p))
			} else {
				exp.CreationObserved(key)
			}
			queue.Add(key)
		},
		UpdateFunc: func(old, cur *corev1.Pod) {
			if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
				return // a resync, nothing new
			}
			key := owner(cur)
			if key == "" {
				return
			}
			if cur.GetMetadata().GetDeletionTimestamp() != nil && old.GetMetadata().GetDeletionTimestamp() == nil {
				exp.DeletionObserved(key, PodKey(cur))
			}
			queue.Add(key)
		},
		DeleteFunc: func(p *corev1.Pod) {
			if key := owner(p); key != "" {
				exp.DeletionObserved(key, PodKey(p))
				queue.Add(key)
			}
		},
	}
}
