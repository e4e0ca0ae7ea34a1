package policyv1

import (
	corev1 "minik8s/api/core/v1"
	"minik8s/api/labels"
)

// The condition a PodDisruptionBudget's status carries and its reasons,
// as Kubernetes' policy/v1 names them. The disruption controller writes
// them; the eviction subresource turns the condition False when it spends
// the last allowed disruption.
const (
	// DisruptionAllowedCondition is True while the budget allows at least
	// one eviction.
	DisruptionAllowedCondition = "DisruptionAllowed"
	// SufficientPodsReason: enough healthy pods for an eviction.
	SufficientPodsReason = "SufficientPods"
	// InsufficientPodsReason: no eviction is allowed now.
	InsufficientPodsReason = "InsufficientPods"
	// SyncFailedReason: the controller could not compute the status.
	SyncFailedReason = "SyncFailed"
)

// Selects reports whether the budget covers the pod: the same namespace
// and a selector that matches its labels. A missing selector matches no
// pod and an empty one every pod, as in policy/v1; an invalid one none.
func Selects(pdb *PodDisruptionBudget, pod *corev1.Pod) bool {
	if pdb.GetMetadata().GetNamespace() != pod.GetMetadata().GetNamespace() || pdb.GetSpec().GetSelector() == nil {
		return false
	}
	sel, err := labels.FromLabelSelector(pdb.GetSpec().GetSelector())
	return err == nil && sel.Matches(pod.GetMetadata().GetLabels())
}
