package fault

// A node partitioned from the cluster and healed, with a StatefulSet pod
// on it: the case that shows the cluster keeps a StatefulSet's at-most-one
// promise. Its file name sorts it before the other cases (go test runs
// files in name order), next to the node cases of cases_test.go.

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/kubelet/runtime"
)

// nodeFaultChain is the chain the partition adds inside a node's network
// namespace (the namespace is the harness's, and goes with make down).
const nodeFaultChain = "MK8S-FAULT"

// TestPartitionNode: one node cut off from the rest of the cluster by the
// network - everything in and out of its namespace's link dropped by
// iptables in that namespace, and its kubelet's connections to the
// apiservers dropped too (the harness runs the kubelets in the root
// namespace; on a machine they would be behind the same link) - while it
// runs a StatefulSet's pod, then healed.
//
// The node turns NotReady and is tainted unreachable, and its pod is
// marked for deletion when its toleration runs out. A StatefulSet pod has
// one identity: while the node cannot confirm the pod is gone, the
// StatefulSet controller must not start it anywhere else (Kubernetes'
// at-most-one guarantee), so the pod stays Terminating on the silent node
// as long as the partition lasts. After the heal the node's kubelet stops
// the container and removes the pod, and only then does the pod run
// again. Every node's containerd is read throughout: never two running
// containers of that pod at once.
func TestPartitionNode(t *testing.T) {
	c := need(t)
	if len(c.nodes) < 2 {
		t.Skip("needs two nodes")
	}
	row := &Row{Fault: "a node partitioned (iptables in its namespace, its kubelet cut from the apiservers) while running a StatefulSet pod, healed after the pod was marked for deletion"}
	record(t, row)
	ns := c.namespace(t, "fault-node-partition")
	c.apply(t, ns, `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "36000"]
`)
	// pod reads web-0 as uid, node, phase and whether it is being deleted.
	type podState struct {
		uid, node, phase string
		deleting         bool
	}
	pod := func() (podState, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := client.For[*corev1.Pod](c.api).Get(ctx, ns, "web-0")
		if err != nil {
			return podState{}, err
		}
		return podState{p.GetMetadata().GetUid(), p.GetSpec().GetNodeName(), p.GetStatus().GetPhase(),
			p.GetMetadata().GetDeletionTimestamp() != nil}, nil
	}
	var first podState
	eventually(t, 3*time.Minute, time.Second, "web-0 running", func() string {
		p, err := pod()
		if err != nil || p.phase != "Running" {
			return fmt.Sprintf("%+v %v", p, err)
		}
		first = p
		return ""
	})
	i := c.nodeIndex(t, first.node)
	victim := first.node
	row.Fault = fmt.Sprintf("%s partitioned (iptables in its namespace, its kubelet cut from the apiservers) while running StatefulSet pod web-0; healed %.0f s after web-0 was marked for deletion", victim, holdAfterEviction.Seconds())

	w := c.watchContainers(t, ns, "web-0", "main")
	l := c.startLoad(t, ns, "cm")
	heal := c.partitionNode(t, i)
	at := time.Now()
	notReady := c.waitNodeReady(t, victim, false, 90*time.Second)
	marked := eventually(t, 2*time.Minute, 500*time.Millisecond, "web-0 marked for deletion on "+victim, func() string {
		p, err := pod()
		if err != nil || p.uid != first.uid || !p.deleting {
			return fmt.Sprintf("%+v %v", p, err)
		}
		return ""
	})
	// The partition holds: the pod must stay the one on the silent node.
	time.Sleep(holdAfterEviction)
	held, err := pod()
	if err != nil || held.uid != first.uid || held.node != victim {
		t.Errorf("web-0 while %s is partitioned: %+v (%v); want the pod %s still on %s: a StatefulSet pod was replaced before its node confirmed it gone",
			victim, held, err, first.uid, victim)
	}
	healed := time.Now()
	heal()
	var again podState
	back := eventually(t, 3*time.Minute, 500*time.Millisecond, "web-0 running again after the heal", func() string {
		p, err := pod()
		if err != nil || p.uid == first.uid || p.phase != "Running" || p.deleting {
			return fmt.Sprintf("%+v %v", p, err)
		}
		again = p
		return ""
	})
	most, seen := w.stop()
	if most > 1 {
		t.Errorf("%d containers of web-0 ran at once (%s): a StatefulSet pod ran twice", most, seen)
	}
	if most == 0 {
		t.Errorf("the containerd watch never saw web-0's container running (%s): the check checked nothing", seen)
	}
	as := c.check(t, l, row)
	d, ok := Recovery(at, as)
	row.Recover = fmt.Sprintf("writes: %s; NotReady after %s, web-0 marked for deletion after %s and kept on %s while cut off; running again on %s %s after the heal; at most %d web-0 container running at once",
		recovered(d, ok), Seconds(notReady.Sub(at)), Seconds(marked.Sub(at)), victim, again.node, Seconds(back.Sub(healed)), most)
	c.waitNodeReady(t, victim, true, 90*time.Second)
}

// holdAfterEviction is how long the partition lasts after the pod was
// marked for deletion: several StatefulSet syncs that must not replace it.
const holdAfterEviction = 15 * time.Second

// nodeIndex is the harness's number of a node (mk8s-node2 -> 2).
func (c *cluster) nodeIndex(t *testing.T, node string) int {
	t.Helper()
	for i, n := range c.nodes {
		if n == node {
			return i + 1
		}
	}
	t.Fatalf("%q is not one of the harness's nodes %v", node, c.nodes)
	return 0
}

// partitionNode cuts node i off: inside its network namespace a chain of
// ours drops every packet in, out or through its link to the harness
// bridge (pods, kube-proxy, the kubelet's server), and in the root
// namespace cutOff drops its kubelet's traffic to the apiservers. It
// returns the heal (also run when the test ends).
func (c *cluster) partitionNode(t *testing.T, i int) (heal func()) {
	t.Helper()
	netns := c.nodes[i-1] // the harness names a node's namespace as the node
	kubelet := fmt.Sprintf("kubelet-node%d", i)
	cut := processCut{name: kubelet, pid: c.pid(t, kubelet)}
	for _, s := range c.servers {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			t.Fatalf("apiserver %q: %v", s, err)
		}
		cut.host = host
		cut.dials = append(cut.dials, port)
	}
	in := func(quiet bool, args ...string) {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", netns, "iptables", "-w"}, args...)...).CombinedOutput()
		if err != nil && !quiet {
			t.Fatalf("iptables in %s: %s: %v: %s", netns, strings.Join(args, " "), err, out)
		}
	}
	hooks := []string{"INPUT", "OUTPUT", "FORWARD"}
	unlink := func() {
		for _, h := range hooks {
			in(true, "-D", h, "-j", nodeFaultChain)
		}
		in(true, "-F", nodeFaultChain)
		in(true, "-X", nodeFaultChain)
	}
	healKubelet := c.cutOff(t, cut)
	var once sync.Once
	heal = func() {
		once.Do(func() {
			unlink()
			healKubelet()
			t.Logf("healed: %s's link carries traffic again", netns)
		})
	}
	t.Cleanup(heal)
	unlink() // a chain left by an aborted run
	in(false, "-N", nodeFaultChain)
	in(false, "-A", nodeFaultChain, "-i", "mk8s-up", "-j", "DROP")
	in(false, "-A", nodeFaultChain, "-o", "mk8s-up", "-j", "DROP")
	for _, h := range hooks {
		in(false, "-I", h, "1", "-j", nodeFaultChain)
	}
	t.Logf("cut %s off: its link mk8s-up drops everything (INPUT, OUTPUT, FORWARD), its kubelet's apiserver traffic dropped", netns)
	return heal
}

// containerWatch reads every node's containerd for the running containers
// of one pod (by name, whatever its uid) and remembers the most seen
// running at once.
type containerWatch struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	most  int
	ids   map[string]string // container ID -> node, every one seen running
	errs  int
}

// watchContainers starts a watch of pod ns/name's container named
// container on every node, read every 200 ms until stop.
func (c *cluster) watchContainers(t *testing.T, ns, name, container string) *containerWatch {
	t.Helper()
	clients := map[string]*containerd.Client{}
	for i, node := range c.nodes {
		sock := filepath.Join(c.state, "node"+strconv.Itoa(i+1), "containerd", "containerd.sock")
		cl, err := containerd.New(sock, containerd.WithDefaultNamespace(kubeletContainerdNamespace), containerd.WithTimeout(5*time.Second))
		if err != nil {
			t.Fatalf("containerd of %s: %v", node, err)
		}
		clients[node] = cl
	}
	filter := fmt.Sprintf(`labels.%q==%s,labels.%q==%s,labels.%q==%s`,
		runtime.LabelPodNamespace, ns, runtime.LabelPodName, name, runtime.LabelContainerName, container)
	w := &containerWatch{stopc: make(chan struct{}), done: make(chan struct{}), ids: map[string]string{}}
	go func() {
		defer close(w.done)
		defer func() {
			for _, cl := range clients {
				cl.Close()
			}
		}()
		for {
			running := 0
			for node, cl := range clients {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				ids, err := runningContainers(ctx, cl, filter)
				cancel()
				w.mu.Lock()
				if err != nil {
					w.errs++
				}
				for _, id := range ids {
					w.ids[id] = node
				}
				w.mu.Unlock()
				running += len(ids)
			}
			w.mu.Lock()
			w.most = max(w.most, running)
			w.mu.Unlock()
			select {
			case <-w.stopc:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// kubeletContainerdNamespace is the kubelet's --containerd-namespace
// default, which the harness keeps.
const kubeletContainerdNamespace = "k8s.minik8s.io"

// runningContainers lists the IDs of the containers matching filter whose
// task runs.
func runningContainers(ctx context.Context, cl *containerd.Client, filter string) ([]string, error) {
	cs, err := cl.Containers(ctx, filter)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, ct := range cs {
		task, err := ct.Task(ctx, nil)
		if err != nil {
			continue // no task: created or already deleted
		}
		st, err := task.Status(ctx)
		if err == nil && st.Status == containerd.Running {
			ids = append(ids, ct.ID())
		}
	}
	return ids, nil
}

// stop ends the watch and returns the most containers seen running at
// once, and what it saw.
func (w *containerWatch) stop() (int, string) {
	select {
	case <-w.stopc:
	default:
		close(w.stopc)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	var seen []string
	for id, node := range w.ids {
		seen = append(seen, fmt.Sprintf("%.12s on %s", id, node))
	}
	return w.most, fmt.Sprintf("containers seen running: %s; %d failed reads", strings.Join(seen, ", "), w.errs)
}
