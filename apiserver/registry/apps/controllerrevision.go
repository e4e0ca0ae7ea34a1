package apps

import (
	appsv1 "minik8s/api/apps/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("controllerrevisions", controllerRevisionStrategy{}) }

// controllerRevisionStrategy keeps a revision's snapshot as it was written.
type controllerRevisionStrategy struct{ registry.Base }

// Validate requires a snapshot and a non-negative revision.
func (controllerRevisionStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	cr := obj.(*appsv1.ControllerRevision)
	var errs []apierrors.FieldError
	if cr.Data == nil {
		errs = append(errs, apierrors.Required("data", ""))
	}
	return append(errs, validation.NonNegative("revision", cr.Revision)...)
}

// ValidateUpdate keeps the snapshot: a revision is immutable history.
func (controllerRevisionStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	return validation.ImmutableMessage("data", newObj.(*appsv1.ControllerRevision).GetData(), oldObj.(*appsv1.ControllerRevision).GetData())
}
