package rbac

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/apiserver/auth"
)

func rule(verbs, groups, resources []string, names ...string) *rbacv1.PolicyRule {
	return &rbacv1.PolicyRule{Verbs: verbs, ApiGroups: groups, Resources: resources, ResourceNames: names}
}

func urls(verbs []string, u ...string) *rbacv1.PolicyRule {
	return &rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: u}
}

func l(s ...string) []string { return s }

func clusterRole(name string, rules ...*rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: name}, Rules: rules}
}

func role(ns, name string, rules ...*rbacv1.PolicyRule) *rbacv1.Role {
	return &rbacv1.Role{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

func user(n string) *rbacv1.Subject {
	return &rbacv1.Subject{Kind: "User", ApiGroup: rbacv1.Group, Name: n}
}
func group(n string) *rbacv1.Subject {
	return &rbacv1.Subject{Kind: "Group", ApiGroup: rbacv1.Group, Name: n}
}
func sa(ns, n string) *rbacv1.Subject {
	return &rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: n}
}

func crb(name, roleName string, subjects ...*rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{Metadata: &metav1.ObjectMeta{Name: name}, Subjects: subjects,
		RoleRef: &rbacv1.RoleRef{ApiGroup: rbacv1.Group, Kind: "ClusterRole", Name: roleName}}
}

func rb(ns, name, kind, roleName string, subjects ...*rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Subjects: subjects,
		RoleRef: &rbacv1.RoleRef{ApiGroup: rbacv1.Group, Kind: kind, Name: roleName}}
}

func fixture() *Authorizer {
	z := New()
	z.Apply(clusterRole("pod-reader", rule(l("get", "list", "watch"), l(""), l("pods"))), false)
	z.Apply(clusterRole("everything", rule(l("*"), l("*"), l("*")), urls(l("*"), "*")), false)
	z.Apply(clusterRole("scaler", rule(l("update"), l("*"), l("*/scale"))), false)
	z.Apply(clusterRole("pod-sub", rule(l("get"), l(""), l("pods/*"))), false)
	z.Apply(clusterRole("logs", rule(l("get"), l(""), l("pods/log"))), false)
	z.Apply(clusterRole("cm-one", rule(l("get", "update", "list"), l(""), l("configmaps"), "one")), false)
	z.Apply(clusterRole("health", urls(l("get"), "/healthz", "/api/*")), false)
	z.Apply(role("team", "deployer", rule(l("create", "delete"), l("apps"), l("deployments"))), false)

	z.Apply(crb("masters", "everything", group("system:masters")), false)
	z.Apply(crb("readers", "pod-reader", user("jane")), false)
	z.Apply(crb("scalers", "scaler", user("scott")), false)
	z.Apply(crb("health", "health", group("system:authenticated")), false)
	z.Apply(rb("team", "sub", "ClusterRole", "pod-sub", user("sue")), false)
	z.Apply(rb("team", "logs", "ClusterRole", "logs", user("lou")), false)
	z.Apply(rb("team", "cm", "ClusterRole", "cm-one", user("cam")), false)
	z.Apply(rb("team", "deployers", "Role", "deployer", sa("", "ci"), group("devs")), false)
	z.Apply(crb("sa-readers", "pod-reader", group("system:serviceaccounts:ops")), false)
	z.Apply(rb("team", "dangling", "Role", "missing", user("dan")), false)
	return z
}

func TestAuthorize(t *testing.T) {
	z := fixture()
	u := func(name string, groups ...string) *auth.User { return &auth.User{Name: name, Groups: groups} }
	res := func(usr *auth.User, verb, group, resource, sub, ns, name string) auth.Attributes {
		return auth.Attributes{User: usr, Verb: verb, Group: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	path := func(usr *auth.User, verb, p string) auth.Attributes {
		return auth.Attributes{User: usr, Verb: verb, Path: p}
	}
	ciSA := u("system:serviceaccount:team:ci", "system:serviceaccounts", "system:serviceaccounts:team")
	tests := []struct {
		name   string
		a      auth.Attributes
		want   auth.Decision
		reason string
	}{
		{"cluster binding to user", res(u("jane"), "list", "", "pods", "", "default", ""), auth.Allow,
			`RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to User "jane"`},
		{"verb not granted", res(u("jane"), "delete", "", "pods", "", "default", "x"), auth.NoOpinion, ""},
		{"other group", res(u("jane"), "get", "apps", "pods", "", "default", "x"), auth.NoOpinion, ""},
		{"subresource not granted by the resource", res(u("jane"), "get", "", "pods", "log", "default", "x"), auth.NoOpinion, ""},
		{"masters group, wildcards", res(u("admin", "system:masters"), "delete", "apps", "deployments", "", "x", "y"), auth.Allow,
			`RBAC: allowed by ClusterRoleBinding "masters" of ClusterRole "everything" to Group "system:masters"`},
		{"*/scale", res(u("scott"), "update", "apps", "deployments", "scale", "x", "y"), auth.Allow, ""},
		{"*/scale is not the resource", res(u("scott"), "update", "apps", "deployments", "", "x", "y"), auth.NoOpinion, ""},
		{"*/scale is not another subresource", res(u("scott"), "update", "apps", "deployments", "status", "x", "y"), auth.NoOpinion, ""},
		{"pods/* in its namespace", res(u("sue"), "get", "", "pods", "exec", "team", "p"), auth.Allow,
			`RBAC: allowed by RoleBinding "sub/team" of ClusterRole "pod-sub" to User "sue"`},
		{"pods/* is not pods", res(u("sue"), "get", "", "pods", "", "team", "p"), auth.NoOpinion, ""},
		{"role binding outside its namespace", res(u("sue"), "get", "", "pods", "exec", "other", "p"), auth.NoOpinion, ""},
		{"role binding, cluster scope", res(u("sue"), "get", "", "pods", "exec", "", "p"), auth.NoOpinion, ""},
		{"pods/log exact", res(u("lou"), "get", "", "pods", "log", "team", "p"), auth.Allow, ""},
		{"pods/log is not pods/exec", res(u("lou"), "get", "", "pods", "exec", "team", "p"), auth.NoOpinion, ""},
		{"resourceName get", res(u("cam"), "get", "", "configmaps", "", "team", "one"), auth.Allow, ""},
		{"resourceName other name", res(u("cam"), "get", "", "configmaps", "", "team", "two"), auth.NoOpinion, ""},
		{"resourceName never lists", res(u("cam"), "list", "", "configmaps", "", "team", ""), auth.NoOpinion, ""},
		{"service account subject", res(ciSA, "create", "apps", "deployments", "", "team", "d"), auth.Allow,
			`RBAC: allowed by RoleBinding "deployers/team" of Role "deployer" to ServiceAccount "ci/team"`},
		{"service account of another namespace", res(u("system:serviceaccount:other:ci", "system:serviceaccounts"), "create", "apps", "deployments", "", "team", "d"), auth.NoOpinion, ""},
		{"a user named like the account is not it", res(u("ci"), "create", "apps", "deployments", "", "team", "d"), auth.NoOpinion, ""},
		{"group subject in a role binding", res(u("dev1", "devs"), "delete", "apps", "deployments", "", "team", "d"), auth.Allow,
			`RBAC: allowed by RoleBinding "deployers/team" of Role "deployer" to Group "devs"`},
		{"service-account namespace group", res(u("system:serviceaccount:ops:bot", "system:serviceaccounts", "system:serviceaccounts:ops"), "watch", "", "pods", "", "", ""), auth.Allow, ""},
		{"url exact", path(u("x", "system:authenticated"), "get", "/healthz"), auth.Allow, ""},
		{"url prefix", path(u("x", "system:authenticated"), "get", "/api/v1"), auth.Allow, ""},
		{"url not covered", path(u("x", "system:authenticated"), "get", "/metrics"), auth.NoOpinion, ""},
		{"url verb", path(u("x", "system:authenticated"), "post", "/healthz"), auth.NoOpinion, ""},
		{"resource rule is not a url", path(u("jane"), "get", "/api"), auth.NoOpinion, ""},
		{"missing role is the reason", res(u("dan"), "get", "", "pods", "", "team", "p"), auth.NoOpinion,
			`RBAC: role.rbac.authorization.k8s.io "missing" not found`},
		{"nobody", res(u("nobody"), "get", "", "pods", "", "team", "p"), auth.NoOpinion, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reason, err := z.Authorize(context.Background(), tt.a)
			if err != nil || d != tt.want {
				t.Fatalf("got %v %q %v, want %v", d, reason, err, tt.want)
			}
			if tt.reason != "" && reason != tt.reason {
				t.Fatalf("reason %q, want %q", reason, tt.reason)
			}
			if tt.want == auth.NoOpinion && tt.reason == "" && reason != "" {
				t.Fatalf("reason %q, want none", reason)
			}
		})
	}
}

func TestBindingChangesAndDeletes(t *testing.T) {
	z := fixture()
	jane := auth.Attributes{User: &auth.User{Name: "jane"}, Verb: "get", Resource: "pods", Namespace: "default", Name: "x"}
	if d, _, _ := z.Authorize(context.Background(), jane); d != auth.Allow {
		t.Fatal("jane cannot get pods")
	}
	// The binding moves to another user: jane loses it.
	z.Apply(crb("readers", "pod-reader", user("joe")), false)
	if d, _, _ := z.Authorize(context.Background(), jane); d != auth.NoOpinion {
		t.Fatal("jane kept a binding that no longer names her")
	}
	jane.User = &auth.User{Name: "joe"}
	if d, _, _ := z.Authorize(context.Background(), jane); d != auth.Allow {
		t.Fatal("joe did not get the binding")
	}
	// The role loses its rule.
	z.Apply(clusterRole("pod-reader"), false)
	if d, _, _ := z.Authorize(context.Background(), jane); d != auth.NoOpinion {
		t.Fatal("an emptied role still allows")
	}
	z.Apply(clusterRole("pod-reader", rule(l("get"), l(""), l("pods"))), false)
	z.Apply(crb("readers", "pod-reader", user("joe")), true)
	if d, _, _ := z.Authorize(context.Background(), jane); d != auth.NoOpinion {
		t.Fatal("a deleted binding still allows")
	}
	if len(z.bySubject[""+"\x00"+userKey("joe")]) != 0 {
		t.Fatal("the index keeps a deleted binding")
	}
}

func TestRulesFor(t *testing.T) {
	z := fixture()
	res, non, incomplete, err := z.RulesFor(context.Background(), &auth.User{Name: "sue", Groups: []string{"system:authenticated"}}, "team")
	if err != nil || incomplete {
		t.Fatalf("err %v incomplete %v", err, incomplete)
	}
	wantRes := []auth.ResourceRule{{Verbs: l("get"), APIGroups: l(""), Resources: l("pods/*")}}
	wantNon := []auth.NonResourceRule{{Verbs: l("get"), NonResourceURLs: l("/healthz", "/api/*")}}
	if !reflect.DeepEqual(res, wantRes) || !reflect.DeepEqual(non, wantNon) {
		t.Fatalf("got %+v %+v", res, non)
	}
	if _, _, incomplete, _ := z.RulesFor(context.Background(), &auth.User{Name: "dan"}, "team"); !incomplete {
		t.Fatal("a binding to a missing role must make the rules incomplete")
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name    string
		owner   []*rbacv1.PolicyRule
		rules   []*rbacv1.PolicyRule
		missing string
	}{
		{"same", []*rbacv1.PolicyRule{rule(l("get", "list"), l(""), l("pods"))}, []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods"))}, ""},
		{"split over two owner rules", []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods")), rule(l("list"), l(""), l("pods"))},
			[]*rbacv1.PolicyRule{rule(l("get", "list"), l(""), l("pods"))}, ""},
		{"wildcards cover", []*rbacv1.PolicyRule{rule(l("*"), l("*"), l("*"))}, []*rbacv1.PolicyRule{rule(l("delete"), l("apps"), l("deployments/scale"), "x")}, ""},
		{"a wildcard is not covered by names", []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods"))}, []*rbacv1.PolicyRule{rule(l("*"), l(""), l("pods"))},
			`{APIGroups:[""], Resources:["pods"], Verbs:["*"]}`},
		{"missing verbs merged", []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods"))}, []*rbacv1.PolicyRule{rule(l("get", "delete", "update"), l(""), l("pods"))},
			`{APIGroups:[""], Resources:["pods"], Verbs:["delete" "update"]}`},
		{"named owner does not cover all names", []*rbacv1.PolicyRule{rule(l("get"), l(""), l("secrets"), "a")}, []*rbacv1.PolicyRule{rule(l("get"), l(""), l("secrets"))},
			`{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`},
		{"named owner covers its names", []*rbacv1.PolicyRule{rule(l("get"), l(""), l("secrets"), "a", "b")}, []*rbacv1.PolicyRule{rule(l("get"), l(""), l("secrets"), "a")}, ""},
		{"*/scale covers a scale", []*rbacv1.PolicyRule{rule(l("update"), l("apps"), l("*/scale"))}, []*rbacv1.PolicyRule{rule(l("update"), l("apps"), l("deployments/scale"))}, ""},
		{"pods/* covers pods/log", []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods/*"))}, []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods/log"))}, ""},
		{"pods does not cover pods/log", []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods"))}, []*rbacv1.PolicyRule{rule(l("get"), l(""), l("pods/log"))},
			`{APIGroups:[""], Resources:["pods/log"], Verbs:["get"]}`},
		{"url prefix covers", []*rbacv1.PolicyRule{urls(l("get"), "/api/*")}, []*rbacv1.PolicyRule{urls(l("get"), "/api/v1", "/api/*")}, ""},
		{"url not covered", []*rbacv1.PolicyRule{urls(l("get"), "/api/*")}, []*rbacv1.PolicyRule{urls(l("get"), "/apis")},
			`{NonResourceURLs:["/apis"], Verbs:["get"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, missing := Covers(tt.owner, tt.rules)
			var got []string
			for _, m := range missing {
				got = append(got, CompactString(m))
			}
			if ok != (tt.missing == "") || strings.Join(got, "\n") != tt.missing {
				t.Fatalf("covers=%v missing %q, want %q", ok, got, tt.missing)
			}
		})
	}
}

// BenchmarkAuthorize1000Bindings decides for one user among 1000
// ClusterRoleBindings and 1000 RoleBindings, each to another user: the
// subject index keeps this independent of the number of bindings.
func BenchmarkAuthorize1000Bindings(b *testing.B) {
	z := New()
	z.Apply(clusterRole("view", rule(l("get", "list", "watch"), l("", "apps"), l("pods", "services", "deployments", "configmaps"))), false)
	z.Apply(clusterRole("health", urls(l("get"), "/healthz", "/version")), false)
	z.Apply(crb("health", "health", group("system:authenticated")), false)
	for i := range 1000 {
		z.Apply(crb(fmt.Sprintf("crb-%d", i), "view", user(fmt.Sprintf("user-%d", i))), false)
		z.Apply(rb(fmt.Sprintf("ns-%d", i%50), fmt.Sprintf("rb-%d", i), "ClusterRole", "view", user(fmt.Sprintf("ns-user-%d", i))), false)
	}
	allowed := auth.Attributes{User: &auth.User{Name: "ns-user-777", Groups: []string{"system:authenticated"}},
		Verb: "list", Group: "apps", Resource: "deployments", Namespace: "ns-27"}
	denied := allowed
	denied.Verb = "delete"
	ctx := context.Background()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		a := allowed
		if i%2 == 1 {
			a = denied
		}
		start := time.Now()
		d, _, _ := z.Authorize(ctx, a)
		lat = append(lat, time.Since(start))
		if d != auth.Allow && a.Verb == "list" {
			b.Fatal("not allowed")
		}
	}
	// The target is a p99 under 100us; the mean alone hides the
	// tail.
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
