package policy

import (
	"strconv"
	"strings"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	policyv1 "minik8s/api/policy/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("poddisruptionbudgets", pdbStrategy{}) }

// pdbStrategy checks a budget as Kubernetes does: at most one of
// minAvailable and maxUnavailable, each a non-negative number or a
// percentage up to 100%, and a valid selector.
type pdbStrategy struct{ registry.Base }

// Validate implements registry.Strategy.
func (pdbStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	spec := obj.(*policyv1.PodDisruptionBudget).GetSpec()
	var errs []apierrors.FieldError
	if spec.GetMinAvailable() != nil && spec.GetMaxUnavailable() != nil {
		errs = append(errs, apierrors.Invalid("spec", "", "minAvailable and maxUnavailable cannot be both set"))
	}
	errs = append(errs, validIntOrPercent("spec.minAvailable", spec.GetMinAvailable())...)
	errs = append(errs, validIntOrPercent("spec.maxUnavailable", spec.GetMaxUnavailable())...)
	if spec.GetSelector() != nil {
		errs = append(errs, validation.ValidateLabelSelector(spec.GetSelector(), "spec.selector")...)
	}
	errs = append(errs, validation.OptionalEnum("spec.unhealthyPodEvictionPolicy", spec.GetUnhealthyPodEvictionPolicy(), []string{"IfHealthyBudget", "AlwaysAllow"})...)
	return errs
}

func validIntOrPercent(path string, v *metav1.IntOrString) []apierrors.FieldError {
	if v == nil {
		return nil
	}
	if v.GetType() == 0 {
		return validation.NonNegative(path, int64(v.GetIntVal()))
	}
	p, ok := strings.CutSuffix(v.GetStrVal(), "%")
	n, err := strconv.Atoi(p)
	if !ok || err != nil {
		return []apierrors.FieldError{apierrors.Invalid(path, v.GetStrVal(), "must be an integer or percentage (e.g '5%')")}
	}
	if n < 0 || n > 100 {
		return []apierrors.FieldError{apierrors.Invalid(path, v.GetStrVal(), "must be a valid percent value (0-100)")}
	}
	return nil
}
