package replicaset

import (
	"maps"

	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/labels"
	"minik8s/api/scheme"
)

// Status is the status both kinds share.
type Status struct {
	Replicas             int32
	FullyLabeledReplicas int32
	ReadyReplicas        int32
	AvailableReplicas    int32
	ObservedGeneration   int64
	// Failure, when set, is the message of a ReplicaFailure condition.
	Failure       string
	FailureReason string
}

// Kind adapts one replicated kind (ReplicaSet or ReplicationController)
// to the shared controller.
type Kind[T scheme.Object] interface {
	// Component is the event source ("replicaset-controller").
	Component() string
	APIVersion() string
	Kind() string
	Replicas(obj T) int32
	MinReadySeconds(obj T) int32
	Selector(obj T) (labels.Selector, error)
	Template(obj T) *corev1.PodTemplateSpec
	Status(obj T) Status
	// SetStatus sets the status of obj (a private copy).
	SetStatus(obj T, s Status, now *timestamppb.Timestamp)
}

// ReplicaSets adapts apps/v1 ReplicaSet.
type ReplicaSets struct{}

// Component names the event source.
func (ReplicaSets) Component() string { return "replicaset-controller" }

// APIVersion is apps/v1.
func (ReplicaSets) APIVersion() string { return "apps/v1" }

// Kind is ReplicaSet.
func (ReplicaSets) Kind() string { return "ReplicaSet" }

// Replicas is spec.replicas (default 1).
func (ReplicaSets) Replicas(rs *appsv1.ReplicaSet) int32 {
	if r := rs.GetSpec().Replicas; r != nil {
		return *r
	}
	return 1
}

// MinReadySeconds is spec.minReadySeconds.
func (ReplicaSets) MinReadySeconds(rs *appsv1.ReplicaSet) int32 {
	return rs.GetSpec().GetMinReadySeconds()
}

// Selector parses spec.selector; an empty one selects nothing.
func (ReplicaSets) Selector(rs *appsv1.ReplicaSet) (labels.Selector, error) {
	sel := rs.GetSpec().GetSelector()
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return labels.Nothing(), nil
	}
	return labels.FromLabelSelector(sel)
}

// Template is spec.template.
func (ReplicaSets) Template(rs *appsv1.ReplicaSet) *corev1.PodTemplateSpec {
	return rs.GetSpec().GetTemplate()
}

// Status reads status.
func (ReplicaSets) Status(rs *appsv1.ReplicaSet) Status {
	st := rs.GetStatus()
	s := Status{Replicas: st.GetReplicas(), FullyLabeledReplicas: st.GetFullyLabeledReplicas(), ReadyReplicas: st.GetReadyReplicas(),
		AvailableReplicas: st.GetAvailableReplicas(), ObservedGeneration: st.GetObservedGeneration()}
	for _, c := range st.GetConditions() {
		if c.GetType() == "ReplicaFailure" && c.GetStatus() == corev1.ConditionTrue {
			s.Failure, s.FailureReason = c.GetMessage(), c.GetReason()
		}
	}
	return s
}

// SetStatus writes status, keeping the failure condition's transition time.
func (ReplicaSets) SetStatus(rs *appsv1.ReplicaSet, s Status, now *timestamppb.Timestamp) {
	var conds []*appsv1.ReplicaSetCondition
	if s.Failure != "" {
		c := &appsv1.ReplicaSetCondition{Type: "ReplicaFailure", Status: corev1.ConditionTrue, Reason: s.FailureReason, Message: s.Failure, LastTransitionTime: now}
		for _, old := range rs.GetStatus().GetConditions() {
			if old.GetType() == "ReplicaFailure" && old.GetStatus() == corev1.ConditionTrue {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		conds = append(conds, c)
	}
	rs.Status = &appsv1.ReplicaSetStatus{Replicas: s.Replicas, FullyLabeledReplicas: s.FullyLabeledReplicas, ReadyReplicas: s.ReadyReplicas,
		AvailableReplicas: s.AvailableReplicas, ObservedGeneration: s.ObservedGeneration, Conditions: conds}
}

// ReplicationControllers adapts v1 ReplicationController.
type ReplicationControllers struct{}

// Component names the event source.
func (ReplicationControllers) Component() string { return "replication-controller" }

// APIVersion is v1.
func (ReplicationControllers) APIVersion() string { return "v1" }

// Kind is ReplicationController.
func (ReplicationControllers) Kind() string { return "ReplicationController" }

// Replicas is spec.replicas (default 1).
func (ReplicationControllers) Replicas(rc *corev1.ReplicationController) int32 {
	if r := rc.GetSpec().Replicas; r != nil {
		return *r
	}
	return 1
}

// MinReadySeconds is spec.minReadySeconds.
func (ReplicationControllers) MinReadySeconds(rc *corev1.ReplicationController) int32 {
	return rc.GetSpec().GetMinReadySeconds()
}

// Selector is spec.selector, or the template's labels when it is empty
// (as the apiserver defaults it in Kubernetes).
func (ReplicationControllers) Selector(rc *corev1.ReplicationController) (labels.Selector, error) {
	sel := rc.GetSpec().GetSelector()
	if len(sel) == 0 {
		sel = rc.GetSpec().GetTemplate().GetMetadata().GetLabels()
	}
	if len(sel) == 0 {
		return labels.Nothing(), nil
	}
	return labels.SelectorFromSet(maps.Clone(sel)), nil
}

// Template is spec.template.
func (ReplicationControllers) Template(rc *corev1.ReplicationController) *corev1.PodTemplateSpec {
	return rc.GetSpec().GetTemplate()
}

// Status reads status.
func (ReplicationControllers) Status(rc *corev1.ReplicationController) Status {
	st := rc.GetStatus()
	s := Status{Replicas: st.GetReplicas(), FullyLabeledReplicas: st.GetFullyLabeledReplicas(), ReadyReplicas: st.GetReadyReplicas(),
		AvailableReplicas: st.GetAvailableReplicas(), ObservedGeneration: st.GetObservedGeneration()}
	for _, c := range st.GetConditions() {
		if c.GetType() == "ReplicaFailure" && c.GetStatus() == corev1.ConditionTrue {
			s.Failure, s.FailureReason = c.GetMessage(), c.GetReason()
		}
	}
	return s
}

// SetStatus writes status, keeping the failure condition's transition time.
func (ReplicationControllers) SetStatus(rc *corev1.ReplicationController, s Status, now *timestamppb.Timestamp) {
	var conds []*corev1.ReplicationControllerCondition
	if s.Failure != "" {
		c := &corev1.ReplicationControllerCondition{Type: "ReplicaFailure", Status: corev1.ConditionTrue, Reason: s.FailureReason, Message: s.Failure, LastTransitionTime: now}
		for _, old := range rc.GetStatus().GetConditions() {
			if old.GetType() == "ReplicaFailure" && old.GetStatus() == corev1.ConditionTrue {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		conds = append(conds, c)
	}
	rc.Status = &corev1.ReplicationControllerStatus{Replicas: s.Replicas, FullyLabeledReplicas: s.FullyLabeledReplicas, ReadyReplicas: s.ReadyReplicas,
		AvailableReplicas: s.AvailableReplicas, ObservedGeneration: s.ObservedGeneration, Conditions: conds}
}
