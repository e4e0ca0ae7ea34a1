package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/pki"
	rbacv1 "minik8s/api/rbac/v1"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// userKubeconfig signs a client certificate for name (and groups) with
// the server's CA and writes a kubeconfig for it.
func userKubeconfig(t *testing.T, s *apiservertest.Server, name string, groups ...string) string {
	t.Helper()
	ca, err := pki.ReadKeyPair(filepath.Join(s.PKI, "pki"), "ca")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Sign(pki.CertConfig{CommonName: name, Organization: groups, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), name+".conf")
	if err := pki.WriteKubeconfig(file, "https://"+s.Addr, ca.Cert, kp, name); err != nil {
		t.Fatal(err)
	}
	return file
}

// restClient is an HTTPS client presenting the kubeconfig's certificate.
type restClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newREST(t *testing.T, addr, kubeconfig string) *restClient {
	cfg, err := client.ConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	tc = tc.Clone()
	tc.NextProtos = []string{"http/1.1"}
	return &restClient{t: t, base: "https://" + addr, http: &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}}
}

// do sends a request and returns the status code and, for errors, the
// Status message.
func (c *restClient) do(method, path string, body any) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var st struct {
		Message string `json:"message"`
	}
	if resp.StatusCode >= 300 {
		_ = json.Unmarshal(data, &st)
	}
	return resp.StatusCode, st.Message
}

// TestRBAC runs an apiserver with --authorization-mode=RBAC: the admin
// (system:masters) binds jane to view in default; jane lists pods but
// cannot delete them or read secrets, cannot bind herself to
// cluster-admin, sees discovery but not /metrics.
func TestRBAC(t *testing.T) {
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{AuthorizationMode: "RBAC"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := s.Client(t)
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "x", Namespace: "default"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := client.For[*corev1.Pod](admin).Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	// The bootstrap view role is aggregated from system:aggregate-to-view.
	view, err := client.For[*rbacv1.ClusterRole](admin).Get(ctx, "", "view")
	if err != nil || len(view.GetRules()) == 0 || view.GetAggregationRule() == nil {
		t.Fatalf("view: %v %v", view, err)
	}

	jane := newREST(t, s.Addr, userKubeconfig(t, s, "jane"))
	// Before any binding jane may see discovery (system:discovery) only.
	if code, _ := jane.do("GET", "/api", nil); code != 200 {
		t.Fatalf("discovery: %d", code)
	}
	if code, msg := jane.do("GET", "/api/v1/namespaces/default/pods", nil); code != 403 ||
		msg != `pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"` {
		t.Fatalf("list before binding: %d %q", code, msg)
	}
	// kubectl create rolebinding jane-view --clusterrole=view --user=jane
	rb := map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": "jane-view", "namespace": "default"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}},
	}
	adminREST := newREST(t, s.Addr, s.Kubeconfig)
	if code, msg := adminREST.do("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", rb); code != 201 {
		t.Fatalf("create rolebinding: %d %s", code, msg)
	}
	// The authorizer follows the watch cache: a moment later jane lists.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, msg := jane.do("GET", "/api/v1/namespaces/default/pods", nil)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jane cannot list pods: %d %s", code, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		code               int
		msg                string
	}{
		{"delete a pod", "DELETE", "/api/v1/namespaces/default/pods/x", nil, 403,
			`pods "x" is forbidden: User "jane" cannot delete resource "pods" in API group "" in the namespace "default"`},
		{"read secrets", "GET", "/api/v1/namespaces/default/secrets", nil, 403,
			`secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "default"`},
		{"exec", "POST", "/api/v1/namespaces/default/pods/x/exec?command=ls&stdout=true", nil, 403,
			`pods "x" is forbidden: User "jane" cannot create resource "pods/exec" in API group "" in the namespace "default"`},
		{"other namespace", "GET", "/api/v1/namespaces/kube-system/pods", nil, 403, ""},
		{"get a pod", "GET", "/api/v1/namespaces/default/pods/x", nil, 200, ""},
		{"pod logs", "GET", "/api/v1/namespaces/default/pods/x/log", nil, 0, ""},
		{"metrics", "GET", "/metrics", nil, 403, `forbidden: User "jane" cannot get path "/metrics"`},
		{"bind herself to cluster-admin", "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": "jane-admin", "namespace": "default"},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
			"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}},
		}, 403, `rolebindings.rbac.authorization.k8s.io is forbidden: User "jane" cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "default"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := jane.do(tc.method, tc.path, tc.body)
			if tc.code == 0 { // authorized; fails later (the pod has no node)
				if code == 403 {
					t.Fatalf("forbidden: %s", msg)
				}
				return
			}
			if code != tc.code || (tc.msg != "" && msg != tc.msg) {
				t.Fatalf("got %d %q, want %d %q", code, msg, tc.code, tc.msg)
			}
		})
	}

	// The same over gRPC (our components' front).
	janeCfg, _ := client.ConfigFromFlags("", userKubeconfig(t, s, "jane"))
	tc, _ := janeCfg.TLSConfig()
	janeGRPC, err := client.New([]string{s.Addr}, client.WithTLS(tc))
	if err != nil {
		t.Fatal(err)
	}
	defer janeGRPC.Close()
	if _, err := client.For[*corev1.Pod](janeGRPC).List(ctx, "default", client.ListOptions{}); err != nil {
		t.Fatalf("grpc list: %v", err)
	}
	if _, err := client.For[*corev1.Pod](janeGRPC).Delete(ctx, "default", "x", nil); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), `User "jane" cannot delete resource "pods" in API group "" in the namespace "default"`) {
		t.Fatalf("grpc delete: %v", err)
	}
}

// TestRBACEscalation: a namespace admin (admin role through a
// RoleBinding) may create roles and bindings within what admin holds, but
// not bind anyone to cluster-admin, nor write a role granting more.
func TestRBACEscalation(t *testing.T) {
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{AuthorizationMode: "RBAC"})
	adminREST := newREST(t, s.Addr, s.Kubeconfig)
	binding := func(name, role, user string) map[string]any {
		return map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": name, "namespace": "default"},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
			"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
		}
	}
	const path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
	if code, msg := adminREST.do("POST", path, binding("ann-admin", "admin", "ann")); code != 201 {
		t.Fatalf("%d %s", code, msg)
	}
	ann := newREST(t, s.Addr, userKubeconfig(t, s, "ann"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, msg := ann.do("POST", path, binding("bob-view", "view", "bob"))
		if code == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ann cannot bind view: %d %s", code, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, msg := ann.do("POST", path, binding("bob-root", "cluster-admin", "bob"))
	if code != 403 || !strings.HasPrefix(msg, `rolebindings.rbac.authorization.k8s.io "bob-root" is forbidden: user "ann" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`) {
		t.Fatalf("bind cluster-admin: %d %q", code, msg)
	}
	role := map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": "nodes", "namespace": "default"},
		"rules":    []any{map[string]any{"apiGroups": []string{""}, "resources": []string{"pods"}, "verbs": []string{"get", "escalate"}}},
	}
	code, msg = ann.do("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", role)
	if code != 403 || !strings.HasSuffix(msg, `{APIGroups:[""], Resources:["pods"], Verbs:["escalate"]}`) {
		t.Fatalf("escalating role: %d %q", code, msg)
	}
}

// TestRBACTwoAPIServers: a second apiserver on the same etcd rewrites
// none of the bootstrap policy, and a role labelled aggregate-to-view,
// created through one apiserver, joins view as both see it.
func TestRBACTwoAPIServers(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	s1 := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "RBAC"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c1 := s1.Client(t)
	before, err := client.For[*rbacv1.ClusterRole](c1).Get(ctx, "", "cluster-admin")
	if err != nil {
		t.Fatal(err)
	}
	viewBefore, err := client.For[*rbacv1.ClusterRole](c1).Get(ctx, "", "view")
	if err != nil {
		t.Fatal(err)
	}
	s2 := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "RBAC", PKI: s1.PKI})
	c2 := s2.Client(t)
	for name, rv := range map[string]string{"cluster-admin": before.GetMetadata().GetResourceVersion(), "view": viewBefore.GetMetadata().GetResourceVersion()} {
		after, err := client.For[*rbacv1.ClusterRole](c2).Get(ctx, "", name)
		if err != nil || after.GetMetadata().GetResourceVersion() != rv {
			t.Fatalf("%s rewritten by the second apiserver: %v %v", name, after.GetMetadata(), err)
		}
	}
	widgets := &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "widgets-view",
		Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, ApiGroups: []string{""}, Resources: []string{"widgets"}}}}
	if _, err := client.For[*rbacv1.ClusterRole](c1).Create(ctx, widgets); err != nil {
		t.Fatal(err)
	}
	// view aggregates it; edit and admin aggregate view in turn.
	for _, c := range []*client.Client{c1, c2} {
		for _, name := range []string{"view", "edit", "admin"} {
			deadline := time.Now().Add(10 * time.Second)
			for {
				r, err := client.For[*rbacv1.ClusterRole](c).Get(ctx, "", name)
				if err == nil && strings.Contains(r.String(), "widgets") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s lacks widgets: %v %v", name, r, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}
