package core

import (
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("namespaces", namespaceStrategy{}) }

// namespaceStrategy gives a new namespace the "kubernetes" finalizer and
// phase Active, and labels every namespace with its own name.
type namespaceStrategy struct{ registry.Base }

// nameLabel is the label Kubernetes puts on every namespace so selectors
// can pick namespaces by name.
const nameLabel = "kubernetes.io/metadata.name"

// Default runs on create and update. Only a new namespace (no phase yet)
// gets the "kubernetes" finalizer: the namespace controller removes it
// from a Terminating namespace, and re-adding it would block deletion.
func (namespaceStrategy) Default(obj scheme.Object) {
	ns := obj.(*corev1.Namespace)
	if ns.Spec == nil {
		ns.Spec = &corev1.NamespaceSpec{}
	}
	if ns.Status == nil {
		ns.Status = &corev1.NamespaceStatus{}
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = "Active"
		if len(ns.Spec.Finalizers) == 0 {
			ns.Spec.Finalizers = []string{"kubernetes"}
		}
	}
	md := scheme.Meta(ns)
	if md.Name != "" {
		if md.Labels == nil {
			md.Labels = map[string]string{}
		}
		md.Labels[nameLabel] = md.Name
	}
}

// Validate checks spec.finalizers and status.phase (the name rule is
// applied with the metadata: an RFC 1123 label).
func (namespaceStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	ns := obj.(*corev1.Namespace)
	var errs []apierrors.FieldError
	for i, f := range ns.GetSpec().GetFinalizers() {
		errs = append(errs, msgs(index("spec.finalizers", i), f, validation.IsQualifiedName(f))...)
	}
	return append(errs, optionalEnum("status.phase", ns.GetStatus().GetPhase(), []string{"Active", "Terminating"})...)
}
