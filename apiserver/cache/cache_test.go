package cache_test

import (
	"context"
	"fmt"
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
