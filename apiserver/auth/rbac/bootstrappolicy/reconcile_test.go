package bootstrappolicy

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/auth/rbac"
)

// memStore is a Store in a map, counting writes.
type memStore struct {
	objs   map[string]scheme.Object
	writes int
	rv     int
}

func newMem() *memStore { return &memStore{objs: map[string]scheme.Object{}} }

func key(k *scheme.Kind, name string) string { return k.Resource + "/" + name }

func (m *memStore) Get(_ context.Context, k *scheme.Kind, name string) (scheme.Object, error) {
	if o, ok := m.objs[key(k, name)]; ok {
		return proto.Clone(o).(scheme.Object), nil
	}
	return nil, apierrors.NewNotFound(k.GroupResource(), name)
}

func (m *memStore) Create(_ context.Context, k *scheme.Kind, obj scheme.Object) error {
	name := obj.GetMetadata().GetName()
	if _, ok := m.objs[key(k, name)]; ok {
		return apierrors.NewAlreadyExists(k.GroupResource(), name)
	}
	m.rv++
	obj.GetMetadata().ResourceVersion = strconv.Itoa(m.rv)
	m.objs[key(k, name)] = obj
	m.writes++
	return nil
}

func (m *memStore) Update(_ context.Context, k *scheme.Kind, obj scheme.Object) error {
	m.rv++
	obj.GetMetadata().ResourceVersion = strconv.Itoa(m.rv)
	m.objs[key(k, obj.GetMetadata().GetName())] = obj
	m.writes++
	return nil
}

func (m *memStore) Delete(_ context.Context, k *scheme.Kind, name string) error {
	delete(m.objs, key(k, name))
	m.writes++
	return nil
}

func TestReconcileIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	n, err := Reconcile(ctx, st)
	if err != nil || n != len(ClusterRoles())+len(ClusterRoleBindings()) {
		t.Fatalf("first run wrote %d (err %v), want every object", n, err)
	}
	if n, err := Reconcile(ctx, st); err != nil || n != 0 {
		t.Fatalf("second run wrote %d (err %v), want nothing", n, err)
	}
}

func TestReconcileKeepsUserChanges(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	if _, err := Reconcile(ctx, st); err != nil {
		t.Fatal(err)
	}
	// A user adds a rule and a subject, and drops one of our rules.
	cr, _ := st.Get(ctx, rbacv1.ClusterRoleKind, "system:kube-dns")
	dns := cr.(*rbacv1.ClusterRole)
	extra := &rbacv1.PolicyRule{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{"configmaps"}}
	dns.Rules = append(dns.Rules[1:], extra)
	_ = st.Update(ctx, rbacv1.ClusterRoleKind, dns)
	b, _ := st.Get(ctx, rbacv1.ClusterRoleBindingKind, "cluster-admin")
	admins := b.(*rbacv1.ClusterRoleBinding)
	admins.Subjects = []*rbacv1.Subject{user("root")}
	_ = st.Update(ctx, rbacv1.ClusterRoleBindingKind, admins)
	// Another is taken over by its owner.
	b, _ = st.Get(ctx, rbacv1.ClusterRoleBindingKind, "system:basic-user")
	basic := b.(*rbacv1.ClusterRoleBinding)
	basic.Metadata.Annotations[AutoUpdateAnnotation] = "false"
	basic.Subjects = nil
	_ = st.Update(ctx, rbacv1.ClusterRoleBindingKind, basic)

	st.writes = 0
	if n, err := Reconcile(ctx, st); err != nil || n != 2 {
		t.Fatalf("wrote %d (err %v), want the role and the binding fixed", n, err)
	}
	cr, _ = st.Get(ctx, rbacv1.ClusterRoleKind, "system:kube-dns")
	got := cr.(*rbacv1.ClusterRole).Rules
	if !slices.ContainsFunc(got, func(r *rbacv1.PolicyRule) bool { return proto.Equal(r, extra) }) {
		t.Fatal("the user's rule was removed")
	}
	if ok, missing := rbac.Covers(got, ClusterRoles()[indexOf("system:kube-dns")].Rules); !ok {
		t.Fatalf("bootstrap rules still missing: %v", missing)
	}
	b, _ = st.Get(ctx, rbacv1.ClusterRoleBindingKind, "cluster-admin")
	if s := b.(*rbacv1.ClusterRoleBinding).Subjects; len(s) != 2 || s[0].Name != "root" || s[1].Name != auth.GroupMasters {
		t.Fatalf("subjects %v, want root kept and system:masters added", s)
	}
	b, _ = st.Get(ctx, rbacv1.ClusterRoleBindingKind, "system:basic-user")
	if len(b.(*rbacv1.ClusterRoleBinding).Subjects) != 0 {
		t.Fatal("autoupdate=false was not respected")
	}
}

func TestReconcileReplacesAWrongRoleRef(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	wrong := binding("system:kube-scheduler", "view", user("someone"))
	_ = st.Create(ctx, rbacv1.ClusterRoleBindingKind, wrong)
	if _, err := Reconcile(ctx, st); err != nil {
		t.Fatal(err)
	}
	b, _ := st.Get(ctx, rbacv1.ClusterRoleBindingKind, "system:kube-scheduler")
	got := b.(*rbacv1.ClusterRoleBinding)
	if got.RoleRef.Name != "system:kube-scheduler" || len(got.Subjects) != 2 {
		t.Fatalf("got %v %v", got.RoleRef, got.Subjects)
	}
}

func indexOf(name string) int {
	return slices.IndexFunc(ClusterRoles(), func(r *rbacv1.ClusterRole) bool { return r.Metadata.Name == name })
}

// TestAggregatedRoles checks the bootstrap admin, edit and view after
// aggregation: view reads but cannot read secrets, edit writes pods and
// reads secrets, admin also manages roles; and a user's role labelled
// aggregate-to-view joins view.
func TestAggregatedRoles(t *testing.T) {
	roles := ClusterRoles()
	roles = append(roles, &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "widgets-view",
		Labels: map[string]string{AggregateToView: "true"}},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get"}, ApiGroups: []string{"example.com"}, Resources: []string{"widgets"}}}})
	z := rbac.New()
	for _, r := range roles {
		z.Apply(r, false)
	}
	for name, rules := range rbac.Aggregate(roles) {
		z.Apply(&rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: name}, Rules: rules}, false)
	}
	for _, name := range []string{"view", "edit", "admin"} {
		z.Apply(&rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
			RoleRef: &rbacv1.RoleRef{ApiGroup: rbacv1.Group, Kind: "ClusterRole", Name: name}, Subjects: []*rbacv1.Subject{user(name + "-user")}}, false)
	}
	tests := []struct {
		user, verb, group, resource, sub string
		want                             auth.Decision
	}{
		{"view-user", "list", "", "pods", "", auth.Allow},
		{"view-user", "get", "", "pods", "log", auth.Allow},
		{"view-user", "get", "example.com", "widgets", "", auth.Allow},
		{"view-user", "get", "", "secrets", "", auth.NoOpinion},
		{"view-user", "delete", "", "pods", "", auth.NoOpinion},
		{"view-user", "create", "", "pods", "exec", auth.NoOpinion},
		{"edit-user", "delete", "", "pods", "", auth.Allow},
		{"edit-user", "get", "", "secrets", "", auth.Allow},
		{"edit-user", "create", "", "pods", "exec", auth.Allow},
		{"edit-user", "list", "apps", "deployments", "", auth.Allow},
		{"edit-user", "get", "example.com", "widgets", "", auth.Allow},
		{"edit-user", "create", rbacv1.Group, "rolebindings", "", auth.NoOpinion},
		{"admin-user", "create", rbacv1.Group, "rolebindings", "", auth.Allow},
		{"admin-user", "update", "apps", "deployments", "scale", auth.Allow},
		{"admin-user", "get", "example.com", "widgets", "", auth.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.verb+" "+tt.resource+"/"+tt.sub, func(t *testing.T) {
			a := auth.Attributes{User: &auth.User{Name: tt.user}, Verb: tt.verb, Group: tt.group, Resource: tt.resource,
				Subresource: tt.sub, Namespace: "default", Name: "x"}
			if d, _, _ := z.Authorize(context.Background(), a); d != tt.want {
				t.Fatalf("got %v, want %v", d, tt.want)
			}
		})
	}
	// Once stored, the aggregation is stable.
	var after []*rbacv1.ClusterRole
	agg := rbac.Aggregate(roles)
	for _, r := range roles {
		c := proto.Clone(r).(*rbacv1.ClusterRole)
		if rules, ok := agg[c.Metadata.Name]; ok {
			c.Rules = rules
		}
		after = append(after, c)
	}
	if again := rbac.Aggregate(after); len(again) != 0 {
		t.Fatalf("aggregation not stable: %v", again)
	}
}

// TestComponentIdentities checks what each component's user may do with
// the bootstrap policy.
func TestComponentIdentities(t *testing.T) {
	z := rbac.New()
	for _, r := range ClusterRoles() {
		z.Apply(r, false)
	}
	for _, b := range ClusterRoleBindings() {
		z.Apply(b, false)
	}
	sched := &auth.User{Name: SchedulerUser, Groups: []string{auth.GroupAuthenticated}}
	cm := &auth.User{Name: ControllerManagerUser, Groups: []string{auth.GroupAuthenticated}}
	proxy := &auth.User{Name: KubeProxyUser, Groups: []string{auth.GroupAuthenticated}}
	dns := &auth.User{Name: "system:serviceaccount:kube-system:kube-dns", Groups: []string{auth.GroupServiceAccounts, auth.GroupAuthenticated}}
	anon := &auth.User{Name: auth.UserAnonymous, Groups: []string{auth.GroupUnauthenticated}}
	admin := &auth.User{Name: "kubernetes-admin", Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}}
	res := func(u *auth.User, verb, group, resource, sub, ns string) auth.Attributes {
		return auth.Attributes{User: u, Verb: verb, Group: group, Resource: resource, Subresource: sub, Namespace: ns}
	}
	boot := &auth.User{Name: "system:bootstrap:abcdef", Groups: []string{auth.GroupBootstrappers, auth.GroupAuthenticated}}
	node := &auth.User{Name: "system:node:n1", Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}}
	named := func(a auth.Attributes, n string) auth.Attributes { a.Name = n; return a }
	path := func(u *auth.User, p string) auth.Attributes { return auth.Attributes{User: u, Verb: "get", Path: p} }
	tests := []struct {
		name string
		a    auth.Attributes
		want auth.Decision
	}{
		{"scheduler binds", res(sched, "create", "", "pods", "binding", "default"), auth.Allow},
		{"scheduler watches nodes", res(sched, "watch", "", "nodes", "", ""), auth.Allow},
		{"scheduler renews its lease", res(sched, "update", "coordination.k8s.io", "leases", "", "kube-system"), auth.Allow},
		{"scheduler cannot delete nodes", res(sched, "delete", "", "nodes", "", ""), auth.NoOpinion},
		{"scheduler cannot read secrets", res(sched, "get", "", "secrets", "", "default"), auth.NoOpinion},
		{"controller-manager creates pods", res(cm, "create", "", "pods", "", "default"), auth.Allow},
		{"controller-manager collects garbage", res(cm, "delete", "apps", "replicasets", "", "default"), auth.Allow},
		{"controller-manager finalizes namespaces", res(cm, "update", "", "namespaces", "", ""), auth.Allow},
		{"controller-manager updates node status", res(cm, "update", "", "nodes", "status", ""), auth.Allow},
		{"controller-manager reads node stats", res(cm, "get", "", "nodes", "stats", ""), auth.Allow},
		{"controller-manager records events", res(cm, "create", "", "events", "", "default"), auth.Allow},
		{"controller-manager cannot create roles", res(cm, "create", rbacv1.Group, "clusterroles", "", ""), auth.NoOpinion},
		{"kube-proxy watches services", res(proxy, "watch", "", "services", "", ""), auth.Allow},
		{"kube-proxy cannot write services", res(proxy, "update", "", "services", "", "default"), auth.NoOpinion},
		{"dns lists endpoints", res(dns, "list", "", "endpoints", "", ""), auth.Allow},
		{"dns cannot read secrets", res(dns, "list", "", "secrets", "", ""), auth.NoOpinion},
		{"discovery for the authenticated", path(sched, "/apis/apps/v1"), auth.Allow},
		{"version for the anonymous", path(anon, "/version"), auth.Allow},
		{"no discovery for the anonymous", path(anon, "/api"), auth.NoOpinion},
		{"no metrics for everyone", path(proxy, "/metrics"), auth.NoOpinion},
		{"masters everything", res(admin, "escalate", rbacv1.Group, "clusterroles", "", ""), auth.Allow},
		{"masters any path", path(admin, "/metrics"), auth.Allow},
		{"self reviews", res(proxy, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), auth.Allow},
		{"bootstrapper creates a CSR", res(boot, "create", "certificates.k8s.io", "certificatesigningrequests", "", ""), auth.Allow},
		{"bootstrapper is auto-approved", res(boot, "create", "certificates.k8s.io", "certificatesigningrequests", "nodeclient", ""), auth.Allow},
		{"bootstrapper does not renew", res(boot, "create", "certificates.k8s.io", "certificatesigningrequests", "selfnodeclient", ""), auth.NoOpinion},
		{"bootstrapper cannot approve", res(boot, "update", "certificates.k8s.io", "certificatesigningrequests", "approval", ""), auth.NoOpinion},
		{"node renews", res(node, "create", "certificates.k8s.io", "certificatesigningrequests", "selfnodeclient", ""), auth.Allow},
		{"controller-manager approves", res(cm, "update", "certificates.k8s.io", "certificatesigningrequests", "approval", ""), auth.Allow},
		{"controller-manager writes certificates", res(cm, "update", "certificates.k8s.io", "certificatesigningrequests", "status", ""), auth.Allow},
		{"controller-manager approves kubelet clients", named(res(cm, "approve", "certificates.k8s.io", "signers", "", ""), "kubernetes.io/kube-apiserver-client-kubelet"), auth.Allow},
		{"controller-manager does not approve users", named(res(cm, "approve", "certificates.k8s.io", "signers", "", ""), "kubernetes.io/kube-apiserver-client"), auth.NoOpinion},
		{"controller-manager signs users", named(res(cm, "sign", "certificates.k8s.io", "signers", "", ""), "kubernetes.io/kube-apiserver-client"), auth.Allow},
		{"controller-manager signs no other signer", named(res(cm, "sign", "certificates.k8s.io", "signers", "", ""), "example.com/x"), auth.NoOpinion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d, reason, _ := z.Authorize(context.Background(), tt.a); d != tt.want {
				t.Fatalf("got %v (%s), want %v", d, reason, tt.want)
			}
		})
	}
}
