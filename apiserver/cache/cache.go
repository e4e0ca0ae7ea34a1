// Package cache is the apiserver's watch cache: one etcd watch per kind,
// however many clients watch it. The cache keeps every object of its kind
// in memory (lists are served from here) and a window of recent events
// (watches resume from here). Each client watcher has a bounded buffer; a
// watcher that falls behind is cut off rather than allowed to stall the
// others, and its client resumes from the last version it saw.
package cache

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/storage"
)

// Event types sent to watchers.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
	Bookmark = "BOOKMARK"
)

// Event is one change as watchers see it. Events and their objects are
// shared by every watcher and must not be modified.
type Event struct {
	Type   string
	Object scheme.Object
	// Prev is the object before a MODIFIED event, to tell selector
	// watchers that an object left or entered their selection.
	Prev scheme.Object
	RV   int64

	rawOnce sync.Once
	raw     []byte
}

// Raw is the object's protobuf encoding, computed once for all watchers.
func (e *Event) Raw() []byte {
	e.rawOnce.Do(func() { e.raw, _ = proto.Marshal(e.Object) })
	return e.raw
}

// entry is one cached object with its encoding computed on first use.
type entry struct {
	obj     scheme.Object
	rawOnce sync.Once
	raw     []byte
}

func (e *entry) Raw() []byte {
	e.rawOnce.Do(func() { e.raw, _ = proto.Marshal(e.obj) })
	return e.raw
}

// Options tune a cache.
type Options struct {
	// History is how many recent events are kept for watch resumption.
	History int
	// WatcherBuffer is each watcher's channel capacity.
	WatcherBuffer int
	// ProgressInterval is how often the cache asks etcd for its revision,
	// which advances bookmarks while the kind is quiet.
	ProgressInterval time.Duration
}

func (o *Options) defaults() {
	if o.History <= 0 {
		o.History = 10000
	}
	if o.WatcherBuffer <= 0 {
		o.WatcherBuffer = 512
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = time.Second
	}
}

// Cache holds one kind's objects and recent events.
type Cache struct {
	kind  *scheme.Kind
	store storage.Interface
	opts  Options
	log   *slog.Logger

	mu      sync.RWMutex
	cond    *sync.Cond // signalled when rv advances
	objects map[string]*entry
	// sorted holds the keys of objects in order when sortedOK, so a page
	// of a list costs its limit, not the whole cache; adding or removing
	// a key clears sortedOK and the next list sorts again.
	sorted   []string
	sortedOK bool
	rv       int64
	history  []*Event // ring of recent events, oldest first
	oldestRV int64    // events after this revision are all in history
	ready    bool
	watchers map[*Watcher]struct{}

	// wantProgress asks the watch loop for an etcd progress notification
	// now: a consistent list on a quiet kind would otherwise wait for the
	// next periodic one (up to ProgressInterval).
	wantProgress chan struct{}
}

// New makes a cache for kind k; Run fills and maintains it.
func New(k *scheme.Kind, st storage.Interface, opts Options) *Cache {
	opts.defaults()
	c := &Cache{
		kind: k, store: st, opts: opts,
		log:      slog.With("resource", k.Resource),
		objects:  map[string]*entry{},
		watchers: map[*Watcher]struct{}{},

		wantProgress: make(chan struct{}, 1),
	}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func objKey(obj scheme.Object) string {
	md := obj.GetMetadata()
	return md.GetNamespace() + "/" + md.GetName()
}

func rvOf(obj scheme.Object) int64 {
	n, _ := strconv.ParseInt(obj.GetMetadata().GetResourceVersion(), 10, 64)
	return n
}

// Run lists the kind from etcd, then follows its changes until ctx ends,
// relisting after any watch failure.
func (c *Cache) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.listAndWatch(ctx)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("watch cache relisting", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	c.mu.Lock()
	for w := range c.watchers {
		c.stopLocked(w, nil)
	}
	c.ready = false
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *Cache) listAndWatch(ctx context.Context) error {
	objs, rev, err := c.store.List(ctx, c.kind, "")
	if err != nil {
		return err
	}
	c.replace(objs, rev)

	wctx, cancel := context.WithCancel(c.store.WatchContext(ctx))
	defer cancel()
	events, errc := c.store.Watch(wctx, c.kind, rev)
	tick := time.NewTicker(c.opts.ProgressInterval)
	defer tick.Stop()
	// The cache asks for progress every tick, so a watch that brings
	// neither events nor progress for silentAfter sits on a member that
	// stopped answering (its connection open, nothing coming back): the
	// cache would stay at its revision and every consistent list would
	// wait for it. It lists and watches again, through another member.
	silentAfter := max(5*time.Second, 5*c.opts.ProgressInterval)
	heard := time.Now()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				select {
				case err := <-errc:
					return err
				default:
					return fmt.Errorf("etcd watch ended")
				}
			}
			heard = time.Now()
			c.apply(ev)
		case <-tick.C:
			if silent := time.Since(heard); silent > silentAfter {
				return fmt.Errorf("etcd watch silent for %s (no events, no progress): watching again", silent.Round(time.Second))
			}
			if err := c.store.RequestProgress(wctx); err != nil {
				c.log.Debug("progress request failed", "err", err)
			}
		case <-c.wantProgress:
			if err := c.store.RequestProgress(wctx); err != nil {
				c.log.Debug("progress request failed", "err", err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// replace installs a fresh list, turning differences from what the cache
// held into events so that open watches stay consistent.
func (c *Cache) replace(objs []scheme.Object, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh := make(map[string]*entry, len(objs))
	for _, o := range objs {
		fresh[objKey(o)] = &entry{obj: o}
	}
	if c.ready {
		for k, old := range c.objects {
			if _, ok := fresh[k]; !ok {
				c.emitLocked(&Event{Type: Deleted, Object: old.obj, RV: rev})
			}
		}
		for k, e := range fresh {
			old, ok := c.objects[k]
			switch {
			case !ok:
				c.emitLocked(&Event{Type: Added, Object: e.obj, RV: rev})
			case rvOf(old.obj) != rvOf(e.obj):
				c.emitLocked(&Event{Type: Modified, Object: e.obj, Prev: old.obj, RV: rev})
			}
		}
	} else {
		c.oldestRV = rev
	}
	c.objects = fresh
	c.sortedOK = false
	c.rv = rev
	c.ready = true
	c.cond.Broadcast()
}

func (c *Cache) apply(ev storage.RawEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Revision <= c.rv && ev.Type != storage.Progress {
		return
	}
	switch ev.Type {
	case storage.Progress:
		if ev.Revision > c.rv {
			c.rv = ev.Revision
			c.cond.Broadcast()
			c.bookmarkLocked()
		}
		return
	case storage.Put:
		k := objKey(ev.Object)
		old, existed := c.objects[k]
		c.objects[k] = &entry{obj: ev.Object}
		if existed {
			c.emitLocked(&Event{Type: Modified, Object: ev.Object, Prev: old.obj, RV: ev.Revision})
		} else {
			c.sortedOK = false
			c.emitLocked(&Event{Type: Added, Object: ev.Object, RV: ev.Revision})
		}
	case storage.Deleted:
		delete(c.objects, objKey(ev.Object))
		c.sortedOK = false
		c.emitLocked(&Event{Type: Deleted, Object: ev.Object, RV: ev.Revision})
	}
	c.rv = ev.Revision
	c.cond.Broadcast()
}

// emitLocked records ev in history and hands it to every watcher.
func (c *Cache) emitLocked(ev *Event) {
	c.history = append(c.history, ev)
	// Trim in batches: keep between History and 2*History events, so the
	// copy-down costs O(1) per event rather than O(History).
	if over := len(c.history) - c.opts.History; over >= c.opts.History {
		c.oldestRV = c.history[over-1].RV
		c.history = append(make([]*Event, 0, 2*c.opts.History), c.history[over:]...)
	}
	for w := range c.watchers {
		if out, ok := w.filter(ev); ok {
			c.sendLocked(w, out)
		}
	}
}

func (c *Cache) bookmarkLocked() {
	for w := range c.watchers {
		if !w.bookmarks {
			continue
		}
		select {
		case w.ch <- &Event{Type: Bookmark, RV: c.rv, Object: c.bookmarkObject()}:
		default: // a bookmark is never worth cutting a watcher off for
		}
	}
}

func (c *Cache) bookmarkObject() scheme.Object {
	o := c.kind.NewObject()
	scheme.Meta(o).ResourceVersion = strconv.FormatInt(c.rv, 10)
	return o
}

func (c *Cache) sendLocked(w *Watcher, ev *Event) {
	select {
	case w.ch <- ev:
	default:
		c.log.Info("watcher too slow, cutting it off", "buffer", cap(w.ch))
		c.stopLocked(w, nil)
	}
}

func (c *Cache) stopLocked(w *Watcher, err error) {
	if _, ok := c.watchers[w]; !ok {
		return
	}
	delete(c.watchers, w)
	w.err = err
	close(w.ch)
}

// waitFresh blocks until the cache reflects revision rv or ctx ends.
// It is called with c.mu held for reading... no: with c.mu held (write).
func (c *Cache) waitFreshLocked(ctx context.Context, rv int64) error {
	if c.ready && c.rv >= rv {
		return nil
	}
	// Waiters coalesce into one pending request.
	select {
	case c.wantProgress <- struct{}{}:
	default:
	}
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	for !(c.ready && c.rv >= rv) {
		if ctx.Err() != nil {
			return apierrors.NewTimeout(fmt.Sprintf("%s: timed out waiting for resource version %d (cache at %d)", c.kind.Resource, rv, c.rv))
		}
		c.cond.Wait()
	}
	return nil
}

// Filter selects objects for a list or watch.
type Filter struct {
	Namespace string // "" for all
	// Match reports whether an object is selected (label and field
	// selectors); nil selects everything.
	Match func(scheme.Object) bool
}

func (f Filter) matches(obj scheme.Object) bool {
	if obj == nil {
		return false
	}
	if f.Namespace != "" && obj.GetMetadata().GetNamespace() != f.Namespace {
		return false
	}
	return f.Match == nil || f.Match(obj)
}

// Item is one listed object with its encoding.
type Item struct {
	Object scheme.Object
	e      *entry
}

// NewItem wraps an object that is not in a cache (a computed one).
func NewItem(obj scheme.Object) Item { return Item{Object: obj, e: &entry{obj: obj}} }

// Raw is the object's protobuf encoding.
func (i Item) Raw() []byte { return i.e.Raw() }

// ListOptions select the freshness and page of a list.
type ListOptions struct {
	// MinRV: serve only once the cache has reached this revision (0: now).
	MinRV int64
	// Limit caps the items returned; 0 is no limit.
	Limit int64
	// Continue is the key after which to start (from a previous page).
	Continue string
}

// List returns the matching objects sorted by namespace/name, the cache
// revision they reflect, and a continue key when Limit cut the list short.
func (c *Cache) List(ctx context.Context, f Filter, o ListOptions) ([]Item, int64, string, error) {
	c.mu.Lock()
	if err := c.waitFreshLocked(ctx, o.MinRV); err != nil {
		c.mu.Unlock()
		return nil, 0, "", err
	}
	if !c.sortedOK {
		c.sorted = c.sorted[:0]
		for k := range c.objects {
			c.sorted = append(c.sorted, k)
		}
		sort.Strings(c.sorted)
		c.sortedOK = true
	}
	// Keys are "namespace/name": a namespace's objects are one run of
	// the sorted keys, and a page starts after the continue key.
	start := sort.SearchStrings(c.sorted, o.Continue)
	if start < len(c.sorted) && c.sorted[start] == o.Continue {
		start++
	}
	prefix := ""
	if f.Namespace != "" {
		prefix = f.Namespace + "/"
		start = max(start, sort.SearchStrings(c.sorted, prefix))
	}
	var items []Item
	if o.Limit > 0 {
		items = make([]Item, 0, min(o.Limit, int64(len(c.sorted)-start)))
	}
	next := ""
	for _, k := range c.sorted[start:] {
		if prefix != "" && !strings.HasPrefix(k, prefix) {
			break
		}
		e := c.objects[k]
		if !f.matches(e.obj) {
			continue
		}
		if o.Limit > 0 && int64(len(items)) == o.Limit {
			next = objKey(items[len(items)-1].Object)
			break
		}
		items = append(items, Item{Object: e.obj, e: e})
	}
	if items == nil {
		items = []Item{}
	}
	rv := c.rv
	c.mu.Unlock()
	return items, rv, next, nil
}

// Get returns the cached object ns/name (ns "" for cluster-scoped kinds).
// The object is shared and must not be modified.
func (c *Cache) Get(ns, name string) (scheme.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.objects[ns+"/"+name]
	if !ok {
		return nil, false
	}
	return e.obj, true
}

// Revision is the etcd revision the cache reflects.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rv
}

// Watcher is one client's watch.
type Watcher struct {
	filter    func(*Event) (*Event, bool)
	bookmarks bool
	// initial holds the events to send before anything from ch: the
	// current objects for a watch from 0, or the missed history.
	initial []*Event
	ch      chan *Event
	err     error
	c       *Cache
}

// Initial returns the events to send first; ownership passes to the caller.
func (w *Watcher) Initial() []*Event {
	ev := w.initial
	w.initial = nil
	return ev
}

// Events delivers live events; it is closed when the watcher is stopped
// or cut off for being slow. The client then resumes from its last version.
func (w *Watcher) Events() <-chan *Event { return w.ch }

// Stop ends the watch.
func (w *Watcher) Stop() {
	w.c.mu.Lock()
	w.c.stopLocked(w, nil)
	w.c.mu.Unlock()
}

// selectorFilter turns a Filter into the per-event decision, so that an
// object leaving the selection is seen as DELETED and one entering it as
// ADDED, as Kubernetes' watch does.
func selectorFilter(f Filter) func(*Event) (*Event, bool) {
	return func(ev *Event) (*Event, bool) {
		cur := f.matches(ev.Object)
		if ev.Type != Modified {
			return ev, cur
		}
		prev := f.matches(ev.Prev)
		switch {
		case cur && prev:
			return ev, true
		case cur:
			return &Event{Type: Added, Object: ev.Object, RV: ev.RV}, true
		case prev:
			return &Event{Type: Deleted, Object: ev.Object, RV: ev.RV}, true
		}
		return nil, false
	}
}

// Watch starts a watch after revision rv; rv 0 begins with an ADDED event
// for every current object. A revision older than the kept history is
// Expired ("too old resource version") and the client must relist.
func (c *Cache) Watch(ctx context.Context, f Filter, rv int64, bookmarks bool) (*Watcher, error) {
	return c.watch(ctx, f, rv, bookmarks, false)
}

func (c *Cache) watch(ctx context.Context, f Filter, rv int64, bookmarks, initialEnd bool) (*Watcher, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.waitFreshLocked(ctx, rv); err != nil {
		return nil, err
	}
	w := &Watcher{
		filter:    selectorFilter(f),
		bookmarks: bookmarks,
		ch:        make(chan *Event, c.opts.WatcherBuffer),
		c:         c,
	}
	if rv == 0 {
		keys := make([]string, 0, len(c.objects))
		for k, e := range c.objects {
			if f.matches(e.obj) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.initial = append(w.initial, &Event{Type: Added, Object: c.objects[k].obj, RV: c.rv})
		}
		if initialEnd {
			o := c.bookmarkObject()
			scheme.Meta(o).Annotations = map[string]string{InitialEventsEnd: "true"}
			w.initial = append(w.initial, &Event{Type: Bookmark, RV: c.rv, Object: o})
		}
	} else {
		if rv < c.oldestRV {
			return nil, apierrors.NewExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, c.oldestRV))
		}
		i := sort.Search(len(c.history), func(i int) bool { return c.history[i].RV > rv })
		for _, ev := range c.history[i:] {
			if out, ok := w.filter(ev); ok {
				w.initial = append(w.initial, out)
			}
		}
	}
	c.watchers[w] = struct{}{}
	return w, nil
}

// InitialEventsEnd is the annotation of the bookmark that ends the
// initial events of a watch with sendInitialEvents (Kubernetes' name).
const InitialEventsEnd = "k8s.io/initial-events-end"

// WatchWithInitial is a watch from "now" that first sends an ADDED event
// for every current object and then a bookmark annotated InitialEventsEnd,
// as a watch with sendInitialEvents=true does.
func (c *Cache) WatchWithInitial(ctx context.Context, f Filter, bookmarks bool) (*Watcher, error) {
	return c.watch(ctx, f, 0, bookmarks, true)
}

// WatcherCount is the number of open watchers (for metrics).
func (c *Cache) WatcherCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.watchers)
}
