package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "minik8s/api/authentication/v1"
	authorizationv1 "minik8s/api/authorization/v1"
	"minik8s/api/client"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
	"minik8s/test/require"
)

// kubectlBin is the pinned kubectl: $MINIK8S_KUBECTL, else the repo's
// bin/kubectl (hack/install-deps.sh).
func kubectlBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("MINIK8S_KUBECTL")
	if bin == "" {
		bin, _ = filepath.Abs("../../bin/kubectl")
	}
	if _, err := os.Stat(bin); err != nil {
		require.Skip(t, "no kubectl: "+err.Error())
	}
	return bin
}

// runKubectl runs kubectl against s with HOME home (its discovery
// cache) and returns its output and exit code.
func runKubectl(t *testing.T, bin, home string, s *apiservertest.Server, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

// TestAccessReviewsAndImpersonation: kubectl auth can-i (and --list),
// kubectl --as and the reviews over gRPC, under AlwaysAllow and
// AlwaysDeny.
func TestAccessReviewsAndImpersonation(t *testing.T) {
	bin := kubectlBin(t)
	etcd := etcdtest.Start(t, 1)
	allow := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "AlwaysAllow"})
	deny := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "AlwaysDeny"})
	rbac := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "RBAC"})
	home := t.TempDir()
	for _, tc := range []struct {
		name     string
		s        *apiservertest.Server
		args     []string
		code     int
		contains []string
	}{
		{"can-i yes", allow, []string{"auth", "can-i", "create", "pods"}, 0, []string{"yes"}},
		{"can-i namespaced as", allow, []string{"auth", "can-i", "delete", "secrets", "-n", "kube-system", "--as", "jane"}, 0, []string{"yes"}},
		{"can-i list", allow, []string{"auth", "can-i", "--list"}, 0,
			[]string{"Resources", "Non-Resource URLs", "Resource Names", "Verbs", "*.*", "[*]"}},
		{"as get pods", allow, []string{"--as", "jane", "--as-group", "g", "get", "pods"}, 0, []string{"No resources found"}},
		{"whoami as", allow, []string{"auth", "whoami", "--as", "jane", "--as-group", "g"}, 0, []string{"jane", "g", "system:authenticated"}},
		{"impersonation refused", deny, []string{"--as", "jane", "get", "--raw", "/api/v1/namespaces/default/pods"}, 1,
			[]string{`users "jane" is forbidden: User "kubernetes-admin" cannot impersonate resource "users" in API group "" at the cluster scope`}},
		{"service account impersonation refused", deny, []string{"--as", "system:serviceaccount:ns1:robot", "get", "--raw", "/api/v1/namespaces/default/pods"}, 1,
			[]string{`serviceaccounts "robot" is forbidden: User "kubernetes-admin" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "ns1"`}},
		// RBAC: the admin (system:masters, cluster-admin) may impersonate;
		// jane is bound to nothing but the bootstrap roles of every
		// authenticated user.
		{"rbac admin everything", rbac, []string{"auth", "can-i", "*", "*"}, 0, []string{"yes"}},
		{"rbac jane create pods", rbac, []string{"auth", "can-i", "create", "pods", "--as", "jane"}, 1, []string{"no"}},
		{"rbac jane self review", rbac, []string{"auth", "can-i", "create", "selfsubjectaccessreviews.authorization.k8s.io", "--as", "jane"}, 0, []string{"yes"}},
		{"rbac jane list", rbac, []string{"auth", "can-i", "--list", "--as", "jane"}, 0,
			[]string{"selfsubjectaccessreviews.authorization.k8s.io", "selfsubjectrulesreviews.authorization.k8s.io", "[create]"}},
		{"rbac jane get pods", rbac, []string{"--as", "jane", "get", "pods"}, 1,
			[]string{`pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runKubectl(t, bin, home, tc.s, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			for _, want := range tc.contains {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}

	t.Run("gRPC", func(t *testing.T) {
		ctx := context.Background()
		c, err := client.New([]string{allow.Addr}, append(allow.ClientOptions(t), client.WithImpersonation(client.Impersonation{User: "jane", Groups: []string{"g"}}))...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		who, err := c.Dynamic("selfsubjectreviews")
		if err != nil {
			t.Fatal(err)
		}
		got, err := who.Create(ctx, &authenticationv1.SelfSubjectReview{Kind: "SelfSubjectReview"})
		if err != nil {
			t.Fatal(err)
		}
		if u := got.(*authenticationv1.SelfSubjectReview).GetStatus().GetUserInfo(); u.GetUsername() != "jane" || strings.Join(u.GetGroups(), ",") != "g,system:authenticated" {
			t.Errorf("impersonated user %v", u)
		}
		sar, err := c.Dynamic("subjectaccessreviews")
		if err != nil {
			t.Fatal(err)
		}
		res, err := sar.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: &authorizationv1.SubjectAccessReviewSpec{
			User: "bob", ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "nodes", Subresource: "proxy", Name: "n1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.(*authorizationv1.SubjectAccessReview).GetStatus().GetAllowed() {
			t.Errorf("AlwaysAllow: %v", res)
		}

		d, err := client.New([]string{deny.Addr}, append(deny.ClientOptions(t), client.WithImpersonation(client.Impersonation{User: "jane"}))...)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		who, err = d.Dynamic("selfsubjectreviews")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := who.Create(ctx, &authenticationv1.SelfSubjectReview{Kind: "SelfSubjectReview"}); err == nil || !strings.Contains(err.Error(), `cannot impersonate resource "users"`) {
			t.Errorf("AlwaysDeny impersonation: %v", err)
		}
	})
}
