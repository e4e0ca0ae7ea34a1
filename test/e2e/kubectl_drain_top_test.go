package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestKubectlTop: kubectl top reads metrics.k8s.io, which the apiserver
// computes from the kubelets' stats summaries.
func TestKubectlTop(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "top")
	k.expect(t, []string{"-n", ns, "run", "spinner", "--image=busybox", "--restart=Never", "--command", "--",
		"sh", "-c", "while true; do :; done"}, "pod/spinner created")
	k.ok(t, "-n", ns, "wait", "--for=condition=Ready", "pod/spinner", "--timeout=150s")

	k.expect(t, []string{"api-resources", "--api-group=metrics.k8s.io"}, "nodes", "pods", "NodeMetrics", "PodMetrics")
	eventually(t, 60*time.Second, "kubectl top nodes lists every node", func() string {
		out, errOut, code := k.run("", "top", "nodes")
		if code != 0 {
			return fmt.Sprintf("exit %d: %s%s", code, out, errOut)
		}
		if !strings.Contains(out, "CPU(cores)") || !strings.Contains(out, "MEMORY(bytes)") {
			return out
		}
		for _, n := range c.nodes {
			if !hasRowPrefix(out, n) {
				return fmt.Sprintf("no row for %s:\n%s", n, out)
			}
		}
		return ""
	})
	eventually(t, 60*time.Second, "kubectl top pods shows the busy pod", func() string {
		out, errOut, code := k.run("", "-n", ns, "top", "pods")
		if code != 0 || !hasRowPrefix(out, "spinner") {
			return fmt.Sprintf("exit %d: %s%s", code, out, errOut)
		}
		// A busy loop uses a good part of a core: more than 100m.
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "spinner" {
				var milli int
				if _, err := fmt.Sscanf(f[1], "%dm", &milli); err != nil || milli < 100 {
					return "spinner's CPU is not above 100m:\n" + out
				}
			}
		}
		return ""
	})
	k.expect(t, []string{"-n", ns, "top", "pod", "spinner", "--containers"}, "spinner", "POD", "NAME")
	k.expect(t, []string{"top", "pods", "-A"}, ns, "spinner")
}

// hasRowPrefix says some line of a table starts with the field name.
func hasRowPrefix(table, name string) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// TestKubectlNodeProxy: GET .../nodes/NAME/proxy/PATH reaches the node's
// kubelet, which the apiserver finds at the Node's InternalIP and
// daemonEndpoints port.
func TestKubectlNodeProxy(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	for _, n := range c.nodes {
		out := k.ok(t, "get", "--raw", "/api/v1/nodes/"+n+"/proxy/stats/summary")
		var s struct {
			Node struct {
				NodeName string `json:"nodeName"`
			} `json:"node"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Node.NodeName != n {
			t.Errorf("stats summary through nodes/%s/proxy: %v\n%s", n, err, out)
		}
		if out := k.ok(t, "get", "--raw", "/api/v1/nodes/"+n+"/proxy/healthz"); !strings.Contains(out, "ok") {
			t.Errorf("nodes/%s/proxy/healthz: %q", n, out)
		}
		port := k.ok(t, "get", "node", n, "-o", "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}")
		if port == "" || port == "0" {
			t.Errorf("node %s publishes no kubelet port", n)
		}
	}
	_, errOut, code := k.run("", "get", "--raw", "/api/v1/nodes/no-such-node/proxy/healthz")
	if code == 0 || !strings.Contains(errOut, "NotFound") && !strings.Contains(errOut, "not found") {
		t.Errorf("proxy to a missing node: exit %d %s", code, errOut)
	}
}

// TestKubectlDrain: kubectl drain evicts through pods/eviction, which a
// PodDisruptionBudget holds back until the workload has a pod to spare.
// Only the test's pods are drained (--pod-selector); the node is
// uncordoned at the end.
func TestKubectlDrain(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	if len(c.nodes) < 2 {
		t.Skip("drain needs a second node for the replacement pods")
	}
	ns := c.kubectlNamespace(t, "drain")
	k.expect(t, []string{"-n", ns, "create", "deployment", "drainme", "--image=busybox", "--replicas=2", "--", "sleep", "3600"},
		"deployment.apps/drainme created")
	k.expect(t, []string{"-n", ns, "rollout", "status", "deployment/drainme", "--timeout=3m"}, "successfully rolled out")
	k.expect(t, []string{"-n", ns, "create", "poddisruptionbudget", "drainme", "--selector=app=drainme", "--min-available=2"},
		"poddisruptionbudget.policy/drainme created")
	k.expect(t, []string{"-n", ns, "get", "pdb"}, "drainme")

	node := k.ok(t, "-n", ns, "get", "pods", "-l", "app=drainme", "-o", "jsonpath={.items[0].spec.nodeName}")
	if node == "" {
		t.Fatal("no node for the pods")
	}
	t.Cleanup(func() { k.run("", "uncordon", node) })
	drain := []string{"drain", node, "--pod-selector=app=drainme", "--ignore-daemonsets", "--delete-emptydir-data"}

	// Both replicas are needed: every eviction is refused until drain gives up.
	out, errOut, code := k.run("", append(drain, "--timeout=12s")...)
	if code == 0 || !strings.Contains(errOut, "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Fatalf("drain with a budget of 2 of 2: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	k.expect(t, []string{"get", "node", node}, "SchedulingDisabled")
	// The disruption controller's status: written with its zero, as
	// Kubernetes writes it.
	if got := k.ok(t, "-n", ns, "get", "pdb", "drainme", "-o", "jsonpath={.status.disruptionsAllowed}"); got != "0" {
		t.Errorf("disruptionsAllowed with 2 of 2 needed: %q", got)
	}

	// One may go: drain evicts, the deployment replaces the pods on other
	// nodes, and drain finishes.
	k.ok(t, "-n", ns, "patch", "pdb", "drainme", "--type=merge", "-p", `{"spec":{"minAvailable":1}}`)
	out = k.ok(t, append(drain, "--timeout=3m")...)
	if !strings.Contains(out, "evicted") || !strings.Contains(out, "drained") {
		t.Errorf("drain with a budget of 1: %s", out)
	}
	k.expect(t, []string{"-n", ns, "rollout", "status", "deployment/drainme", "--timeout=3m"}, "successfully rolled out")
	if nodes := k.ok(t, "-n", ns, "get", "pods", "-l", "app=drainme", "--field-selector=status.phase=Running",
		"-o", "jsonpath={.items[*].spec.nodeName}"); strings.Contains(nodes, node) {
		t.Errorf("pods still run on the drained node %s: %s", node, nodes)
	}
	k.expect(t, []string{"uncordon", node}, "uncordoned")
}
