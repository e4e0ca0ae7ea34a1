package integration

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	"minik8s/api/labels"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestInformerRelistsAfterCompaction: an informer whose apiserver goes away
// while objects change and etcd is compacted comes back through another
// apiserver, is told its version is too old, relists, and converges -
// including deletes it never saw as events.
func TestInformerRelistsAfterCompaction(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := apiservertest.Start(t, etcd, apiservertest.Options{})
	portB := freePort(t)
	c, err := client.New([]string{a.Addr, fmt.Sprintf("127.0.0.1:%d", portB)}, a.ClientOptions(t)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	writer := client.For[*corev1.Pod](a.Client(t))
	for i := 0; i < 5; i++ {
		if _, err := writer.Create(ctx, pod(fmt.Sprintf("p%d", i), nil)); err != nil {
			t.Fatal(err)
		}
	}

	inf := informer.New[*corev1.Pod](client.For[*corev1.Pod](c), "default", client.ListOptions{}, 0)
	var mu sync.Mutex
	deleted := map[string]bool{}
	inf.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		DeleteFunc: func(p *corev1.Pod) { mu.Lock(); deleted[p.Metadata.Name] = true; mu.Unlock() },
	})
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	go inf.Run(ictx)
	if !informer.WaitForCacheSync(ctx, inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	a.Stop()

	// Change things through another apiserver, then compact etcd.
	x := apiservertest.Start(t, etcd, apiservertest.Options{PKI: a.PKI})
	xw := client.For[*corev1.Pod](x.Client(t))
	for i := 5; i < 8; i++ {
		if _, err := xw.Create(ctx, pod(fmt.Sprintf("p%d", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"p0", "p1"} {
		if _, err := xw.Delete(ctx, "default", n, nil); err != nil {
			t.Fatal(err)
		}
	}
	last, err := xw.Create(ctx, pod("p8", nil))
	if err != nil {
		t.Fatal(err)
	}
	x.Stop()
	cli, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var rev int64
	fmt.Sscan(last.Metadata.ResourceVersion, &rev)
	if _, err := cli.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}

	apiservertest.Start(t, etcd, apiservertest.Options{Port: portB, PKI: a.PKI})
	want := "p2,p3,p4,p5,p6,p7,p8"
	deadline := time.Now().Add(30 * time.Second)
	for {
		var names []string
		for _, p := range inf.Lister().List(labels.Everything()) {
			names = append(names, p.Metadata.Name)
		}
		sort.Strings(names)
		mu.Lock()
		gotDeletes := deleted["p0"] && deleted["p1"]
		mu.Unlock()
		if strings.Join(names, ",") == want && gotDeletes {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("informer holds %v (deletes seen %v), want %s", names, deleted, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
