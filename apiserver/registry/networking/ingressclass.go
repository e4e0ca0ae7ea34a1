package networking

import (
	"strings"

	apierrors "minik8s/api/errors"
	networkingv1 "minik8s/api/networking/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() { registry.Register("ingressclasses", ingressClassStrategy{}) }

// ingressClassStrategy requires a domain-prefixed controller name that
// never changes, as Kubernetes does.
type ingressClassStrategy struct{ registry.Base }

// Validate requires spec.controller as DOMAIN/PATH and a parameters
// reference, when given, with a kind, a name and a known scope.
func (ingressClassStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	s := obj.(*networkingv1.IngressClass).GetSpec()
	var errs []apierrors.FieldError
	c := s.GetController()
	switch domain, _, ok := strings.Cut(c, "/"); {
	case c == "":
		errs = append(errs, apierrors.Required("spec.controller", ""))
	case !ok:
		errs = append(errs, apierrors.Invalid("spec.controller", c, "must be a domain-prefixed path (such as \"acme.io/foo\")"))
	case len(c) > 250:
		errs = append(errs, apierrors.Invalid("spec.controller", c, "must be no more than 250 characters"))
	default:
		errs = append(errs, validation.Msgs("spec.controller", c, validation.IsDNS1123Subdomain(domain))...)
	}
	if p := s.GetParameters(); p != nil {
		if p.Kind == "" {
			errs = append(errs, apierrors.Required("spec.parameters.kind", ""))
		}
		if p.Name == "" {
			errs = append(errs, apierrors.Required("spec.parameters.name", ""))
		}
		switch p.GetScope() {
		case "", "Cluster":
			if p.Namespace != nil {
				errs = append(errs, apierrors.Invalid("spec.parameters.namespace", p.GetNamespace(), "`parameters.scope` is set to 'Cluster'"))
			}
		case "Namespace":
			if p.GetNamespace() == "" {
				errs = append(errs, apierrors.Required("spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'"))
			}
		default:
			errs = append(errs, validation.Enum("spec.parameters.scope", p.GetScope(), []string{"Cluster", "Namespace"})...)
		}
	}
	return errs
}

// ValidateUpdate keeps spec.controller: Ingresses of the class would
// silently move to another controller.
func (st ingressClassStrategy) ValidateUpdate(obj, old scheme.Object) []apierrors.FieldError {
	errs := st.Validate(obj)
	if n, o := obj.(*networkingv1.IngressClass).GetSpec().GetController(), old.(*networkingv1.IngressClass).GetSpec().GetController(); n != o {
		errs = append(errs, apierrors.Invalid("spec.controller", n, "field is immutable"))
	}
	return errs
}
