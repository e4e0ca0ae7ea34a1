// Package coordination holds the Lease strategy.
package coordination

import (
	coordinationv1 "minik8s/api/coordination/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("leases", leaseStrategy{}) }

// leaseStrategy checks that a lease's duration and transition count make sense.
type leaseStrategy struct{ registry.Base }

// Validate requires a positive leaseDurationSeconds and non-negative
// leaseTransitions when they are set.
func (leaseStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*coordinationv1.Lease).Spec
	if s == nil {
		return nil
	}
	var errs []apierrors.FieldError
	if s.LeaseDurationSeconds != nil {
		errs = append(errs, validation.Positive("spec.leaseDurationSeconds", int64(*s.LeaseDurationSeconds))...)
	}
	if s.LeaseTransitions != nil {
		errs = append(errs, validation.NonNegative("spec.leaseTransitions", int64(*s.LeaseTransitions))...)
	}
	return errs
}
