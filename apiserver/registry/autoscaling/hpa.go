// Package autoscaling holds the HorizontalPodAutoscaler strategy.
package autoscaling

import (
	autoscalingv2 "minik8s/api/autoscaling/v2"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("horizontalpodautoscalers", hpaStrategy{}) }

// hpaStrategy defaults and validates HorizontalPodAutoscalers.
type hpaStrategy struct{ registry.Base }

// Default sets minReplicas 1 and, without metrics, a CPU target of 80%
// average utilization, as autoscaling/v2 does.
func (hpaStrategy) Default(obj scheme.Object) {
	h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if h.Spec == nil {
		h.Spec = &autoscalingv2.HorizontalPodAutoscalerSpec{}
	}
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = new(int32(1))
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []*autoscalingv2.MetricSpec{{
			Type: "Resource",
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   "cpu",
				Target: &autoscalingv2.MetricTarget{Type: "Utilization", AverageUtilization: new(int32(80))},
			},
		}}
	}
}

// Validate checks the target reference, 1 <= minReplicas <= maxReplicas,
// the metrics and the scaling policies.
func (hpaStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*autoscalingv2.HorizontalPodAutoscaler).GetSpec()
	var errs []apierrors.FieldError
	ref := s.GetScaleTargetRef()
	if ref.GetKind() == "" {
		errs = append(errs, apierrors.Required("spec.scaleTargetRef.kind", ""))
	}
	if ref.GetName() == "" {
		errs = append(errs, apierrors.Required("spec.scaleTargetRef.name", ""))
	} else {
		errs = append(errs, validation.Msgs("spec.scaleTargetRef.name", ref.GetName(), validation.IsValidPathSegmentName(ref.GetName()))...)
	}
	if s.GetMaxReplicas() < 1 {
		errs = append(errs, apierrors.Invalid("spec.maxReplicas", s.GetMaxReplicas(), "must be greater than or equal to 1"))
	}
	if m := s.MinReplicas; m != nil {
		switch {
		case *m < 1:
			errs = append(errs, apierrors.Invalid("spec.minReplicas", *m, "must be greater than or equal to 1"))
		case *m > s.GetMaxReplicas():
			errs = append(errs, apierrors.Invalid("spec.maxReplicas", s.GetMaxReplicas(), "must be greater than or equal to `minReplicas`"))
		}
	}
	for i, m := range s.GetMetrics() {
		errs = append(errs, validateMetric(m, validation.Index("spec.metrics", i))...)
	}
	for _, dir := range []struct {
		name  string
		rules *autoscalingv2.HPAScalingRules
	}{{"scaleUp", s.GetBehavior().GetScaleUp()}, {"scaleDown", s.GetBehavior().GetScaleDown()}} {
		errs = append(errs, validateScalingRules(dir.rules, validation.Child("spec.behavior", dir.name))...)
	}
	return errs
}

func validateMetric(m *autoscalingv2.MetricSpec, p string) []apierrors.FieldError {
	errs := validation.Enum(validation.Child(p, "type"), m.Type, []string{"Resource", "Pods"})
	switch m.Type {
	case "Resource":
		if m.Resource == nil {
			return append(errs, apierrors.Required(validation.Child(p, "resource"), "must populate information for the given metric source"))
		}
		rp := validation.Child(p, "resource")
		if m.Resource.Name == "" {
			errs = append(errs, apierrors.Required(validation.Child(rp, "name"), ""))
		}
		errs = append(errs, validateTarget(m.Resource.Target, validation.Child(rp, "target"))...)
	case "Pods":
		if m.Pods == nil {
			return append(errs, apierrors.Required(validation.Child(p, "pods"), "must populate information for the given metric source"))
		}
		pp := validation.Child(p, "pods")
		if m.Pods.GetMetric().GetName() == "" {
			errs = append(errs, apierrors.Required(validation.Child(pp, "metric", "name"), ""))
		}
		t := m.Pods.Target
		errs = append(errs, validateTarget(t, validation.Child(pp, "target"))...)
		if t != nil && t.Type != "AverageValue" {
			errs = append(errs, apierrors.NotSupported(validation.Child(pp, "target", "type"), t.Type, []string{"AverageValue"}))
		}
	}
	return errs
}

func validateTarget(t *autoscalingv2.MetricTarget, p string) []apierrors.FieldError {
	if t == nil {
		return []apierrors.FieldError{apierrors.Required(p, "")}
	}
	errs := validation.Enum(validation.Child(p, "type"), t.Type, []string{"Utilization", "Value", "AverageValue"})
	switch t.Type {
	case "Utilization":
		if t.AverageUtilization == nil {
			errs = append(errs, apierrors.Required(validation.Child(p, "averageUtilization"), "must set averageUtilization when type is Utilization"))
		} else {
			errs = append(errs, validation.Positive(validation.Child(p, "averageUtilization"), int64(*t.AverageUtilization))...)
		}
	case "Value":
		if t.Value == "" {
			errs = append(errs, apierrors.Required(validation.Child(p, "value"), "must set value when type is Value"))
		}
	case "AverageValue":
		if t.AverageValue == "" {
			errs = append(errs, apierrors.Required(validation.Child(p, "averageValue"), "must set averageValue when type is AverageValue"))
		}
	}
	if t.Value != "" {
		errs = append(errs, validation.ValidateQuantity(t.Value, validation.Child(p, "value"))...)
	}
	if t.AverageValue != "" {
		errs = append(errs, validation.ValidateQuantity(t.AverageValue, validation.Child(p, "averageValue"))...)
	}
	return errs
}

func validateScalingRules(r *autoscalingv2.HPAScalingRules, p string) []apierrors.FieldError {
	if r == nil {
		return nil
	}
	var errs []apierrors.FieldError
	if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > 3600) {
		errs = append(errs, apierrors.Invalid(validation.Child(p, "stabilizationWindowSeconds"), *w, "must be between 0 and 3600"))
	}
	if sp := r.SelectPolicy; sp != nil {
		errs = append(errs, validation.Enum(validation.Child(p, "selectPolicy"), *sp, []string{"Max", "Min", "Disabled"})...)
	}
	for i, pol := range r.Policies {
		pp := validation.Index(validation.Child(p, "policies"), i)
		errs = append(errs, validation.Enum(validation.Child(pp, "type"), pol.Type, []string{"Pods", "Percent"})...)
		errs = append(errs, validation.Positive(validation.Child(pp, "value"), int64(pol.Value))...)
		if pol.PeriodSeconds <= 0 || pol.PeriodSeconds > 1800 {
			errs = append(errs, apierrors.Invalid(validation.Child(pp, "periodSeconds"), pol.PeriodSeconds, "must be greater than zero and less than or equal to 1800"))
		}
	}
	return errs
}
