// Package informer keeps a local, watched copy of one resource and tells
// handlers about changes - the project's client-go informers and listers.
//
// An Informer lists the resource, then watches from the list's
// resourceVersion (with bookmarks). When the stream ends it re-watches from
// the last version it saw; when that version is too old (Expired), or
// listing or watching keeps failing, it lists again with back-off and
// diffs the new list against its cache, so handlers still see every add,
// update and delete - objects deleted while disconnected get OnDelete with
// their last known state.
//
// Objects handed to handlers and returned by the Lister are the cache's own:
// never mutate them. Copy first, e.g. proto.Clone(pod).(*corev1.Pod).
package informer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// ListerWatcher is what an informer reads from; *client.Resource[T] is one.
type ListerWatcher[T scheme.Object] interface {
	Kind() *scheme.Kind
	List(ctx context.Context, namespace string, opts client.ListOptions) (*client.List[T], error)
	Watch(ctx context.Context, namespace string, opts client.ListOptions) (client.Watch[T], error)
}

// Handler receives changes of the cache, in order, from one goroutine.
// Handlers must be quick (enqueue a key and return) and must not mutate
// the objects they get.
type Handler[T scheme.Object] interface {
	OnAdd(obj T)
	// OnUpdate is also called with old == new on every resync.
	OnUpdate(old, new T)
	// OnDelete gets the object's final state, or its last known state when
	// it was deleted while the watch was down.
	OnDelete(obj T)
}

// HandlerFuncs adapts functions to a Handler; nil functions are skipped.
type HandlerFuncs[T scheme.Object] struct {
	AddFunc    func(obj T)
	UpdateFunc func(old, new T)
	DeleteFunc func(obj T)
}

// OnAdd calls AddFunc if set.
func (h HandlerFuncs[T]) OnAdd(obj T) {
	if h.AddFunc != nil {
		h.AddFunc(obj)
	}
}

// OnUpdate calls UpdateFunc if set.
func (h HandlerFuncs[T]) OnUpdate(old, new T) {
	if h.UpdateFunc != nil {
		h.UpdateFunc(old, new)
	}
}

// OnDelete calls DeleteFunc if set.
func (h HandlerFuncs[T]) OnDelete(obj T) {
	if h.DeleteFunc != nil {
		h.DeleteFunc(obj)
	}
}

// defaultBackoff is the wait between failed lists and watches: 100ms
// doubling to 30s, plus up to 20% jitter; it resets once a watch delivers
// events. Long enough not to hammer a recovering apiserver, short enough to
// resume quickly after a failover.
var defaultBackoff = client.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: 30 * time.Second}

// Informer caches one resource (in one namespace, or all with "") and
// calls its handlers on changes. Create it with New, add handlers and
// indexers, then Run it once.
type Informer[T scheme.Object] struct {
	lw        ListerWatcher[T]
	namespace string
	opts      client.ListOptions
	resync    time.Duration
	store     *store[T]
	log       *slog.Logger
	backoff   client.Backoff

	dispatchMu sync.Mutex // orders store changes with handler calls and registration
	handlers   []Handler[T]

	synced  atomic.Bool
	started atomic.Bool
	rv      string // last resourceVersion seen; only the Run goroutine touches it
}

// New returns an informer of lw's kind in namespace ("" for all) limited
// by opts' selectors; resync > 0 replays every cached object to OnUpdate
// at that period, so level-triggered controllers revisit everything.
func New[T scheme.Object](lw ListerWatcher[T], namespace string, opts client.ListOptions, resync time.Duration) *Informer[T] {
	return &Informer[T]{
		lw:        lw,
		namespace: namespace,
		opts:      client.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector},
		resync:    resync,
		store:     newStore[T](),
		log:       slog.Default().With("informer", lw.Kind().Resource, "namespace", namespace),
		backoff:   defaultBackoff,
	}
}

// AddEventHandler registers h. If the informer already holds objects, h
// first gets OnAdd for each of them, so late handlers see the same world.
// Do not call it from inside a handler.
func (inf *Informer[T]) AddEventHandler(h Handler[T]) {
	inf.dispatchMu.Lock()
	defer inf.dispatchMu.Unlock()
	for _, obj := range inf.store.list() {
		h.OnAdd(obj)
	}
	inf.handlers = append(inf.handlers, h)
}

// AddIndexer adds a named index over the cache (replacing one of the same
// name); ByIndex and Lister().ByIndex query it. It may be called at any time.
func (inf *Informer[T]) AddIndexer(name string, fn IndexFunc[T]) {
	inf.store.addIndexer(name, fn)
}

// ByIndex returns the cached objects whose index name has value.
func (inf *Informer[T]) ByIndex(name, value string) ([]T, error) {
	return inf.Lister().ByIndex(name, value)
}

// Lister returns read access to the cache.
func (inf *Informer[T]) Lister() *Lister[T] {
	return &Lister[T]{store: inf.store, kind: inf.lw.Kind()}
}

// HasSynced reports whether the first list has been stored and handed to
// the handlers.
func (inf *Informer[T]) HasSynced() bool { return inf.synced.Load() }

// WaitForCacheSync polls the synced functions until all report true (true)
// or ctx ends (false).
func WaitForCacheSync(ctx context.Context, synced ...func() bool) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		all := true
		for _, s := range synced {
			if !s() {
				all = false
				break
			}
		}
		if all {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// Run lists and watches until ctx ends. Calling it again while it runs
// returns at once.
func (inf *Informer[T]) Run(ctx context.Context) {
	if !inf.started.CompareAndSwap(false, true) {
		inf.log.Warn("informer already running")
		return
	}
	defer inf.started.Store(false)
	if inf.resync > 0 {
		go inf.resyncLoop(ctx)
	}
	failures := 0
	needList := true
	for ctx.Err() == nil {
		if needList {
			if err := inf.listAndReplace(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				inf.log.Warn("list failed", "err", err, "retryIn", inf.backoff.Delay(failures))
				failures = inf.sleep(ctx, failures)
				continue
			}
			needList = false
		}
		w, err := inf.lw.Watch(ctx, inf.namespace, client.ListOptions{
			LabelSelector: inf.opts.LabelSelector, FieldSelector: inf.opts.FieldSelector,
			ResourceVersion: inf.rv, AllowBookmarks: true,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			needList = true
			inf.log.Warn("watch failed, relisting", "resourceVersion", inf.rv, "err", err)
			failures = inf.sleep(ctx, failures)
			continue
		}
		got, err := inf.consume(ctx, w)
		w.Stop()
		if got {
			failures = 0
		}
		switch {
		case ctx.Err() != nil:
			return
		case apierrors.IsExpired(err):
			inf.log.Info("watch expired, relisting", "resourceVersion", inf.rv, "err", err)
			needList = true
			failures = inf.sleep(ctx, failures)
		case err != nil && !got:
			// gRPC reports a refused watch on the stream, not at open:
			// treat it as a failed watch and start over from a list.
			inf.log.Warn("watch failed, relisting", "resourceVersion", inf.rv, "err", err)
			needList = true
			failures = inf.sleep(ctx, failures)
		case err != nil:
			inf.log.Warn("watch broke, rewatching", "resourceVersion", inf.rv, "err", err)
			failures = inf.sleep(ctx, failures)
		case !got:
			// A stream closed without a single event: do not spin.
			failures = inf.sleep(ctx, failures)
		}
	}
}

// sleep waits the back-off for the given failure count and returns the next count.
func (inf *Informer[T]) sleep(ctx context.Context, failures int) int {
	t := time.NewTimer(inf.backoff.Delay(failures))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return failures + 1
}

// listAndReplace lists every page, replaces the cache and dispatches the diff.
func (inf *Informer[T]) listAndReplace(ctx context.Context) error {
	opts := client.ListOptions{LabelSelector: inf.opts.LabelSelector, FieldSelector: inf.opts.FieldSelector}
	var items []T
	rv := ""
	for {
		page, err := inf.lw.List(ctx, inf.namespace, opts)
		if err != nil {
			return fmt.Errorf("list %s: %w", inf.lw.Kind().Resource, err)
		}
		if rv == "" {
			rv = page.ResourceVersion
		}
		items = append(items, page.Items...)
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	inf.dispatchMu.Lock()
	changes := inf.store.replace(items)
	inf.dispatchLocked(changes...)
	inf.synced.Store(true)
	inf.dispatchMu.Unlock()
	inf.rv = rv
	inf.log.Debug("listed", "items", len(items), "resourceVersion", rv, "changes", len(changes))
	return nil
}

// consume applies the events of one watch until it ends. got reports that
// at least one event arrived; err is the ERROR event's cause, if any.
func (inf *Informer[T]) consume(ctx context.Context, w client.Watch[T]) (got bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return got, nil
			}
			if ev.Type == client.Error {
				return got, ev.Err
			}
			got = true
			if rv := ev.Object.GetMetadata().GetResourceVersion(); rv != "" {
				inf.rv = rv
			}
			if ev.Type == client.Bookmark {
				continue
			}
			inf.dispatchMu.Lock()
			if c, ok := inf.store.apply(ev.Type, ev.Object); ok {
				inf.dispatchLocked(c)
			}
			inf.dispatchMu.Unlock()
		}
	}
}

func (inf *Informer[T]) dispatchLocked(changes ...change[T]) {
	for _, c := range changes {
		for _, h := range inf.handlers {
			switch c.typ {
			case changeAdd:
				h.OnAdd(c.obj)
			case changeUpdate:
				h.OnUpdate(c.old, c.obj)
			case changeDelete:
				h.OnDelete(c.obj)
			}
		}
	}
}

// resyncLoop replays the cache to OnUpdate every resync period once synced.
func (inf *Informer[T]) resyncLoop(ctx context.Context) {
	t := time.NewTicker(inf.resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !inf.HasSynced() {
			continue
		}
		inf.dispatchMu.Lock()
		for _, obj := range inf.store.list() {
			for _, h := range inf.handlers {
				h.OnUpdate(obj, obj)
			}
		}
		inf.dispatchMu.Unlock()
	}
}
