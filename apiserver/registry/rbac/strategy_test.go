package rbac

import (
	"testing"

	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	vt "minik8s/apiserver/validation/validationtest"
)

func validRole() *rbacv1.Role {
	return &rbacv1.Role{Metadata: vt.Meta("pod-reader", "default", nil), Rules: []*rbacv1.PolicyRule{
		{Verbs: l("get"), ApiGroups: l(""), Resources: l("pods")}}}
}

func TestRoleValidate(t *testing.T) {
	vt.Validate(t, "roles", validRole, []vt.Case[*rbacv1.Role]{
		vt.C("no verbs", func(r *rbacv1.Role) { r.Rules[0].Verbs = nil }, "rules[0].verbs"),
		vt.C("no groups", func(r *rbacv1.Role) { r.Rules[0].ApiGroups = nil }, "rules[0].apiGroups"),
		vt.C("no resources", func(r *rbacv1.Role) { r.Rules[0].Resources = nil }, "rules[0].resources"),
		vt.C("urls in a namespaced role", func(r *rbacv1.Role) {
			r.Rules = append(r.Rules, &rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("/healthz")})
		}, "rules[1].nonResourceURLs"),
		vt.C("a name with a colon", func(r *rbacv1.Role) { r.Metadata.Name = "system:thing" }, ""),
		vt.C("no rules", func(r *rbacv1.Role) { r.Rules = nil }, ""),
	})
}

func validClusterRole() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{Metadata: vt.Meta("system:viewer", "", nil), Rules: []*rbacv1.PolicyRule{
		{Verbs: l("get"), NonResourceURLs: l("/healthz", "/api/*")}}}
}

func TestClusterRoleValidate(t *testing.T) {
	vt.Validate(t, "clusterroles", validClusterRole, []vt.Case[*rbacv1.ClusterRole]{
		vt.C("urls and resources", func(r *rbacv1.ClusterRole) { r.Rules[0].Resources = l("pods") }, "rules[0].nonResourceURLs"),
		vt.C("empty aggregation", func(r *rbacv1.ClusterRole) { r.AggregationRule = &rbacv1.AggregationRule{} }, "aggregationRule.clusterRoleSelectors"),
		vt.C("bad selector", func(r *rbacv1.ClusterRole) {
			r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{"a": "b c"}}}}
		}, "aggregationRule.clusterRoleSelectors[0].matchLabels[a]"),
	})
}

func validRoleBinding() *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{Metadata: vt.Meta("read-pods", "default", nil),
		RoleRef:  &rbacv1.RoleRef{Kind: "Role", Name: "pod-reader"},
		Subjects: []*rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "ServiceAccount", Name: "ci"}, {Kind: "Group", Name: "devs"}}}
}

func TestRoleBindingValidate(t *testing.T) {
	vt.Validate(t, "rolebindings", validRoleBinding, []vt.Case[*rbacv1.RoleBinding]{
		vt.C("no roleRef", func(b *rbacv1.RoleBinding) { b.RoleRef = nil }, "roleRef"),
		vt.C("wrong roleRef kind", func(b *rbacv1.RoleBinding) { b.RoleRef.Kind = "Pod" }, "roleRef.kind"),
		vt.C("wrong roleRef group", func(b *rbacv1.RoleBinding) { b.RoleRef.ApiGroup = "apps" }, "roleRef.apiGroup"),
		vt.C("no roleRef name", func(b *rbacv1.RoleBinding) { b.RoleRef.Name = "" }, "roleRef.name"),
		vt.C("unknown subject kind", func(b *rbacv1.RoleBinding) { b.Subjects[0].Kind = "Robot" }, "subjects[0].kind"),
		vt.C("subject without a name", func(b *rbacv1.RoleBinding) { b.Subjects[2].Name = "" }, "subjects[2].name"),
		vt.C("service account with a group", func(b *rbacv1.RoleBinding) { b.Subjects[1].ApiGroup = rbacv1.Group }, "subjects[1].apiGroup"),
		vt.C("user of another group", func(b *rbacv1.RoleBinding) { b.Subjects[0].ApiGroup = "example.com" }, "subjects[0].apiGroup"),
	})
}

func TestClusterRoleBindingValidate(t *testing.T) {
	valid := func() *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{Metadata: vt.Meta("admins", "", nil),
			RoleRef:  &rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []*rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci", Namespace: "default"}}}
	}
	vt.Validate(t, "clusterrolebindings", valid, []vt.Case[*rbacv1.ClusterRoleBinding]{
		vt.C("a Role", func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Kind = "Role" }, "roleRef.kind"),
		vt.C("service account without namespace", func(b *rbacv1.ClusterRoleBinding) { b.Subjects[0].Namespace = "" }, "subjects[0].namespace"),
	})
	vt.ValidateUpdate(t, "clusterrolebindings", valid, []vt.Case[*rbacv1.ClusterRoleBinding]{
		vt.C("roleRef changes", func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Name = "view" }, "roleRef"),
		vt.C("subjects change", func(b *rbacv1.ClusterRoleBinding) { b.Subjects = nil }, ""),
	})
}
