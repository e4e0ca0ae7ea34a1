package daemonset

import (
	"slices"
	"strconv"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/labels"
)

// DefaultTolerations are added to every daemon pod, as Kubernetes does:
// a daemon stays on a node that is not ready, unreachable, under
// pressure or cordoned.
var DefaultTolerations = []*corev1.Toleration{
	{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute"},
	{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute"},
	{Key: "node.kubernetes.io/disk-pressure", Operator: "Exists", Effect: "NoSchedule"},
	{Key: "node.kubernetes.io/memory-pressure", Operator: "Exists", Effect: "NoSchedule"},
	{Key: "node.kubernetes.io/pid-pressure", Operator: "Exists", Effect: "NoSchedule"},
	{Key: "node.kubernetes.io/unschedulable", Operator: "Exists", Effect: "NoSchedule"},
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

func tolerates(tol *corev1.Toleration, taint *corev1.Taint) bool {
	if tol.GetEffect() != "" && tol.GetEffect() != taint.GetEffect() {
		return false
	}
	if tol.GetKey() != "" && tol.GetKey() != taint.GetKey() {
		return false
	}
	switch tol.GetOperator() {
	case "Exists":
		return true
	case "", "Equal":
		return tol.GetKey() != "" && tol.GetValue() == taint.GetValue()
	}
	return false
}

// ShouldRun reports whether a daemon pod of spec belongs on node: the
// node matches the pod's nodeSelector and required node affinity, and
// every NoSchedule/NoExecute taint of the node is tolerated (with the
// default daemon tolerations added).
func ShouldRun(node *corev1.Node, spec *corev1.PodSpec) bool {
	if node.GetMetadata().GetDeletionTimestamp() != nil {
		return false
	}
	nl := node.GetMetadata().GetLabels()
	if !labels.SelectorFromSet(spec.GetNodeSelector()).Matches(nl) {
		return false
	}
	if req := spec.GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution(); req != nil && !matchesNodeSelector(req, node) {
		return false
	}
	tols := withDefaultTolerations(spec.GetTolerations())
	for _, taint := range node.GetSpec().GetTaints() {
		if taint.GetEffect() != "NoSchedule" && taint.GetEffect() != "NoExecute" {
			continue
		}
		ok := false
		for _, t := range tols {
			if tolerates(t, taint) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchesNodeSelector: any term matches when all its expressions do.
func matchesNodeSelector(sel *corev1.NodeSelector, node *corev1.Node) bool {
	for _, term := range sel.GetNodeSelectorTerms() {
		if len(term.GetMatchExpressions()) == 0 && len(term.GetMatchFields()) == 0 {
			continue
		}
		ok := true
		for _, r := range term.GetMatchExpressions() {
			v, has := node.GetMetadata().GetLabels()[r.GetKey()]
			ok = ok && matchRequirement(r, v, has)
		}
		for _, r := range term.GetMatchFields() {
			if r.GetKey() == "metadata.name" {
				ok = ok && matchRequirement(r, node.GetMetadata().GetName(), true)
			} else {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func matchRequirement(r *corev1.NodeSelectorRequirement, v string, has bool) bool {
	switch r.GetOperator() {
	case "In":
		return has && slices.Contains(r.GetValues(), v)
	case "NotIn":
		return !has || !slices.Contains(r.GetValues(), v)
	case "Exists":
		return has
	case "DoesNotExist":
		return !has
	case "Gt", "Lt":
		if !has || len(r.GetValues()) != 1 {
			return false
		}
		a, err1 := strconv.ParseInt(v, 10, 64)
		b, err2 := strconv.ParseInt(r.GetValues()[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.GetOperator() == "Gt" {
			return a > b
		}
		return a < b
	}
	return false
}
