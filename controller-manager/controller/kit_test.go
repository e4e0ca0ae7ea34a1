package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

func TestRunFailsWhenCachesDoNotSync(t *testing.T) {
	b := NewBase("test", nil, nil, nil)
	b.WaitFor(func() bool { return true }, func() bool { return false })
	b.Queue.Add("ns/x")
	var syncs atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	b.Sync = func(context.Context, string) error { syncs.Add(1); return nil }
	err := b.Run(ctx, 2)
	if !errors.Is(err, ErrCachesNotSynced) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want ErrCachesNotSynced and the context's cause", err)
	}
	if syncs.Load() != 0 {
		t.Fatal("workers ran on unsynced caches")
	}
}

func TestRunSweepsThenSyncs(t *testing.T) {
	b := NewBase("test", nil, nil, nil)
	rs := &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	Lister(&b, fake.Informer(t, rs))
	b.Synced = func() { b.Enqueue(rs) } // the start-up sweep queues the key
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		b.Sync = func(_ context.Context, key string) error {
			if key == "ns/web" {
				cancel()
			}
			return nil
		}
		done <- b.Run(ctx, 1)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("key never synced")
	}
}

func stored(t *testing.T, api *fake.API[*appsv1.ReplicaSet]) *appsv1.ReplicaSet {
	t.Helper()
	rs, err := api.Create(context.Background(), &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func setReplicas(n int32) func(*appsv1.ReplicaSet) bool {
	return func(rs *appsv1.ReplicaSet) bool {
		if rs.GetStatus().GetReplicas() == n {
			return false
		}
		rs.Status = &appsv1.ReplicaSetStatus{Replicas: n}
		return true
	}
}

func TestUpdateStatus(t *testing.T) {
	ctx := context.Background()
	t.Run("writes from the cached copy", func(t *testing.T) {
		api := fake.NewAPI[*appsv1.ReplicaSet]()
		rs := stored(t, api)
		got, err := UpdateStatus(ctx, api, rs, setReplicas(3))
		if err != nil || got.GetStatus().GetReplicas() != 3 {
			t.Fatalf("got %v, %v", got, err)
		}
		if a := api.Actions(); len(a) != 2 || a[1] != "update-status ns/web" {
			t.Fatalf("actions %v", a)
		}
		if rs.GetStatus() != nil {
			t.Fatal("the cached copy was mutated")
		}
	})
	t.Run("conflict rereads and retries", func(t *testing.T) {
		api := fake.NewAPI[*appsv1.ReplicaSet]()
		stale := stored(t, api)
		fresh := proto.Clone(stale).(*appsv1.ReplicaSet)
		fresh.Metadata.Labels = map[string]string{"someone": "else"}
		if _, err := api.Update(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		calls := 0
		got, err := UpdateStatus(ctx, api, stale, func(rs *appsv1.ReplicaSet) bool { calls++; return setReplicas(2)(rs) })
		if err != nil || calls != 2 {
			t.Fatalf("err %v after %d calls, want success on the second", err, calls)
		}
		if got.GetMetadata().GetLabels()["someone"] != "else" || got.GetStatus().GetReplicas() != 2 {
			t.Fatalf("the retry lost the other write or its own: %v", got)
		}
	})
	t.Run("replaced object is not written", func(t *testing.T) {
		api := fake.NewAPI[*appsv1.ReplicaSet]()
		old := stored(t, api)
		if _, err := api.Delete(ctx, "ns", "web", nil); err != nil {
			t.Fatal(err)
		}
		stored(t, api) // same name, new uid
		_, err := UpdateStatus(ctx, api, old, setReplicas(1))
		if !apierrors.IsNotFound(err) {
			t.Fatalf("err %v, want NotFound", err)
		}
		if IgnoreNotFound(err) != nil {
			t.Fatal("IgnoreNotFound kept a NotFound")
		}
		for _, a := range api.Actions() {
			if a == "update-status ns/web" {
				t.Fatal("wrote the status of the replacement")
			}
		}
	})
	t.Run("gone", func(t *testing.T) {
		api := fake.NewAPI[*appsv1.ReplicaSet]()
		rs := stored(t, api)
		if _, err := api.Delete(ctx, "ns", "web", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := UpdateStatus(ctx, api, rs, setReplicas(1)); !apierrors.IsNotFound(err) {
			t.Fatalf("err %v, want NotFound", err)
		}
	})
	t.Run("nothing to write", func(t *testing.T) {
		api := fake.NewAPI[*appsv1.ReplicaSet]()
		rs := stored(t, api)
		got, err := Update(ctx, api, rs, func(*appsv1.ReplicaSet) bool { return false })
		if err != nil || got.GetMetadata().GetName() != "web" || len(api.Actions()) != 1 {
			t.Fatalf("got %v %v, actions %v", got, err, api.Actions())
		}
	})
	t.Run("other errors", func(t *testing.T) {
		api := fake.NewAPI[*appsv1.ReplicaSet]()
		rs := stored(t, api)
		boom := apierrors.NewForbidden("replicasets.apps", "web", "no")
		api.Fail = func(string, *appsv1.ReplicaSet) error { return boom }
		if _, err := UpdateStatus(ctx, api, rs, setReplicas(1)); !apierrors.IsForbidden(err) {
			t.Fatalf("err %v, want the write's error", err)
		}
	})
}

func TestResolve(t *testing.T) {
	rs := &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: "web", Uid: "u1"}}
	lister := fake.Informer(t, rs).Lister()
	ref := func(kind, name, uid string, ctrl bool) *metav1.OwnerReference {
		return &metav1.OwnerReference{Kind: kind, Name: name, Uid: uid, Controller: proto.Bool(ctrl)}
	}
	for _, tt := range []struct {
		name string
		ns   string
		refs []*metav1.OwnerReference
		want bool
	}{
		{"controller", "ns", []*metav1.OwnerReference{ref("ReplicaSet", "web", "u1", true)}, true},
		{"no reference", "ns", nil, false},
		{"not the controller", "ns", []*metav1.OwnerReference{ref("ReplicaSet", "web", "u1", false)}, false},
		{"other kind", "ns", []*metav1.OwnerReference{ref("Job", "web", "u1", true)}, false},
		{"other uid", "ns", []*metav1.OwnerReference{ref("ReplicaSet", "web", "u0", true)}, false},
		{"other namespace", "other", []*metav1.OwnerReference{ref("ReplicaSet", "web", "u1", true)}, false},
		{"not cached", "ns", []*metav1.OwnerReference{ref("ReplicaSet", "api", "u1", true)}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: tt.ns, Name: "p", OwnerReferences: tt.refs}}
			got, ok := ControllerOf(lister, "ReplicaSet", pod)
			if ok != tt.want || (ok && got.GetMetadata().GetUid() != "u1") {
				t.Fatalf("ControllerOf = %v, %v", got, ok)
			}
			key := OwnerKey(lister, "ReplicaSet")(pod)
			if (key == "ns/web") != tt.want {
				t.Fatalf("OwnerKey = %q", key)
			}
		})
	}
}
