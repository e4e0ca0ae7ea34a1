// Package clientgo runs a client-go program against a real apiserver on a
// real etcd (non-root): a shared informer on pods feeding a
// sample-controller-style controller (work queue, lister, writes with
// retry-on-conflict), through an apiserver restart and an etcd
// compaction that makes the informer relist.
package clientgo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// annotation is what the controller writes: the pod's first image.
const annotation = "clientgo.minik8s.io/image"

// controller annotates every pod with its first container's image.
type controller struct {
	client kubernetes.Interface
	lister corelisters.PodLister
	synced cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
	// conflicts counts the writes that met a Conflict and were retried.
	conflicts atomic.Int32
}

func newController(client kubernetes.Interface, inf informers.SharedInformerFactory) (*controller, error) {
	pods := inf.Core().V1().Pods()
	c := &controller{
		client: client, lister: pods.Lister(), synced: pods.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pods"}),
	}
	_, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c, err
}

// enqueue only records the key: the handlers never do the work.
func (c *controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// run works the queue until ctx ends, after the cache has synced.
func (c *controller) run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return fmt.Errorf("pods cache did not sync")
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		for c.next(ctx) {
		}
	}, time.Second)
	<-ctx.Done()
	return nil
}

func (c *controller) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		// Retried with the queue's back-off (5ms doubling, capped at 1000s).
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// sync is level-triggered: it compares the cached pod with what it should
// be and writes only when they differ.
func (c *controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.lister.Pods(ns).Get(name)
	if k8serrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.annotate(ctx, pod)
}

// annotate writes the annotation, starting from pod (the cached copy,
// never modified) and re-reading the pod after a Conflict.
func (c *controller) annotate(ctx context.Context, pod *corev1.Pod) error {
	cur := pod
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			var err error
			if cur, err = c.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		want := cur.Spec.Containers[0].Image
		if cur.Annotations[annotation] == want {
			return nil
		}
		next := cur.DeepCopy()
		if next.Annotations == nil {
			next.Annotations = map[string]string{}
		}
		next.Annotations[annotation] = want
		_, err := c.client.CoreV1().Pods(pod.Namespace).Update(ctx, next, metav1.UpdateOptions{})
		if k8serrors.IsConflict(err) {
			c.conflicts.Add(1)
			cur = nil
		}
		return err
	})
}

func testPod(name, image string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: image}}}}
}

// waitAnnotated waits until the stored pod carries the annotation.
func waitAnnotated(t *testing.T, cs kubernetes.Interface, name, image string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprint(p.Annotations)
		return p.Annotations[annotation] == image, nil
	})
	if err != nil {
		t.Fatalf("pod %s not annotated with %s: %s", name, image, last)
	}
}

func TestControllerThroughRestartAndCompaction(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	api := apiservertest.Start(t, etcd, apiservertest.Options{})
	addr := api.Addr
	// The admin kubeconfig the test apiserver wrote: https, its CA, a
	// client certificate; client-go reads it as kubectl does.
	rc, err := clientcmd.BuildConfigFromFlags("", api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	cs := kubernetes.NewForConfigOrDie(rc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	inf := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	c, err := newController(cs, inf)
	if err != nil {
		t.Fatal(err)
	}
	inf.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.run(ctx) }()
	defer func() { cancel(); inf.Shutdown(); <-done }()

	// List and watch.
	for _, n := range []string{"a", "b"} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod(n, "busybox:"+n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitAnnotated(t, cs, "a", "busybox:a")
	waitAnnotated(t, cs, "b", "busybox:b")

	// Retry on conflict: a write from a stale copy meets a Conflict,
	// re-reads the pod and succeeds.
	stale, err := c.lister.Pods("default").Get("a")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := cs.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fresh.Spec.Containers[0].Image = "busybox:a2"
	if _, err := cs.CoreV1().Pods("default").Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := c.conflicts.Load()
	stale = stale.DeepCopy()
	stale.Spec.Containers[0].Image = "busybox:a2" // what the controller will see next
	if err := c.annotate(ctx, stale); err != nil {
		t.Fatalf("annotate from a stale copy: %v", err)
	}
	if c.conflicts.Load() == before {
		t.Errorf("a write from a stale copy met no Conflict")
	}
	waitAnnotated(t, cs, "a", "busybox:a2")

	// The apiserver restarts on the same port: the informer's watch
	// reconnects and the controller keeps working.
	api.Stop()
	api = apiservertest.Start(t, etcd, apiservertest.Options{Port: portOf(t, addr), PKI: api.PKI})
	podC, err := cs.CoreV1().Pods("default").Create(ctx, testPod("c", "busybox:c"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitAnnotated(t, cs, "c", "busybox:c")

	// With the apiserver down, a pod appears in etcd and etcd compacts
	// its history: the informer's watch from its old resourceVersion is
	// answered 410 Expired (or, if its reconnect failed while the
	// apiserver was down, it relists at once); either way only the
	// relist shows it.
	api.Stop()
	ec, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	resp, err := ec.Get(ctx, "/registry/pods/default/b")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("read pod b from etcd: %v %v", err, resp)
	}
	var raw map[string]any
	if err := json.Unmarshal(resp.Kvs[0].Value, &raw); err != nil {
		t.Fatal(err)
	}
	md := raw["metadata"].(map[string]any)
	md["name"], md["uid"] = "d", "0f4c1d0e-7a8b-4c2d-9e1f-000000000d0d"
	delete(md, "resourceVersion")
	delete(md, "annotations")
	raw["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = "busybox:d"
	data, _ := json.Marshal(raw)
	put, err := ec.Put(ctx, "/registry/pods/default/d", string(data))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ec.Compact(ctx, put.Header.Revision); err != nil {
		t.Fatalf("compact: %v", err)
	}
	api = apiservertest.Start(t, etcd, apiservertest.Options{Port: portOf(t, addr), PKI: api.PKI})
	waitAnnotated(t, cs, "d", "busybox:d")
	// Which way the informer took depends on when its reconnect ran, so
	// the 410 is checked with a watch of our own from before the
	// compaction, as the reflector would send it.
	checkExpired(t, cs, podC.ResourceVersion)
	if _, err := c.lister.Pods("default").Get("d"); err != nil {
		t.Errorf("the informer's cache lacks pod d after the relist: %v", err)
	}
	// Still watching after the relist.
	if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod("e", "busybox:e"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAnnotated(t, cs, "e", "busybox:e")
}

// checkExpired watches pods from a compacted resourceVersion and wants
// the answer Kubernetes gives: an ERROR event carrying a 410 Expired
// Status (or the same Status refusing the watch outright).
func checkExpired(t *testing.T, cs kubernetes.Interface, rv string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		if !k8serrors.IsResourceExpired(err) && !k8serrors.IsGone(err) {
			t.Fatalf("watch from compacted resourceVersion %s: %v, want 410 Expired", rv, err)
		}
		return
	}
	defer w.Stop()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatalf("watch from compacted resourceVersion %s closed without an event", rv)
		}
		st, isStatus := ev.Object.(*metav1.Status)
		if ev.Type != "ERROR" || !isStatus || st.Code != http.StatusGone {
			t.Fatalf("watch from compacted resourceVersion %s: first event %s %#v, want ERROR with a 410 Status", rv, ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatalf("watch from compacted resourceVersion %s: no event in 10s, want ERROR 410", rv)
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	var port int
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
				t.Fatal(err)
			}
			return port
		}
	}
	t.Fatalf("no port in %q", addr)
	return 0
}
