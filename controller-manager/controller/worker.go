package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"minik8s/api/workqueue"
)

// MaxRetries is how often a key is retried after errors before it is
// dropped: with the default limiter's per-item back-off (5ms doubling)
// that spans about 80 seconds; resyncs and later events bring it back.
const MaxRetries = 15

// SyncFunc reconciles one key; an error requeues it with back-off.
type SyncFunc func(ctx context.Context, key string) error

// Loop is one controller's queue and workers.
type Loop struct {
	// Name labels logs and metrics ("replicaset").
	Name    string
	Queue   *workqueue.Queue[string]
	Workers int
	Sync    SyncFunc
	Metrics *Metrics // may be nil
	Log     *slog.Logger
}

// Run starts the workers and blocks until ctx ends; it then shuts the
// queue down and waits for the workers to finish their current keys.
func (l Loop) Run(ctx context.Context) {
	log := l.Log
	if log == nil {
		log = slog.Default().With("controller", l.Name)
	}
	workers := max(l.Workers, 1)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.processNext(ctx, log) {
			}
		}()
	}
	log.Info("started workers", "workers", workers)
	<-ctx.Done()
	l.Queue.ShutDown()
	wg.Wait()
	log.Info("stopped workers")
}

func (l Loop) processNext(ctx context.Context, log *slog.Logger) bool {
	key, shutdown := l.Queue.Get()
	if shutdown {
		return false
	}
	defer l.Queue.Done(key)
	start := time.Now()
	err := l.safeSync(ctx, key)
	l.Metrics.observeSync(l.Name, time.Since(start), err)
	switch {
	case err == nil:
		l.Queue.Forget(key)
	case ctx.Err() != nil:
		// Shutting down: the next leader starts from scratch.
	case errors.Is(err, errPanic):
		log.Error("sync panicked", "key", key, "err", err)
		l.Queue.AddRateLimited(key)
	case l.Queue.NumRequeues(key) < MaxRetries:
		log.Info("sync failed, retrying", "key", key, "retries", l.Queue.NumRequeues(key), "err", err)
		l.Queue.AddRateLimited(key)
	default:
		log.Error("sync failed, dropping key", "key", key, "err", err)
		l.Queue.Forget(key)
	}
	return true
}

// safeSync turns a panic in a sync into an error, so one bad object does
// not take the whole controller-manager down.
func (l Loop) safeSync(ctx context.Context, key string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in %s sync of %s: %v\n%s", errPanic, l.Name, key, r, debug.Stack())
		}
	}()
	return l.Sync(ctx, key)
}

// errPanic marks a sync that panicked: logged as an error, and retried.
var errPanic = errors.New("panic")

// NewQueue returns a work queue with the default controller rate limiter.
func NewQueue() *workqueue.Queue[string] { return workqueue.New[string]() }
