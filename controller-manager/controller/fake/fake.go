// Package fake has test doubles for controllers: an in-memory API that
// records the writes a sync makes, and informers over fixed objects.
package fake

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// API is an in-memory controller.API[T] with the apiserver's optimistic
// concurrency, generateName and deletion basics. It records every write
// as "verb namespace/name" (verb: create, update, update-status, delete).
type API[T scheme.Object] struct {
	mu      sync.Mutex
	kind    *scheme.Kind
	objs    map[string]T
	rv      int
	seq     int
	actions []string
	// Fail, if set, is consulted before every write; a non-nil error is returned.
	Fail func(verb string, obj T) error
	// Now stamps creationTimestamp (default a fixed time).
	Now func() time.Time
}

// NewAPI returns an API holding objs.
func NewAPI[T scheme.Object](objs ...T) *API[T] {
	var zero T
	k, err := scheme.KindOf(zero)
	if err != nil {
		panic(err)
	}
	a := &API[T]{kind: k, objs: map[string]T{}}
	for _, o := range objs {
		a.objs[informer.KeyOf(o)] = proto.Clone(o).(T)
	}
	return a
}

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
	keys := make([]string, 0, len(a.objs))
	for k := range a.objs {
		keys = append(keys, k)
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

func (a *API[T]) key(ns, name string) string {
	if ns == "" || !a.kind.Namespaced {
		return name
	}
	return ns + "/" + name
}

func (a *API[T]) bump(md *metav1.ObjectMeta) {
	a.rv++
	md.ResourceVersion = strconv.Itoa(a.rv)
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
	a.bump(md)
	a.objs[k] = o
	a.record("create", o)
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
	if verb == "update" && omd.GetDeletionTimestamp() != nil && len(omd.GetFinalizers()) == 0 {
		delete(a.objs, k)
	} else {
		a.objs[k] = o
	}
	a.record(verb, o)
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

// Delete removes the object, or marks it when it has finalizers.
func (a *API[T]) Delete(_ context.Context, namespace, name string, opts *metav1.DeleteOptions) (T, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var zero T
	k := a.key(namespace, name)
	cur, ok := a.objs[k]
	if !ok {
		return zero, apierrors.NewNotFound(a.kind.GroupResource(), name)
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
		return proto.Clone(o).(T), nil
	}
	delete(a.objs, k)
	return cur, nil
}

// lw lists fixed objects and never sends watch events.
type lw[T scheme.Object] struct {
	kind *scheme.Kind
	objs []T
}

func (l *lw[T]) Kind() *scheme.Kind { return l.kind }

func (l *lw[T]) List(context.Context, string, client.ListOptions) (*client.List[T], error) {
	return &client.List[T]{Items: l.objs, ResourceVersion: "1"}, nil
}

func (l *lw[T]) Watch(ctx context.Context, _ string, _ client.ListOptions) (client.Watch[T], error) {
	wctx, cancel := context.WithCancel(ctx)
	ch := make(chan client.Event[T])
	go func() { <-wctx.Done(); close(ch) }()
	return &watch[T]{ch: ch, cancel: cancel}, nil
}

type watch[T scheme.Object] struct {
	ch     chan client.Event[T]
	cancel context.CancelFunc
}

func (w *watch[T]) ResultChan() <-chan client.Event[T] { return w.ch }
func (w *watch[T]) Stop()                              { w.cancel() }

// Informer returns a synced informer holding objs (never changing), run
// until the test ends.
func Informer[T scheme.Object](t testing.TB, objs ...T) *informer.Informer[T] {
	t.Helper()
	var zero T
	k, err := scheme.KindOf(zero)
	if err != nil {
		t.Fatal(err)
	}
	inf := informer.New[T](&lw[T]{kind: k, objs: objs}, "", client.ListOptions{}, 0)
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
