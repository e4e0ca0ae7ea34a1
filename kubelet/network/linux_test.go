package network_test

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"minik8s/kubelet/network"
	"minik8s/test/nodetest"
	"minik8s/test/require"
)

// TestLinuxPodNetworks sets up two pod networks on a node namespace, checks
// the bridge, addresses, routes and masquerade rule, connects the pods by
// IP, and tears everything down.
func TestLinuxPodNetworks(t *testing.T) {
	nodetest.RequireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		require.Skip(t, "needs iptables")
	}
	node, nodePath := nodetest.Netns(t, "netnode")
	state := t.TempDir()
	newMgr := func() *network.Linux {
		m, err := network.NewLinux(network.Config{NodeNetns: nodePath, NetnsPrefix: nodetest.Name("mk8s-pod"),
			Bridge: "mk8sbr0", ClusterCIDR: "10.244.0.0/16", StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := newMgr()
	ctx := context.Background()
	if _, err := m.Setup(ctx, "too-early"); err == nil {
		t.Fatal("setup before init succeeded")
	}
	if err := m.Init(ctx, "10.244.7.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := m.Init(ctx, "10.244.7.0/24"); err != nil {
		t.Fatalf("second init: %v", err)
	}
	a, err := m.Setup(ctx, "pod-a_0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Teardown(ctx, "pod-a_0") })
	b, err := m.Setup(ctx, "pod-b_0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Teardown(ctx, "pod-b_0") })
	if a.IP.String() != "10.244.7.2" || b.IP.String() != "10.244.7.3" {
		t.Fatalf("ips %s %s", a.IP, b.IP)
	}
	// Setup again is idempotent.
	if again, err := m.Setup(ctx, "pod-a_0"); err != nil || !again.IP.Equal(a.IP) {
		t.Fatalf("setup again: %v %v", again, err)
	}
	if out := nodetest.IP(t, node, "-o", "addr", "show", "mk8sbr0"); !strings.Contains(out, "10.244.7.1/24") {
		t.Fatalf("bridge address: %s", out)
	}
	if out := nodetest.IP(t, node, "-o", "link", "show", "master", "mk8sbr0"); strings.Count(out, "veth") != 2 {
		t.Fatalf("bridge ports: %s", out)
	}
	podNs := strings.TrimPrefix(a.NetnsPath, "/var/run/netns/")
	if out := nodetest.IP(t, podNs, "route"); !strings.Contains(out, "default via 10.244.7.1 dev eth0") {
		t.Fatalf("pod route: %s", out)
	}
	out, err := exec.Command("ip", "netns", "exec", node, "iptables", "-t", "nat", "-S", "POSTROUTING").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-s 10.244.7.0/24 ! -d 10.244.0.0/16") || strings.Count(string(out), "MASQUERADE") != 1 {
		t.Fatalf("masquerade rule: %v %s", err, out)
	}

	// Pod B connects to pod A by IP; A sees B's IP.
	var ln net.Listener
	if err := nodetest.Do(a.NetnsPath, func() (err error) { ln, err = net.Listen("tcp", ":8080"); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		peer <- c.RemoteAddr().String()
		c.Close()
	}()
	if err := nodetest.Do(b.NetnsPath, func() error {
		c, err := net.DialTimeout("tcp", a.IP.String()+":8080", 3*time.Second)
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := <-peer; !strings.HasPrefix(got, b.IP.String()+":") {
		t.Fatalf("A saw %s, want %s", got, b.IP)
	}
	// The node reaches pods through the kubelet's dialer.
	if c, err := m.DialContext(ctx, "tcp", a.IP.String()+":8080"); err != nil {
		t.Fatalf("dial from node: %v", err)
	} else {
		c.Close()
	}

	// Host ports: node port 18080 reaches pod A's 8081, from the node
	// itself (OUTPUT) and from pod B (PREROUTING); an empty set removes
	// the mapping, and the jumps stay single.
	var hp net.Listener
	if err := nodetest.Do(a.NetnsPath, func() (err error) { hp, err = net.Listen("tcp", ":8081"); return }); err != nil {
		t.Fatal(err)
	}
	defer hp.Close()
	go func() {
		for {
			c, err := hp.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("pod-a"))
			c.Close()
		}
	}()
	ports := []network.HostPort{{Pod: "default/a", Protocol: "tcp", HostPort: 18080, PodIP: a.IP.String(), PodPort: 8081}}
	for i := 0; i < 2; i++ {
		if err := m.SyncHostPorts(ctx, ports); err != nil {
			t.Fatal(err)
		}
	}
	read := func(ns string) (string, error) {
		var got []byte
		err := nodetest.Do(ns, func() error {
			c, err := net.DialTimeout("tcp", "10.244.7.1:18080", 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			got, err = io.ReadAll(c)
			return err
		})
		return string(got), err
	}
	for _, from := range []string{nodePath, b.NetnsPath} {
		if got, err := read(from); err != nil || got != "pod-a" {
			t.Fatalf("host port from %s: %q %v", from, got, err)
		}
	}
	nat, err := exec.Command("ip", "netns", "exec", node, "iptables", "-t", "nat", "-S").CombinedOutput()
	if err != nil || strings.Count(string(nat), "-j KUBE-HOSTPORTS") != 2 {
		t.Fatalf("host port jumps: %v\n%s", err, nat)
	}
	if err := m.SyncHostPorts(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := read(nodePath); err == nil {
		t.Fatalf("host port still mapped after removal: %q", got)
	}

	// Routes to other nodes: add two, then keep one.
	if err := m.SyncRoutes(ctx, []network.NodeRoute{{CIDR: "10.244.8.0/24", Via: net.ParseIP("10.244.7.50")}, {CIDR: "10.244.9.0/24", Via: net.ParseIP("10.244.7.51")}}); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncRoutes(ctx, []network.NodeRoute{{CIDR: "10.244.9.0/24", Via: net.ParseIP("10.244.7.51")}}); err != nil {
		t.Fatal(err)
	}
	if out := nodetest.IP(t, node, "route"); strings.Contains(out, "10.244.8.0") || !strings.Contains(out, "10.244.9.0/24 via 10.244.7.51") {
		t.Fatalf("routes: %s", out)
	}

	// A new manager on the same state (a kubelet restart) sees both pods.
	m2 := newMgr()
	if err := m2.Init(ctx, "10.244.7.0/24"); err != nil {
		t.Fatal(err)
	}
	list, err := m2.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list after restart: %v %v", list, err)
	}
	for _, key := range []string{"pod-a_0", "pod-b_0"} {
		if err := m2.Teardown(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if out := nodetest.IP(t, node, "-o", "link", "show", "master", "mk8sbr0"); strings.TrimSpace(out) != "" {
		t.Fatalf("bridge ports left: %s", out)
	}
	for _, p := range []string{a.NetnsPath, b.NetnsPath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("netns %s left: %v", p, err)
		}
	}
	if list, _ := m2.List(ctx); len(list) != 0 {
		t.Fatalf("left after teardown: %v", list)
	}
}
