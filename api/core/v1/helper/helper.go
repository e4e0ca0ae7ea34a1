// Package helper holds the core kinds' semantics that more than one
// component needs: which toleration tolerates which taint, which node a
// node selector or required node affinity admits, when a pod or a node is
// ready, and which owner controls an object. Kubernetes keeps the same
// rules in k8s.io/component-helpers and pkg/apis/core/v1/helper; here they
// live once, next to the types, so the scheduler, the kubelet and the
// controllers cannot drift apart.
package helper

import (
	"slices"
	"strconv"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// ToleratesTaint reports whether tol tolerates taint: an empty effect
// matches every effect, an empty key with Exists matches every key, and
// Equal (or an empty operator) needs the same key and value. An empty key
// with Equal is invalid in Kubernetes and tolerates nothing.
func ToleratesTaint(tol *corev1.Toleration, taint *corev1.Taint) bool {
	if tol.GetEffect() != "" && tol.GetEffect() != taint.GetEffect() {
		return false
	}
	if tol.GetKey() != "" && tol.GetKey() != taint.GetKey() {
		return false
	}
	switch tol.GetOperator() {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return tol.GetKey() != "" && tol.GetValue() == taint.GetValue()
	}
	return false
}

// TolerationsTolerateTaint reports whether any of tols tolerates taint.
func TolerationsTolerateTaint(tols []*corev1.Toleration, taint *corev1.Taint) bool {
	for _, t := range tols {
		if ToleratesTaint(t, taint) {
			return true
		}
	}
	return false
}

// MatchNodeSelectorTerms reports whether a node with nodeName and
// nodeLabels satisfies any of terms. Terms are ORed and the requirements
// within one ANDed; a term without requirements matches nothing, as in
// Kubernetes.
func MatchNodeSelectorTerms(terms []*corev1.NodeSelectorTerm, nodeName string, nodeLabels map[string]string) bool {
	for _, t := range terms {
		if MatchNodeSelectorTerm(t, nodeName, nodeLabels) {
			return true
		}
	}
	return false
}

// MatchNodeSelectorTerm reports whether a node satisfies every
// requirement of t; matchFields supports only metadata.name.
func MatchNodeSelectorTerm(t *corev1.NodeSelectorTerm, nodeName string, nodeLabels map[string]string) bool {
	if t == nil || len(t.GetMatchExpressions())+len(t.GetMatchFields()) == 0 {
		return false
	}
	for _, r := range t.GetMatchExpressions() {
		v, ok := nodeLabels[r.GetKey()]
		if !MatchNodeSelectorRequirement(r, v, ok) {
			return false
		}
	}
	for _, r := range t.GetMatchFields() {
		if r.GetKey() != "metadata.name" || !MatchNodeSelectorRequirement(r, nodeName, true) {
			return false
		}
	}
	return true
}

// MatchNodeSelectorRequirement applies one In, NotIn, Exists,
// DoesNotExist, Gt or Lt requirement to a label value; present tells
// whether the label exists. Gt and Lt compare integers, and a non-integer
// on either side never matches. An unknown operator matches nothing.
func MatchNodeSelectorRequirement(r *corev1.NodeSelectorRequirement, v string, present bool) bool {
	switch r.GetOperator() {
	case corev1.NodeSelectorOpIn:
		return present && slices.Contains(r.GetValues(), v)
	case corev1.NodeSelectorOpNotIn:
		return !present || !slices.Contains(r.GetValues(), v)
	case corev1.NodeSelectorOpExists:
		return present
	case corev1.NodeSelectorOpDoesNotExist:
		return !present
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !present || len(r.GetValues()) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.GetValues()[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.GetOperator() == corev1.NodeSelectorOpGt {
			return have > want
		}
		return have < want
	}
	return false
}

// MatchesNodeSelectorAndAffinity reports whether node may run a pod of
// spec by its placement constraints: every nodeSelector label and the
// required node affinity (taints are not considered).
func MatchesNodeSelectorAndAffinity(spec *corev1.PodSpec, node *corev1.Node) bool {
	labels := node.GetMetadata().GetLabels()
	for k, v := range spec.GetNodeSelector() {
		if have, ok := labels[k]; !ok || have != v {
			return false
		}
	}
	req := spec.GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution()
	return req == nil || MatchNodeSelectorTerms(req.GetNodeSelectorTerms(), node.GetMetadata().GetName(), labels)
}

// GetPodCondition returns the pod's condition of type t, or nil.
func GetPodCondition(p *corev1.Pod, t string) *corev1.PodCondition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// IsPodReady reports a pod whose Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	return GetPodCondition(p, corev1.PodReady).GetStatus() == corev1.ConditionTrue
}

// IsPodTerminal reports a pod that finished: Succeeded or Failed. Its
// containers do not run again and it holds no resources on its node.
func IsPodTerminal(p *corev1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == corev1.PodSucceeded || ph == corev1.PodFailed
}

// GetNodeCondition returns the node's condition of type t, or nil.
func GetNodeCondition(n *corev1.Node, t string) *corev1.NodeCondition {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// NodeReadyStatus returns the status of the node's Ready condition: True,
// False, Unknown, or "" while the kubelet has not reported one.
func NodeReadyStatus(n *corev1.Node) string {
	return GetNodeCondition(n, corev1.NodeReady).GetStatus()
}

// IsNodeReady reports a node whose Ready condition is True.
func IsNodeReady(n *corev1.Node) bool { return NodeReadyStatus(n) == corev1.ConditionTrue }

// GetControllerOf returns the owner reference marked controller, or nil:
// the one owner (ReplicaSet, Job, DaemonSet, ...) that manages the object.
func GetControllerOf(meta *metav1.ObjectMeta) *metav1.OwnerReference {
	for _, r := range meta.GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}

// IsControlledBy reports whether the object's controller is the owner with
// uid.
func IsControlledBy(meta *metav1.ObjectMeta, uid string) bool {
	ref := GetControllerOf(meta)
	return ref != nil && uid != "" && ref.GetUid() == uid
}

// IsNamespaceTerminating says whether ns is being deleted: it has a
// deletionTimestamp or the Terminating phase. Nothing new may be created
// in it (NamespaceLifecycle), and controllers stop filling it.
func IsNamespaceTerminating(ns *corev1.Namespace) bool {
	return ns.GetMetadata().GetDeletionTimestamp() != nil || ns.GetStatus().GetPhase() == corev1.NamespaceTerminating
}
