package integration

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/test/apiservertest"
)

func TestSystemNamespacesAndLifecycle(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	ctx := ctxT(t)
	nss := client.For[*corev1.Namespace](c)
	for _, n := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if _, err := nss.Get(ctx, "", n); err != nil {
			t.Errorf("namespace %s: %v", n, err)
		}
	}
	pods := client.For[*corev1.Pod](c)
	p := pod("x", nil)
	p.Metadata.Namespace = "nope"
	if _, err := pods.Create(ctx, p); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("pod in missing namespace: got %v, want NotFound naming the namespace", err)
	}
	if _, err := nss.Delete(ctx, "", "kube-system", nil); !apierrors.IsForbidden(err) {
		t.Fatalf("deleting kube-system: got %v, want Forbidden", err)
	}

	// Deleting a namespace marks it Terminating; new objects are refused.
	if _, err := nss.Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "doomed"}}); err != nil {
		t.Fatal(err)
	}
	ns, err := nss.Delete(ctx, "", "doomed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ns.GetStatus().GetPhase() != "Terminating" || ns.Metadata.DeletionTimestamp == nil {
		t.Fatalf("deleted namespace: phase %q deletionTimestamp %v", ns.GetStatus().GetPhase(), ns.Metadata.DeletionTimestamp)
	}
	p = pod("late", nil)
	p.Metadata.Namespace = "doomed"
	if _, err := pods.Create(ctx, p); !apierrors.IsForbidden(err) {
		t.Fatalf("pod in terminating namespace: got %v, want Forbidden", err)
	}
	// Clearing spec.finalizers (the namespace controller's last step) removes it.
	ns.Spec.Finalizers = nil
	if _, err := nss.Update(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := nss.Get(ctx, "", "doomed"); !apierrors.IsNotFound(err) {
		t.Fatalf("finalized namespace still there: %v", err)
	}
}

func TestCreateSemantics(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	pods := client.For[*corev1.Pod](s.Client(t))
	ctx := ctxT(t)
	p, err := pods.Create(ctx, pod("dup", nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Uid == "" || p.Metadata.CreationTimestamp == nil || p.Metadata.Generation != 1 || p.Metadata.ResourceVersion == "" {
		t.Fatalf("server fields not set: %+v", p.Metadata)
	}
	if _, err := pods.Create(ctx, pod("dup", nil)); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: got %v, want AlreadyExists", err)
	}
	g := pod("", nil)
	g.Metadata.GenerateName = "web-"
	g1, err := pods.Create(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g1.Metadata.Name, "web-") || len(g1.Metadata.Name) != len("web-")+5 {
		t.Fatalf("generated name %q", g1.Metadata.Name)
	}
	// Defaults are applied.
	if p.Spec.RestartPolicy != "Always" || p.Spec.SchedulerName != "default-scheduler" || p.Status.GetPhase() != "Pending" {
		t.Fatalf("defaults: restartPolicy %q schedulerName %q phase %q", p.Spec.RestartPolicy, p.Spec.SchedulerName, p.Status.GetPhase())
	}
	// Generation bumps on spec change only; status is a subresource.
	p.Spec.Containers[0].Image = "registry.local/kubia:2"
	p2, err := pods.Update(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Metadata.Generation != 2 {
		t.Fatalf("generation after spec change = %d, want 2", p2.Metadata.Generation)
	}
	p2.Status.Phase = "Running"
	p3, err := pods.Update(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	if p3.Status.Phase != "Pending" {
		t.Fatalf("update changed status to %q; only update-status may", p3.Status.Phase)
	}
	if p3.Metadata.ResourceVersion != p2.Metadata.ResourceVersion {
		t.Fatalf("a no-op update wrote etcd (rv %s -> %s)", p2.Metadata.ResourceVersion, p3.Metadata.ResourceVersion)
	}
	p3.Status.Phase = "Running"
	p3.Spec.Containers[0].Image = "ignored-by-status"
	p4, err := pods.UpdateStatus(ctx, p3)
	if err != nil {
		t.Fatal(err)
	}
	if p4.Status.Phase != "Running" || p4.Spec.Containers[0].Image != "registry.local/kubia:2" || p4.Metadata.Generation != 2 {
		t.Fatalf("update-status: phase %q image %q generation %d", p4.Status.Phase, p4.Spec.Containers[0].Image, p4.Metadata.Generation)
	}
	// Most of a pod's spec is immutable.
	p4.Spec.RestartPolicy = "Never"
	if _, err := pods.Update(ctx, p4); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec") {
		t.Fatalf("changing restartPolicy: got %v, want Invalid on spec", err)
	}
}

func TestValidationNamesFields(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	pods := client.For[*corev1.Pod](s.Client(t))
	ctx := ctxT(t)
	cases := []struct {
		mutate func(*corev1.Pod)
		field  string
	}{
		{func(p *corev1.Pod) { p.Metadata.Name = "Bad_Name" }, "metadata.name"},
		{func(p *corev1.Pod) { p.Metadata.Name = "" }, "metadata.name"},
		{func(p *corev1.Pod) { p.Metadata.Labels = map[string]string{"bad key!": "v"} }, "metadata.labels"},
		{func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, "spec.containers[0].image"},
		{func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers"},
		{func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 70000}}
		}, "spec.containers[0].ports[0].containerPort"},
		{func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy"},
	}
	for _, c := range cases {
		p := pod("valid", nil)
		c.mutate(p)
		_, err := pods.Create(ctx, p)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: got %v, want Invalid", c.field, err)
			continue
		}
		se := err.(*apierrors.StatusError)
		found := false
		for _, cause := range se.Status.GetDetails().GetCauses() {
			if strings.HasPrefix(cause.Field, c.field) {
				found = true
			}
		}
		if !found || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error does not name the field: %v", c.field, err)
		}
	}
}

func TestGracefulDeletionAndFinalizers(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	pods := client.For[*corev1.Pod](c)
	ctx := ctxT(t)

	// An unbound pod goes at once.
	if _, err := pods.Create(ctx, pod("unbound", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Delete(ctx, "default", "unbound", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "default", "unbound"); !apierrors.IsNotFound(err) {
		t.Fatalf("unbound pod after delete: %v", err)
	}

	// A bound pod is marked with deletionTimestamp + grace, then removed
	// when deleted again with grace 0 (the kubelet's part).
	b := pod("bound", nil)
	b.Spec.NodeName = "node1"
	if _, err := pods.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	marked, err := pods.Delete(ctx, "default", "bound", &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(20)})
	if err != nil {
		t.Fatal(err)
	}
	if marked.Metadata.DeletionTimestamp == nil || marked.Metadata.GetDeletionGracePeriodSeconds() != 20 {
		t.Fatalf("bound pod not marked: %+v", marked.Metadata)
	}
	if d := marked.Metadata.DeletionTimestamp.AsTime().Sub(before); d < 18*time.Second || d > 22*time.Second {
		t.Fatalf("deletionTimestamp %v is not now+20s", marked.Metadata.DeletionTimestamp.AsTime())
	}
	if _, err := pods.Get(ctx, "default", "bound"); err != nil {
		t.Fatalf("marked pod should still exist: %v", err)
	}
	if _, err := pods.Delete(ctx, "default", "bound", &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "default", "bound"); !apierrors.IsNotFound(err) {
		t.Fatalf("pod after grace-0 delete: %v", err)
	}

	// Finalizers hold an object until they are removed.
	cms := client.For[*corev1.ConfigMap](c)
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "held", Namespace: "default", Finalizers: []string{"example.com/hold"}}}
	if _, err := cms.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	held, err := cms.Delete(ctx, "default", "held", nil)
	if err != nil {
		t.Fatal(err)
	}
	if held.Metadata.DeletionTimestamp == nil {
		t.Fatal("object with finalizer not marked for deletion")
	}
	held.Metadata.Finalizers = append(held.Metadata.Finalizers, "another")
	if _, err := cms.Update(ctx, held); !apierrors.IsForbidden(err) {
		t.Fatalf("adding a finalizer while deleting: got %v, want Forbidden", err)
	}
	held, _ = cms.Get(ctx, "default", "held")
	held.Metadata.Finalizers = nil
	if _, err := cms.Update(ctx, held); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "default", "held"); !apierrors.IsNotFound(err) {
		t.Fatalf("object after last finalizer removed: %v", err)
	}

	// Preconditions.
	if _, err := cms.Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "pre", Namespace: "default"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Delete(ctx, "default", "pre", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{Uid: "not-the-uid"}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with wrong uid precondition: got %v, want Conflict", err)
	}
}

func TestBinding(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	c := s.Client(t)
	pods := client.For[*corev1.Pod](c)
	ctx := ctxT(t)
	if _, err := pods.Create(ctx, pod("tobind", nil)); err != nil {
		t.Fatal(err)
	}
	bind := func(node string) error {
		return c.Bind(ctx, "default", "tobind", &corev1.Binding{
			Metadata: &metav1.ObjectMeta{Name: "tobind", Namespace: "default"},
			Target:   &corev1.ObjectReference{Kind: "Node", Name: node},
		})
	}
	if err := bind("node1"); err != nil {
		t.Fatal(err)
	}
	p, _ := pods.Get(ctx, "default", "tobind")
	if p.Spec.NodeName != "node1" {
		t.Fatalf("nodeName %q after binding", p.Spec.NodeName)
	}
	// The binding's one write also says the pod is scheduled.
	if c := p.GetStatus().GetConditions(); len(c) != 1 || c[0].Type != "PodScheduled" || c[0].Status != "True" || c[0].LastTransitionTime == nil {
		t.Fatalf("conditions after binding: %v, want PodScheduled=True", c)
	}
	// The store's binding mode is not reachable through update.
	p.Spec.NodeName = ""
	raw, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RPC().Update(ctx, &rpc.UpdateRequest{Resource: "pods", Namespace: "default", Object: &rpc.Object{Raw: raw}, Subresource: "binding"})
	if err = apierrors.FromGRPC(err); !apierrors.IsBadRequest(err) {
		t.Fatalf("update pods/binding: got %v, want BadRequest", err)
	}
	if err := bind("node2"); !apierrors.IsConflict(err) {
		t.Fatalf("second binding: got %v, want Conflict", err)
	}

	// POST to the bindings resource binds the pod the Binding names, as
	// Kubernetes' namespaced bindings endpoint does; nothing is stored.
	if _, err := pods.Create(ctx, pod("other", nil)); err != nil {
		t.Fatal(err)
	}
	bindings, err := c.Dynamic("bindings")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bindings.Create(ctx, &corev1.Binding{
		Metadata: &metav1.ObjectMeta{Name: "other", Namespace: "default"},
		Target:   &corev1.ObjectReference{Kind: "Node", Name: "node3"},
	}); err != nil {
		t.Fatal(err)
	}
	if p, _ := pods.Get(ctx, "default", "other"); p.Spec.NodeName != "node3" {
		t.Fatalf("nodeName %q after POST bindings", p.Spec.NodeName)
	}
	if _, err := bindings.List(ctx, "default", client.ListOptions{}); apierrors.ReasonOf(err) != apierrors.ReasonMethodNotAllow {
		t.Fatalf("list bindings: got %v, want MethodNotAllowed", err)
	}
}
