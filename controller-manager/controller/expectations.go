package controller

import (
	"sync"
	"time"
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
