// Package fake has test doubles for code that talks to the API: an
// in-memory client.Interface[T] that records the writes made through it
// and serves List and Watch like the apiserver, and informers over it.
package fake

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	"minik8s/api/fields"
	"minik8s/api/informer"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// API is an in-memory client.Interface[T] with the apiserver's optimistic
// concurrency, generateName and deletion basics. It records every write
// as "verb namespace/name" (verb: create, update, update-status, delete)
// and sends every change to its watches.
//
// It is safe for concurrent use. Objects go in and come out as copies.
type API[T scheme.Object] struct {
	mu       sync.Mutex
	kind     *scheme.Kind
	objs     map[string]T
	rv       *atomic.Int64 // shared by the APIs of a Cluster
	typeMeta bool          // stamp apiVersion and kind, as a Cluster does
	seq      int
	actions  []string
	history  []client.Event[T] // every change, in resourceVersion order
	watchers map[*watcher[T]]struct{}
	// Fail, if set, is consulted before every write; a non-nil error is returned.
	Fail func(verb string, obj T) error
	// Now stamps creationTimestamp and deletionTimestamp (default a fixed time).
	Now func() time.Time
}

var _ client.Interface[scheme.Object] = (*API[scheme.Object])(nil)

// NewAPI returns an API holding copies of objs. Its resourceVersion starts
// at the highest of theirs, so later writes are newer.
func NewAPI[T scheme.Object](objs ...T) *API[T] {
	var zero T
	k, err := scheme.KindOf(zero)
	if err != nil {
		panic(err)
	}
	a := newAPI[T](k, &atomic.Int64{})
	for _, o := range objs {
		a.objs[informer.KeyOf(o)] = proto.Clone(o).(T)
		if rv, err := strconv.ParseInt(o.GetMetadata().GetResourceVersion(), 10, 64); err == nil && rv > a.rv.Load() {
			a.rv.Store(rv)
		}
	}
	return a
}

func newAPI[T scheme.Object](k *scheme.Kind, rv *atomic.Int64) *API[T] {
	return &API[T]{kind: k, objs: map[string]T{}, rv: rv, watchers: map[*watcher[T]]struct{}{}}
}

// Put stores a copy of obj as it is, without version checks, defaults or
// watch events: a change made behind the client's back (by a kubelet or
// an admission default), for tests.
func (a *API[T]) Put(obj T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.objs[a.key(obj.GetMetadata().GetNamespace(), obj.GetMetadata().GetName())] = proto.Clone(obj).(T)
}

// Kind returns the kind of T.
func (a *API[T]) Kind() *scheme.Kind { return a.kind }

func (a *API[T]) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
}

func (a *API[T]) record(verb string, o scheme.Object) {
	a.actions = append(a.actions, verb+" "+informer.KeyOf(o))
}

// Actions returns the writes so far, in order.
func (a *API[T]) Actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.actions...)
}

// Objects returns copies of the stored objects sorted by key.
func (a *API[T]) Objects() []T {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sorted("", func(T) bool { return true })
}

func (a *API[T]) sorted(namespace string, match func(T) bool) []T {
	keys := make([]string, 0, len(a.objs))
	for k, o := range a.objs {
		if (namespace == "" || o.GetMetadata().GetNamespace() == namespace) && match(o) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, proto.Clone(a.objs[k]).(T))
	}
	return out
}

// Get returns a copy of the object.
func (a *API[T]) Get(_ context.Context, namespace, name string) (T, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	o, ok := a.objs[a.key(namespace, name)]
	if !ok {
		var zero T
		return zero, apierrors.NewNotFound(a.kind.GroupResource(), name)
	}
	return proto.Clone(o).(T), nil
}

// List returns the objects of a namespace ("" for all) that match the
// label and field selectors of opts, sorted by key, at the current
// resourceVersion. It does not page: Limit and Continue are ignored.
func (a *API[T]) List(_ context.Context, namespace string, opts client.ListOptions) (*client.List[T], error) {
	match, err := matcher[T](opts)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return &client.List[T]{Items: a.sorted(a.ns(namespace), match), ResourceVersion: strconv.FormatInt(a.rv.Load(), 10)}, nil
}

// Watch streams the changes of a namespace ("" for all) that match opts'
// selectors: with opts.ResourceVersion "" or "0" first an ADDED event for
// every current object, otherwise every change after that version. An
// object is matched in its new state (its last state for DELETED): the
// fake does not turn an object leaving the selector into DELETED. Events
// are buffered without bound, so writers never wait for a slow reader.
func (a *API[T]) Watch(ctx context.Context, namespace string, opts client.ListOptions) (client.Watch[T], error) {
	match, err := matcher[T](opts)
	if err != nil {
		return nil, err
	}
	from, err := strconv.Atoi(opts.ResourceVersion)
	if opts.ResourceVersion == "" {
		from, err = 0, nil
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", opts.ResourceVersion))
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &watcher[T]{namespace: a.ns(namespace), match: match, ch: make(chan client.Event[T]), wake: make(chan struct{}, 1), cancel: cancel}
	a.mu.Lock()
	if from == 0 {
		for _, o := range a.sorted(w.namespace, match) {
			w.pending = append(w.pending, client.Event[T]{Type: client.Added, Object: o})
		}
	} else {
		for _, ev := range a.history {
			if rv, _ := strconv.Atoi(ev.Object.GetMetadata().GetResourceVersion()); rv > from {
				w.offer(ev)
			}
		}
	}
	a.watchers[w] = struct{}{}
	a.mu.Unlock()
	go func() {
		w.pump(wctx)
		a.mu.Lock()
		delete(a.watchers, w)
		a.mu.Unlock()
	}()
	return w, nil
}

// matcher returns the test of opts' label and field selectors.
func matcher[T scheme.Object](opts client.ListOptions) (func(T) bool, error) {
	ls, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	fs, err := fields.Parse(opts.FieldSelector)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return func(o T) bool {
		return ls.Matches(o.GetMetadata().GetLabels()) && fs.Matches(fields.ObjectGetter(o))
	}, nil
}

// emit records a change and hands it to the watches; a.mu is held.
func (a *API[T]) emit(typ string, o T) {
	ev := client.Event[T]{Type: typ, Object: proto.Clone(o).(T)}
	a.history = append(a.history, ev)
	for w := range a.watchers {
		w.offer(ev)
	}
}

// ns is the namespace of a namespaced kind's request; cluster-scoped kinds
// ignore it.
func (a *API[T]) ns(namespace string) string {
	if !a.kind.Namespaced {
		return ""
	}
	return namespace
}

func (a *API[T]) key(ns, name string) string {
	if ns == "" || !a.kind.Namespaced {
		return name
	}
	return ns + "/" + name
}

func (a *API[T]) bump(md *metav1.ObjectMeta) {
	md.ResourceVersion = strconv.FormatInt(a.rv.Add(1), 10)
}

// Create stores a copy, filling name (from generateName), uid,
// resourceVersion, generation and creationTimestamp.
func (a *API[T]) Create(_ context.Context, obj T) (T, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var zero T
	if a.Fail != nil {
		if err := a.Fail("create", obj); err != nil {
			return zero, err
		}
	}
	o := proto.Clone(obj).(T)
	md := scheme.Meta(o)
	if md.Name == "" && md.GenerateName != "" {
		a.seq++
		md.Name = fmt.Sprintf("%s%05d", md.GenerateName, a.seq)
	}
	k := a.key(md.Namespace, md.Name)
	if _, dup := a.objs[k]; dup {
		return zero, apierrors.NewAlreadyExists(a.kind.GroupResource(), md.Name)
	}
	a.seq++
	md.Uid = fmt.Sprintf("uid-%s-%d", md.Name, a.seq)
	md.Generation = 1
	md.CreationTimestamp = timestamppb.New(a.now())
	if a.typeMeta {
		scheme.SetTypeMeta(o, a.kind)
	}
	a.bump(md)
	a.objs[k] = o
	a.record("create", o)
	a.emit(client.Added, o)
	return proto.Clone(o).(T), nil
}

func (a *API[T]) update(obj T, verb string) (T, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var zero T
	if a.Fail != nil {
		if err := a.Fail(verb, obj); err != nil {
			return zero, err
		}
	}
	md := obj.GetMetadata()
	k := a.key(md.GetNamespace(), md.GetName())
	cur, ok := a.objs[k]
	if !ok {
		return zero, apierrors.NewNotFound(a.kind.GroupResource(), md.GetName())
	}
	if md.GetResourceVersion() != "" && md.GetResourceVersion() != cur.GetMetadata().GetResourceVersion() {
		return zero, apierrors.NewConflict(a.kind.GroupResource(), md.GetName(), "the object has been modified; please apply your changes to the latest version and try again")
	}
	o := proto.Clone(obj).(T)
	omd := o.GetMetadata()
	omd.Uid, omd.CreationTimestamp, omd.Generation = cur.GetMetadata().GetUid(), cur.GetMetadata().GetCreationTimestamp(), cur.GetMetadata().GetGeneration()
	a.bump(omd)
	a.record(verb, o)
	if verb == "update" && omd.GetDeletionTimestamp() != nil && len(omd.GetFinalizers()) == 0 {
		delete(a.objs, k)
		a.emit(client.Deleted, o)
	} else {
		a.objs[k] = o
		a.emit(client.Modified, o)
	}
	return proto.Clone(o).(T), nil
}

// Update replaces the object (the whole object: the fake does not split
// spec and status). An object marked for deletion whose metadata
// finalizers are all gone is removed, as the apiserver does.
func (a *API[T]) Update(_ context.Context, obj T) (T, error) { return a.update(obj, "update") }

// UpdateStatus replaces the object like Update, recorded as update-status.
func (a *API[T]) UpdateStatus(_ context.Context, obj T) (T, error) {
	return a.update(obj, "update-status")
}

// Delete removes the object, or marks it when it has finalizers (or the
// propagation policy adds one).
func (a *API[T]) Delete(_ context.Context, namespace, name string, opts *metav1.DeleteOptions) (T, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var zero T
	k := a.key(namespace, name)
	cur, ok := a.objs[k]
	if !ok {
		return zero, apierrors.NewNotFound(a.kind.GroupResource(), name)
	}
	if uid := opts.GetPreconditions().GetUid(); uid != "" && uid != cur.GetMetadata().GetUid() {
		return zero, apierrors.NewConflict(a.kind.GroupResource(), name, fmt.Sprintf("the UID in the precondition (%s) does not match the UID in record (%s)", uid, cur.GetMetadata().GetUid()))
	}
	if a.Fail != nil {
		if err := a.Fail("delete", cur); err != nil {
			return zero, err
		}
	}
	a.record("delete", cur)
	fins := cur.GetMetadata().GetFinalizers()
	switch opts.GetPropagationPolicy() {
	case "Foreground":
		fins = append(fins, "foregroundDeletion")
	case "Orphan":
		fins = append(fins, "orphan")
	}
	if len(fins) > 0 {
		o := proto.Clone(cur).(T)
		o.GetMetadata().Finalizers = fins
		if o.GetMetadata().DeletionTimestamp == nil {
			o.GetMetadata().DeletionTimestamp = timestamppb.New(a.now())
		}
		a.bump(o.GetMetadata())
		a.objs[k] = o
		a.emit(client.Modified, o)
		return proto.Clone(o).(T), nil
	}
	delete(a.objs, k)
	gone := proto.Clone(cur).(T)
	a.bump(gone.GetMetadata())
	a.emit(client.Deleted, gone)
	return cur, nil
}

// watcher is one Watch: offer queues events (under the API's lock, never
// blocking), pump delivers them in order until the watch ends.
type watcher[T scheme.Object] struct {
	namespace string
	match     func(T) bool
	ch        chan client.Event[T]
	wake      chan struct{}
	cancel    context.CancelFunc
	once      sync.Once

	mu      sync.Mutex
	pending []client.Event[T]
}

func (w *watcher[T]) ResultChan() <-chan client.Event[T] { return w.ch }
func (w *watcher[T]) Stop()                              { w.once.Do(w.cancel) }

func (w *watcher[T]) offer(ev client.Event[T]) {
	if (w.namespace != "" && ev.Object.GetMetadata().GetNamespace() != w.namespace) || !w.match(ev.Object) {
		return
	}
	w.mu.Lock()
	w.pending = append(w.pending, client.Event[T]{Type: ev.Type, Object: proto.Clone(ev.Object).(T)})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher[T]) pump(ctx context.Context) {
	defer close(w.ch)
	for {
		w.mu.Lock()
		batch := w.pending
		w.pending = nil
		w.mu.Unlock()
		for _, ev := range batch {
			select {
			case w.ch <- ev:
			case <-ctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return
		}
	}
}

// Informer returns a synced informer holding objs (never changing), run
// until the test ends.
func Informer[T scheme.Object](t testing.TB, objs ...T) *informer.Informer[T] {
	t.Helper()
	return InformerFor(t, NewAPI(objs...))
}

// InformerFor returns a synced informer over a, which follows the writes
// made through a, run until the test ends.
func InformerFor[T scheme.Object](t testing.TB, a *API[T]) *informer.Informer[T] {
	t.Helper()
	inf := informer.New[T](a, "", client.ListOptions{}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go inf.Run(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if !informer.WaitForCacheSync(wctx, inf.HasSynced) {
		t.Fatal("fake informer did not sync")
	}
	return inf
}

// dynamic adapts a typed fake API to scheme.Object, as client.Dynamic does.
type dynamic[T scheme.Object] struct{ a *API[T] }

// Dynamic returns a's methods over scheme.Object.
func Dynamic[T scheme.Object](a *API[T]) interface {
	Get(ctx context.Context, namespace, name string) (scheme.Object, error)
	Create(ctx context.Context, obj scheme.Object) (scheme.Object, error)
	Update(ctx context.Context, obj scheme.Object) (scheme.Object, error)
	UpdateStatus(ctx context.Context, obj scheme.Object) (scheme.Object, error)
	Delete(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions) (scheme.Object, error)
} {
	return dynamic[T]{a}
}

func (d dynamic[T]) Get(ctx context.Context, ns, name string) (scheme.Object, error) {
	return d.a.Get(ctx, ns, name)
}
func (d dynamic[T]) Create(ctx context.Context, o scheme.Object) (scheme.Object, error) {
	return d.a.Create(ctx, o.(T))
}
func (d dynamic[T]) Update(ctx context.Context, o scheme.Object) (scheme.Object, error) {
	return d.a.Update(ctx, o.(T))
}
func (d dynamic[T]) UpdateStatus(ctx context.Context, o scheme.Object) (scheme.Object, error) {
	return d.a.UpdateStatus(ctx, o.(T))
}
func (d dynamic[T]) Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions) (scheme.Object, error) {
	return d.a.Delete(ctx, ns, name, opts)
}
