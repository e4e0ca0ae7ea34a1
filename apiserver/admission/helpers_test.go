package admission

import (
	"context"
	"testing"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// podAttrs are the attributes of a pod create (old nil) or update.
func podAttrs(t *testing.T, pod, old *corev1.Pod) *Attributes {
	t.Helper()
	k, err := scheme.ByResource("pods")
	if err != nil {
		t.Fatal(err)
	}
	a := &Attributes{Operation: Create, Kind: k, Namespace: "ns", Name: pod.GetMetadata().GetName(), Object: pod}
	if old != nil {
		a.Operation = Update
		a.OldObject = func(context.Context) (scheme.Object, error) { return old, nil }
	}
	return a
}

// testPod is a pod named "x" of the given containers.
func testPod(containers ...*corev1.Container) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "x", Namespace: "ns"}, Spec: &corev1.PodSpec{Containers: containers}}
}
