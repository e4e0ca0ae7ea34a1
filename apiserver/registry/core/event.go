package core

import (
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
)

func init() { registry.Register("events", eventStrategy{}) }

// eventStrategy defaults count and type and checks the involved object.
type eventStrategy struct{ registry.Base }

// Default sets count 1 and type Normal when unset; timestamps are the
// recorder's business and stay as sent.
func (eventStrategy) Default(obj scheme.Object) {
	e := obj.(*corev1.Event)
	if e.Count == 0 {
		e.Count = 1
	}
	if e.Type == "" {
		e.Type = "Normal"
	}
}

// Validate requires an involved object in the event's own namespace (or
// none, for cluster-scoped objects) and a known type.
func (eventStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	e := obj.(*corev1.Event)
	var errs []apierrors.FieldError
	io := e.InvolvedObject
	switch {
	case io == nil || (io.Kind == "" && io.Name == ""):
		errs = append(errs, apierrors.Required("involvedObject", ""))
	case io.Namespace != "" && io.Namespace != e.GetMetadata().GetNamespace():
		errs = append(errs, apierrors.Invalid("involvedObject.namespace", io.Namespace, "does not match event.namespace"))
	}
	errs = append(errs, nonNegative("count", int64(e.Count))...)
	return append(errs, enum("type", e.Type, []string{"Normal", "Warning"})...)
}
