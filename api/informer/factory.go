package informer

import (
	"context"
	"sync"
	"time"

	"minik8s/api/client"
	"minik8s/api/scheme"
)

// Factory hands out one shared informer per resource and namespace, so
// controllers in one process watch each resource once. Safe for concurrent use.
type Factory struct {
	c      *client.Client
	resync time.Duration

	mu        sync.Mutex
	informers map[factoryKey]runnable
	started   map[factoryKey]bool
}

type factoryKey struct{ resource, namespace string }

type runnable interface {
	Run(ctx context.Context)
	HasSynced() bool
}

// NewFactory returns a factory whose informers use c and resync at the
// given period (0: never).
func NewFactory(c *client.Client, resync time.Duration) *Factory {
	return &Factory{c: c, resync: resync, informers: map[factoryKey]runnable{}, started: map[factoryKey]bool{}}
}

// For returns the factory's informer of kind T in namespace ("" for all),
// creating it on first use. Call Start afterwards to run new informers.
// It panics if T is not a registered kind (see client.For).
func For[T scheme.Object](f *Factory, namespace string) *Informer[T] {
	res := client.For[T](f.c)
	key := factoryKey{res.Kind().Resource, namespace}
	f.mu.Lock()
	defer f.mu.Unlock()
	if inf, ok := f.informers[key]; ok {
		return inf.(*Informer[T])
	}
	inf := New[T](res, namespace, client.ListOptions{}, f.resync)
	f.informers[key] = inf
	return inf
}

// Start runs, until ctx ends, every informer created so far that is not
// running yet; call it again after creating more.
func (f *Factory) Start(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, inf := range f.informers {
		if !f.started[key] {
			f.started[key] = true
			go inf.Run(ctx)
		}
	}
}

// WaitForCacheSync waits until every informer created so far has synced
// (true) or ctx ends (false).
func (f *Factory) WaitForCacheSync(ctx context.Context) bool {
	f.mu.Lock()
	synced := make([]func() bool, 0, len(f.informers))
	for _, inf := range f.informers {
		synced = append(synced, inf.HasSynced)
	}
	f.mu.Unlock()
	return WaitForCacheSync(ctx, synced...)
}
