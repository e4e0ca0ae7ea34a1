package e2e

// Failures: the scheduler's leader goes away, an etcd member or an
// apiserver stops, a worker's kubelet stops. Each test restarts what it
// stopped (also on failure, through t.Cleanup).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// leaseHolder reads the holder of Lease kube-system/NAME.
func (c *cluster) leaseHolder(name string) (string, error) {
	return c.jsonpath("kube-system", "lease", name, ".spec.holderIdentity")
}

// TestSchedulerFailover: stopping the scheduler that holds the lease
// moves the lease to the standby, and pods keep being scheduled.
func TestSchedulerFailover(t *testing.T) {
	c := need(t)
	c.needProcesses(t)
	ns := c.namespace(t, "mk8s-e2e-sched")
	holder, err := c.leaseHolder("scheduler")
	if err != nil || !strings.HasPrefix(holder, "scheduler-") {
		t.Fatalf("lease kube-system/scheduler held by %q (%v); the harness names identities after components", holder, err)
	}
	before, _ := c.jsonpath("kube-system", "lease", "scheduler", ".spec.leaseTransitions")
	c.stop(t, holder)
	var next string
	eventually(t, 45*time.Second, "lease moves from "+holder, func() string {
		h, err := c.leaseHolder("scheduler")
		if err != nil || h == holder || h == "" {
			return fmt.Sprintf("holder %q %v", h, err)
		}
		next = h
		return ""
	})
	after, _ := c.jsonpath("kube-system", "lease", "scheduler", ".spec.leaseTransitions")
	t.Logf("lease: %s -> %s, transitions %s -> %s", holder, next, before, after)
	if before == after {
		t.Errorf("leaseTransitions stayed %s", before)
	}
	c.mc(t, "-n", ns, "run", "after-failover", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600")
	eventually(t, 60*time.Second, "pod scheduled by "+next, func() string {
		node, _ := c.jsonpath(ns, "pod", "after-failover", ".spec.nodeName")
		if node == "" {
			return "not scheduled"
		}
		return ""
	})
	c.start(t, holder)
}

// TestControllerManagerFailover: stopping the controller-manager that
// holds the lease moves it to the standby, which then runs the
// controllers (a new Deployment gets its pods).
func TestControllerManagerFailover(t *testing.T) {
	c := need(t)
	c.needProcesses(t)
	ns := c.namespace(t, "mk8s-e2e-cm")
	holder, err := c.leaseHolder("controller-manager")
	if err != nil || !strings.HasPrefix(holder, "controller-manager-") {
		t.Fatalf("lease kube-system/controller-manager held by %q (%v)", holder, err)
	}
	c.stop(t, holder)
	eventually(t, 45*time.Second, "lease moves from "+holder, func() string {
		h, err := c.leaseHolder("controller-manager")
		if err != nil || h == holder || h == "" {
			return fmt.Sprintf("holder %q %v", h, err)
		}
		return ""
	})
	c.mc(t, "-n", ns, "run", "after-cm-failover", "--image=busybox", "--replicas=2", "--command", "--", "sleep", "3600")
	c.runningPods(t, ns, "run=after-cm-failover", 2, 2*time.Minute)
	c.start(t, holder)
}

// configMaps creates config maps name-0..n-1 in ns, one `minictl create`
// each (minictl is given both apiservers), and fails on the first error:
// every one that returns was acknowledged.
func (c *cluster) configMaps(t *testing.T, ns, name string, n int) {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		f := filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", name, i))
		manifest := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d\ndata:\n  i: \"%d\"\n", name, i, i)
		if err := os.WriteFile(f, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		c.mc(t, "-n", ns, "create", "-f", f)
	}
}

// countKeys counts etcd keys under prefix.
func (c *cluster) countKeys(t *testing.T, prefix string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, c.bin+"/etcdctl", c.etcdctl("get", "--prefix", prefix, "--count-only", "-w", "fields")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `"Count" : `) {
			var n int
			fmt.Sscanf(strings.TrimPrefix(line, `"Count" : `), "%d", &n)
			return n
		}
	}
	t.Fatalf("etcdctl count: %s", out)
	return 0
}

// TestHAOneEtcdMemberDown: with one of three etcd members stopped, writes
// succeed; after it returns, every acknowledged write is there.
func TestHAOneEtcdMemberDown(t *testing.T) {
	c := need(t)
	c.needProcesses(t)
	ns := c.namespace(t, "mk8s-e2e-ha-etcd")
	c.stop(t, "etcd-1")
	c.configMaps(t, ns, "during", 10)
	c.start(t, "etcd-1")
	c.configMaps(t, ns, "after", 5)
	out := c.mc(t, "-n", ns, "get", "configmaps", "--no-headers")
	if n := strings.Count(out, "during-") + strings.Count(out, "after-"); n != 15 {
		t.Fatalf("%d of 15 config maps listed:\n%s", n, out)
	}
	// The test's own keys: the namespace also holds kube-root-ca.crt.
	if n := c.countKeys(t, "/registry/configmaps/"+ns+"/during-") + c.countKeys(t, "/registry/configmaps/"+ns+"/after-"); n != 15 {
		t.Fatalf("etcd holds %d of 15 config maps", n)
	}
}

// TestHAOneAPIServerDown: with one apiserver stopped, minictl given both
// keeps working, and so does the cluster (a new pod runs).
func TestHAOneAPIServerDown(t *testing.T) {
	c := need(t)
	c.needProcesses(t)
	ns := c.namespace(t, "mk8s-e2e-ha-api")
	for _, api := range []string{"apiserver-0", "apiserver-1"} {
		t.Run(api, func(t *testing.T) {
			c.stop(t, api)
			c.configMaps(t, ns, api, 10)
			out := c.mc(t, "-n", ns, "get", "configmaps", "--no-headers")
			if n := strings.Count(out, api+"-"); n != 10 {
				t.Fatalf("%d of 10 config maps listed:\n%s", n, out)
			}
			pod := "while-" + strings.TrimPrefix(api, "apiserver-")
			c.mc(t, "-n", ns, "run", pod, "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600")
			eventually(t, 90*time.Second, pod+" running without "+api, func() string {
				phase, err := c.jsonpath(ns, "pod", pod, ".status.phase")
				if phase != "Running" {
					return fmt.Sprintf("phase %q %v", phase, err)
				}
				return ""
			})
			c.start(t, api)
			// Ready again before the next one stops, or both are down.
			idx := strings.TrimPrefix(api, "apiserver-")
			server := strings.Split(c.servers, ",")[map[string]int{"0": 0, "1": 1}[idx]]
			eventually(t, 60*time.Second, api+" serves again", func() string {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := c.run(ctx, c.bin+"/minictl", append(c.serverArgs(server), "get", "namespaces")...); err != nil {
					return err.Error()
				}
				return ""
			})
		})
	}
	if n := c.countKeys(t, "/registry/configmaps/"+ns+"/"); n < 20 {
		t.Fatalf("etcd holds %d of 20 config maps", n)
	}
}

// nodeStatus is the STATUS column of `minictl get node`.
func (c *cluster) nodeStatus(node string) string {
	out, err := c.minictl("get", "node", node, "--no-headers")
	if err != nil {
		return err.Error()
	}
	if f := strings.Fields(out); len(f) > 1 {
		return f[1]
	}
	return out
}

// TestNodeFailure: a worker whose kubelet stops turns NotReady, and the
// pods of a Deployment on it are recreated on the other nodes; when the
// kubelet returns the node is Ready again.
func TestNodeFailure(t *testing.T) {
	c := need(t)
	if len(c.nodes) < 2 {
		t.Skip("needs two nodes")
	}
	ns := c.namespace(t, "mk8s-e2e-node")
	c.apply(t, ns, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: mover
spec:
  replicas: 3
  selector:
    matchLabels: {app: mover}
  template:
    metadata:
      labels: {app: mover}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "36000"]
`)
	pods := c.runningPods(t, ns, "app=mover", 3, 3*time.Minute)
	// Never the master with static pods: its kubelet runs the control
	// plane, so stopping it is a different test.
	victim := ""
	for _, p := range pods {
		if p.node != c.master {
			victim = p.node
			break
		}
	}
	if victim == "" {
		t.Skipf("every mover pod runs on the master %s: %+v", c.master, pods)
	}
	var i int
	fmt.Sscanf(strings.TrimPrefix(victim, "mk8s-node"), "%d", &i)
	kubelet := fmt.Sprintf("kubelet-node%d", i)
	c.stop(t, kubelet)
	start := time.Now()
	eventually(t, 90*time.Second, victim+" not ready", func() string {
		if st := c.nodeStatus(victim); !strings.HasPrefix(st, "NotReady") && st != "Unknown" {
			return "status " + st
		}
		return ""
	})
	t.Logf("%s NotReady after %s", victim, time.Since(start).Round(time.Second))
	eventually(t, 3*time.Minute, "3 mover pods running off "+victim, func() string {
		var ok []string
		all := c.pods(t, ns, "app=mover")
		for _, p := range all {
			if !p.deleting && p.phase == "Running" && p.node != victim {
				ok = append(ok, p.name)
			}
		}
		if len(ok) != 3 {
			return fmt.Sprintf("%d: %+v", len(ok), all)
		}
		return ""
	})
	t.Logf("pods moved off %s after %s", victim, time.Since(start).Round(time.Second))
	c.start(t, kubelet)
	eventually(t, 90*time.Second, victim+" ready again", func() string {
		if st := c.nodeStatus(victim); st != "Ready" {
			return "status " + st
		}
		return ""
	})
	// The evicted pods finish terminating once their kubelet is back.
	eventually(t, 90*time.Second, "evicted pods gone", func() string {
		for _, p := range c.pods(t, ns, "app=mover") {
			if p.node == victim {
				return fmt.Sprintf("%s still on %s", p.name, victim)
			}
		}
		return ""
	})
}
