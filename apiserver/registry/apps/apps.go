// Package apps holds the strategies of the apps/v1 workloads: Deployment,
// ReplicaSet, DaemonSet, StatefulSet and ControllerRevision. Their pod
// templates get the same defaults and checks as pods (registry/core);
// their selectors are fixed at creation, as in apps/v1.
package apps

import (
	"strconv"
	"strings"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/validation"
)

var (
	child = validation.Child
	msgs  = validation.Msgs
)

// intOrPercent returns an IntOrString as a number, or a percentage as a
// number with isPercent set; ok is false for a malformed string.
func intOrPercent(v *metav1.IntOrString) (n int, isPercent, ok bool) {
	if v == nil {
		return 0, false, true
	}
	if v.Type != 1 {
		return int(v.IntVal), false, true
	}
	if len(validation.IsValidPercent(v.StrVal)) > 0 {
		return 0, true, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, true, err == nil
}

// validateIntOrPercent checks a maxSurge / maxUnavailable value: a
// non-negative number or a percentage, at most 100% when capped.
func validateIntOrPercent(v *metav1.IntOrString, p string, capped bool) []apierrors.FieldError {
	if v == nil {
		return nil
	}
	n, isPercent, ok := intOrPercent(v)
	switch {
	case !ok:
		return msgs(p, v.StrVal, validation.IsValidPercent(v.StrVal))
	case n < 0 && isPercent:
		return []apierrors.FieldError{apierrors.Invalid(p, v.StrVal, "must be greater than or equal to 0")}
	case n < 0:
		return []apierrors.FieldError{apierrors.Invalid(p, v.IntVal, "must be greater than or equal to 0")}
	case capped && isPercent && n > 100:
		return []apierrors.FieldError{apierrors.Invalid(p, v.StrVal, "must not be greater than 100%")}
	}
	return nil
}

// isZero reports an IntOrString that is 0 or "0%" (or unset).
func isZero(v *metav1.IntOrString) bool {
	n, _, ok := intOrPercent(v)
	return ok && n == 0
}

// validateRollingUpdate checks a maxUnavailable / maxSurge pair at p: both
// valid, maxUnavailable at most 100%, and not both zero (no progress).
func validateRollingUpdate(maxUnavailable, maxSurge *metav1.IntOrString, p string) []apierrors.FieldError {
	errs := validateIntOrPercent(maxUnavailable, child(p, "maxUnavailable"), true)
	errs = append(errs, validateIntOrPercent(maxSurge, child(p, "maxSurge"), false)...)
	if len(errs) == 0 && isZero(maxUnavailable) && isZero(maxSurge) {
		errs = append(errs, apierrors.Invalid(child(p, "maxUnavailable"), intOrStringValue(maxUnavailable), "may not be 0 when `maxSurge` is 0"))
	}
	return errs
}

func intOrStringValue(v *metav1.IntOrString) any {
	if v.GetType() == 1 {
		return v.StrVal
	}
	return v.GetIntVal()
}

// intStr and percent build IntOrString defaults.
func intStr(n int32) *metav1.IntOrString { return &metav1.IntOrString{IntVal: n} }

func percent(s string) *metav1.IntOrString { return &metav1.IntOrString{Type: 1, StrVal: s} }
