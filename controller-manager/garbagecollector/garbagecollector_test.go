package garbagecollector

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

func ref(kind, name, uid string, block bool) *metav1.OwnerReference {
	return &metav1.OwnerReference{ApiVersion: "apps/v1", Kind: kind, Name: name, Uid: uid, Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(block)}
}

func rs(name, uid string, owners ...*metav1.OwnerReference) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: uid, ResourceVersion: "1", OwnerReferences: owners}}
}

func pod(name string, owners ...*metav1.OwnerReference) *corev1.Pod {
	for _, o := range owners {
		o.ApiVersion = "apps/v1"
	}
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, ResourceVersion: "1", OwnerReferences: owners}}
}

type fixture struct {
	gc   *Collector
	rss  *fake.API[*appsv1.ReplicaSet]
	pods *fake.API[*corev1.Pod]
}

func kind(t *testing.T, resource string) *scheme.Kind {
	k, err := scheme.ByResource(resource)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func setup(t *testing.T, rss []*appsv1.ReplicaSet, pods []*corev1.Pod) *fixture {
	f := &fixture{gc: New(nil), rss: fake.NewAPI(rss...), pods: fake.NewAPI(pods...)}
	AddTyped(f.gc, kind(t, "replicasets"), fake.Informer(t, rss...), fake.Dynamic(f.rss))
	AddTyped(f.gc, kind(t, "pods"), fake.Informer(t, pods...), fake.Dynamic(f.pods))
	return f
}

func (f *fixture) sync(t *testing.T, key string) {
	t.Helper()
	if err := f.gc.sync(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

func TestDanglingOwnerDeletesDependent(t *testing.T) {
	owner := rs("web", "rs-uid")
	f := setup(t, []*appsv1.ReplicaSet{owner}, []*corev1.Pod{
		pod("orphaned", ref("ReplicaSet", "gone", "gone-uid", true)),
		pod("owned", ref("ReplicaSet", "web", "rs-uid", true)),
		pod("replaced-owner", ref("ReplicaSet", "web", "old-uid", true)), // same name, another uid
	})
	for _, p := range []string{"orphaned", "owned", "replaced-owner"} {
		f.sync(t, "pods/default/"+p)
	}
	acts := f.pods.Actions()
	if !slices.Equal(acts, []string{"delete default/orphaned", "delete default/replaced-owner"}) {
		t.Fatalf("pod actions %v", acts)
	}
}

func TestOwnerMissingFromCacheIsReadLive(t *testing.T) {
	// The owner exists in the API but the cache has not seen it yet.
	f := setup(t, nil, []*corev1.Pod{pod("new", ref("ReplicaSet", "web", "rs-uid", true))})
	f.gc.kinds["replicasets"].API = fake.Dynamic(fake.NewAPI(rs("web", "rs-uid")))
	f.sync(t, "pods/default/new")
	if acts := f.pods.Actions(); len(acts) != 0 {
		t.Fatalf("a pod whose owner is only missing from the cache was touched: %v", acts)
	}
}

func TestSomeOwnersLeft(t *testing.T) {
	f := setup(t, []*appsv1.ReplicaSet{rs("a", "a-uid")}, []*corev1.Pod{
		pod("shared", ref("ReplicaSet", "a", "a-uid", false), ref("ReplicaSet", "b", "b-uid", false)),
	})
	f.sync(t, "pods/default/shared")
	got, _ := f.pods.Get(context.Background(), "default", "shared")
	if len(got.Metadata.OwnerReferences) != 1 || got.Metadata.OwnerReferences[0].Uid != "a-uid" {
		t.Fatalf("owner references %v: the gone owner's must be removed, the object kept", got.Metadata.OwnerReferences)
	}
}

func TestForegroundDeletion(t *testing.T) {
	owner := rs("web", "rs-uid")
	owner.Metadata.DeletionTimestamp = timestamppb.New(time.Now())
	owner.Metadata.Finalizers = []string{ForegroundFinalizer}
	going := pod("going", ref("ReplicaSet", "web", "rs-uid", true))
	going.Metadata.DeletionTimestamp = timestamppb.New(time.Now())
	f := setup(t, []*appsv1.ReplicaSet{owner}, []*corev1.Pod{pod("p1", ref("ReplicaSet", "web", "rs-uid", true)), going})
	f.sync(t, "replicasets/default/web")
	if acts := f.pods.Actions(); !slices.Equal(acts, []string{"delete default/p1"}) {
		t.Fatalf("dependents deleted: %v", acts)
	}
	if acts := f.rss.Actions(); len(acts) != 0 {
		t.Fatalf("owner finalized while blocking dependents remain: %v", acts)
	}
	// Dependents gone: the finalizer is removed (and the owner with it).
	f = setup(t, []*appsv1.ReplicaSet{owner}, nil)
	f.sync(t, "replicasets/default/web")
	if _, err := f.rss.Get(context.Background(), "default", "web"); err == nil {
		t.Fatal("owner still there after its dependents went")
	}
}

func TestOrphanDeletion(t *testing.T) {
	owner := rs("web", "rs-uid")
	owner.Metadata.DeletionTimestamp = timestamppb.New(time.Now())
	owner.Metadata.Finalizers = []string{OrphanFinalizer}
	f := setup(t, []*appsv1.ReplicaSet{owner}, []*corev1.Pod{pod("p1", ref("ReplicaSet", "web", "rs-uid", true))})
	f.sync(t, "replicasets/default/web")
	p, _ := f.pods.Get(context.Background(), "default", "p1")
	if len(p.Metadata.OwnerReferences) != 0 {
		t.Fatalf("orphaned pod still references its owner: %v", p.Metadata.OwnerReferences)
	}
	if _, err := f.rss.Get(context.Background(), "default", "web"); err == nil {
		t.Fatal("owner kept its orphan finalizer")
	}
}
