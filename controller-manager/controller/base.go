package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	"minik8s/api/record"
	"minik8s/api/scheme"
	"minik8s/api/workqueue"
)

// ErrCachesNotSynced is returned (wrapped) by Base.Run when the informer
// caches did not sync before the context ended.
var ErrCachesNotSynced = errors.New("caches did not sync")

// Base is the scaffolding every controller embeds: its work queue,
// expectations, the synced funcs of the informers it reads, its event
// recorder, metrics, clock and logger, and Run. Controllers add their
// typed listers (through Lister, which registers the informer's synced
// func) and set Sync.
type Base struct {
	// Name labels logs and metrics ("replicaset").
	Name string
	// Sync reconciles one queued key.
	Sync         SyncFunc
	Queue        *workqueue.Queue[string]
	Expectations *Expectations
	Recorder     EventRecorder
	Metrics      *Metrics // may be nil
	// Now is the controller's clock.
	Now func() time.Time
	Log *slog.Logger
	// Synced, if set, is called once the caches synced, before the
	// workers start: the place to sweep for orphans (objects whose owner
	// went while no controller ran) and queue them.
	Synced func()
	synced []func() bool
}

// NewBase returns the base of the controller name with a fresh queue and
// expectations; a nil recorder drops events and a nil now is time.Now.
func NewBase(name string, recorder EventRecorder, metrics *Metrics, now func() time.Time) Base {
	if now == nil {
		now = time.Now
	}
	return Base{
		Name:         name,
		Queue:        NewQueue(),
		Expectations: NewExpectations(now),
		Recorder:     record.Or(recorder),
		Metrics:      metrics,
		Now:          now,
		Log:          slog.Default().With("controller", name),
	}
}

// Lister registers inf as a cache b waits for before running and returns
// its lister.
func Lister[T scheme.Object](b *Base, inf *informer.Informer[T]) *informer.Lister[T] {
	b.WaitFor(inf.HasSynced)
	return inf.Lister()
}

// WaitFor adds synced funcs Run waits for, for caches that are not typed
// informers.
func (b *Base) WaitFor(synced ...func() bool) { b.synced = append(b.synced, synced...) }

// Enqueue queues the key of obj.
func (b *Base) Enqueue(obj scheme.Object) { b.Queue.Add(informer.KeyOf(obj)) }

// EnqueueHandlers are informer handlers that queue every changed object,
// and on delete also forget its expectations.
func EnqueueHandlers[T scheme.Object](b *Base) informer.HandlerFuncs[T] {
	return informer.HandlerFuncs[T]{
		AddFunc:    func(o T) { b.Enqueue(o) },
		UpdateFunc: func(_, o T) { b.Enqueue(o) },
		DeleteFunc: func(o T) {
			key := informer.KeyOf(o)
			b.Expectations.Delete(key)
			b.Queue.Add(key)
		},
	}
}

// OnChange are informer handlers that call fn with every added, changed
// (a new resourceVersion: resyncs are skipped) and deleted object.
func OnChange[T scheme.Object](fn func(T)) informer.HandlerFuncs[T] {
	return informer.HandlerFuncs[T]{
		AddFunc: fn,
		UpdateFunc: func(old, cur T) {
			if old.GetMetadata().GetResourceVersion() != cur.GetMetadata().GetResourceVersion() {
				fn(cur)
			}
		},
		DeleteFunc: fn,
	}
}

// OwnedPodEvents is OwnedPodEvents over b's expectations and queue.
func (b *Base) OwnedPodEvents(owner func(*corev1.Pod) string) informer.HandlerFuncs[*corev1.Pod] {
	return OwnedPodEvents(b.Expectations, b.Queue, owner)
}

// Run waits for the caches, calls Synced, then runs workers calling Sync
// until ctx ends. It returns an error wrapping ErrCachesNotSynced, without
// starting workers, when the caches do not sync before ctx ends; nil
// after the workers stopped.
func (b *Base) Run(ctx context.Context, workers int) error {
	if !informer.WaitForCacheSync(ctx, b.synced...) {
		return fmt.Errorf("controller %s: %w: %w", b.Name, ErrCachesNotSynced, context.Cause(ctx))
	}
	if b.Synced != nil {
		b.Synced()
	}
	Loop{Name: b.Name, Queue: b.Queue, Workers: workers, Sync: b.Sync, Metrics: b.Metrics, Log: b.Log}.Run(ctx)
	return nil
}
