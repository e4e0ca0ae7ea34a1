package cache_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/storage"
	"minik8s/test/etcdtest"
)

// TestSlowWatcherIsCutOff: a watcher that does not read is cut off when its
// buffer fills, while another watcher of the same cache gets every event.
func TestSlowWatcherIsCutOff(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	cli, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := storage.NewEtcd(cli)
	k, _ := scheme.ByResource("configmaps")
	c := cache.New(k, st, cache.Options{WatcherBuffer: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go c.Run(ctx)

	rv := int64(0)
	if _, rv, _, err = c.List(ctx, cache.Filter{}, cache.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	slow, err := c.Watch(ctx, cache.Filter{}, rv, false)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := c.Watch(ctx, cache.Filter{}, rv, false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	got := make(chan int)
	go func() {
		count := 0
		for ev := range fast.Events() {
			if ev.Type == cache.Added {
				count++
			}
			if count == n {
				break
			}
		}
		got <- count
	}()
	for i := 0; i < n; i++ {
		cm := &corev1.ConfigMap{ApiVersion: "v1", Kind: "ConfigMap", Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i), Namespace: "default"}}
		if _, err := st.Create(ctx, k, cm); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case count := <-got:
		if count != n {
			t.Fatalf("fast watcher got %d events, want %d", count, n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fast watcher was stalled")
	}
	// The slow watcher's channel holds at most its buffer and is closed.
	received := 0
	for range slow.Events() {
		received++
	}
	if received > 4 {
		t.Fatalf("slow watcher received %d events with a buffer of 4", received)
	}
	if c.WatcherCount() != 1 {
		t.Fatalf("%d watchers registered, want only the fast one", c.WatcherCount())
	}
	fast.Stop()
}

// silentStore is a store whose first watch goes silent: no events, no
// progress, its channel left open - as on an etcd member whose connection
// stopped answering. Later watches are the real ones.
type silentStore struct {
	*storage.Etcd
	watches int
}

func (s *silentStore) Watch(ctx context.Context, k *scheme.Kind, rev int64) (<-chan storage.RawEvent, <-chan error) {
	s.watches++
	if s.watches == 1 {
		return make(chan storage.RawEvent), make(chan error)
	}
	return s.Etcd.Watch(ctx, k, rev)
}

// TestSilentWatchIsRestarted: a cache whose etcd watch brings neither
// events nor the progress it asks for lists and watches again, so a
// consistent list (one that waits for etcd's current revision) answers
// instead of waiting for a member that will not.
func TestSilentWatchIsRestarted(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	cli, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	st := &silentStore{Etcd: storage.NewEtcd(cli)}
	k, _ := scheme.ByResource("configmaps")
	c := cache.New(k, st, cache.Options{ProgressInterval: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go c.Run(ctx)

	cm := &corev1.ConfigMap{ApiVersion: "v1", Kind: "ConfigMap", Metadata: &metav1.ObjectMeta{Name: "after", Namespace: "default"}}
	created, err := st.Create(ctx, k, cm)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := strconv.ParseInt(created.GetMetadata().GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
	defer lcancel()
	items, _, _, err := c.List(lctx, cache.Filter{}, cache.ListOptions{MinRV: rv})
	if err != nil {
		t.Fatalf("list at revision %d with the first watch silent: %v", rv, err)
	}
	if len(items) != 1 {
		t.Fatalf("list at revision %d: %d items, want the one created", rv, len(items))
	}
}
