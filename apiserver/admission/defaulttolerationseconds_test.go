package admission

import (
	"context"
	"testing"

	corev1 "minik8s/api/core/v1"
)

func TestDefaultTolerationSeconds(t *testing.T) {
	secs := func(v int64) *int64 { return &v }
	notReady := func(s *int64) *corev1.Toleration {
		return &corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: s}
	}
	unreachable := func(s *int64) *corev1.Toleration {
		return &corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: s}
	}
	for _, tc := range []struct {
		name string
		in   []*corev1.Toleration
		op   string
		want []*corev1.Toleration
	}{
		{name: "none", want: []*corev1.Toleration{notReady(secs(300)), unreachable(secs(20))}},
		{name: "own not-ready kept", in: []*corev1.Toleration{notReady(secs(5))}, want: []*corev1.Toleration{notReady(secs(5)), unreachable(secs(20))}},
		{name: "any key with NoExecute covers both", in: []*corev1.Toleration{{Operator: "Exists", Effect: "NoExecute"}},
			want: []*corev1.Toleration{{Operator: "Exists", Effect: "NoExecute"}}},
		{name: "NoSchedule covers nothing", in: []*corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: "Exists", Effect: "NoSchedule"}},
			want: []*corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: "Exists", Effect: "NoSchedule"}, notReady(secs(300)), unreachable(secs(20))}},
		{name: "update untouched", op: Update},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod(&corev1.Container{Name: "c"})
			pod.Spec.Tolerations = tc.in
			a := podAttrs(t, pod, nil)
			if tc.op != "" {
				a.Operation = tc.op
			}
			if err := (DefaultTolerationSeconds{NotReadySeconds: 300, UnreachableSeconds: 20}).Admit(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			got := pod.Spec.Tolerations
			if len(got) != len(tc.want) {
				t.Fatalf("tolerations %v, want %v", got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Key != w.Key || g.Operator != w.Operator || g.Effect != w.Effect || g.GetTolerationSeconds() != w.GetTolerationSeconds() ||
					(g.TolerationSeconds == nil) != (w.TolerationSeconds == nil) {
					t.Errorf("toleration %d: %v, want %v", i, g, w)
				}
			}
		})
	}
}
