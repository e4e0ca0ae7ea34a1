package core

import (
	"fmt"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/resource"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() {
	registry.Register("resourcequotas", resourceQuotaStrategy{})
	registry.Register("limitranges", limitRangeStrategy{})
}

// resourceQuotaStrategy checks the quantities and scopes of a quota.
type resourceQuotaStrategy struct{ registry.Base }

var quotaScopes = []string{"Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"}

// Validate checks spec.hard, the scopes and the status quantities.
func (resourceQuotaStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	q := obj.(*corev1.ResourceQuota)
	errs := validation.ValidateResourceList(q.GetSpec().GetHard(), "spec.hard")
	for i, s := range q.GetSpec().GetScopes() {
		errs = append(errs, enum(index("spec.scopes", i), s, quotaScopes)...)
	}
	for i, e := range q.GetSpec().GetScopeSelector().GetMatchExpressions() {
		ep := index("spec.scopeSelector.matchExpressions", i)
		errs = append(errs, enum(child(ep, "scopeName"), e.ScopeName, quotaScopes)...)
		errs = append(errs, enum(child(ep, "operator"), e.Operator, []string{"In", "NotIn", "Exists", "DoesNotExist"})...)
	}
	errs = append(errs, validation.ValidateResourceList(q.GetStatus().GetHard(), "status.hard")...)
	return append(errs, validation.ValidateResourceList(q.GetStatus().GetUsed(), "status.used")...)
}

// limitRangeStrategy checks that each limit's bounds are ordered:
// min <= defaultRequest <= default <= max.
type limitRangeStrategy struct{ registry.Base }

// Validate checks item types, quantities and their order.
func (limitRangeStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for i, it := range obj.(*corev1.LimitRange).GetSpec().GetLimits() {
		lp := index("spec.limits", i)
		errs = append(errs, enum(child(lp, "type"), it.Type, []string{"Pod", "Container", "PersistentVolumeClaim"})...)
		lists := []struct {
			name string
			list map[string]string
		}{{"max", it.Max}, {"min", it.Min}, {"default", it.Default}, {"defaultRequest", it.DefaultRequest}, {"maxLimitRequestRatio", it.MaxLimitRequestRatio}}
		bad := false
		for _, l := range lists {
			e := validation.ValidateResourceList(l.list, child(lp, l.name))
			bad = bad || len(e) > 0
			errs = append(errs, e...)
		}
		if it.Type == "Pod" && len(it.Default) > 0 {
			errs = append(errs, apierrors.Forbidden(child(lp, "default"), "may not be specified when `type` is 'Pod'"))
		}
		if it.Type == "Pod" && len(it.DefaultRequest) > 0 {
			errs = append(errs, apierrors.Forbidden(child(lp, "defaultRequest"), "may not be specified when `type` is 'Pod'"))
		}
		if bad {
			continue
		}
		// Each pair (lower, higher) must be ordered for every resource both name.
		order := []struct {
			lower, higher string
			lo, hi        map[string]string
		}{
			{"min", "max", it.Min, it.Max},
			{"defaultRequest", "default", it.DefaultRequest, it.Default},
			{"min", "defaultRequest", it.Min, it.DefaultRequest},
			{"default", "max", it.Default, it.Max},
		}
		for _, o := range order {
			for _, name := range validation.SortedKeys(o.lo) {
				hiV, ok := o.hi[name]
				if !ok {
					continue
				}
				lo, _ := resource.ParseQuantity(o.lo[name])
				hi, _ := resource.ParseQuantity(hiV)
				if lo > hi {
					errs = append(errs, apierrors.Invalid(key(child(lp, o.lower), name), o.lo[name],
						fmt.Sprintf("%s value %s is greater than %s value %s", o.lower, o.lo[name], o.higher, hiV)))
				}
			}
		}
	}
	return errs
}
