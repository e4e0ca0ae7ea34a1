package apps

import (
	appsv1 "minik8s/api/apps/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/registry/core"
	"minik8s/apiserver/validation"
)

func init() {
	registry.Register("deployments", deploymentStrategy{})
	registry.Register("replicasets", replicaSetStrategy{})
}

// deploymentStrategy defaults and validates Deployments and fixes their selector.
type deploymentStrategy struct{ registry.Base }

// Default sets replicas 1, a RollingUpdate strategy of 25%/25%, a history
// of 10 revisions, a 600s progress deadline and the pod-template defaults.
func (deploymentStrategy) Default(obj scheme.Object) {
	d := obj.(*appsv1.Deployment)
	if d.Spec == nil {
		d.Spec = &appsv1.DeploymentSpec{}
	}
	s := d.Spec
	if s.Replicas == nil {
		s.Replicas = new(int32(1))
	}
	if s.Strategy == nil {
		s.Strategy = &appsv1.DeploymentStrategy{}
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = "RollingUpdate"
	}
	if s.Strategy.Type == "RollingUpdate" {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		ru := s.Strategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = percent("25%")
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = percent("25%")
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = new(int32(10))
	}
	if s.ProgressDeadlineSeconds == nil {
		s.ProgressDeadlineSeconds = new(int32(600))
	}
	core.DefaultPodTemplate(s.Template)
}

// Validate checks replicas, selector against template, the template and
// the rollout strategy.
func (deploymentStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*appsv1.Deployment).Spec
	if s == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	errs := validateReplicated(s.Replicas, s.MinReadySeconds, s.Selector, s.Template)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, validation.NonNegative("spec.revisionHistoryLimit", int64(*s.RevisionHistoryLimit))...)
	}
	if p := s.ProgressDeadlineSeconds; p != nil && *p <= s.MinReadySeconds {
		errs = append(errs, apierrors.Invalid("spec.progressDeadlineSeconds", *p, "must be greater than minReadySeconds"))
	}
	st := s.GetStrategy()
	errs = append(errs, validation.Enum("spec.strategy.type", st.GetType(), []string{"Recreate", "RollingUpdate"})...)
	switch {
	case st.GetType() == "Recreate" && st.RollingUpdate != nil:
		errs = append(errs, apierrors.Forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
	case st.GetType() == "RollingUpdate" && st.RollingUpdate != nil:
		errs = append(errs, validateRollingUpdate(st.RollingUpdate.MaxUnavailable, st.RollingUpdate.MaxSurge, "spec.strategy.rollingUpdate")...)
	}
	return errs
}

// ValidateUpdate keeps the selector.
func (deploymentStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	return validation.ImmutableMessage("spec.selector",
		newObj.(*appsv1.Deployment).GetSpec().GetSelector(), oldObj.(*appsv1.Deployment).GetSpec().GetSelector())
}

// replicaSetStrategy defaults and validates ReplicaSets and fixes their selector.
type replicaSetStrategy struct{ registry.Base }

// Default sets replicas 1 and the pod-template defaults.
func (replicaSetStrategy) Default(obj scheme.Object) {
	rs := obj.(*appsv1.ReplicaSet)
	if rs.Spec == nil {
		rs.Spec = &appsv1.ReplicaSetSpec{}
	}
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = new(int32(1))
	}
	core.DefaultPodTemplate(rs.Spec.Template)
}

// Validate checks replicas, the selector against the template, and the template.
func (replicaSetStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*appsv1.ReplicaSet).Spec
	if s == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	return validateReplicated(s.Replicas, s.MinReadySeconds, s.Selector, s.Template)
}

// ValidateUpdate keeps the selector.
func (replicaSetStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	return validation.ImmutableMessage("spec.selector",
		newObj.(*appsv1.ReplicaSet).GetSpec().GetSelector(), oldObj.(*appsv1.ReplicaSet).GetSpec().GetSelector())
}
