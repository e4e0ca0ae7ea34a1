package admission

import (
	"context"
	"fmt"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/core/v1/helper"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// NamespaceGetter finds a namespace; the apiserver passes its store.
type NamespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

// NamespaceLifecycle refuses objects in namespaces that do not exist or
// are being deleted, and the deletion of the system namespaces.
type NamespaceLifecycle struct {
	Get NamespaceGetter
}

// Name is the plugin name as Kubernetes spells it.
func (NamespaceLifecycle) Name() string { return "NamespaceLifecycle" }

// Immortal namespaces cannot be deleted.
var Immortal = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

// Validate implements Validator.
func (p NamespaceLifecycle) Validate(ctx context.Context, a *Attributes) error {
	if a.Kind.Resource == "namespaces" {
		if a.Operation == Delete && Immortal[a.Name] {
			return apierrors.NewForbidden("namespaces", a.Name, "this namespace may not be deleted")
		}
		return nil
	}
	if !a.Kind.Namespaced || a.Operation != Create {
		return nil
	}
	ns, err := p.Get(ctx, a.Namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound("namespaces", a.Namespace)
	}
	if err != nil {
		return err
	}
	if helper.IsNamespaceTerminating(ns) {
		return apierrors.NewForbidden(a.Kind.GroupResource(), objectName(a.Object),
			fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	}
	return nil
}

func objectName(o scheme.Object) string {
	if o == nil {
		return ""
	}
	md := o.GetMetadata()
	if md.GetName() != "" {
		return md.GetName()
	}
	return md.GetGenerateName()
}
