package core

import (
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("serviceaccounts", serviceAccountStrategy{}) }

// serviceAccountStrategy checks the names of referenced secrets.
type serviceAccountStrategy struct{ registry.Base }

// Validate checks that secret and image-pull-secret references name objects.
func (serviceAccountStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	sa := obj.(*corev1.ServiceAccount)
	var errs []apierrors.FieldError
	for i, s := range sa.Secrets {
		errs = append(errs, validateRefName(s.Name, child(index("secrets", i), "name"))...)
	}
	for i, s := range sa.ImagePullSecrets {
		errs = append(errs, validateRefName(s.Name, child(index("imagePullSecrets", i), "name"))...)
	}
	return errs
}

// validateRefName checks the name of a referenced object: required, a
// DNS-1123 subdomain.
func validateRefName(name, p string) []apierrors.FieldError {
	if name == "" {
		return []apierrors.FieldError{apierrors.Required(p, "")}
	}
	return msgs(p, name, validation.IsDNS1123Subdomain(name))
}
