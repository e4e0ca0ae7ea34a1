package storage_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage"
)

// TestCorruptValueDoesNotTakeTheResourceDown: a value in etcd that cannot
// be decoded (written around the apiserver) is skipped by the watch cache,
// which still becomes ready and lists the rest; Get names its key; an
// object overwritten with garbage leaves watchers as a deletion; Delete
// removes it; and every one is reported.
func TestCorruptValueDoesNotTakeTheResourceDown(t *testing.T) {
	if testing.Short() {
		t.Skip("needs an etcd binary (-short)")
	}
	cli := etcdClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, _ := scheme.ByResource("configmaps")
	badKey := storage.Key(k, "default", "bad")
	if _, err := cli.Put(ctx, badKey, `{"kind":"ConfigMap","metadata":{"creationTimestamp":"+300000-01-01T00:00:00Z"}}`); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	reported := map[string]int{}
	es := storage.NewEtcd(cli)
	es.OnCorrupt = func(key string, err error) { mu.Lock(); reported[key]++; mu.Unlock() }
	st := generic.New(es, cache.Options{ProgressInterval: 50 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { st.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatalf("the watch caches never became ready: %v", err)
	}

	good := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "good", Namespace: "default"}, Data: map[string]string{"a": "1"}}
	created, err := st.Create(ctx, k, "default", good, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createdRV, _ := storage.ParseRV(created.GetMetadata().GetResourceVersion())
	w, err := st.Watch(ctx, k, cache.Filter{}, createdRV, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	items, _, _, err := st.List(ctx, k, cache.Filter{}, cache.ListOptions{MinRV: createdRV})
	if err != nil || len(items) != 1 || items[0].Object.GetMetadata().GetName() != "good" {
		t.Fatalf("list = %v, %v; want only the good one", items, err)
	}
	_, err = st.Get(ctx, k, "default", "bad")
	if !apierrors.IsStoreReadError(err) || !strings.Contains(err.Error(), badKey) {
		t.Fatalf("get of the bad value: %v", err)
	}

	// The good object overwritten around the apiserver: watchers see it go.
	if _, err := cli.Put(ctx, storage.Key(k, "default", "good"), "not json"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.Events():
		if ev.Type != "DELETED" || ev.Object.GetMetadata().GetName() != "good" {
			t.Fatalf("watch event %s %s, want DELETED good", ev.Type, ev.Object.GetMetadata().GetName())
		}
	case <-ctx.Done():
		t.Fatal("no watch event for the overwritten object")
	}

	// Delete removes a corrupt value; a dry run does not.
	if _, err := st.Delete(ctx, k, "default", "bad", nil, rest.WriteOptions{DryRun: true}); !apierrors.IsStoreReadError(err) {
		t.Fatalf("dry-run delete: %v", err)
	}
	if _, err := st.Delete(ctx, k, "default", "bad", nil, rest.WriteOptions{}); err != nil {
		t.Fatalf("delete of the bad value: %v", err)
	}
	if _, err := st.Get(ctx, k, "default", "bad"); !apierrors.IsNotFound(err) {
		t.Fatalf("after delete: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if reported[badKey] == 0 || reported[storage.Key(k, "default", "good")] == 0 {
		t.Fatalf("reported %v", reported)
	}
}
