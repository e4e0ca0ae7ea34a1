package codec

import (
	"testing"

	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
)

// TestRequiredZeroValues: fields marked (minik8s.meta.v1.required) are
// written when zero, as Kubernetes writes a PodDisruptionBudget's status
// counts; the others keep proto3's omission, and a message that is not
// set is still left out.
func TestRequiredZeroValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		pdb  *policyv1.PodDisruptionBudget
		want string
	}{
		{"zero counts are written", &policyv1.PodDisruptionBudget{Status: &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 0}},
			`{"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}`},
		{"set counts as they are", &policyv1.PodDisruptionBudget{Status: &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 2, CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3}},
			`{"status":{"observedGeneration":2,"disruptionsAllowed":0,"currentHealthy":3,"desiredHealthy":2,"expectedPods":3}}`},
		{"no status, no counts", &policyv1.PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Name: "b"}},
			`{"metadata":{"name":"b"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MarshalJSON(tc.pdb)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			back := &policyv1.PodDisruptionBudget{}
			if err := UnmarshalJSON(got, back); err != nil {
				t.Fatalf("decode %s: %v", got, err)
			}
		})
	}
}
