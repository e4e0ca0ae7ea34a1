package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	"minik8s/api/pki"
)

// as returns a kubectl that authenticates as user (in groups) with a
// client certificate the cluster CA signs here - as an administrator
// hands one out - and the admin kubeconfig's server and CA.
func (c *cluster) as(t *testing.T, k *kubectl, user string, groups ...string) *kubectl {
	t.Helper()
	pkiDir := filepath.Join(filepath.Dir(k.kubeconfig), "pki") // the harness's layout
	ca, err := pki.ReadKeyPair(pkiDir, "ca")
	if err != nil {
		t.Fatalf("cluster CA: %v", err)
	}
	kp, err := ca.Sign(pki.CertConfig{CommonName: user, Organization: groups, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := client.LoadKubeconfig(client.KubeconfigOptions{Kubeconfig: k.kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), user+".conf")
	if err := pki.WriteKubeconfig(file, "https://"+cfg.Servers[0], ca.Cert, kp, user); err != nil {
		t.Fatal(err)
	}
	u := *k
	u.kubeconfig = file
	return &u
}

// TestRBACViewUser: a user bound to "view" in one namespace lists pods
// there but cannot delete them, exec into them or read secrets; the
// Forbidden errors name user, verb and resource; `kubectl auth can-i`
// (also --list, and --as for the admin) agrees with the binding.
func TestRBACViewUser(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "rbac")
	user := fmt.Sprintf("jane-%d", time.Now().UnixNano()%100000)
	k.ok(t, "-n", ns, "run", "web", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600")
	k.ok(t, "-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v")
	k.ok(t, "-n", ns, "create", "rolebinding", "jane-view", "--clusterrole=view", "--user="+user)
	jane := c.as(t, k, user)

	eventually(t, 30*time.Second, "the view binding in effect", func() string {
		_, errOut, code := jane.run("", "-n", ns, "get", "pods")
		if code != 0 {
			return errOut
		}
		return ""
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", ns, "delete", "pod", "web", "--wait=false"}, fmt.Sprintf(`pods "web" is forbidden: User %q cannot delete resource "pods" in API group "" in the namespace %q`, user, ns)},
		{[]string{"-n", ns, "get", "secret", "s"}, fmt.Sprintf(`secrets "s" is forbidden: User %q cannot get resource "secrets" in API group "" in the namespace %q`, user, ns)},
		{[]string{"-n", ns, "exec", "web", "--", "true"}, fmt.Sprintf(`User %q cannot create resource "pods/exec" in API group "" in the namespace %q`, user, ns)},
		{[]string{"get", "pods", "-n", "kube-system"}, fmt.Sprintf(`User %q cannot list resource "pods" in API group "" in the namespace "kube-system"`, user)},
		{[]string{"-n", ns, "create", "rolebinding", "escalate", "--clusterrole=cluster-admin", "--user=" + user}, "forbidden"},
	} {
		out, errOut, code := jane.run("", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("kubectl %s as %s: exit %d\nstdout: %s\nstderr: %s\nwant stderr to contain %q", strings.Join(tc.args, " "), user, code, out, errOut, tc.want)
		}
	}

	// can-i, as the user and for the user (impersonation by the admin).
	for _, who := range []struct {
		name string
		k    *kubectl
		args []string
	}{{"self", jane, nil}, {"--as", k, []string{"--as", user}}} {
		for _, q := range []struct {
			args []string
			want string
		}{
			{[]string{"list", "pods"}, "yes"},
			{[]string{"delete", "pods"}, "no"},
			{[]string{"get", "secrets"}, "no"},
			{[]string{"create", "pods/exec"}, "no"},
		} {
			args := append(append([]string{"auth", "can-i", "-n", ns}, who.args...), q.args...)
			out, _, _ := who.k.run("", args...)
			if strings.TrimSpace(out) != q.want {
				t.Errorf("%s: kubectl %s = %q, want %q", who.name, strings.Join(args, " "), strings.TrimSpace(out), q.want)
			}
		}
	}
	list := jane.ok(t, "auth", "can-i", "--list", "-n", ns)
	if !regexp.MustCompile(`(?m)^pods\s+\[\]\s+\[\]\s+\[get list watch\]`).MatchString(list) {
		t.Errorf("kubectl auth can-i --list as %s lacks the view rule for pods:\n%s", user, list)
	}
	if asList := k.ok(t, "auth", "can-i", "--list", "-n", ns, "--as", user); asList != list {
		t.Errorf("kubectl auth can-i --list --as %s differs from the user's own:\n%s\n---\n%s", user, asList, list)
	}
}

// TestNodeAuthorizer: a kubelet's credentials (system:node:NAME) reach
// only what the pods bound to its node use: not another node's pod, not
// a secret no pod of its node uses, not another node's status.
func TestNodeAuthorizer(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	if len(c.nodes) < 2 {
		t.Skip("needs two nodes")
	}
	n1, n2 := c.nodes[0], c.nodes[1]
	ns := c.kubectlNamespace(t, "node-authz")
	c.apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: used-by-n1}
stringData: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: unused}
stringData: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: on-n1}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: s, mountPath: /s}]}
  volumes:
  - {name: s, secret: {secretName: used-by-n1}}
---
apiVersion: v1
kind: Pod
metadata: {name: on-n2}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"]}
`, n1, n2))
	node1 := *k
	node1.kubeconfig = filepath.Join(filepath.Dir(k.kubeconfig), "kubelet-"+n1+".conf")
	if _, err := os.Stat(node1.kubeconfig); err != nil {
		t.Fatalf("the kubelet's kubeconfig: %v", err)
	}
	eventually(t, 30*time.Second, "node1 reads its own pod and the secret it uses", func() string {
		for _, args := range [][]string{{"get", "pod", "on-n1"}, {"get", "secret", "used-by-n1"}} {
			if _, errOut, code := node1.run("", append([]string{"-n", ns}, args...)...); code != 0 {
				return strings.Join(args, " ") + ": " + errOut
			}
		}
		return ""
	})
	user := "system:node:" + n1
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", ns, "get", "pod", "on-n2"}, fmt.Sprintf(`pods "on-n2" is forbidden: User %q cannot get resource "pods"`, user)},
		{[]string{"-n", ns, "get", "secret", "unused"}, fmt.Sprintf(`secrets "unused" is forbidden: User %q cannot get resource "secrets"`, user)},
		{[]string{"label", "node", n2, "mk8s-e2e=x"}, "forbidden"},
		{[]string{"patch", "node", n2, "--subresource=status", "--type=merge", "-p", `{"status":{"capacity":{"pods":"1"}}}`}, "forbidden"},
		{[]string{"-n", ns, "run", "not-mirror", "--image=busybox", "--restart=Never"}, "forbidden"},
	} {
		out, errOut, code := node1.run("", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("kubectl %s as %s: exit %d\nstdout: %s\nstderr: %s\nwant stderr to contain %q", strings.Join(tc.args, " "), user, code, out, errOut, tc.want)
		}
	}
}
