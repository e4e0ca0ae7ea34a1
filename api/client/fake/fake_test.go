package fake

import (
	"context"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

func pod(ns, name string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls}}
}

func next(t *testing.T, w client.Watch[*corev1.Pod]) client.Event[*corev1.Pod] {
	t.Helper()
	select {
	case ev := <-w.ResultChan():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
		return client.Event[*corev1.Pod]{}
	}
}

func TestListSelectors(t *testing.T) {
	a := NewAPI(pod("a", "web", map[string]string{"app": "web"}), pod("a", "db", nil), pod("b", "web", map[string]string{"app": "web"}))
	ctx := context.Background()
	for _, tt := range []struct {
		name, ns string
		opts     client.ListOptions
		want     []string
	}{
		{"all", "", client.ListOptions{}, []string{"a/db", "a/web", "b/web"}},
		{"namespace", "a", client.ListOptions{}, []string{"a/db", "a/web"}},
		{"labels", "", client.ListOptions{LabelSelector: "app=web"}, []string{"a/web", "b/web"}},
		{"fields", "", client.ListOptions{FieldSelector: "metadata.name=db"}, []string{"a/db"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := a.List(ctx, tt.ns, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range l.Items {
				got = append(got, p.Metadata.Namespace+"/"+p.Metadata.Name)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if _, err := a.List(ctx, "", client.ListOptions{LabelSelector: "!!"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("bad selector: %v", err)
	}
}

func TestWatch(t *testing.T) {
	ctx := context.Background()
	a := NewAPI[*corev1.Pod]()
	if _, err := a.Create(ctx, pod("a", "old", nil)); err != nil {
		t.Fatal(err)
	}
	w, err := a.Watch(ctx, "a", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := next(t, w); ev.Type != client.Added || ev.Object.Metadata.Name != "old" {
		t.Fatalf("initial event %v", ev)
	}
	l, _ := a.List(ctx, "", client.ListOptions{})
	created, err := a.Create(ctx, pod("a", "new", nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create(ctx, pod("other", "x", nil)); err != nil {
		t.Fatal(err)
	}
	created.Metadata.Labels = map[string]string{"v": "2"}
	if _, err := a.Update(ctx, created); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Delete(ctx, "a", "new", nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{client.Added, client.Modified, client.Deleted} {
		if ev := next(t, w); ev.Type != want || ev.Object.Metadata.Name != "new" {
			t.Fatalf("got %s %s, want %s new", ev.Type, ev.Object.Metadata.Name, want)
		}
	}

	// A watch from the list's version replays what came after it.
	w2, err := a.Watch(ctx, "", client.ListOptions{ResourceVersion: l.ResourceVersion, LabelSelector: "v=2"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w2); ev.Type != client.Modified || ev.Object.Metadata.Labels["v"] != "2" {
		t.Fatalf("replayed %s %v", ev.Type, ev.Object.Metadata)
	}
	w2.Stop()
	for range w2.ResultChan() {
	}
}

func TestUpdateConflictAndPrecondition(t *testing.T) {
	ctx := context.Background()
	a := NewAPI[*corev1.Pod]()
	p, _ := a.Create(ctx, pod("a", "p", nil))
	stale := p.Metadata.ResourceVersion
	if _, err := a.UpdateStatus(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Metadata.ResourceVersion = stale
	if _, err := a.Update(ctx, p); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v", err)
	}
	if _, err := a.Delete(ctx, "a", "p", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{Uid: "other"}}); !apierrors.IsConflict(err) {
		t.Fatalf("uid precondition: %v", err)
	}
	if got := a.Actions(); len(got) != 2 || got[1] != "update-status a/p" {
		t.Fatalf("actions %v", got)
	}
}

func TestInformerFollowsWrites(t *testing.T) {
	a := NewAPI(pod("a", "p", nil))
	inf := InformerFor(t, a)
	if _, err := a.Create(context.Background(), pod("a", "q", nil)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(inf.Lister().List(nil)) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("informer did not see the create")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCluster(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCluster(func() time.Time { return now })
	c.Add(pod("a", "p", nil), &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "a"}})
	p := c.Get("pods", "a", "p")
	ns := c.Get("namespaces", "", "a")
	if p == nil || ns == nil {
		t.Fatal("added objects not found")
	}
	if p.GetMetadata().GetResourceVersion() != "1" || ns.GetMetadata().GetResourceVersion() != "2" {
		t.Fatalf("kinds must share one resourceVersion sequence: %s, %s", p.GetMetadata().GetResourceVersion(), ns.GetMetadata().GetResourceVersion())
	}
	if pp := p.(*corev1.Pod); pp.GetApiVersion() != "v1" || pp.GetKind() != "Pod" || !pp.GetMetadata().GetCreationTimestamp().AsTime().Equal(now) {
		t.Fatalf("created pod %v", pp)
	}
	if c.Get("pods", "a", "missing") != nil {
		t.Fatal("Get of a missing object")
	}
	pp := p.(*corev1.Pod)
	pp.Status = &corev1.PodStatus{Phase: "Running"}
	c.Put(pp)
	if got := c.Get("pods", "a", "p").(*corev1.Pod); got.GetStatus().GetPhase() != "Running" || got.GetMetadata().GetResourceVersion() != "1" {
		t.Fatalf("Put stores as is: %v", got)
	}
}
