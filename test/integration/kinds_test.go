package integration

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/test/apiservertest"
)

// TestCRUDEveryKind creates, reads, lists, updates and deletes every stored
// kind, using the example manifests in deploy/examples as people write them.
func TestCRUDEveryKind(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	ctx := ctxT(t)
	files, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var objs []scheme.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := codec.DecodeObjects(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		objs = append(objs, got...)
	}
	// Namespaces first, as `apply -f dir` users order them.
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace"
	})
	nsr := client.For[*corev1.Namespace](c)
	declared := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			declared[o.GetMetadata().GetName()] = true
		}
	}
	for _, o := range objs {
		if ns := o.GetMetadata().GetNamespace(); ns != "" && !declared[ns] {
			_, err := nsr.Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]bool{}
	for _, o := range objs {
		k, err := scheme.KindOf(o)
		if err != nil {
			t.Fatal(err)
		}
		if k.CreateOnly {
			continue // reviews: answered, not stored
		}
		switch k.Resource {
		case "componentstatuses", "bindings": // probed / a subresource
			continue
		}
		seen[k.Resource] = true
		name := o.GetMetadata().GetName()
		t.Run(k.Resource+"/"+name, func(t *testing.T) {
			r, err := c.Dynamic(k.Resource)
			if err != nil {
				t.Fatal(err)
			}
			in := proto.Clone(o).(scheme.Object)
			created, err := r.Create(ctx, in)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			ns := created.GetMetadata().GetNamespace()
			got, err := r.Get(ctx, ns, name)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if !proto.Equal(got, created) {
				t.Fatalf("get differs from create's answer")
			}
			l, err := r.List(ctx, ns, client.ListOptions{FieldSelector: "metadata.name=" + name})
			if err != nil || len(l.Items) != 1 {
				t.Fatalf("list: %d items, %v", len(l.Items), err)
			}
			upd := proto.Clone(got).(scheme.Object)
			md := upd.GetMetadata()
			if md.Labels == nil {
				md.Labels = map[string]string{}
			}
			md.Labels["crud-test"] = "updated"
			updated, err := r.Update(ctx, upd)
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if updated.GetMetadata().GetLabels()["crud-test"] != "updated" || updated.GetMetadata().GetResourceVersion() == got.GetMetadata().GetResourceVersion() {
				t.Fatalf("update did not take")
			}
			if k.Resource == "namespaces" {
				return // deleting marks Terminating: covered by the lifecycle test
			}
			if _, err := r.Delete(ctx, ns, name, &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := r.Get(ctx, ns, name); !apierrors.IsNotFound(err) {
				t.Fatalf("get after delete: %v", err)
			}
		})
	}
	notStored := map[string]bool{"componentstatuses": true, "bindings": true}
	for _, k := range scheme.All() {
		if !notStored[k.Resource] && !k.CreateOnly && !seen[k.Resource] {
			t.Errorf("no example exercised %s", k.Resource)
		}
	}
}

// TestComponentStatuses: etcd is probed live; components that do not run
// are reported Unhealthy.
func TestComponentStatuses(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	r, err := s.Client(t).Dynamic("componentstatuses")
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.List(ctxT(t), "", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	health := map[string]string{}
	for _, o := range l.Items {
		cs := o.(*corev1.ComponentStatus)
		health[cs.Metadata.Name] = cs.Conditions[0].Status
	}
	if health["etcd-0"] != "True" {
		t.Errorf("etcd-0: %q, want True (%v)", health["etcd-0"], health)
	}
	if _, ok := health["scheduler"]; !ok {
		t.Errorf("scheduler not reported: %v", health)
	}
	if _, err := r.Create(ctxT(t), &corev1.ComponentStatus{Metadata: &metav1.ObjectMeta{Name: "x"}}); apierrors.ReasonOf(err) != apierrors.ReasonMethodNotAllow {
		t.Errorf("create componentstatus: got %v, want MethodNotAllowed", err)
	}
}
