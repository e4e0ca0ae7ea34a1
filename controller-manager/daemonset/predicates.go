package daemonset

import (
	"slices"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
)

// DefaultTolerations are added to every daemon pod, as Kubernetes does:
// a daemon stays on a node that is not ready, unreachable, under
// pressure or cordoned.
var DefaultTolerations = []*corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// withDefaultTolerations returns spec's tolerations plus the defaults it
// does not already have.
func withDefaultTolerations(tols []*corev1.Toleration) []*corev1.Toleration {
	out := slices.Clone(tols)
	for _, d := range DefaultTolerations {
		found := false
		for _, t := range tols {
			if t.GetKey() == d.Key && t.GetEffect() == d.Effect {
				found = true
			}
		}
		if !found {
			out = append(out, &corev1.Toleration{Key: d.Key, Operator: d.Operator, Effect: d.Effect})
		}
	}
	return out
}

// ShouldRun reports whether a daemon pod of spec belongs on node: the
// node matches the pod's nodeSelector and required node affinity, and
// every NoSchedule/NoExecute taint of the node is tolerated (with the
// default daemon tolerations added).
func ShouldRun(node *corev1.Node, spec *corev1.PodSpec) bool {
	if node.GetMetadata().GetDeletionTimestamp() != nil {
		return false
	}
	if !helper.MatchesNodeSelectorAndAffinity(spec, node) {
		return false
	}
	tols := withDefaultTolerations(spec.GetTolerations())
	for _, taint := range node.GetSpec().GetTaints() {
		if taint.GetEffect() != corev1.TaintEffectNoSchedule && taint.GetEffect() != corev1.TaintEffectNoExecute {
			continue
		}
		if !helper.TolerationsTolerateTaint(tols, taint) {
			return false
		}
	}
	return true
}
