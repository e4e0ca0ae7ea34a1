package e2e

// Networking across nodes: a Service in front of a Deployment spread over
// every node, called from a DaemonSet's pod on each node; pod to pod
// across nodes without NAT; egress NATed to the node's IP; cluster DNS.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// netFixture is the Deployment "kubia" (one pod per node), its Service
// and the DaemonSet "client" (busybox, one pod per node), shared by the
// network tests and created once.
type netFixture struct {
	ns        string
	clusterIP string
	servers   []pod // kubia pods
	clients   []pod // client pods, one per node
}

var (
	netOnce sync.Once
	netFix  *netFixture
)

func (c *cluster) netFixture(t *testing.T) *netFixture {
	t.Helper()
	netOnce.Do(func() { netFix = c.makeNetFixture(t) })
	if netFix == nil {
		t.Fatal("the network fixture failed in an earlier test")
	}
	return netFix
}

func (c *cluster) makeNetFixture(t *testing.T) *netFixture {
	t.Helper()
	n := len(c.nodes)
	// Not c.namespace: the fixture outlives the test that first needs it;
	// the namespace goes with the cluster.
	ns := "mk8s-e2e-net"
	c.apply(t, "default", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n")
	eventually(t, 30*time.Second, "service account", func() string {
		_, err := c.minictl("-n", ns, "get", "serviceaccount", "default")
		if err != nil {
			return err.Error()
		}
		return ""
	})
	c.apply(t, ns, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: %d
  selector:
    matchLabels: {app: kubia}
  template:
    metadata:
      labels: {app: kubia}
    spec:
      # One per node, so the service's answers prove cross-node paths.
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels: {app: kubia}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: kubia
        image: luksa/kubia
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  selector: {app: kubia}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: client
spec:
  selector:
    matchLabels: {app: client}
  template:
    metadata:
      labels: {app: client}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "36000"]
`, n))
	f := &netFixture{ns: ns}
	f.servers = c.runningPods(t, ns, "app=kubia", n, 3*time.Minute)
	f.clients = c.runningPods(t, ns, "app=client", n, 3*time.Minute)
	ip, err := c.jsonpath(ns, "service", "kubia", ".spec.clusterIP")
	if err != nil || ip == "" {
		t.Fatalf("cluster IP of kubia: %q %v", ip, err)
	}
	f.clusterIP = ip
	return f
}

// onNodes checks that pods cover every node exactly once.
func (c *cluster) onNodes(pods []pod) string {
	seen := map[string]int{}
	for _, p := range pods {
		seen[p.node]++
	}
	for _, n := range c.nodes {
		if seen[n] != 1 {
			return fmt.Sprintf("node %s has %d pods: %+v", n, seen[n], pods)
		}
	}
	return ""
}

var hitRe = regexp.MustCompile(`You've hit (\S+)`)

// Every wget runs under busybox's timeout: the image's busybox (Debian's
// static 1.35) crashes with SIGSEGV when wget's own -T is given.

// TestDaemonSetOnePodPerNode: the client DaemonSet runs one pod per node.
func TestDaemonSetOnePodPerNode(t *testing.T) {
	c := need(t)
	f := c.netFixture(t)
	if p := c.onNodes(f.clients); p != "" {
		t.Fatal(p)
	}
	desired, _ := c.jsonpath(f.ns, "daemonset", "client", ".status.desiredNumberScheduled")
	if desired != fmt.Sprint(len(c.nodes)) {
		t.Errorf("desiredNumberScheduled %q, want %d", desired, len(c.nodes))
	}
}

// TestServiceFromEveryNode: the Deployment spread over every node; a pod
// on each node reaches all of its pods through the service's cluster IP.
func TestServiceFromEveryNode(t *testing.T) {
	c := need(t)
	f := c.netFixture(t)
	if p := c.onNodes(f.servers); p != "" {
		t.Fatal(p)
	}
	want := map[string]bool{}
	for _, s := range f.servers {
		want[s.name] = true
	}
	for _, cl := range f.clients {
		t.Run("from "+cl.node, func(t *testing.T) {
			eventually(t, 60*time.Second, "answers from every kubia pod via "+f.clusterIP, func() string {
				out, err := c.exec(f.ns, cl.name, "sh", "-c",
					fmt.Sprintf("for i in $(seq 30); do timeout 3 wget -qO- http://%s:80/; done", f.clusterIP))
				hits := map[string]int{}
				for _, m := range hitRe.FindAllStringSubmatch(out, -1) {
					hits[m[1]]++
				}
				for name := range want {
					if hits[name] == 0 {
						return fmt.Sprintf("no answer from %s; answers %v; err %v", name, hits, err)
					}
				}
				for name := range hits {
					if !want[name] {
						return fmt.Sprintf("answer from unknown pod %s", name)
					}
				}
				return ""
			})
		})
	}
}

// TestPodToPodKeepsSourceIP: a client pod reaches a server pod on another
// node by pod IP, and the server sees the client's pod IP (no NAT).
func TestPodToPodKeepsSourceIP(t *testing.T) {
	c := need(t)
	f := c.netFixture(t)
	cl := f.clients[0]
	var srv pod
	for _, s := range f.servers {
		if s.node != cl.node {
			srv = s
			break
		}
	}
	if srv.name == "" {
		t.Skip("needs two nodes")
	}
	eventually(t, 30*time.Second, fmt.Sprintf("%s (%s) -> %s (%s)", cl.name, cl.node, srv.ip, srv.node), func() string {
		out, err := c.exec(f.ns, cl.name, "timeout", "3", "wget", "-qO-", "http://"+srv.ip+":8080/")
		if err != nil || !strings.Contains(out, "You've hit "+srv.name) {
			return fmt.Sprintf("%q %v", out, err)
		}
		return ""
	})
	eventually(t, 10*time.Second, "server log shows the client's pod IP", func() string {
		logs, err := c.minictl("-n", f.ns, "logs", srv.name)
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(logs, "remote="+cl.ip+":") {
			return fmt.Sprintf("no remote=%s: in\n%s", cl.ip, logs)
		}
		return ""
	})
}

// TestEgressFromNodeIP: a pod's request to the external host (outside
// the cluster's ranges) arrives from its node's IP (masqueraded).
func TestEgressFromNodeIP(t *testing.T) {
	c := need(t)
	f := c.netFixture(t)
	// The external host serves the kubia binary the harness built for the
	// image; it logs each request's remote address.
	kubia := filepath.Join(filepath.Dir(c.bin), "_output", "images", "bin", "kubia")
	if _, err := os.Stat(kubia); err != nil {
		t.Fatalf("kubia binary: %v", err)
	}
	logf := &watchLog{}
	cmd := exec.Command("ip", "netns", "exec", c.extNS, kubia, "--listen", c.extIP+":18080")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i, cl := range f.clients {
		nodeIP := c.nodeIP(cl.node)
		eventually(t, 30*time.Second, fmt.Sprintf("egress from %s", cl.node), func() string {
			out, err := c.exec(f.ns, cl.name, "timeout", "3", "wget", "-qO-", "http://"+c.extIP+":18080/")
			if err != nil || !strings.Contains(out, "You've hit") {
				return fmt.Sprintf("%q %v; external host log: %s; %s", out, err, logf.String(), c.egressDiag(cl.node, cl.ip))
			}
			return ""
		})
		log := logf.String()
		if !strings.Contains(log, "remote="+nodeIP+":") {
			t.Errorf("client %d on %s: external host did not see node IP %s:\n%s", i, cl.node, nodeIP, log)
		}
		if strings.Contains(log, "remote="+cl.ip+":") {
			t.Errorf("external host saw the pod IP %s (no masquerade)", cl.ip)
		}
	}
}

// egressDiag is what a failed egress attempt's message needs to tell the
// outbound side from the return side (the external host's log says
// whether the request arrived): the node's masquerade rules and its
// neighbour entries for the pod and the external host.
func (c *cluster) egressDiag(node, podIP string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nat, err := c.run(ctx, "ip", "netns", "exec", node, "iptables", "-w", "-t", "nat", "-S", "POSTROUTING")
	if err != nil {
		nat = err.Error()
	}
	var neigh []string
	for _, ip := range []string{podIP, c.extIP} {
		out, err := c.run(ctx, "ip", "-n", node, "neigh", "show", "to", ip)
		if err != nil {
			out = err.Error()
		}
		neigh = append(neigh, strings.TrimSpace(out))
	}
	return fmt.Sprintf("%s nat POSTROUTING: %q; neighbours of the pod and the external host: %q", node, strings.TrimSpace(nat), neigh)
}

func (c *cluster) nodeIP(node string) string {
	for i, n := range c.nodes {
		if n == node && i < len(c.nodeIPs) {
			return c.nodeIPs[i]
		}
	}
	return ""
}

// TestClusterDNS: the DNS add-on resolves a service's name to its
// cluster IP from a pod, through the kube-dns service in resolv.conf.
func TestClusterDNS(t *testing.T) {
	c := need(t)
	f := c.netFixture(t)
	if _, err := c.minictl("-n", "kube-system", "get", "service", "kube-dns"); err != nil {
		t.Fatalf("no kube-dns service (the harness applies deploy/addons/dns.yaml): %v", err)
	}
	for _, name := range []string{"kubia." + f.ns + ".svc.cluster.local", "kubia"} {
		eventually(t, 60*time.Second, "nslookup "+name, func() string {
			// busybox's nslookup exits 1 when any search-list query fails,
			// even after finding the name: judge by the answer.
			out, err := c.exec(f.ns, f.clients[0].name, "nslookup", name)
			if !strings.Contains(out, "Address: "+f.clusterIP) {
				return fmt.Sprintf("%q %v", out, err)
			}
			return ""
		})
	}
}
