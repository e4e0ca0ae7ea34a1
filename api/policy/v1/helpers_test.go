package policyv1

import (
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func TestSelects(t *testing.T) {
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "a", Name: "p", Labels: map[string]string{"app": "web"}}}
	budget := func(ns string, sel *metav1.LabelSelector) *PodDisruptionBudget {
		return &PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: "b"}, Spec: &PodDisruptionBudgetSpec{Selector: sel}}
	}
	for _, c := range []struct {
		name string
		pdb  *PodDisruptionBudget
		want bool
	}{
		{"matching labels", budget("a", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}), true},
		{"empty selector selects every pod", budget("a", &metav1.LabelSelector{}), true},
		{"missing selector selects none", budget("a", nil), false},
		{"other labels", budget("a", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}), false},
		{"other namespace", budget("b", &metav1.LabelSelector{}), false},
		{"invalid selector", budget("a", &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Selects(c.pdb, pod); got != c.want {
				t.Errorf("Selects = %v, want %v", got, c.want)
			}
		})
	}
}
