package e2e

// Scenarios that only look at the cluster or use it like a user, in the
// order of the issue: component statuses, `minictl run` with its events
// and pod phases, etcd's view of a pod.

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
)

// componentStatuses parses `minictl get componentstatuses` into name ->
// STATUS column.
func (c *cluster) componentStatuses() (map[string]string, string, error) {
	out, err := c.minictl("get", "componentstatuses")
	if err != nil {
		return nil, out, err
	}
	st := map[string]string{}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		st[f[0]] = f[1]
	}
	return st, out, nil
}

// statusNames are the components `get componentstatuses` lists: three
// etcd members in the default mode, the master's one in static-pods mode
// and one per control-plane machine in machines mode.
func (c *cluster) statusNames() []string {
	if c.onMachines() {
		names := []string{"scheduler", "controller-manager"}
		for i := range c.cpMachines() {
			names = append(names, fmt.Sprintf("etcd-%d", i))
		}
		return names
	}
	if c.staticPods() {
		return []string{"scheduler", "controller-manager", "etcd-0"}
	}
	return []string{"scheduler", "controller-manager", "etcd-0", "etcd-1", "etcd-2"}
}

// expectStatuses waits until every named component shows want, and the
// rest of statusNames show Healthy.
func (c *cluster) expectStatuses(t *testing.T, want map[string]string) {
	t.Helper()
	eventually(t, 60*time.Second, fmt.Sprintf("componentstatuses %v", want), func() string {
		st, out, err := c.componentStatuses()
		if err != nil {
			return err.Error()
		}
		if len(st) != len(c.statusNames()) {
			return fmt.Sprintf("%d components, want %v:\n%s", len(st), c.statusNames(), out)
		}
		for _, name := range c.statusNames() {
			w := want[name]
			if w == "" {
				w = "Healthy"
			}
			if st[name] != w {
				return fmt.Sprintf("%s is %q, want %s:\n%s", name, st[name], w, out)
			}
		}
		return ""
	})
}

// TestComponentStatuses: scheduler, controller-manager and etcd-0..2
// (etcd-0 alone with static pods) are Healthy; a stopped etcd member, and
// the scheduler with both replicas stopped, show Unhealthy until started
// again.
func TestComponentStatuses(t *testing.T) {
	c := need(t)
	c.expectStatuses(t, nil)
	out := c.mc(t, "get", "componentstatuses")
	t.Logf("minictl get componentstatuses:\n%s", out)

	t.Run("etcd member stopped", func(t *testing.T) {
		c.needProcesses(t)
		c.stop(t, "etcd-2")
		c.expectStatuses(t, map[string]string{"etcd-2": "Unhealthy"})
		c.start(t, "etcd-2")
		c.expectStatuses(t, nil)
	})
	t.Run("scheduler stopped", func(t *testing.T) {
		c.needProcesses(t)
		// Healthy while any replica answers: stop both.
		c.stop(t, "scheduler-0")
		c.stop(t, "scheduler-1")
		c.expectStatuses(t, map[string]string{"scheduler": "Unhealthy"})
		c.start(t, "scheduler-0")
		c.start(t, "scheduler-1")
		c.expectStatuses(t, nil)
	})
}

// watchLog runs `minictl get pods -w` in the background and returns what
// it printed when stopped.
type watchLog struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	out    strings.Builder
}

func (w *watchLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func (w *watchLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

func (c *cluster) watch(t *testing.T, args ...string) *watchLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchLog{cancel: cancel, done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, c.bin+"/minictl", append(c.serverArgs(c.servers), args...)...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(w.done) }()
	t.Cleanup(w.stop)
	return w
}

func (w *watchLog) stop() {
	w.cancel()
	<-w.done
}

// TestRunNginx: `minictl run nginx --image=nginx` makes a Deployment, its
// ReplicaSet and a Pod; the events tell the story with the right
// sources; `get pods -w` shows Pending, ContainerCreating, Running, and
// Terminating after the delete.
func TestRunNginx(t *testing.T) {
	c := need(t)
	ns := c.namespace(t, "mk8s-e2e-run")
	w := c.watch(t, "-n", ns, "get", "pods", "-w")
	// The watch lists the empty namespace first and then watches from the
	// list's resourceVersion, so once its "No resources found" is printed
	// every later change of the pod is delivered, however fast the cluster
	// moves it through Pending and ContainerCreating.
	eventually(t, 30*time.Second, "get pods -w listed the namespace", func() string {
		if out := w.String(); !strings.Contains(out, "No resources found") {
			return fmt.Sprintf("%q", out)
		}
		return ""
	})
	c.mc(t, "-n", ns, "run", "nginx", "--image=nginx")

	c.mc(t, "-n", ns, "get", "deployment", "nginx")
	var rsName string
	eventually(t, 30*time.Second, "replicaset of nginx", func() string {
		out, err := c.minictl("-n", ns, "get", "replicasets", "-l", "run=nginx", "-o", "jsonpath={.items[*].metadata.name}")
		if err != nil || strings.TrimSpace(out) == "" {
			return fmt.Sprintf("%q %v", out, err)
		}
		rsName = strings.Fields(out)[0]
		return ""
	})
	if !strings.HasPrefix(rsName, "nginx-") {
		t.Fatalf("replicaset %q", rsName)
	}
	p := c.runningPods(t, ns, "run=nginx", 1, 2*time.Minute)[0]
	if !strings.HasPrefix(p.name, rsName+"-") {
		t.Errorf("pod %s is not named after its replicaset %s", p.name, rsName)
	}
	owner, _ := c.jsonpath(ns, "pod", p.name, ".metadata.ownerReferences[0].name")
	if owner != rsName {
		t.Errorf("pod %s owned by %q, want %s", p.name, owner, rsName)
	}

	// Events: reason -> the source component that must have reported it.
	want := map[string]string{
		"ScalingReplicaSet": "deployment-controller",
		"SuccessfulCreate":  "replicaset-controller",
		"Scheduled":         "default-scheduler",
		"Pulled":            "kubelet",
		"Created":           "kubelet",
		"Started":           "kubelet",
	}
	events := client.For[*corev1.Event](c.api)
	eventually(t, 30*time.Second, "events", func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		list, err := events.List(ctx, ns, client.ListOptions{})
		if err != nil {
			return err.Error()
		}
		seen := map[string]string{}
		for _, e := range list.Items {
			src := e.GetSource().GetComponent()
			if src == "" {
				src = e.GetReportingComponent()
			}
			seen[e.GetReason()] = src
			if src == "kubelet" && e.GetSource().GetHost() != p.node {
				return fmt.Sprintf("event %s from kubelet of %q, want %s", e.GetReason(), e.GetSource().GetHost(), p.node)
			}
		}
		for reason, src := range want {
			if seen[reason] != src {
				return fmt.Sprintf("event %s: source %q, want %q (seen %v)", reason, seen[reason], src, seen)
			}
		}
		return ""
	})
	t.Logf("events:\n%s", c.mc(t, "-n", ns, "get", "events"))

	c.mc(t, "-n", ns, "delete", "deployment", "nginx")
	eventually(t, 90*time.Second, "nginx pods gone", func() string {
		if ps := c.pods(t, ns, "run=nginx"); len(ps) > 0 {
			return fmt.Sprintf("%+v", ps)
		}
		return ""
	})
	time.Sleep(time.Second)
	w.stop()
	out := w.String()
	t.Logf("minictl get pods -w:\n%s", out)
	// Each status shows up in order on the pod's lines.
	var podLines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, p.name+" ") {
			podLines = append(podLines, line)
		}
	}
	out = strings.Join(podLines, "\n")
	pos := 0
	for _, status := range []string{"Pending", "ContainerCreating", "Running", "Terminating"} {
		i := strings.Index(out[pos:], status)
		if i < 0 {
			t.Errorf("get pods -w never showed %s after offset %d:\n%s", status, pos, out)
			break
		}
		pos += i
	}
}

// TestEtcdctlReadsPod: `etcdctl get /registry/pods/NS/NAME` prints the
// pod as Kubernetes JSON.
func TestEtcdctlReadsPod(t *testing.T) {
	c := need(t)
	ns := c.namespace(t, "mk8s-e2e-etcd")
	c.apply(t, ns, `apiVersion: v1
kind: Pod
metadata:
  name: etcd-probe
  labels: {app: etcd-probe}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := "/registry/pods/" + ns + "/etcd-probe"
	out, err := c.run(ctx, c.bin+"/etcdctl", c.etcdctl("get", key, "--print-value-only")...)
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Containers []struct {
				Image string `json:"image"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &obj); err != nil {
		t.Fatalf("etcdctl get %s is not JSON: %v\n%s", key, err, out)
	}
	if obj.Kind != "Pod" || obj.APIVersion != "v1" || obj.Metadata.Name != "etcd-probe" || obj.Metadata.Namespace != ns ||
		len(obj.Spec.Containers) != 1 || obj.Spec.Containers[0].Image != "busybox" {
		t.Fatalf("etcdctl get %s:\n%s", key, out)
	}
	keys, err := c.run(ctx, c.bin+"/etcdctl", c.etcdctl("get", "--prefix", "/registry/pods/"+ns+"/", "--keys-only")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(keys, key) {
		t.Fatalf("keys under /registry/pods/%s/: %s", ns, keys)
	}
}

// sortedKeys is for stable failure messages.
func sortedKeys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestNetworkSafety checks the harness's guard rails without sending a
// packet: in the root namespace the pod and service ranges route to the
// harness bridge (never the default route), FORWARD jumps to the chain
// that drops cluster traffic leaving the cluster, and each node's default
// route leads to the bridge's gateway.
func TestNetworkSafety(t *testing.T) {
	c := need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dst := range []string{"10.244.250.1", "10.96.250.1", "10.244.0.1"} {
		out, err := c.run(ctx, "ip", "route", "get", dst)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "dev mk8s-br0") {
			t.Errorf("root namespace routes %s elsewhere than the harness bridge: %s", dst, out)
		}
	}
	out, err := c.run(ctx, "iptables", "-w", "-S", "FORWARD")
	if err != nil {
		t.Fatal(err)
	}
	// The harness inserts the jump first; others may insert rules later,
	// so only its presence is checked.
	if !strings.Contains(out, "-j MK8S-FORWARD") {
		t.Errorf("FORWARD has no jump to MK8S-FORWARD:\n%s", out)
	}
	out, err = c.run(ctx, "iptables", "-w", "-S", "MK8S-FORWARD")
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"-s 10.244.0.0/16 -j DROP", "-s 10.96.0.0/16 -j DROP", "-d " + c.extIP + "/32 -j RETURN"} {
		if !strings.Contains(out, rule) {
			t.Errorf("MK8S-FORWARD lacks %q:\n%s", rule, out)
		}
	}
	for _, n := range c.nodes {
		out, err := c.run(ctx, "ip", "-n", n, "route", "show", "default")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "via 10.250.0.1 dev mk8s-up") {
			t.Errorf("node %s default route: %s", n, out)
		}
	}
}

// TestStaticControlPlanePods (CONTROL_PLANE=static-pods): the kube-system
// listing the seed shows for a kubeadm-style master,
//
//	minictl get po -n kube-system -o custom-columns=POD:metadata.name,NODE:spec.nodeName --sort-by spec.nodeName
//
// has etcd, kube-apiserver, kube-controller-manager and kube-scheduler
// named after the master and on it, one kube-proxy-xxxxx per node, and
// the kube-dns pod, sorted by node.
func TestStaticControlPlanePods(t *testing.T) {
	c := need(t)
	if !c.staticPods() {
		t.Skipf("CONTROL_PLANE=%s: the control plane runs as processes, not static pods (make e2e-static runs this test)", c.controlPlane)
	}
	args := []string{"get", "po", "-n", "kube-system", "-o", "custom-columns=POD:metadata.name,NODE:spec.nodeName", "--sort-by", "spec.nodeName"}
	var out string
	eventually(t, 60*time.Second, "the kube-system listing", func() string {
		var err error
		if out, err = c.minictl(args...); err != nil {
			return err.Error()
		}
		return checkStaticListing(out, c.master, c.nodes)
	})
	t.Logf("minictl %s:\n%s", strings.Join(args, " "), out)
}

// checkStaticListing returns what is wrong with the listing, "" if nothing.
func checkStaticListing(out, master string, nodes []string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[0]); len(f) != 2 || f[0] != "POD" || f[1] != "NODE" {
		return "header " + lines[0]
	}
	onNode := map[string]string{} // pod -> node
	proxies := map[string]int{}   // node -> kube-proxy pods
	dns, prev := 0, ""
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 2 {
			return "line " + line
		}
		pod, node := f[0], f[1]
		if node < prev {
			return fmt.Sprintf("not sorted by node: %s after %s:\n%s", node, prev, out)
		}
		prev = node
		onNode[pod] = node
		switch {
		case strings.HasPrefix(pod, "kube-proxy-"):
			// A DaemonSet pod: the DaemonSet's name and five random characters.
			if len(strings.TrimPrefix(pod, "kube-proxy-")) != 5 {
				return "kube-proxy pod name " + pod
			}
			proxies[node]++
		case strings.HasPrefix(pod, "kube-dns-"):
			dns++
		}
	}
	for _, comp := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if n := onNode[comp+"-"+master]; n != master {
			return fmt.Sprintf("%s-%s on %q, want %s:\n%s", comp, master, n, master, out)
		}
	}
	for _, n := range nodes {
		if proxies[n] != 1 {
			return fmt.Sprintf("%d kube-proxy pods on %s, want 1:\n%s", proxies[n], n, out)
		}
	}
	if dns == 0 {
		return "no kube-dns pod:\n" + out
	}
	return ""
}
