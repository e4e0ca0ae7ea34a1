package apps

import (
	appsv1 "minik8s/api/apps/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/registry/core"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("daemonsets", daemonSetStrategy{}) }

// daemonSetStrategy defaults and validates DaemonSets and fixes their selector.
type daemonSetStrategy struct{ registry.Base }

// Default sets a RollingUpdate strategy replacing one pod at a time
// (maxUnavailable 1, maxSurge 0), a history of 10 and the template defaults.
func (daemonSetStrategy) Default(obj scheme.Object) {
	ds := obj.(*appsv1.DaemonSet)
	if ds.Spec == nil {
		ds.Spec = &appsv1.DaemonSetSpec{}
	}
	s := ds.Spec
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &appsv1.DaemonSetUpdateStrategy{}
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = "RollingUpdate"
	}
	if s.UpdateStrategy.Type == "RollingUpdate" {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		ru := s.UpdateStrategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = intStr(1)
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = intStr(0)
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = new(int32(10))
	}
	core.DefaultPodTemplate(s.Template)
}

// Validate checks the selector against the template, the template and the
// update strategy.
func (daemonSetStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*appsv1.DaemonSet).Spec
	if s == nil {
		return []apierrors.FieldError{apierrors.Required("spec", "")}
	}
	errs := validateReplicated(nil, s.MinReadySeconds, s.Selector, s.Template)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, validation.NonNegative("spec.revisionHistoryLimit", int64(*s.RevisionHistoryLimit))...)
	}
	us := s.GetUpdateStrategy()
	errs = append(errs, validation.Enum("spec.updateStrategy.type", us.GetType(), []string{"RollingUpdate", "OnDelete"})...)
	if us.GetType() == "RollingUpdate" && us.RollingUpdate != nil {
		errs = append(errs, validateRollingUpdate(us.RollingUpdate.MaxUnavailable, us.RollingUpdate.MaxSurge, "spec.updateStrategy.rollingUpdate")...)
	}
	return errs
}

// ValidateUpdate keeps the selector.
func (daemonSetStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	return validation.ImmutableMessage("spec.selector",
		newObj.(*appsv1.DaemonSet).GetSpec().GetSelector(), oldObj.(*appsv1.DaemonSet).GetSpec().GetSelector())
}
