// Package policy holds the policy/v1 registry: the PodDisruptionBudget
// strategy, and the pods/eviction subresource that
// deletes a pod gracefully unless its budget forbids it.
package policy

import (
	corev1 "minik8s/api/core/v1"
	"minik8s/api/labels"
	policyv1 "minik8s/api/policy/v1"
)

// Selects says whether the budget covers the pod: same namespace, and the
// selector matches (a missing selector matches nothing, an empty one
// everything, as in policy/v1).
func Selects(pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod) bool {
	if pdb.GetMetadata().GetNamespace() != pod.GetMetadata().GetNamespace() || pdb.GetSpec().GetSelector() == nil {
		return false
	}
	sel, err := labels.FromLabelSelector(pdb.GetSpec().GetSelector())
	if err != nil {
		return false
	}
	return sel.Matches(pod.GetMetadata().GetLabels())
}

// Ready says the pod is Ready and not being deleted: a healthy pod.
func Ready(pod *corev1.Pod) bool {
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		return false
	}
	for _, c := range pod.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}
