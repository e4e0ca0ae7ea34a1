package core

import (
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
)

func init() { registry.Register("bindings", bindingStrategy{}) }

// bindingStrategy checks that a binding targets a node by name.
type bindingStrategy struct{ registry.Base }

// Validate requires target.name and allows only kind Node.
func (bindingStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	t := obj.(*corev1.Binding).Target
	var errs []apierrors.FieldError
	if t.GetName() == "" {
		errs = append(errs, apierrors.Required("target.name", ""))
	}
	if k := t.GetKind(); k != "" && k != "Node" {
		errs = append(errs, apierrors.NotSupported("target.kind", k, []string{"Node"}))
	}
	return errs
}
