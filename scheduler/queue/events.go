package queue

import (
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	"minik8s/scheduler/framework"
)

// ClusterEvent is a change in the cluster that may make unschedulable pods
// schedulable. Plugins names the filters whose verdict it can change; a
// pod that was rejected only by other filters stays where it is, so a
// stream of unrelated events (node heartbeats, other pods binding) does
// not churn the unschedulable pods.
type ClusterEvent struct {
	// Name labels the event in logs and metrics: NodeAdd, NodeUpdate,
	// AssignedPodAdd, AssignedPodUpdate, AssignedPodDelete, ...
	Name string
	// Plugins the event may satisfy; nil means any.
	Plugins map[string]bool
}

// mayHelp reports whether the event can change the verdict for a pod that
// the given filters rejected (an empty set means "unknown": always).
func (e ClusterEvent) mayHelp(rejectedBy map[string]bool) bool {
	if e.Plugins == nil || len(rejectedBy) == 0 {
		return true
	}
	for p := range rejectedBy {
		if e.Plugins[p] {
			return true
		}
	}
	return false
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// NodeAdded is the event of a new node: it may satisfy any filter.
func NodeAdded() ClusterEvent { return ClusterEvent{Name: "NodeAdd"} }

// NodeUpdated returns the event of a node change and whether it matters
// to scheduling at all: labels, taints, cordon, allocatable and readiness
// do; heartbeats (condition timestamps, images) do not.
func NodeUpdated(old, cur *corev1.Node) (ClusterEvent, bool) {
	var plugins []string
	if !maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels()) {
		plugins = append(plugins, framework.NodeAffinity, framework.InterPodAffinity)
	}
	if !slices.EqualFunc(old.GetSpec().GetTaints(), cur.GetSpec().GetTaints(), func(a, b *corev1.Taint) bool {
		return a.GetKey() == b.GetKey() && a.GetValue() == b.GetValue() && a.GetEffect() == b.GetEffect()
	}) {
		plugins = append(plugins, framework.TaintToleration)
	}
	if old.GetSpec().GetUnschedulable() != cur.GetSpec().GetUnschedulable() {
		plugins = append(plugins, framework.NodeUnschedulable)
	}
	if !maps.Equal(old.GetStatus().GetAllocatable(), cur.GetStatus().GetAllocatable()) ||
		!maps.Equal(old.GetStatus().GetCapacity(), cur.GetStatus().GetCapacity()) {
		plugins = append(plugins, framework.NodeResourcesFit)
	}
	if helper.NodeReadyStatus(old) != helper.NodeReadyStatus(cur) {
		plugins = append(plugins, framework.NodeReady)
	}
	if len(plugins) == 0 {
		return ClusterEvent{}, false
	}
	return ClusterEvent{Name: "NodeUpdate", Plugins: set(plugins...)}, true
}

// AssignedPodAdded is the event of a pod placed on a node: it may satisfy
// another pod's required affinity.
func AssignedPodAdded() ClusterEvent {
	return ClusterEvent{Name: "AssignedPodAdd", Plugins: set(framework.InterPodAffinity)}
}

// AssignedPodUpdated returns the event of a change to a placed pod and
// whether it matters: new labels may satisfy affinity or lift
// anti-affinity; changed requests may free resources.
func AssignedPodUpdated(old, cur *corev1.Pod) (ClusterEvent, bool) {
	var plugins []string
	if !maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels()) {
		plugins = append(plugins, framework.InterPodAffinity)
	}
	if !proto.Equal(resourcesOf(old), resourcesOf(cur)) {
		plugins = append(plugins, framework.NodeResourcesFit)
	}
	if len(plugins) == 0 {
		return ClusterEvent{}, false
	}
	return ClusterEvent{Name: "AssignedPodUpdate", Plugins: set(plugins...)}, true
}

func resourcesOf(p *corev1.Pod) *corev1.PodSpec {
	s := &corev1.PodSpec{}
	for _, c := range p.GetSpec().GetContainers() {
		s.Containers = append(s.Containers, &corev1.Container{Resources: c.GetResources()})
	}
	for _, c := range p.GetSpec().GetInitContainers() {
		s.InitContainers = append(s.InitContainers, &corev1.Container{Resources: c.GetResources()})
	}
	return s
}

// AssignedPodDeleted is the event of a placed pod going away (deleted or
// finished): it frees resources and ports and may lift anti-affinity.
func AssignedPodDeleted() ClusterEvent {
	return ClusterEvent{Name: "AssignedPodDelete", Plugins: set(framework.NodeResourcesFit, framework.NodePorts, framework.InterPodAffinity)}
}

// podSpecChanged reports whether an update of a pending pod can change
// its scheduling (anything but status and bookkeeping metadata).
func podSpecChanged(old, cur *corev1.Pod) bool {
	return !proto.Equal(old.GetSpec(), cur.GetSpec()) ||
		!maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels()) ||
		!maps.Equal(old.GetMetadata().GetAnnotations(), cur.GetMetadata().GetAnnotations())
}
