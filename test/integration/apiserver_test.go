package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	_ "minik8s/api/all"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "registry.local/kubia:1"}}},
	}
}

// TestOptimisticConcurrency: 50 writers increment one annotation with
// retry-on-conflict; the final value equals the number of updates that
// the apiserver acknowledged, so no acknowledged write was lost.
func TestOptimisticConcurrency(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	pods := client.For[*corev1.Pod](s.Client(t))
	ctx := ctxT(t)
	if _, err := pods.Create(ctx, pod("counter", nil)); err != nil {
		t.Fatal(err)
	}
	var ok, conflicts atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := client.Backoff{Steps: 30, Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 1, Cap: 200 * time.Millisecond}
			err := client.RetryOnConflict(ctx, backoff, func() error {
				p, err := pods.Get(ctx, "default", "counter")
				if err != nil {
					return err
				}
				n, _ := strconv.Atoi(p.Metadata.Annotations["count"])
				if p.Metadata.Annotations == nil {
					p.Metadata.Annotations = map[string]string{}
				}
				p.Metadata.Annotations["count"] = strconv.Itoa(n + 1)
				_, err = pods.Update(ctx, p)
				if apierrors.IsConflict(err) {
					conflicts.Add(1)
				}
				return err
			})
			if err == nil {
				ok.Add(1)
			} else if !apierrors.IsConflict(err) {
				t.Errorf("update: %v", err)
			}
		}()
	}
	wg.Wait()
	p, err := pods.Get(ctx, "default", "counter")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := strconv.Atoi(p.Metadata.Annotations["count"])
	if int64(got) != ok.Load() {
		t.Fatalf("counter = %d, acknowledged updates = %d", got, ok.Load())
	}
	if conflicts.Load() == 0 {
		t.Fatalf("50 concurrent writers never conflicted: the resourceVersion check is not happening")
	}
	t.Logf("%d acknowledged updates, %d conflicts retried", ok.Load(), conflicts.Load())

	// A stale resourceVersion is refused with Conflict.
	stale := proto.Clone(p).(*corev1.Pod)
	p.Metadata.Labels = map[string]string{"a": "b"}
	if _, err := pods.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	stale.Metadata.Labels = map[string]string{"a": "c"}
	if _, err := pods.Update(ctx, stale); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: got %v, want Conflict", err)
	}
}

// TestWatchResume: a watch from an old resourceVersion returns exactly the
// events after it, in order.
func TestWatchResume(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	pods := client.For[*corev1.Pod](s.Client(t))
	ctx := ctxT(t)
	first, err := pods.Create(ctx, pod("w0", nil))
	if err != nil {
		t.Fatal(err)
	}
	from := first.Metadata.ResourceVersion
	var want []string
	for i := 1; i <= 5; i++ {
		p, err := pods.Create(ctx, pod(fmt.Sprintf("w%d", i), nil))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "ADDED w"+strconv.Itoa(i)+" "+p.Metadata.ResourceVersion)
	}
	p, _ := pods.Get(ctx, "default", "w2")
	p.Metadata.Labels = map[string]string{"x": "y"}
	p, err = pods.Update(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, "MODIFIED w2 "+p.Metadata.ResourceVersion)
	d, err := pods.Delete(ctx, "default", "w3", nil)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, "DELETED w3 "+d.Metadata.ResourceVersion)

	w, err := pods.Watch(ctx, "default", client.ListOptions{ResourceVersion: from})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case ev := <-w.ResultChan():
			if ev.Err != nil {
				t.Fatal(ev.Err)
			}
			got = append(got, ev.Type+" "+ev.Object.Metadata.Name+" "+ev.Object.Metadata.ResourceVersion)
		case <-timeout:
			t.Fatalf("got %d events %v, want %v", len(got), got, want)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	select {
	case ev := <-w.ResultChan():
		t.Fatalf("extra event %s %s", ev.Type, ev.Object.GetMetadata().GetName())
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchTooOld: a watch from a version older than the watch cache's
// history is told "too old resource version".
func TestWatchTooOld(t *testing.T) {
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{WatchHistory: 5})
	pods := client.For[*corev1.Pod](s.Client(t))
	ctx := ctxT(t)
	first, err := pods.Create(ctx, pod("old0", nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 12; i++ {
		if _, err := pods.Create(ctx, pod(fmt.Sprintf("old%d", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := pods.Watch(ctx, "default", client.ListOptions{ResourceVersion: first.Metadata.ResourceVersion})
	if err == nil {
		ev := <-w.ResultChan()
		err = ev.Err
	}
	if !apierrors.IsExpired(err) || !strings.Contains(err.Error(), "too old resource version") {
		t.Fatalf("got %v, want Expired: too old resource version", err)
	}
}

// TestEtcdLayout: objects are readable JSON at /registry/<resource>/<ns>/<name>
// with the etcd mod revision as resourceVersion.
func TestEtcdLayout(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	pods := client.For[*corev1.Pod](s.Client(t))
	ctx := ctxT(t)
	created, err := pods.Create(ctx, pod("layout", map[string]string{"app": "kubia"}))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := etcdtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(strings.TrimSuffix(bin, "etcd")+"etcdctl", "--endpoints", s.Etcd.Endpoints(),
		"get", "/registry/pods/default/layout", "--print-value-only").Output()
	if err != nil {
		t.Fatalf("etcdctl: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("stored value is not JSON: %v\n%s", err, out)
	}
	md := doc["metadata"].(map[string]any)
	if doc["kind"] != "Pod" || doc["apiVersion"] != "v1" || md["name"] != "layout" || md["uid"] != created.Metadata.Uid {
		t.Fatalf("stored pod: %s", out)
	}
	cli, err := s.Etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/registry/pods/default/layout")
	if err != nil {
		t.Fatal(err)
	}
	if rv := strconv.FormatInt(resp.Kvs[0].ModRevision, 10); rv != created.Metadata.ResourceVersion {
		t.Fatalf("resourceVersion %s, etcd mod revision %s", created.Metadata.ResourceVersion, rv)
	}
	ns, err := cli.Get(ctx, "/registry/namespaces/kube-system")
	if err != nil || len(ns.Kvs) != 1 {
		t.Fatalf("cluster-scoped key /registry/namespaces/kube-system: %v", err)
	}
}

// TestTooLarge: a 2 MiB object is refused with RequestEntityTooLarge.
func TestTooLarge(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	cms := client.For[*corev1.ConfigMap](s.Client(t))
	big := &corev1.ConfigMap{
		Metadata: &metav1.ObjectMeta{Name: "big", Namespace: "default"},
		Data:     map[string]string{"blob": strings.Repeat("x", 2<<20)},
	}
	_, err := cms.Create(ctxT(t), big)
	if apierrors.ReasonOf(err) != apierrors.ReasonTooLarge {
		t.Fatalf("got %v, want RequestEntityTooLarge", err)
	}
	if !strings.Contains(err.Error(), "limit is") {
		t.Fatalf("error does not say the limit: %v", err)
	}
}

// TestSelectors: label and field selectors on list and watch.
func TestSelectors(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	pods := client.For[*corev1.Pod](s.Client(t))
	ctx := ctxT(t)
	mk := func(name, app, tier, node string) {
		p := pod(name, map[string]string{"app": app, "tier": tier})
		p.Spec.NodeName = node
		if _, err := pods.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	mk("a", "web", "front", "node1")
	mk("b", "web", "back", "node2")
	mk("c", "db", "back", "node1")
	p := pod("d", map[string]string{"app": "cache"})
	if _, err := pods.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ label, field, want string }{
		{"app=web", "", "a,b"},
		{"app!=web", "", "c,d"},
		{"app in (db,cache)", "", "c,d"},
		{"app notin (web)", "", "c,d"},
		{"tier", "", "a,b,c"},
		{"!tier", "", "d"},
		{"app=web,tier=back", "", "b"},
		{"", "spec.nodeName=node1", "a,c"},
		{"", "spec.nodeName=", "d"},
		{"", "metadata.name=b", "b"},
		{"", "metadata.namespace=default,status.phase=Pending", "a,b,c,d"},
		{"tier=back", "spec.nodeName!=node2", "c"},
	}
	for _, c := range cases {
		l, err := pods.List(ctx, "default", client.ListOptions{LabelSelector: c.label, FieldSelector: c.field})
		if err != nil {
			t.Fatalf("%q %q: %v", c.label, c.field, err)
		}
		var names []string
		for _, it := range l.Items {
			names = append(names, it.Metadata.Name)
		}
		if got := strings.Join(names, ","); got != c.want {
			t.Errorf("label %q field %q: got %s, want %s", c.label, c.field, got, c.want)
		}
	}
	if _, err := pods.List(ctx, "default", client.ListOptions{LabelSelector: "app in (web"}); !apierrors.IsBadRequest(err) {
		t.Errorf("bad selector: got %v, want BadRequest", err)
	}

	// A watch with a selector sees an object leave the selection as DELETED.
	l, _ := pods.List(ctx, "default", client.ListOptions{})
	w, err := pods.Watch(ctx, "default", client.ListOptions{LabelSelector: "app=web", ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	a, _ := pods.Get(ctx, "default", "a")
	a.Metadata.Labels["app"] = "other"
	if _, err := pods.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	c, _ := pods.Get(ctx, "default", "c")
	c.Metadata.Labels["app"] = "web"
	if _, err := pods.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case ev := <-w.ResultChan():
			got = append(got, ev.Type+" "+ev.Object.Metadata.Name)
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far: %v", got)
		}
	}
	if strings.Join(got, ",") != "DELETED a,ADDED c" {
		t.Fatalf("selector watch events %v, want [DELETED a ADDED c]", got)
	}
}
