package generic_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/registry/rest"
)

// BenchmarkCreatePod measures a pod create on in-memory storage, without
// a field manager and with one (managedFields recorded as Kubernetes
// does on every create).
func BenchmarkCreatePod(b *testing.B) {
	for _, manager := range []string{"", "kubectl"} {
		name := "no manager"
		if manager != "" {
			name = "manager"
		}
		b.Run(name, func(b *testing.B) {
			st, _ := newStore(b)
			k := kind(b, "pods")
			if manager != "" {
				// The field manager parses the kind's schema once.
				p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "warm", Namespace: "default"},
					Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25"}}}}
				if _, err := st.Create(context.Background(), k, "default", p, rest.WriteOptions{FieldManager: manager, DryRun: true}); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			for b.Loop() {
				i++
				p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Namespace: "default", Labels: map[string]string{"app": "web"}},
					Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25",
						Ports: []*corev1.ContainerPort{{ContainerPort: 80}}}}}}
				if _, err := st.Create(context.Background(), k, "default", p, rest.WriteOptions{FieldManager: manager}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
