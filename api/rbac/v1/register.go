// Package rbacv1 holds the rbac.authorization.k8s.io/v1 kinds: Role,
// ClusterRole, RoleBinding and ClusterRoleBinding.
package rbacv1

import "minik8s/api/scheme"

// Group is the API group of these kinds.
const Group = "rbac.authorization.k8s.io"

// Subject kinds.
const (
	UserKind           = "User"
	GroupKind          = "Group"
	ServiceAccountKind = "ServiceAccount"
)

// The kinds, for callers that read or write them directly.
var (
	RoleKind = &scheme.Kind{Group: Group, Version: "v1", Kind: "Role", Resource: "roles",
		Namespaced: true, New: func() scheme.Object { return &Role{} }}
	ClusterRoleKind = &scheme.Kind{Group: Group, Version: "v1", Kind: "ClusterRole", Resource: "clusterroles",
		New: func() scheme.Object { return &ClusterRole{} }}
	RoleBindingKind = &scheme.Kind{Group: Group, Version: "v1", Kind: "RoleBinding", Resource: "rolebindings",
		Namespaced: true, New: func() scheme.Object { return &RoleBinding{} }}
	ClusterRoleBindingKind = &scheme.Kind{Group: Group, Version: "v1", Kind: "ClusterRoleBinding", Resource: "clusterrolebindings",
		New: func() scheme.Object { return &ClusterRoleBinding{} }}
)

func init() {
	for _, k := range []*scheme.Kind{RoleKind, ClusterRoleKind, RoleBindingKind, ClusterRoleBindingKind} {
		scheme.Register(k)
	}
}
