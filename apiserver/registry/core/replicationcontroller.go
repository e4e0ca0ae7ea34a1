package core

import (
	"maps"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("replicationcontrollers", replicationControllerStrategy{}) }

// replicationControllerStrategy defaults the selector and labels from the
// template, as the v1 API does, and validates the replicated template.
type replicationControllerStrategy struct{ registry.Base }

// AlwaysRestart is the only restartPolicy a long-running workload's
// template may have.
var AlwaysRestart = []string{"Always"}

// Default sets replicas 1, the template defaults, and - when unset - the
// selector and the controller's own labels to the template's labels.
func (replicationControllerStrategy) Default(obj scheme.Object) {
	rc := obj.(*corev1.ReplicationController)
	if rc.Spec == nil {
		rc.Spec = &corev1.ReplicationControllerSpec{}
	}
	s := rc.Spec
	if s.Replicas == nil {
		s.Replicas = new(int32(1))
	}
	DefaultPodTemplate(s.Template)
	tl := s.GetTemplate().GetMetadata().GetLabels()
	if len(tl) == 0 {
		return
	}
	if len(s.Selector) == 0 {
		s.Selector = maps.Clone(tl)
	}
	if md := scheme.Meta(rc); len(md.Labels) == 0 {
		md.Labels = maps.Clone(tl)
	}
}

// Validate checks replicas, the selector, and that the template matches it.
func (replicationControllerStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*corev1.ReplicationController).Spec
	if s == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	var errs []apierrors.FieldError
	if s.Replicas != nil {
		errs = append(errs, nonNegative("spec.replicas", int64(*s.Replicas))...)
	}
	errs = append(errs, nonNegative("spec.minReadySeconds", int64(s.MinReadySeconds))...)
	if len(s.Selector) == 0 {
		errs = append(errs, apierrors.Required("spec.selector", ""))
	} else {
		errs = append(errs, validation.ValidateLabels(s.Selector, "spec.selector")...)
		if s.Template != nil {
			sel := &metav1.LabelSelector{MatchLabels: s.Selector}
			if !validation.SelectorMatches(sel, s.Template.GetMetadata().GetLabels()) {
				errs = append(errs, apierrors.Invalid("spec.template.metadata.labels",
					labels.Set(s.Template.GetMetadata().GetLabels()).String(), "`selector` does not match template `labels`"))
			}
		}
	}
	return append(errs, ValidateWorkloadTemplate(s.Template, AlwaysRestart, "spec.template")...)
}
