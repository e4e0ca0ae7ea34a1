package namespace

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client/fake"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// content is an in-memory resource in one namespace.
type content struct {
	mu      sync.Mutex
	objs    []scheme.Object
	deleted []string
	// graceful keeps deleted objects (marked) as pods with a kubelet are.
	graceful bool
}

func (c *content) named(resource string) NamedContent {
	return NamedContent{
		Resource: resource,
		List: func(context.Context, string, bool) ([]scheme.Object, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return slices.Clone(c.objs), nil
		},
		Delete: func(_ context.Context, _, name, _ string) (bool, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.deleted = append(c.deleted, name)
			for i, o := range c.objs {
				if o.GetMetadata().GetName() != name {
					continue
				}
				if c.graceful {
					o.GetMetadata().DeletionTimestamp = timestamppb.Now()
					return false, nil
				}
				c.objs = slices.Delete(c.objs, i, i+1)
				break
			}
			return true, nil
		},
	}
}

func terminatingNS() *corev1.Namespace {
	return &corev1.Namespace{
		Metadata: &metav1.ObjectMeta{Name: "doomed", ResourceVersion: "1", DeletionTimestamp: timestamppb.Now()},
		Spec:     &corev1.NamespaceSpec{Finalizers: []string{Finalizer}},
		Status:   &corev1.NamespaceStatus{Phase: "Terminating"},
	}
}

func TestDeletesContentThenFinalizes(t *testing.T) {
	pods := &content{objs: []scheme.Object{&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p1", Namespace: "doomed"}}}, graceful: true}
	cms := &content{objs: []scheme.Object{&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c1", Namespace: "doomed"}}}}
	ns := terminatingNS()
	api := fake.NewAPI(ns)
	c := New(Config{Namespaces: api, Informer: fake.Informer(t, ns), Resources: []NamedContent{pods.named("pods"), cms.named("configmaps")},
		Recheck: time.Hour})
	ctx := context.Background()
	if err := c.sync(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pods.deleted, []string{"p1"}) || !slices.Equal(cms.deleted, []string{"c1"}) {
		t.Fatalf("deleted pods %v configmaps %v", pods.deleted, cms.deleted)
	}
	got, _ := api.Get(ctx, "", "doomed")
	if !slices.Contains(got.Spec.Finalizers, Finalizer) {
		t.Fatal("finalized while a terminating pod remains")
	}
	var cond *corev1.NamespaceCondition
	for _, x := range got.GetStatus().GetConditions() {
		if x.Type == "NamespaceContentRemaining" {
			cond = x
		}
	}
	if cond == nil || cond.Status != "True" || cond.Message != "Some resources are remaining: pods has 1 resource instances" {
		t.Fatalf("condition %v", cond)
	}
	// The kubelet finishes the pod: the namespace is finalized.
	pods.mu.Lock()
	pods.objs = nil
	pods.mu.Unlock()
	if err := c.sync(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if got, err := api.Get(ctx, "", "doomed"); err == nil && slices.Contains(got.Spec.Finalizers, Finalizer) {
		t.Fatalf("not finalized: %v", got.Spec.Finalizers)
	}
}

func TestActiveNamespaceUntouched(t *testing.T) {
	ns := terminatingNS()
	ns.Metadata.DeletionTimestamp = nil
	cms := &content{objs: []scheme.Object{&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "c1"}}}}
	api := fake.NewAPI(ns)
	c := New(Config{Namespaces: api, Informer: fake.Informer(t, ns), Resources: []NamedContent{cms.named("configmaps")}})
	if err := c.sync(context.Background(), "doomed"); err != nil || len(cms.deleted) != 0 || len(api.Actions()) != 0 {
		t.Fatalf("active namespace: err %v deleted %v actions %v", err, cms.deleted, api.Actions())
	}
}
