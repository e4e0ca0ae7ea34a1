package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apierrors "minik8s/api/errors"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/auth/rbac"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
)

// Policy answers what the escalation check asks: the rules a user holds
// in a namespace ("" for cluster-wide only), and the rules of the role a
// binding refers to. The RBAC authorizer (apiserver/auth/rbac) is one.
type Policy interface {
	Rules(u *auth.User, namespace string) ([]*rbacv1.PolicyRule, []error)
	RoleRules(ref *rbacv1.RoleRef, namespace string) ([]*rbacv1.PolicyRule, error)
}

// Storage serves roles, clusterroles, rolebindings or clusterrolebindings
// from the generic store, refusing escalation as Kubernetes does: a role
// may be written only by a caller who holds every rule it grants, or may
// "escalate" on it; a binding only by a caller who holds every rule of
// the role it refers to, or may "bind" it. Members of system:masters may
// always. The caller comes from the request's context (auth.UserFrom).
type Storage struct {
	*generic.Resource
	Policy     Policy
	Authorizer auth.Authorizer
}

// fullAuthority is what setting an aggregationRule needs: it can gather
// any rule.
var fullAuthority = []*rbacv1.PolicyRule{
	{Verbs: []string{"*"}, ApiGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// Create implements rest.Creater.
func (s *Storage) Create(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	if err := s.check(ctx, ns, obj); err != nil {
		return nil, err
	}
	return s.Resource.Create(ctx, ns, obj, o)
}

// Update implements rest.Updater. An update that leaves what the object
// grants as it is (metadata only: labels, ownerReferences and finalizers
// the garbage collector edits) grants nothing new and is not checked;
// Kubernetes exempts only the garbage collector's fields.
func (s *Storage) Update(ctx context.Context, ns string, obj scheme.Object, o rest.WriteOptions) (scheme.Object, error) {
	if old, err := s.Resource.Get(ctx, ns, obj.GetMetadata().GetName()); err != nil || !samePayload(old, obj) {
		if err := s.check(ctx, ns, obj); err != nil {
			return nil, err
		}
	}
	return s.Resource.Update(ctx, ns, obj, o)
}

// samePayload reports whether two objects of one kind grant the same:
// equal apart from their metadata.
func samePayload(a, b scheme.Object) bool {
	if a.ProtoReflect().Descriptor() != b.ProtoReflect().Descriptor() {
		return false
	}
	ac, bc := proto.Clone(a).(scheme.Object), proto.Clone(b).(scheme.Object)
	for _, o := range []scheme.Object{ac, bc} {
		m := o.ProtoReflect()
		for _, f := range []protoreflect.Name{"metadata", "apiVersion", "kind"} {
			m.Clear(m.Descriptor().Fields().ByName(f))
		}
	}
	return proto.Equal(ac, bc)
}

func (s *Storage) check(ctx context.Context, ns string, obj scheme.Object) error {
	k := s.Kind()
	if !k.Namespaced {
		ns = ""
	}
	name := obj.GetMetadata().GetName()
	gr := k.GroupResource()
	u := auth.UserFrom(ctx)
	if u == nil {
		return apierrors.NewForbidden(gr, name, "no user on request")
	}
	if slices.Contains(u.Groups, auth.GroupMasters) {
		return nil
	}
	switch o := obj.(type) {
	case *rbacv1.Role:
		if s.may(ctx, u, "escalate", k.Resource, ns, name) {
			return nil
		}
		return s.noEscalation(u, ns, gr, name, o.GetRules())
	case *rbacv1.ClusterRole:
		if s.may(ctx, u, "escalate", k.Resource, "", name) {
			return nil
		}
		if err := s.noEscalation(u, "", gr, name, o.GetRules()); err != nil {
			return err
		}
		if o.GetAggregationRule() != nil {
			if err := s.noEscalation(u, "", gr, name, fullAuthority); err != nil {
				return apierrors.NewForbidden(gr, name, "must have cluster-admin privileges to use the aggregationRule")
			}
		}
		return nil
	case *rbacv1.RoleBinding:
		return s.checkBinding(ctx, u, ns, gr, name, o.GetRoleRef())
	case *rbacv1.ClusterRoleBinding:
		return s.checkBinding(ctx, u, "", gr, name, o.GetRoleRef())
	}
	return apierrors.NewBadRequest(fmt.Sprintf("%s take a %s", k.Resource, k.Kind))
}

func (s *Storage) checkBinding(ctx context.Context, u *auth.User, ns, gr, name string, ref *rbacv1.RoleRef) error {
	res := "clusterroles"
	if ref.GetKind() == "Role" {
		res = "roles"
	}
	if s.may(ctx, u, "bind", res, ns, ref.GetName()) {
		return nil
	}
	rules, err := s.Policy.RoleRules(ref, ns)
	if err != nil {
		return apierrors.NewNotFound(res+"."+rbacv1.Group, ref.GetName())
	}
	return s.noEscalation(u, ns, gr, name, rules)
}

// may asks the authorizer whether u may do verb (escalate, bind) on a
// role.
func (s *Storage) may(ctx context.Context, u *auth.User, verb, resource, ns, name string) bool {
	if s.Authorizer == nil {
		return false
	}
	d, _, _ := s.Authorizer.Authorize(ctx, auth.Attributes{User: u, Verb: verb, Group: rbacv1.Group,
		Resource: resource, Namespace: ns, Name: name})
	return d == auth.Allow
}

// noEscalation refuses rules u does not hold in ns, in Kubernetes' words.
func (s *Storage) noEscalation(u *auth.User, ns, gr, name string, rules []*rbacv1.PolicyRule) error {
	owned, errs := s.Policy.Rules(u, ns)
	ok, missing := rbac.Covers(owned, rules)
	if ok {
		return nil
	}
	lines := make([]string, len(missing))
	for i, m := range missing {
		lines[i] = rbac.CompactString(m)
	}
	slices.Sort(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		u.Name, u.Groups, strings.Join(lines, "\n"))
	if len(errs) > 0 {
		msg += fmt.Sprintf("; resolution errors: %v", errors.Join(errs...))
	}
	return apierrors.NewForbidden(gr, name, msg)
}
