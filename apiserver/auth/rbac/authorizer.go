// Package rbac is the RBAC authorizer (--authorization-mode=RBAC): a
// request is allowed when a RoleBinding of its namespace or a
// ClusterRoleBinding grants the caller, one of its groups or its service
// account a role with a rule that matches it. The authorizer keeps its
// own index of roles and bindings, fed by the apiserver's watch caches
// (Run), with bindings indexed by subject: a decision looks at the
// bindings of the caller's name, groups and service account only, never
// at all bindings.
package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// Authorizer decides requests from the roles and bindings it holds. The
// zero value is not usable; use New.
type Authorizer struct {
	mu           sync.RWMutex
	roles        map[string]*rbacv1.Role        // namespace/name
	clusterRoles map[string]*rbacv1.ClusterRole // name
	// bindings by key (namespace/name, or /name for cluster bindings),
	// to find a binding's old subjects when it changes.
	bindings map[string]*binding
	// bySubject indexes bindings by the subject they grant to: the key is
	// subjectKey's, prefixed by the binding's namespace ("" for
	// ClusterRoleBindings). Each list is sorted by binding name.
	bySubject map[string][]*binding
}

// binding is the part of a (Cluster)RoleBinding the authorizer needs.
type binding struct {
	namespace, name string // namespace "" for a ClusterRoleBinding
	roleKind        string // Role or ClusterRole
	roleName        string
	subjects        []*rbacv1.Subject
	keys            []string // subjectKey of each subject, computed once
}

// New returns an authorizer holding no roles or bindings.
func New() *Authorizer {
	return &Authorizer{
		roles: map[string]*rbacv1.Role{}, clusterRoles: map[string]*rbacv1.ClusterRole{},
		bindings: map[string]*binding{}, bySubject: map[string][]*binding{},
	}
}

var _ auth.Authorizer = (*Authorizer)(nil)
var _ auth.RuleResolver = (*Authorizer)(nil)

// Subject index keys.
func userKey(name string) string  { return "U\x00" + name }
func groupKey(name string) string { return "G\x00" + name }
func saKey(ns, name string) string {
	return "S\x00" + ns + "\x00" + name
}

// subjectKey is s's key within a binding of namespace bindingNS; a
// service account without a namespace is the binding's namespace's.
func subjectKey(s *rbacv1.Subject, bindingNS string) string {
	switch s.GetKind() {
	case rbacv1.UserKind:
		return userKey(s.GetName())
	case rbacv1.GroupKind:
		return groupKey(s.GetName())
	case rbacv1.ServiceAccountKind:
		ns := s.GetNamespace()
		if ns == "" {
			ns = bindingNS
		}
		return saKey(ns, s.GetName())
	}
	return ""
}

// userKeys are the index keys a user matches: its name, its groups and,
// for a service-account user system:serviceaccount:NS:NAME, the account.
func userKeys(u *auth.User) []string {
	keys := make([]string, 0, 2+len(u.Groups))
	keys = append(keys, userKey(u.Name))
	if rest, ok := strings.CutPrefix(u.Name, auth.ServiceAccountPrefix); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok && ns != "" && name != "" && !strings.Contains(name, ":") {
			keys = append(keys, saKey(ns, name))
		}
	}
	for _, g := range u.Groups {
		keys = append(keys, groupKey(g))
	}
	return keys
}

// Apply records obj (a Role, ClusterRole, RoleBinding or
// ClusterRoleBinding) as current, or as gone when deleted.
func (z *Authorizer) Apply(obj scheme.Object, deleted bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.applyLocked(obj, deleted)
}

func (z *Authorizer) applyLocked(obj scheme.Object, deleted bool) {
	md := obj.GetMetadata()
	switch o := obj.(type) {
	case *rbacv1.Role:
		if deleted {
			delete(z.roles, md.GetNamespace()+"/"+md.GetName())
		} else {
			z.roles[md.GetNamespace()+"/"+md.GetName()] = o
		}
	case *rbacv1.ClusterRole:
		if deleted {
			delete(z.clusterRoles, md.GetName())
		} else {
			z.clusterRoles[md.GetName()] = o
		}
	case *rbacv1.RoleBinding:
		z.setBinding(md.GetNamespace(), md.GetName(), o.GetRoleRef(), o.GetSubjects(), deleted)
	case *rbacv1.ClusterRoleBinding:
		z.setBinding("", md.GetName(), o.GetRoleRef(), o.GetSubjects(), deleted)
	}
}

func (z *Authorizer) setBinding(ns, name string, ref *rbacv1.RoleRef, subjects []*rbacv1.Subject, deleted bool) {
	key := ns + "/" + name
	if old, ok := z.bindings[key]; ok {
		for _, sk := range old.keys {
			k := ns + "\x00" + sk
			list := slices.DeleteFunc(z.bySubject[k], func(b *binding) bool { return b == old })
			if len(list) == 0 {
				delete(z.bySubject, k)
			} else {
				z.bySubject[k] = list
			}
		}
		delete(z.bindings, key)
	}
	if deleted {
		return
	}
	b := &binding{namespace: ns, name: name, roleKind: ref.GetKind(), roleName: ref.GetName(), subjects: subjects}
	for _, s := range subjects {
		b.keys = append(b.keys, subjectKey(s, ns))
	}
	z.bindings[key] = b
	for _, sk := range b.keys {
		k := ns + "\x00" + sk
		list := z.bySubject[k]
		if slices.Contains(list, b) {
			continue // the same subject twice
		}
		i, _ := slices.BinarySearchFunc(list, name, func(x *binding, n string) int { return strings.Compare(x.name, n) })
		z.bySubject[k] = slices.Insert(list, i, b)
	}
}

// Replace drops every object of kind k and records objs instead (a
// relist).
func (z *Authorizer) Replace(k *scheme.Kind, objs []scheme.Object) {
	z.mu.Lock()
	defer z.mu.Unlock()
	switch k.Kind {
	case "Role":
		z.roles = map[string]*rbacv1.Role{}
	case "ClusterRole":
		z.clusterRoles = map[string]*rbacv1.ClusterRole{}
	case "RoleBinding", "ClusterRoleBinding":
		cluster := k.Kind == "ClusterRoleBinding"
		for _, b := range z.bindings {
			if (b.namespace == "") == cluster {
				z.setBinding(b.namespace, b.name, nil, nil, true)
			}
		}
	}
	for _, o := range objs {
		z.applyLocked(o, false)
	}
}

// visit calls f with each binding that applies to u in namespace ns (the
// cluster bindings first, then ns's role bindings) with the subject that
// matched, until f returns false.
func (z *Authorizer) visit(u *auth.User, ns string, f func(b *binding, s *rbacv1.Subject) bool) {
	keys := userKeys(u)
	scopes := []string{""}
	if ns != "" {
		scopes = append(scopes, ns)
	}
	for _, scope := range scopes {
		for _, k := range keys {
			for _, b := range z.bySubject[scope+"\x00"+k] {
				for i, s := range b.subjects {
					if b.keys[i] == k {
						if !f(b, s) {
							return
						}
						break
					}
				}
			}
		}
	}
}

// rulesOf returns the rules of b's role, or an error naming the missing
// role as Kubernetes does.
func (z *Authorizer) rulesOf(b *binding) ([]*rbacv1.PolicyRule, error) {
	switch b.roleKind {
	case "ClusterRole":
		if r, ok := z.clusterRoles[b.roleName]; ok {
			return r.GetRules(), nil
		}
		return nil, fmt.Errorf("clusterrole.rbac.authorization.k8s.io %q not found", b.roleName)
	case "Role":
		if r, ok := z.roles[b.namespace+"/"+b.roleName]; ok {
			return r.GetRules(), nil
		}
		return nil, fmt.Errorf("role.rbac.authorization.k8s.io %q not found", b.roleName)
	}
	return nil, fmt.Errorf("unknown role kind %q", b.roleKind)
}

// Authorize allows a when a binding grants it, with Kubernetes' reason
// ("RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "view" to
// User "jane""); otherwise NoOpinion, so that the next authorizer may
// decide, with the bindings naming missing roles as the reason.
func (z *Authorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	if a.User == nil {
		return auth.NoOpinion, "", nil
	}
	z.mu.RLock()
	defer z.mu.RUnlock()
	var allowedBy string
	var errs []string
	z.visit(a.User, a.Namespace, func(b *binding, s *rbacv1.Subject) bool {
		rules, err := z.rulesOf(b)
		if err != nil {
			errs = append(errs, err.Error())
			return true
		}
		for _, r := range rules {
			if RuleAllows(a, r) {
				allowedBy = describe(b, s)
				return false
			}
		}
		return true
	})
	if allowedBy != "" {
		return auth.Allow, "RBAC: allowed by " + allowedBy, nil
	}
	if len(errs) > 0 {
		return auth.NoOpinion, "RBAC: " + joinErrors(errs), nil
	}
	return auth.NoOpinion, "", nil
}

func joinErrors(errs []string) string {
	if len(errs) == 1 {
		return errs[0]
	}
	return "[" + strings.Join(errs, ", ") + "]"
}

// describe names a binding and the subject it matched, in Kubernetes'
// words.
func describe(b *binding, s *rbacv1.Subject) string {
	subject := fmt.Sprintf("%s %q", s.GetKind(), s.GetName())
	if s.GetKind() == rbacv1.ServiceAccountKind {
		ns := s.GetNamespace()
		if ns == "" {
			ns = b.namespace
		}
		subject = fmt.Sprintf("%s %q", s.GetKind(), s.GetName()+"/"+ns)
	}
	if b.namespace == "" {
		return fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", b.name, b.roleKind, b.roleName, subject)
	}
	return fmt.Sprintf("RoleBinding %q of %s %q to %s", b.name+"/"+b.namespace, b.roleKind, b.roleName, subject)
}

// Rules returns every rule granted to u in namespace ns (cluster-wide
// grants included; ns "" gives the cluster-wide ones only) and the
// errors of bindings whose roles are missing. The escalation check
// compares a new role's rules with these.
func (z *Authorizer) Rules(u *auth.User, ns string) ([]*rbacv1.PolicyRule, []error) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	var out []*rbacv1.PolicyRule
	var errs []error
	seen := map[*binding]bool{}
	z.visit(u, ns, func(b *binding, _ *rbacv1.Subject) bool {
		if seen[b] {
			return true
		}
		seen[b] = true
		rules, err := z.rulesOf(b)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, rules...)
		return true
	})
	return out, errs
}

// RoleRules returns the rules of the role a binding in namespace ns
// refers to (kind Role or ClusterRole); NotFound-style error when it is
// missing.
func (z *Authorizer) RoleRules(ref *rbacv1.RoleRef, ns string) ([]*rbacv1.PolicyRule, error) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.rulesOf(&binding{namespace: ns, roleKind: ref.GetKind(), roleName: ref.GetName()})
}

// ClusterRoles returns the cluster roles held now (shared: do not
// modify them).
func (z *Authorizer) ClusterRoles() []*rbacv1.ClusterRole {
	z.mu.RLock()
	defer z.mu.RUnlock()
	out := make([]*rbacv1.ClusterRole, 0, len(z.clusterRoles))
	for _, r := range z.clusterRoles {
		out = append(out, r)
	}
	return out
}

// RulesFor implements auth.RuleResolver (SelfSubjectRulesReview, kubectl
// auth can-i --list): incomplete when a binding names a missing role.
func (z *Authorizer) RulesFor(_ context.Context, u *auth.User, ns string) ([]auth.ResourceRule, []auth.NonResourceRule, bool, error) {
	rules, errs := z.Rules(u, ns)
	var res []auth.ResourceRule
	var non []auth.NonResourceRule
	for _, r := range rules {
		if len(r.GetNonResourceURLs()) > 0 {
			non = append(non, auth.NonResourceRule{Verbs: r.GetVerbs(), NonResourceURLs: r.GetNonResourceURLs()})
		}
		if len(r.GetResources()) > 0 {
			res = append(res, auth.ResourceRule{Verbs: r.GetVerbs(), APIGroups: r.GetApiGroups(),
				Resources: r.GetResources(), ResourceNames: r.GetResourceNames()})
		}
	}
	return res, non, len(errs) > 0, nil
}
