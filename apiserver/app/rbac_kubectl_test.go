package app_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestRBACKubectl drives the RBAC kinds with the real kubectl (skipped
// when it is not installed): its create commands, apply of a Kubernetes
// manifest, the get tables, and jane's Forbidden as kubectl prints it.
func TestRBACKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{AuthorizationMode: "RBAC"})
	home := t.TempDir()
	run := func(t *testing.T, kubeconfig, stdin string, wantErr bool, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig=" + kubeconfig, "--cache-dir=" + home}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if (err != nil) != wantErr {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	admin := func(t *testing.T, args ...string) string { return run(t, s.Kubeconfig, "", false, args...) }

	admin(t, "create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,pods/log", "-n", "default")
	admin(t, "create", "clusterrole", "cm-one", "--verb=get", "--resource=configmaps", "--resource-name=one")
	admin(t, "create", "clusterrole", "health", "--verb=get", "--non-resource-url=/healthz/*")
	admin(t, "create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane", "--group=devs", "--serviceaccount=default:ci", "-n", "default")
	admin(t, "create", "clusterrolebinding", "jane-cm", "--clusterrole=cm-one", "--user=jane")
	run(t, s.Kubeconfig, `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      rbac.example.com/aggregate-to-monitoring: "true"
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring-endpoints
  labels:
    rbac.example.com/aggregate-to-monitoring: "true"
rules:
- apiGroups: [""]
  resources: ["services", "endpoints", "pods"]
  verbs: ["get", "list", "watch"]
`, false, "apply", "-f", "-")

	if out := admin(t, "get", "rolebindings", "-n", "default", "-o", "wide"); !strings.Contains(out, "Role/pod-reader") ||
		!strings.Contains(out, "jane") || !strings.Contains(out, "default/ci") || !strings.Contains(out, "SERVICEACCOUNTS") {
		t.Errorf("get rolebindings -o wide:\n%s", out)
	}
	if out := admin(t, "get", "clusterrolebinding", "cluster-admin"); !strings.Contains(out, "ClusterRole/cluster-admin") {
		t.Errorf("get clusterrolebinding:\n%s", out)
	}
	if out := admin(t, "get", "roles", "-n", "default"); !strings.Contains(out, "CREATED AT") || !strings.Contains(out, "pod-reader") {
		t.Errorf("get roles:\n%s", out)
	}
	// The aggregation fills monitoring's rules a moment after apply.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := admin(t, "get", "clusterrole", "monitoring", "-o", "jsonpath={.rules[0].resources}")
		if strings.Contains(out, "endpoints") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitoring not aggregated: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := admin(t, "describe", "clusterrole", "cm-one"); !strings.Contains(out, "[one]") {
		t.Errorf("describe clusterrole:\n%s", out)
	}

	jane := userKubeconfig(t, s, "jane")
	deadline = time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := exec.CommandContext(ctx, kubectl, "--kubeconfig="+jane, "--cache-dir="+home, "get", "pods", "-n", "default").Run()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("jane cannot get pods")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := run(t, jane, "", true, "delete", "pod", "x", "-n", "default")
	if want := `Error from server (Forbidden): pods "x" is forbidden: User "jane" cannot delete resource "pods" in API group "" in the namespace "default"`; !strings.Contains(out, want) {
		t.Errorf("delete as jane:\n%s\nwant %s", out, want)
	}
	run(t, jane, "", false, "get", "configmap", "one", "-n", "kube-system", "--ignore-not-found")
	out = run(t, jane, "", true, "get", "configmaps", "-n", "kube-system")
	if !strings.Contains(out, `cannot list resource "configmaps"`) {
		t.Errorf("list configmaps as jane:\n%s", out)
	}
}
