// Package storagetest is the contract of storage.Interface as tests: every
// implementation (storage/memory here, the etcd one against a real etcd)
// runs Run and must pass it unchanged.
package storagetest

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	_ "minik8s/api/all" // the kinds the tests store
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/storage"
)

// Factory returns an empty store for one test, and a function that
// compacts its history up to and including rev (as etcd's Compact does).
type Factory func(t *testing.T) (st storage.Interface, compact func(rev int64))

// Run runs the whole contract against stores made by newStore.
//
// skip names cases an implementation is not held to here.
func Run(t *testing.T, newStore Factory, skip ...string) {
	tests := []struct {
		name string
		run  func(t *testing.T, st storage.Interface, compact func(int64))
	}{
		{"CreateGet", testCreateGet},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"List", testList},
		{"WatchFromRevision", testWatchFromRevision},
		{"WatchCompacted", testWatchCompacted},
		{"RequestProgress", testRequestProgress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if slices.Contains(skip, tc.name) {
				t.Skip("not held to this case")
			}
			st, compact := newStore(t)
			tc.run(t, st, compact)
		})
	}
}

var configMaps = mustKind("configmaps")

func mustKind(resource string) *scheme.Kind {
	k, err := scheme.ByResource(resource)
	if err != nil {
		panic(err)
	}
	return k
}

func configMap(ns, name, value string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ApiVersion: "v1", Kind: "ConfigMap",
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"v": value}}
}

func rv(t *testing.T, obj scheme.Object) int64 {
	t.Helper()
	n, err := strconv.ParseInt(obj.GetMetadata().GetResourceVersion(), 10, 64)
	if err != nil || n <= 0 {
		t.Fatalf("resourceVersion %q of %s is not a positive revision", obj.GetMetadata().GetResourceVersion(), obj.GetMetadata().GetName())
	}
	return n
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantReason fails unless err carries the API reason.
func wantReason(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if got := apierrors.ReasonOf(err); got != reason {
		t.Fatalf("%s: got error %v (reason %q), want reason %q", what, err, got, reason)
	}
}

func mustCreate(t *testing.T, ctx context.Context, st storage.Interface, ns, name, value string) scheme.Object {
	t.Helper()
	out, err := st.Create(ctx, configMaps, configMap(ns, name, value))
	if err != nil {
		t.Fatalf("create %s/%s: %v", ns, name, err)
	}
	return out
}

func testCreateGet(t *testing.T, st storage.Interface, _ func(int64)) {
	ctx := ctxFor(t)
	_, err := st.Get(ctx, configMaps, "default", "a")
	wantReason(t, "get of a missing key", err, apierrors.ReasonNotFound)

	created := mustCreate(t, ctx, st, "default", "a", "1")
	cur, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rv(t, created) != cur {
		t.Fatalf("created at revision %d, store is at %d", rv(t, created), cur)
	}
	got, err := st.Get(ctx, configMaps, "default", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMetadata().GetResourceVersion() != created.GetMetadata().GetResourceVersion() || got.(*corev1.ConfigMap).Data["v"] != "1" {
		t.Fatalf("get returned %v, want what create returned", got)
	}
	_, err = st.Create(ctx, configMaps, configMap("default", "a", "2"))
	wantReason(t, "second create", err, apierrors.ReasonAlreadyExists)
	// The same name in another namespace is another key.
	mustCreate(t, ctx, st, "other", "a", "3")
}

func testUpdate(t *testing.T, st storage.Interface, _ func(int64)) {
	ctx := ctxFor(t)
	created := mustCreate(t, ctx, st, "default", "a", "1")

	next := configMap("default", "a", "2")
	next.Metadata.ResourceVersion = created.GetMetadata().GetResourceVersion()
	updated, err := st.Update(ctx, configMaps, next)
	if err != nil {
		t.Fatalf("update at the current revision: %v", err)
	}
	if rv(t, updated) <= rv(t, created) {
		t.Fatalf("update revision %d is not after the create's %d", rv(t, updated), rv(t, created))
	}

	tests := []struct {
		name   string
		obj    *corev1.ConfigMap
		rv     string
		reason string
	}{
		{"stale resourceVersion", configMap("default", "a", "3"), created.GetMetadata().GetResourceVersion(), apierrors.ReasonConflict},
		{"future resourceVersion", configMap("default", "a", "3"), strconv.FormatInt(rv(t, updated)+100, 10), apierrors.ReasonConflict},
		{"missing key", configMap("default", "missing", "3"), updated.GetMetadata().GetResourceVersion(), apierrors.ReasonNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.obj.Metadata.ResourceVersion = tc.rv
			_, err := st.Update(ctx, configMaps, tc.obj)
			wantReason(t, "update", err, tc.reason)
		})
	}
	got, err := st.Get(ctx, configMaps, "default", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.(*corev1.ConfigMap).Data["v"] != "2" || got.GetMetadata().GetResourceVersion() != updated.GetMetadata().GetResourceVersion() {
		t.Fatalf("a failed update changed the object: %v", got)
	}
}

func testDelete(t *testing.T, st storage.Interface, _ func(int64)) {
	ctx := ctxFor(t)
	created := mustCreate(t, ctx, st, "default", "a", "1")

	_, err := st.Delete(ctx, configMaps, "default", "a", rv(t, created)-1)
	wantReason(t, "delete at a stale revision", err, apierrors.ReasonConflict)
	_, err = st.Delete(ctx, configMaps, "default", "missing", rv(t, created))
	wantReason(t, "delete of a missing key", err, apierrors.ReasonNotFound)

	deleted, err := st.Delete(ctx, configMaps, "default", "a", rv(t, created))
	if err != nil {
		t.Fatalf("delete at the current revision: %v", err)
	}
	if deleted.(*corev1.ConfigMap).Data["v"] != "1" {
		t.Fatalf("delete returned %v, want the last stored object", deleted)
	}
	cur, _ := st.CurrentRevision(ctx)
	if rv(t, deleted) != cur || cur <= rv(t, created) {
		t.Fatalf("deleted object carries revision %d, want the deletion's revision %d", rv(t, deleted), cur)
	}
	_, err = st.Get(ctx, configMaps, "default", "a")
	wantReason(t, "get after delete", err, apierrors.ReasonNotFound)
	_, err = st.Delete(ctx, configMaps, "default", "a", rv(t, created))
	wantReason(t, "second delete", err, apierrors.ReasonNotFound)
}

func names(objs []scheme.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetMetadata().GetNamespace()+"/"+o.GetMetadata().GetName())
	}
	return out
}

func testList(t *testing.T, st storage.Interface, _ func(int64)) {
	ctx := ctxFor(t)
	mustCreate(t, ctx, st, "ns-b", "x", "1")
	mustCreate(t, ctx, st, "ns-a", "z", "1")
	mustCreate(t, ctx, st, "ns-a", "y", "1")
	// Another kind under a name that shares the prefix must not show.
	secrets := mustKind("secrets")
	if _, err := st.Create(ctx, secrets, &corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: "ns-a", Name: "s"}}); err != nil {
		t.Fatal(err)
	}
	cur, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ns   string
		want []string
	}{
		{"", []string{"ns-a/y", "ns-a/z", "ns-b/x"}},
		{"ns-a", []string{"ns-a/y", "ns-a/z"}},
		{"ns-", nil}, // a namespace is not a prefix of another
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run("namespace="+tc.ns, func(t *testing.T) {
			objs, rev, err := st.List(ctx, configMaps, tc.ns)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(objs); !equal(got, tc.want) {
				t.Fatalf("list = %v, want %v (in key order)", got, tc.want)
			}
			if rev != cur {
				t.Fatalf("list revision %d, want the store's %d", rev, cur)
			}
			for _, o := range objs {
				rv(t, o)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type seen struct {
	typ     storage.EventType
	name    string
	rev     int64
	created bool
}

// next reads one event (skipping progress events), failing after a while.
func next(t *testing.T, ch <-chan storage.RawEvent, errc <-chan error) storage.RawEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				select {
				case err := <-errc:
					t.Fatalf("watch ended: %v", err)
				default:
				}
				t.Fatal("watch ended")
			}
			if ev.Type == storage.Progress {
				continue
			}
			return ev
		case err := <-errc:
			t.Fatalf("watch failed: %v", err)
		case <-timeout:
			t.Fatal("no watch event within 5s")
		}
	}
}

func testWatchFromRevision(t *testing.T, st storage.Interface, _ func(int64)) {
	ctx := ctxFor(t)
	start, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, ctx, st, "default", "a", "1")
	b := mustCreate(t, ctx, st, "other", "b", "1")
	upd := configMap("default", "a", "2")
	upd.Metadata.ResourceVersion = a.GetMetadata().GetResourceVersion()
	a2, err := st.Update(ctx, configMaps, upd)
	if err != nil {
		t.Fatal(err)
	}
	// A write to another kind is not in this kind's stream.
	if _, err := st.Create(ctx, mustKind("secrets"), &corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "s"}}); err != nil {
		t.Fatal(err)
	}
	bDel, err := st.Delete(ctx, configMaps, "other", "b", rv(t, b))
	if err != nil {
		t.Fatal(err)
	}
	all := []seen{
		{storage.Put, "a", rv(t, a), true},
		{storage.Put, "b", rv(t, b), true},
		{storage.Put, "a", rv(t, a2), false},
		{storage.Deleted, "b", rv(t, bDel), false},
	}
	tests := []struct {
		name string
		from int64
		want []seen
	}{
		{"from before every write", start, all},
		{"from the first create (exclusive)", rv(t, a), all[1:]},
		{"from the update", rv(t, a2), all[3:]},
	}
	var later []seen
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wctx, cancel := context.WithCancel(st.WatchContext(ctx))
			defer cancel()
			ch, errc := st.Watch(wctx, configMaps, tc.from)
			for i, want := range tc.want {
				ev := next(t, ch, errc)
				got := seen{ev.Type, ev.Object.GetMetadata().GetName(), ev.Revision, ev.Created}
				if got != want {
					t.Fatalf("event %d = %+v, want %+v", i, got, want)
				}
				if ev.Object.GetMetadata().GetResourceVersion() != strconv.FormatInt(ev.Revision, 10) {
					t.Fatalf("event %d: object resourceVersion %s, event revision %d", i, ev.Object.GetMetadata().GetResourceVersion(), ev.Revision)
				}
			}
			// The watch goes on with what is written after it opened
			// (and the creates of the subtests before this one).
			c := mustCreate(t, ctx, st, "default", "c-"+strconv.Itoa(len(later)), "1")
			later = append(later, seen{storage.Put, c.GetMetadata().GetName(), rv(t, c), true})
			for i, want := range later {
				ev := next(t, ch, errc)
				if got := (seen{ev.Type, ev.Object.GetMetadata().GetName(), ev.Revision, ev.Created}); got != want {
					t.Fatalf("later event %d = %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func testWatchCompacted(t *testing.T, st storage.Interface, compact func(int64)) {
	ctx := ctxFor(t)
	start, _ := st.CurrentRevision(ctx)
	a := mustCreate(t, ctx, st, "default", "a", "1")
	for i := 0; i < 3; i++ {
		upd := configMap("default", "a", strconv.Itoa(i))
		upd.Metadata.ResourceVersion = a.GetMetadata().GetResourceVersion()
		var err error
		if a, err = st.Update(ctx, configMaps, upd); err != nil {
			t.Fatal(err)
		}
	}
	compact(rv(t, a))

	wctx, cancel := context.WithCancel(st.WatchContext(ctx))
	defer cancel()
	ch, errc := st.Watch(wctx, configMaps, start)
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if ok && ev.Type != storage.Progress {
				t.Fatalf("watch from compacted revision %d sent %v at %d", start, ev.Type, ev.Revision)
			}
			if !ok {
				ch = nil // the error follows
			}
		case err := <-errc:
			if !apierrors.IsExpired(err) {
				t.Fatalf("watch from a compacted revision: %v, want Expired", err)
			}
			// A watch from the compaction revision itself still works.
			ch2, errc2 := st.Watch(wctx, configMaps, rv(t, a))
			b := mustCreate(t, ctx, st, "default", "b", "1")
			if ev := next(t, ch2, errc2); ev.Revision != rv(t, b) {
				t.Fatalf("watch from the compaction revision: event at %d, want %d", ev.Revision, rv(t, b))
			}
			return
		case <-timeout:
			t.Fatal("no Expired error within 5s")
		}
	}
}

func testRequestProgress(t *testing.T, st storage.Interface, _ func(int64)) {
	ctx := ctxFor(t)
	mustCreate(t, ctx, st, "default", "a", "1")
	// A write to another kind advances the revision but sends this kind's
	// watch nothing: only a progress event tells it.
	if _, err := st.Create(ctx, mustKind("secrets"), &corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "s"}}); err != nil {
		t.Fatal(err)
	}
	cur, err := st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(st.WatchContext(ctx))
	defer cancel()
	ch, errc := st.Watch(wctx, configMaps, cur)
	if err := st.RequestProgress(wctx); err != nil {
		t.Fatal(err)
	}
	// etcd may answer a request made before its watch stream is up with
	// nothing; asking again is what the watch cache does too.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch ended: %v", <-errc)
			}
			if ev.Type != storage.Progress {
				t.Fatalf("got %v event at %d, want only progress", ev.Type, ev.Revision)
			}
			if ev.Object != nil || ev.Revision != cur {
				t.Fatalf("progress event = %+v, want revision %d and no object", ev, cur)
			}
			return
		case err := <-errc:
			t.Fatalf("watch failed: %v", err)
		case <-tick.C:
			if err := st.RequestProgress(wctx); err != nil {
				t.Fatal(err)
			}
		case <-timeout:
			t.Fatal("no progress event within 5s")
		}
	}
}
