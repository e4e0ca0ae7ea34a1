package generic_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	_ "minik8s/api/all"
	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	_ "minik8s/apiserver/registry/all"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage/memory"
)

// newStore is a generic store over in-memory storage with its watch
// caches running and filled.
func newStore(t testing.TB) (*generic.Store, *memory.Store) {
	t.Helper()
	mem := memory.New()
	st := generic.New(mem, cache.Options{ProgressInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := st.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return st, mem
}

func kind(t testing.TB, resource string) *scheme.Kind {
	t.Helper()
	k, err := scheme.ByResource(resource)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func configMap(name, value string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": value}}
}

func pod(name, node string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25"}}}}
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &appsv1.DeploymentSpec{
		Replicas: proto.Int32(replicas),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: labels},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25"}}}},
	}}
}

func wantReason(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if got := apierrors.ReasonOf(err); got != reason {
		t.Fatalf("%s: got %v (reason %q), want reason %q", what, err, got, reason)
	}
}

func mustCreate[T scheme.Object](t *testing.T, st *generic.Store, resource string, obj T) T {
	t.Helper()
	out, err := st.Create(ctxFor(t), kind(t, resource), "default", obj, rest.WriteOptions{})
	if err != nil {
		t.Fatalf("create %s %s: %v", resource, obj.GetMetadata().GetName(), err)
	}
	return out.(T)
}

func clone[T proto.Message](v T) T { return proto.Clone(v).(T) }

// TestUpdateResourceVersion: an update carrying a resourceVersion other
// than the stored one is a Conflict, even when the stored object has not
// changed since (the store must not quietly take the current one).
func TestUpdateResourceVersion(t *testing.T) {
	st, _ := newStore(t)
	k := kind(t, "configmaps")
	v1 := mustCreate(t, st, "configmaps", configMap("cm", "1"))
	upd := clone(v1)
	upd.Data["v"] = "2"
	v2, err := st.Update(ctxFor(t), k, "default", upd, "", rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv2, _ := strconv.ParseInt(v2.GetMetadata().GetResourceVersion(), 10, 64)

	tests := []struct {
		name   string
		rv     string
		reason string // "" for success
	}{
		{"stale", v1.GetMetadata().GetResourceVersion(), apierrors.ReasonConflict},
		{"future", strconv.FormatInt(rv2+10, 10), apierrors.ReasonConflict},
		{"not a number", "abc", apierrors.ReasonBadRequest},
		{"current", v2.GetMetadata().GetResourceVersion(), ""},
		{"empty means whatever is stored", "", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := st.Get(ctxFor(t), k, "default", "cm")
			obj := configMap("cm", "next-"+strconv.Itoa(i))
			obj.Metadata.ResourceVersion = tc.rv
			if tc.rv == v2.GetMetadata().GetResourceVersion() {
				obj.Metadata.ResourceVersion = before.GetMetadata().GetResourceVersion()
			}
			out, err := st.Update(ctxFor(t), k, "default", obj, "", rest.WriteOptions{})
			after, _ := st.Get(ctxFor(t), k, "default", "cm")
			if tc.reason != "" {
				wantReason(t, "update", err, tc.reason)
				if !proto.Equal(before, after) {
					t.Fatalf("a refused update changed the object:\nbefore %v\nafter  %v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if after.(*corev1.ConfigMap).Data["v"] != obj.Data["v"] || out.GetMetadata().GetResourceVersion() == before.GetMetadata().GetResourceVersion() {
				t.Fatalf("update not stored: %v", after)
			}
		})
	}
}

func TestDeletePreconditions(t *testing.T) {
	k := kind(t, "configmaps")
	tests := []struct {
		name   string
		pre    func(cur scheme.Object) *metav1.Preconditions
		reason string
	}{
		{"no preconditions", func(scheme.Object) *metav1.Preconditions { return nil }, ""},
		{"matching uid and resourceVersion", func(cur scheme.Object) *metav1.Preconditions {
			return &metav1.Preconditions{Uid: cur.GetMetadata().GetUid(), ResourceVersion: cur.GetMetadata().GetResourceVersion()}
		}, ""},
		{"other uid", func(scheme.Object) *metav1.Preconditions { return &metav1.Preconditions{Uid: "another-uid"} }, apierrors.ReasonConflict},
		{"stale resourceVersion", func(cur scheme.Object) *metav1.Preconditions {
			return &metav1.Preconditions{ResourceVersion: "1"}
		}, apierrors.ReasonConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := newStore(t)
			cur := mustCreate(t, st, "configmaps", configMap("cm", "1"))
			_, err := st.Delete(ctxFor(t), k, "default", "cm", &metav1.DeleteOptions{Preconditions: tc.pre(cur)}, rest.WriteOptions{})
			_, getErr := st.Get(ctxFor(t), k, "default", "cm")
			if tc.reason != "" {
				wantReason(t, "delete", err, tc.reason)
				if getErr != nil {
					t.Fatalf("a refused delete removed the object: %v", getErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantReason(t, "get after delete", getErr, apierrors.ReasonNotFound)
		})
	}
}

type seen struct {
	typ  string
	name string
}

// TestWatchFromResourceVersion: a watch from a resourceVersion gets the
// events after it, in order, then the live ones.
func TestWatchFromResourceVersion(t *testing.T) {
	st, _ := newStore(t)
	k := kind(t, "configmaps")
	ctx := ctxFor(t)
	a := mustCreate(t, st, "configmaps", configMap("a", "1"))
	upd := clone(a)
	upd.Data["v"] = "2"
	if _, err := st.Update(ctx, k, "default", upd, "", rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, "configmaps", configMap("b", "1"))
	if _, err := st.Delete(ctx, k, "default", "a", nil, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rv, _ := strconv.ParseInt(a.GetMetadata().GetResourceVersion(), 10, 64)
	w, err := st.For(k).Watch(ctx, "default", rest.ListOptions{ResourceVersion: a.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The cache may not have seen every write yet: what it has is in
	// Initial, the rest follows on Events.
	events := w.Initial()
	mustCreate(t, st, "configmaps", configMap("c", "1"))
	want := []seen{{cache.Modified, "a"}, {cache.Added, "b"}, {cache.Deleted, "a"}, {cache.Added, "c"}}
	for len(events) < len(want) {
		select {
		case ev := <-w.Events():
			events = append(events, ev)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d events", len(events))
		}
	}
	if len(events) != len(want) {
		t.Fatalf("got %d events, want %d", len(events), len(want))
	}
	last := rv
	for i, ev := range events {
		if got := (seen{ev.Type, ev.Object.GetMetadata().GetName()}); got != want[i] {
			t.Fatalf("event %d = %v, want %v", i, got, want[i])
		}
		if ev.RV <= last {
			t.Fatalf("event %d at revision %d, not after %d", i, ev.RV, last)
		}
		last = ev.RV
	}
}

// TestGracefulPodDelete: a pod bound to a node is only marked (the kubelet
// stops it and deletes it with grace 0); an unbound pod goes at once.
func TestGracefulPodDelete(t *testing.T) {
	st, _ := newStore(t)
	k := kind(t, "pods")
	ctx := ctxFor(t)

	mustCreate(t, st, "pods", pod("bound", "node-a"))
	out, err := st.Delete(ctx, k, "default", "bound", nil, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md := out.GetMetadata()
	if md.DeletionTimestamp == nil || md.GetDeletionGracePeriodSeconds() != 30 {
		t.Fatalf("deleted bound pod: deletionTimestamp %v grace %d, want set and 30", md.DeletionTimestamp, md.GetDeletionGracePeriodSeconds())
	}
	kept, err := st.Get(ctx, k, "default", "bound")
	if err != nil {
		t.Fatalf("the marked pod is gone: %v", err)
	}
	if kept.GetMetadata().DeletionTimestamp == nil {
		t.Fatal("the stored pod has no deletionTimestamp")
	}
	// A second delete with a longer grace period changes nothing.
	again, err := st.Delete(ctx, k, "default", "bound", &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(60)}, rest.WriteOptions{})
	if err != nil || again.GetMetadata().GetResourceVersion() != kept.GetMetadata().GetResourceVersion() {
		t.Fatalf("second delete: %v, rv %s -> %s", err, kept.GetMetadata().GetResourceVersion(), again.GetMetadata().GetResourceVersion())
	}
	// The kubelet's final delete.
	if _, err := st.Delete(ctx, k, "default", "bound", &metav1.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Get(ctx, k, "default", "bound")
	wantReason(t, "get after delete with grace 0", err, apierrors.ReasonNotFound)

	mustCreate(t, st, "pods", pod("unbound", ""))
	if _, err := st.Delete(ctx, k, "default", "unbound", nil, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Get(ctx, k, "default", "unbound")
	wantReason(t, "get of a deleted unbound pod", err, apierrors.ReasonNotFound)
}

// TestFinalizers: an object with finalizers is marked on delete, takes no
// new finalizers, and goes when the last one is removed.
func TestFinalizers(t *testing.T) {
	st, _ := newStore(t)
	k := kind(t, "configmaps")
	ctx := ctxFor(t)
	cm := configMap("cm", "1")
	cm.Metadata.Finalizers = []string{"example.com/a", "example.com/b"}
	mustCreate(t, st, "configmaps", cm)

	marked, err := st.Delete(ctx, k, "default", "cm", nil, rest.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if marked.GetMetadata().DeletionTimestamp == nil {
		t.Fatal("delete of an object with finalizers did not set deletionTimestamp")
	}

	steps := []struct {
		name       string
		finalizers []string
		reason     string
		gone       bool
	}{
		{"add a finalizer", []string{"example.com/a", "example.com/b", "example.com/c"}, apierrors.ReasonForbidden, false},
		{"remove one", []string{"example.com/b"}, "", false},
		{"remove the last", nil, "", true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			cur, err := st.Get(ctx, k, "default", "cm")
			if err != nil {
				t.Fatal(err)
			}
			upd := clone(cur.(*corev1.ConfigMap))
			upd.Metadata.Finalizers = s.finalizers
			_, err = st.Update(ctx, k, "default", upd, "", rest.WriteOptions{})
			if s.reason != "" {
				wantReason(t, "update", err, s.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Get(ctx, k, "default", "cm")
			if s.gone {
				wantReason(t, "get", err, apierrors.ReasonNotFound)
			} else if err != nil {
				t.Fatalf("object gone with finalizers left: %v", err)
			}
		})
	}
}

// TestGenerationAndStatus: metadata.generation moves on spec changes only;
// the main resource ignores status and the status subresource ignores
// everything else.
func TestGenerationAndStatus(t *testing.T) {
	st, _ := newStore(t)
	k := kind(t, "deployments")
	ctx := ctxFor(t)
	created := mustCreate(t, st, "deployments", deployment("web", 1))
	if created.GetMetadata().GetGeneration() != 1 {
		t.Fatalf("generation after create = %d, want 1", created.GetMetadata().GetGeneration())
	}
	steps := []struct {
		name        string
		subresource string
		mutate      func(d *appsv1.Deployment)
		generation  int64
		replicas    int32 // spec.replicas afterwards
		status      int32 // status.replicas afterwards
	}{
		{"label change", "", func(d *appsv1.Deployment) { d.Metadata.Labels = map[string]string{"team": "a"} }, 1, 1, 0},
		{"spec change", "", func(d *appsv1.Deployment) { d.Spec.Replicas = proto.Int32(3) }, 2, 3, 0},
		{"status through the main resource is ignored", "", func(d *appsv1.Deployment) {
			d.Status = &appsv1.DeploymentStatus{Replicas: 7}
		}, 2, 3, 0},
		{"status subresource ignores spec", "status", func(d *appsv1.Deployment) {
			d.Spec.Replicas = proto.Int32(9)
			d.Metadata.Labels = map[string]string{"team": "b"}
			d.Status = &appsv1.DeploymentStatus{Replicas: 3, ObservedGeneration: 2}
		}, 2, 3, 3},
		{"spec and status together: only spec", "", func(d *appsv1.Deployment) {
			d.Spec.Replicas = proto.Int32(4)
			d.Status = &appsv1.DeploymentStatus{Replicas: 1}
		}, 3, 4, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			cur, err := st.Get(ctx, k, "default", "web")
			if err != nil {
				t.Fatal(err)
			}
			upd := clone(cur.(*appsv1.Deployment))
			s.mutate(upd)
			if _, err := st.Update(ctx, k, "default", upd, s.subresource, rest.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			got, _ := st.Get(ctx, k, "default", "web")
			d := got.(*appsv1.Deployment)
			if d.Metadata.Generation != s.generation || d.Spec.GetReplicas() != s.replicas || d.GetStatus().GetReplicas() != s.status {
				t.Fatalf("generation %d spec.replicas %d status.replicas %d, want %d %d %d",
					d.Metadata.Generation, d.Spec.GetReplicas(), d.GetStatus().GetReplicas(), s.generation, s.replicas, s.status)
			}
			if s.subresource == "status" && d.Metadata.Labels["team"] != "a" {
				t.Fatalf("status update changed labels to %v", d.Metadata.Labels)
			}
		})
	}
}

// TestDryRun: every write with dryRun answers as the real one would and
// stores nothing.
func TestDryRun(t *testing.T) {
	st, mem := newStore(t)
	k := kind(t, "configmaps")
	ctx := ctxFor(t)
	dry := rest.WriteOptions{DryRun: true}
	existing := mustCreate(t, st, "configmaps", configMap("cm", "1"))
	withFinalizer := configMap("fin", "1")
	withFinalizer.Metadata.Finalizers = []string{"example.com/f"}
	mustCreate(t, st, "configmaps", withFinalizer)

	tests := []struct {
		name  string
		write func() (scheme.Object, error)
		check func(t *testing.T, out scheme.Object)
	}{
		{"create", func() (scheme.Object, error) {
			return st.Create(ctx, k, "default", configMap("new", "1"), dry)
		}, func(t *testing.T, out scheme.Object) {
			if out.GetMetadata().GetUid() == "" || out.GetMetadata().CreationTimestamp == nil {
				t.Fatalf("dry-run create did not fill system fields: %v", out.GetMetadata())
			}
			_, err := st.Get(ctx, k, "default", "new")
			wantReason(t, "get", err, apierrors.ReasonNotFound)
		}},
		{"an invalid create is still refused", func() (scheme.Object, error) {
			return st.Create(ctx, k, "default", configMap("invalid name!", "1"), dry)
		}, nil},
		{"update", func() (scheme.Object, error) {
			upd := clone(existing)
			upd.Data["v"] = "2"
			return st.Update(ctx, k, "default", upd, "", dry)
		}, func(t *testing.T, out scheme.Object) {
			if out.(*corev1.ConfigMap).Data["v"] != "2" {
				t.Fatalf("dry-run update returned %v", out)
			}
			got, _ := st.Get(ctx, k, "default", "cm")
			if got.(*corev1.ConfigMap).Data["v"] != "1" {
				t.Fatalf("dry-run update stored %v", got)
			}
		}},
		{"delete", func() (scheme.Object, error) {
			return st.Delete(ctx, k, "default", "cm", nil, dry)
		}, func(t *testing.T, out scheme.Object) {
			if _, err := st.Get(ctx, k, "default", "cm"); err != nil {
				t.Fatalf("dry-run delete removed the object: %v", err)
			}
		}},
		{"delete marking for finalizers", func() (scheme.Object, error) {
			return st.Delete(ctx, k, "default", "fin", nil, dry)
		}, func(t *testing.T, out scheme.Object) {
			if out.GetMetadata().DeletionTimestamp == nil {
				t.Fatal("dry-run delete did not answer with the marked object")
			}
			got, _ := st.Get(ctx, k, "default", "fin")
			if got.GetMetadata().DeletionTimestamp != nil {
				t.Fatal("dry-run delete marked the stored object")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := mem.CurrentRevision(ctx)
			out, err := tc.write()
			after, _ := mem.CurrentRevision(ctx)
			if before != after {
				t.Fatalf("dry run wrote: revision %d -> %d", before, after)
			}
			if tc.check == nil {
				wantReason(t, "invalid dry-run create", err, apierrors.ReasonInvalid)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, out)
		})
	}
}

func TestGenerateName(t *testing.T) {
	st, _ := newStore(t)
	names := map[string]bool{}
	for i := 0; i < 5; i++ {
		cm := configMap("", "1")
		cm.Metadata.GenerateName = "web-"
		out := mustCreate(t, st, "configmaps", cm)
		name := out.GetMetadata().GetName()
		if !strings.HasPrefix(name, "web-") || len(name) != len("web-")+5 {
			t.Fatalf("generated name %q, want web- and 5 characters", name)
		}
		if names[name] {
			t.Fatalf("name %q generated twice", name)
		}
		names[name] = true
		if out.GetMetadata().GetGenerateName() != "web-" {
			t.Fatalf("generateName not kept: %q", out.GetMetadata().GetGenerateName())
		}
	}
	// A name, when given, wins over generateName.
	cm := configMap("fixed", "1")
	cm.Metadata.GenerateName = "web-"
	if out := mustCreate(t, st, "configmaps", cm); out.GetMetadata().GetName() != "fixed" {
		t.Fatalf("name %q, want fixed", out.GetMetadata().GetName())
	}
}
