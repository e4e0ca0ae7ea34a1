package rbac

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	rbacauth "minik8s/apiserver/auth/rbac"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage/memory"
)

func newStore(t *testing.T) *generic.Store {
	t.Helper()
	st := generic.New(memory.New(), cache.Options{ProgressInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func pr(verbs, groups, resources []string, names ...string) *rbacv1.PolicyRule {
	return &rbacv1.PolicyRule{Verbs: verbs, ApiGroups: groups, Resources: resources, ResourceNames: names}
}

func l(s ...string) []string { return s }

func ref(kind, name string) *rbacv1.RoleRef {
	return &rbacv1.RoleRef{ApiGroup: rbacv1.Group, Kind: kind, Name: name}
}

func userSubject(n string) []*rbacv1.Subject {
	return []*rbacv1.Subject{{Kind: "User", ApiGroup: rbacv1.Group, Name: n}}
}

func TestEscalation(t *testing.T) {
	z := rbacauth.New()
	z.Apply(&rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "cluster-admin"},
		Rules: []*rbacv1.PolicyRule{pr(l("*"), l("*"), l("*")), {Verbs: l("*"), NonResourceURLs: l("*")}}}, false)
	z.Apply(&rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []*rbacv1.PolicyRule{pr(l("get", "list"), l(""), l("pods"))}}, false)
	z.Apply(&rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "manager"}, Rules: []*rbacv1.PolicyRule{
		pr(l("get", "list"), l(""), l("pods")),
		pr(l("create", "update"), l(rbacv1.Group), l("roles", "rolebindings")),
		pr(l("create"), l(rbacv1.Group), l("clusterroles", "clusterrolebindings")),
	}}, false)
	z.Apply(&rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "binder"}, Rules: []*rbacv1.PolicyRule{
		pr(l("bind"), l(rbacv1.Group), l("clusterroles"), "cluster-admin"),
		pr(l("escalate"), l(rbacv1.Group), l("roles")),
	}}, false)
	z.Apply(&rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "jane"},
		RoleRef: ref("ClusterRole", "manager"), Subjects: userSubject("jane")}, false)
	z.Apply(&rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "bob"},
		RoleRef: ref("ClusterRole", "binder"), Subjects: userSubject("bob")}, false)

	st := newStore(t)
	storage := func(resource string) *Storage {
		k, _ := scheme.ByResource(resource)
		return &Storage{Resource: st.For(k), Policy: z, Authorizer: z}
	}
	jane := &auth.User{Name: "jane", Groups: l("system:authenticated")}
	bob := &auth.User{Name: "bob", Groups: l("system:authenticated")}
	root := &auth.User{Name: "root", Groups: l(auth.GroupMasters)}
	role := func(ns, name string, rules ...*rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
	}
	tests := []struct {
		name     string
		user     *auth.User
		resource string
		ns       string
		obj      scheme.Object
		err      string // "" allowed; else a substring of the Forbidden/NotFound message
	}{
		{"role within what jane holds", jane, "roles", "default", role("default", "r1", pr(l("get"), l(""), l("pods"))), ""},
		{"role beyond what jane holds", jane, "roles", "default", role("default", "r2", pr(l("get", "delete"), l(""), l("pods"))),
			`roles.rbac.authorization.k8s.io "r2" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}`},
		{"role in a namespace jane holds nothing in", jane, "roles", "other", role("other", "r3", pr(l("get"), l(""), l("pods"))), "not currently held"},
		{"escalate verb", bob, "roles", "default", role("default", "r4", pr(l("*"), l("*"), l("*"))), ""},
		{"masters may", root, "clusterroles", "", &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "c1"}, Rules: []*rbacv1.PolicyRule{pr(l("*"), l("*"), l("*"))}}, ""},
		{"cluster role needs cluster-wide rules", jane, "clusterroles", "", &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "c2"},
			Rules: []*rbacv1.PolicyRule{pr(l("get"), l(""), l("pods"))}}, "not currently held"},
		{"binding to a role jane holds", jane, "rolebindings", "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "b1"},
			RoleRef: ref("ClusterRole", "pod-reader"), Subjects: userSubject("joe")}, ""},
		{"binding to cluster-admin", jane, "rolebindings", "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "b2"},
			RoleRef: ref("ClusterRole", "cluster-admin"), Subjects: userSubject("jane")}, `rolebindings.rbac.authorization.k8s.io "b2" is forbidden: user "jane"`},
		{"bind verb on cluster-admin", bob, "rolebindings", "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "b3"},
			RoleRef: ref("ClusterRole", "cluster-admin"), Subjects: userSubject("joe")}, ""},
		{"bind verb only where granted", bob, "rolebindings", "other", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "other", Name: "b4"},
			RoleRef: ref("ClusterRole", "cluster-admin"), Subjects: userSubject("joe")}, "not currently held"},
		{"binding to a missing role", jane, "rolebindings", "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "b5"},
			RoleRef: ref("Role", "nope"), Subjects: userSubject("joe")}, `roles.rbac.authorization.k8s.io "nope" not found`},
		{"aggregation needs everything", bob, "clusterroles", "", &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "c3"},
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{"a": "b"}}}}},
			"must have cluster-admin privileges to use the aggregationRule"},
		{"no user", nil, "roles", "default", role("default", "r5"), "no user on request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.user != nil {
				ctx = auth.WithUser(ctx, tt.user)
			}
			_, err := storage(tt.resource).Create(ctx, tt.ns, tt.obj, rest.WriteOptions{})
			if tt.err == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want %q", err, tt.err)
			}
			if !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
				t.Fatalf("reason %s", apierrors.ReasonOf(err))
			}
		})
	}
	// An update is checked like a create.
	ctx := auth.WithUser(context.Background(), jane)
	r1, err := storage("roles").Get(ctx, "default", "r1")
	if err != nil {
		t.Fatal(err)
	}
	r1.(*rbacv1.Role).Rules = append(r1.(*rbacv1.Role).Rules, pr(l("delete"), l(""), l("secrets")))
	if _, err := storage("roles").Update(ctx, "default", r1, rest.WriteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("update escalated: %v", err)
	}
	// A metadata-only update (the garbage collector dropping an owner
	// reference) of a binding its writer could not create passes.
	rootCtx := auth.WithUser(context.Background(), root)
	b2 := &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "gc-me", Labels: map[string]string{"a": "b"}},
		RoleRef: ref("ClusterRole", "cluster-admin"), Subjects: userSubject("joe")}
	if _, err := storage("rolebindings").Create(rootCtx, "default", b2, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := storage("rolebindings").Get(ctx, "default", "gc-me")
	got.GetMetadata().Labels = nil
	if _, err := storage("rolebindings").Update(ctx, "default", got, rest.WriteOptions{}); err != nil {
		t.Fatalf("metadata-only update refused: %v", err)
	}
	got, _ = storage("rolebindings").Get(ctx, "default", "gc-me")
	got.(*rbacv1.RoleBinding).Subjects = userSubject("jane")
	if _, err := storage("rolebindings").Update(ctx, "default", got, rest.WriteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("new subjects for cluster-admin: %v", err)
	}
}
