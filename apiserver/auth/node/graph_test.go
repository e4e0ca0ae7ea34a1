package node

import (
	"context"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/storage"
	"minik8s/apiserver/storage/memory"
)

func TestRefsOf(t *testing.T) {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: "p"},
		Spec: &corev1.PodSpec{
			NodeName: "n1", ServiceAccountName: "sa",
			ImagePullSecrets: []*corev1.LocalObjectReference{{Name: "pull"}},
			Volumes: []*corev1.Volume{
				{Name: "a", Secret: &corev1.SecretVolumeSource{SecretName: "vol"}},
				{Name: "b", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cmvol"}},
				{Name: "c", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{Name: "proj"}},
					{ConfigMap: &corev1.ConfigMapProjection{Name: "cmproj"}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				}}},
				{Name: "d", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim"}},
			},
			InitContainers: []*corev1.Container{{Name: "i", EnvFrom: []*corev1.EnvFromSource{
				{SecretRef: &corev1.SecretEnvSource{Name: "envfrom"}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "cmenvfrom"}},
			}}},
			Containers: []*corev1.Container{{Name: "c", Env: []*corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "env", Key: "k"}}},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "vol", Key: "k"}}}, // twice
			}}},
		},
	}
	g := NewGraph()
	g.SetPod(p)
	want := []struct {
		k    Kind
		name string
	}{
		{Secret, "pull"}, {Secret, "vol"}, {Secret, "proj"}, {Secret, "envfrom"}, {Secret, "env"},
		{ConfigMap, "cmvol"}, {ConfigMap, "cmproj"}, {ConfigMap, "cmenvfrom"},
		{PersistentVolumeClaim, "claim"}, {ServiceAccount, "sa"}, {Pod, "p"},
	}
	for _, w := range want {
		t.Run(w.k.String()+"/"+w.name, func(t *testing.T) {
			if !g.HasPath("n1", w.k, "ns", w.name) {
				t.Error("n1 should reach it")
			}
			if g.HasPath("n2", w.k, "ns", w.name) {
				t.Error("n2 should not reach it")
			}
		})
	}
	if n := len(refsOf(p)); n != len(want)-1 {
		t.Errorf("refs %d, want %d (each object once)", n, len(want)-1)
	}
}

func TestGraphUpdates(t *testing.T) {
	g := NewGraph()
	shared := func(name, node string) *corev1.Pod { return testPod("default", name, node, "shared", "", "") }
	steps := []struct {
		name   string
		do     func()
		n1, n2 bool // may n1, n2 read secret "shared"
	}{
		{"two pods of n1", func() { g.SetPod(shared("a", "n1")); g.SetPod(shared("b", "n1")) }, true, false},
		{"one of them goes", func() { g.DeletePod("default", "a") }, true, false},
		{"the other moves to n2", func() { g.SetPod(shared("b", "n2")) }, false, true},
		{"and stops using it", func() { g.SetPod(testPod("default", "b", "n2", "", "", "")) }, false, false},
		{"deleting an unknown pod", func() { g.DeletePod("default", "zzz") }, false, false},
	}
	for _, s := range steps {
		s.do()
		if got := g.HasPath("n1", Secret, "default", "shared"); got != s.n1 {
			t.Errorf("%s: n1 %v, want %v", s.name, got, s.n1)
		}
		if got := g.HasPath("n2", Secret, "default", "shared"); got != s.n2 {
			t.Errorf("%s: n2 %v, want %v", s.name, got, s.n2)
		}
	}
	if len(g.uses) != 0 {
		t.Errorf("uses left behind: %v", g.uses)
	}
}

// TestRun follows a real watch cache over the in-memory storage.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	podKind, _ := scheme.ByResource("pods")
	st := memory.New()
	if _, err := st.Create(ctx, podKind, testPod("default", "before", "n1", "s0", "", "")); err != nil {
		t.Fatal(err)
	}
	c := cache.New(podKind, st, cache.Options{})
	go c.Run(ctx)
	g := NewGraph()
	done := make(chan struct{})
	go func() { g.Run(ctx, c); close(done) }()

	eventually := func(what string, f func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	eventually("sync", func() bool { return g.Synced() && g.HasPath("n1", Secret, "default", "s0") })
	created, err := st.Create(ctx, podKind, testPod("default", "after", "n2", "s1", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	eventually("the new pod", func() bool { return g.HasPath("n2", Secret, "default", "s1") })
	if _, err := st.Delete(ctx, podKind, "default", "after", rvOf(created)); err != nil {
		t.Fatal(err)
	}
	eventually("the deletion", func() bool { return !g.HasPath("n2", Secret, "default", "s1") && g.PodNode("default", "after") == "" })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

func rvOf(o scheme.Object) int64 {
	rv, _ := storage.ParseRV(o.GetMetadata().GetResourceVersion())
	return rv
}
