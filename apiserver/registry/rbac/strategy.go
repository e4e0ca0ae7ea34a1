// Package rbac holds the strategies of Roles, ClusterRoles, RoleBindings
// and ClusterRoleBindings (defaults and validation, as Kubernetes checks
// them) and their storage, which refuses privilege escalation: nobody
// writes a role granting, or a binding to a role holding, permissions
// they do not hold themselves, unless they have the escalate or bind verb
// (escalation.go).
package rbac

import (
	"slices"

	apierrors "minik8s/api/errors"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/registry"
	"minik8s/apiserver/validation"
)

func init() {
	registry.Register("roles", roleStrategy{})
	registry.Register("clusterroles", clusterRoleStrategy{})
	registry.Register("rolebindings", bindingStrategy{namespaced: true})
	registry.Register("clusterrolebindings", bindingStrategy{})
}

type roleStrategy struct{ registry.Base }

// Validate checks every rule; a namespaced role cannot name URLs.
func (roleStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	return validateRules(obj.(*rbacv1.Role).GetRules(), true)
}

type clusterRoleStrategy struct{ registry.Base }

// Validate checks the rules and the aggregation rule's selectors.
func (clusterRoleStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	r := obj.(*rbacv1.ClusterRole)
	errs := validateRules(r.GetRules(), false)
	if ar := r.GetAggregationRule(); ar != nil {
		if len(ar.GetClusterRoleSelectors()) == 0 {
			errs = append(errs, apierrors.Required("aggregationRule.clusterRoleSelectors",
				"at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i, sel := range ar.GetClusterRoleSelectors() {
			errs = append(errs, validation.ValidateLabelSelector(sel, validation.Index("aggregationRule.clusterRoleSelectors", i))...)
		}
	}
	return errs
}

// ValidateUpdate: an aggregated role's rules are the apiserver's to
// write, but a user may still turn aggregation on or off, so nothing is
// immutable here (as in Kubernetes).
func (clusterRoleStrategy) ValidateUpdate(_, _ scheme.Object) []apierrors.FieldError { return nil }

// validateRules checks rules as Kubernetes does: verbs are required; a
// rule is either about URLs (cluster roles only) or about resources, and
// then names groups and resources.
func validateRules(rules []*rbacv1.PolicyRule, namespaced bool) []apierrors.FieldError {
	var errs []apierrors.FieldError
	for i, r := range rules {
		p := validation.Index("rules", i)
		if len(r.GetVerbs()) == 0 {
			errs = append(errs, apierrors.Required(p+".verbs", "verbs must contain at least one value"))
		}
		if len(r.GetNonResourceURLs()) > 0 {
			if namespaced {
				errs = append(errs, apierrors.Invalid(p+".nonResourceURLs", r.GetNonResourceURLs(), "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.GetApiGroups()) > 0 || len(r.GetResources()) > 0 || len(r.GetResourceNames()) > 0 {
				errs = append(errs, apierrors.Invalid(p+".nonResourceURLs", r.GetNonResourceURLs(), "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.GetApiGroups()) == 0 {
			errs = append(errs, apierrors.Required(p+".apiGroups", "resource rules must supply at least one api group"))
		}
		if len(r.GetResources()) == 0 {
			errs = append(errs, apierrors.Required(p+".resources", "resource rules must supply at least one resource"))
		}
	}
	return errs
}

// bindingStrategy serves both binding kinds; namespaced is RoleBinding.
type bindingStrategy struct {
	registry.Base
	namespaced bool
}

// Default fills the API groups Kubernetes' v1 defaults fill: the role
// reference's, and the users' and groups'.
func (bindingStrategy) Default(obj scheme.Object) {
	ref, subjects := bindingParts(obj)
	if ref != nil && ref.ApiGroup == "" {
		ref.ApiGroup = rbacv1.Group
	}
	for _, s := range subjects {
		if s.ApiGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.ApiGroup = rbacv1.Group
		}
	}
}

func bindingParts(obj scheme.Object) (*rbacv1.RoleRef, []*rbacv1.Subject) {
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		return b.GetRoleRef(), b.GetSubjects()
	case *rbacv1.ClusterRoleBinding:
		return b.GetRoleRef(), b.GetSubjects()
	}
	return nil, nil
}

// Validate checks the role reference and the subjects.
func (s bindingStrategy) Validate(obj scheme.Object) []apierrors.FieldError {
	ref, subjects := bindingParts(obj)
	var errs []apierrors.FieldError
	if ref == nil {
		errs = append(errs, apierrors.Required("roleRef", ""))
	} else {
		if ref.GetApiGroup() != rbacv1.Group {
			errs = append(errs, apierrors.NotSupported("roleRef.apiGroup", ref.GetApiGroup(), []string{rbacv1.Group}))
		}
		kinds := []string{"ClusterRole"}
		if s.namespaced {
			kinds = []string{"Role", "ClusterRole"}
		}
		if !slices.Contains(kinds, ref.GetKind()) {
			errs = append(errs, apierrors.NotSupported("roleRef.kind", ref.GetKind(), kinds))
		}
		if ref.GetName() == "" {
			errs = append(errs, apierrors.Required("roleRef.name", ""))
		} else {
			errs = append(errs, validation.Msgs("roleRef.name", ref.GetName(), validation.IsValidPathSegmentName(ref.GetName()))...)
		}
	}
	for i, sub := range subjects {
		errs = append(errs, validateSubject(sub, validation.Index("subjects", i), s.namespaced)...)
	}
	return errs
}

func validateSubject(s *rbacv1.Subject, p string, namespaced bool) []apierrors.FieldError {
	var errs []apierrors.FieldError
	if s.GetName() == "" {
		errs = append(errs, apierrors.Required(p+".name", ""))
	}
	switch s.GetKind() {
	case rbacv1.ServiceAccountKind:
		if s.GetName() != "" {
			errs = append(errs, validation.Msgs(p+".name", s.GetName(), validation.IsDNS1123Subdomain(s.GetName()))...)
		}
		if s.GetApiGroup() != "" {
			errs = append(errs, apierrors.NotSupported(p+".apiGroup", s.GetApiGroup(), []string{""}))
		}
		if !namespaced && s.GetNamespace() == "" {
			errs = append(errs, apierrors.Required(p+".namespace", ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.GetApiGroup() != rbacv1.Group {
			errs = append(errs, apierrors.NotSupported(p+".apiGroup", s.GetApiGroup(), []string{rbacv1.Group}))
		}
	default:
		errs = append(errs, apierrors.NotSupported(p+".kind", s.GetKind(),
			[]string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

// ValidateUpdate keeps roleRef: a binding grants one role for its life.
func (bindingStrategy) ValidateUpdate(newObj, oldObj scheme.Object) []apierrors.FieldError {
	nr, _ := bindingParts(newObj)
	or, _ := bindingParts(oldObj)
	if nr.GetApiGroup() != or.GetApiGroup() || nr.GetKind() != or.GetKind() || nr.GetName() != or.GetName() {
		return []apierrors.FieldError{apierrors.Invalid("roleRef", nr.GetKind()+"/"+nr.GetName(), "cannot change roleRef")}
	}
	return nil
}
