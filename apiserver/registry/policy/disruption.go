// Package policy holds the policy/v1 registry: the PodDisruptionBudget
// strategy, the budget arithmetic, and the pods/eviction subresource that
// deletes a pod gracefully unless its budget forbids it.
package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
)

// DeletionTimeout is how long an evicted pod counts as disrupted (left out
// of the healthy pods) while its deletion has not started: Kubernetes'
// two minutes.
const DeletionTimeout = 2 * time.Minute

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

// scaled resolves an int-or-percent against total, rounding a percentage
// up as Kubernetes does for budgets.
func scaled(v *metav1.IntOrString, total int32) (int32, error) {
	if v.GetType() == 0 {
		return v.GetIntVal(), nil
	}
	s := v.GetStrVal()
	p, ok := strings.CutSuffix(s, "%")
	n, err := strconv.Atoi(p)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("invalid value %q: must be an integer or a percentage", s)
	}
	return int32(math.Ceil(float64(n) * float64(total) / 100)), nil
}

// ComputeStatus is the budget's status for the pods of its namespace at
// now, as Kubernetes' disruption controller computes it, with the
// selected pods that have not ended as the expected pods (Kubernetes asks
// their controllers' scale for percentages and maxUnavailable; here the
// pods stand for it). Pods evicted less than DeletionTimeout ago and not
// yet deleting stay in disruptedPods and out of the healthy count.
func ComputeStatus(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (*policyv1.PodDisruptionBudgetStatus, error) {
	st := &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.GetMetadata().GetGeneration(), DisruptedPods: map[string]*timestamppb.Timestamp{}}
	old := pdb.GetStatus().GetDisruptedPods()
	for _, p := range pods {
		if !Selects(pdb, p) {
			continue
		}
		if ph := p.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
			continue
		}
		st.ExpectedPods++
		name := p.GetMetadata().GetName()
		if at, ok := old[name]; ok && p.GetMetadata().GetDeletionTimestamp() == nil && now.Sub(at.AsTime()) < DeletionTimeout {
			st.DisruptedPods[name] = at
			continue
		}
		if Ready(p) {
			st.CurrentHealthy++
		}
	}
	spec := pdb.GetSpec()
	switch {
	case spec.GetMaxUnavailable() != nil:
		u, err := scaled(spec.GetMaxUnavailable(), st.ExpectedPods)
		if err != nil {
			return nil, fmt.Errorf("spec.maxUnavailable: %w", err)
		}
		st.DesiredHealthy = max(st.ExpectedPods-u, 0)
	case spec.GetMinAvailable() != nil:
		m, err := scaled(spec.GetMinAvailable(), st.ExpectedPods)
		if err != nil {
			return nil, fmt.Errorf("spec.minAvailable: %w", err)
		}
		st.DesiredHealthy = m
	}
	st.DisruptionsAllowed = max(st.CurrentHealthy-st.DesiredHealthy, 0)
	cond := &metav1.Condition{Type: "DisruptionAllowed", Status: "True", Reason: "SufficientPods", ObservedGeneration: st.ObservedGeneration}
	if st.DisruptionsAllowed == 0 {
		cond.Status, cond.Reason = "False", "InsufficientPods"
	}
	cond.LastTransitionTime = timestamppb.New(now)
	for _, c := range pdb.GetStatus().GetConditions() {
		if c.GetType() == cond.Type && c.GetStatus() == cond.Status && c.GetLastTransitionTime() != nil {
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	st.Conditions = []*metav1.Condition{cond}
	return st, nil
}
