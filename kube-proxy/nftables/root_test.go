package nftables_test

// Root tests: the nftables proxier against a real kernel, inside network
// namespaces this test creates (named mk8s-<pid>-*, deleted in
// t.Cleanup): a node with three pods on a bridge and an external host, as
// kube-proxy/app's root tests build them. Services and Endpoints are fed
// to the proxier directly; every nft call runs on a thread inside the
// node's namespace. Nothing outside the namespaces is touched. Without
// root or nft they skip (fail under MINIK8S_NO_SKIP=1).

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kube-proxy/conntrack"
	"minik8s/kube-proxy/nettest"
	"minik8s/kube-proxy/nftables"
	"minik8s/test/require"
)

const nodeName = "node-a"

type rootEnv struct {
	t    *testing.T
	topo *nettest.Topology
	p    *nftables.Proxier
	nft  nftables.Backend
	node *http.Client
	ext  *http.Client
	// before is the node's whole ruleset (nft list ruleset) before
	// kube-proxy ran.
	before string
}

func rootSetup(t *testing.T) *rootEnv {
	if reason := nettest.Skip(); reason != "" {
		require.Skip(t, reason)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		require.Skip(t, "nft not installed (apt-get install nftables)")
	}
	topo, err := nettest.NewTopology(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Error(err)
		}
	})
	for i, p := range topo.Pods {
		stop, err := p.ServeHTTP(8080, fmt.Sprintf("pod-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		stopUDP, err := p.ServeUDPEcho(5353, fmt.Sprintf("pod-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stopUDP)
	}
	// Rules of someone else, in nftables and iptables, which kube-proxy
	// must leave alone.
	if _, err := topo.Node.Exec("nft", "add table inet someone-else; add chain inet someone-else c { type filter hook input priority 0 ; }; add rule inet someone-else c tcp dport 2222 accept"); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.Node.Exec("iptables", "-t", "filter", "-A", "INPUT", "-p", "tcp", "--dport", "2223", "-j", "ACCEPT"); err != nil {
		t.Fatal(err)
	}
	e := &rootEnv{t: t, topo: topo, node: topo.Node.HTTPClient(3 * time.Second), ext: topo.Ext.HTTPClient(3 * time.Second)}
	e.before = e.ruleset()
	err = topo.Node.Do(func() error {
		var err error
		e.nft, err = nftables.New()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.p = nftables.NewProxier(nftables.ProxierConfig{
		Render:   nftables.Config{ClusterCIDR: netip.MustParsePrefix(nettest.PodCIDR), MasqueradeBit: 14},
		Hostname: nodeName, SyncPeriod: time.Hour,
	}, e.nft, conntrack.Netlink{}, nil, nil)
	return e
}

func (e *rootEnv) ruleset() string {
	e.t.Helper()
	out, err := e.topo.Node.Exec("nft", "list", "ruleset")
	if err != nil {
		e.t.Fatal(err)
	}
	// Affinity set elements count down their expiry; leave them out.
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.Contains(l, " expires ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func (e *rootEnv) sync() nftables.SyncResult {
	e.t.Helper()
	if err := e.topo.Node.Do(e.p.Sync); err != nil {
		e.t.Fatal(err)
	}
	return e.p.LastResult()
}

func service(name, typ, proto, ip string, port, nodePort int32) *corev1.Service {
	return &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, ResourceVersion: "1"},
		Spec: &corev1.ServiceSpec{Type: typ, ClusterIP: ip, Ports: []*corev1.ServicePort{{Name: "p", Port: port, Protocol: proto, NodePort: nodePort}}}}
}

// endpoints lists pods (local marks those on this node).
func endpoints(name, proto, rv string, port int32, pods []*nettest.Pod, local ...bool) *corev1.Endpoints {
	ep := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, ResourceVersion: rv}}
	if len(pods) == 0 {
		return ep
	}
	ss := &corev1.EndpointSubset{Ports: []*corev1.EndpointPort{{Name: "p", Port: port, Protocol: proto}}}
	for i, p := range pods {
		node := "node-b"
		if i < len(local) && local[i] {
			node = nodeName
		}
		ss.Addresses = append(ss.Addresses, &corev1.EndpointAddress{Ip: p.IP, NodeName: new(node)})
	}
	ep.Subsets = []*corev1.EndpointSubset{ss}
	return ep
}

func spread(t *testing.T, c *http.Client, url string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := nettest.Get(c, url)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, url, err)
		}
		counts[body]++
	}
	return counts
}

// TestNFTablesMode: the nftables proxier in a real kernel.
func TestNFTablesMode(t *testing.T) {
	e := rootSetup(t)
	pods := e.topo.Pods
	st := e.p.State()
	web := service("web", "NodePort", "TCP", "10.96.0.20", 80, 30080)
	st.UpdateService(nil, web)
	webEps := endpoints("web", "TCP", "1", 8080, pods)
	st.UpdateEndpoints(nil, webEps)
	st.UpdateService(nil, service("echo", "ClusterIP", "UDP", "10.96.0.53", 53, 0))
	st.UpdateEndpoints(nil, endpoints("echo", "UDP", "1", 5353, pods))
	st.UpdateService(nil, service("empty", "NodePort", "TCP", "10.96.0.30", 80, 30030))
	sticky := service("sticky", "ClusterIP", "TCP", "10.96.0.40", 80, 0)
	sticky.Spec.SessionAffinity = "ClientIP"
	st.UpdateService(nil, sticky)
	st.UpdateEndpoints(nil, endpoints("sticky", "TCP", "1", 8080, pods))
	local := service("local", "NodePort", "TCP", "10.96.0.50", 80, 30050)
	local.Spec.ExternalTrafficPolicy = "Local"
	st.UpdateService(nil, local)
	st.UpdateEndpoints(nil, endpoints("local", "TCP", "1", 8080, pods, true, false, false))
	if res := e.sync(); !res.Full {
		t.Fatalf("first sync: %+v", res)
	}
	url := "http://10.96.0.20:80/"

	t.Run("300 requests reach all three pods evenly", func(t *testing.T) {
		counts := spread(t, e.node, url, 300)
		for i := range pods {
			if n := counts[fmt.Sprintf("pod-%d", i)]; n < 60 || n > 140 {
				t.Errorf("pod-%d got %d of 300: %v", i, n, counts)
			}
		}
		if len(counts) != 3 {
			t.Errorf("answers from %d sources: %v", len(counts), counts)
		}
	})

	t.Run("UDP through the service IP", func(t *testing.T) {
		var reply string
		var err error
		for i := 0; i < 20; i++ {
			if reply, err = e.topo.Node.UDPExchange("10.96.0.53:53", "ping", time.Second); err == nil {
				break
			}
		}
		if err != nil || !strings.HasPrefix(reply, "pod-") || !strings.HasSuffix(reply, ":ping") {
			t.Fatalf("reply %q, %v", reply, err)
		}
	})

	t.Run("NodePort from the external host", func(t *testing.T) {
		counts := spread(t, e.ext, fmt.Sprintf("http://%s:30080/", nettest.NodeIP), 30)
		if len(counts) < 2 {
			t.Fatalf("node port answers only from %v", counts)
		}
	})

	t.Run("externalTrafficPolicy Local: outside traffic only to the local pod", func(t *testing.T) {
		counts := spread(t, e.ext, fmt.Sprintf("http://%s:30050/", nettest.NodeIP), 20)
		if counts["pod-0"] != 20 {
			t.Fatalf("Local node port: %v", counts)
		}
	})

	t.Run("ClientIP affinity sticks to one pod", func(t *testing.T) {
		if counts := spread(t, e.node, "http://10.96.0.40:80/", 20); len(counts) != 1 {
			t.Fatalf("sticky service answered from %v", counts)
		}
	})

	t.Run("a service without endpoints refuses at once", func(t *testing.T) {
		nodePort := fmt.Sprintf("http://%s:30030/", nettest.NodeIP)
		for _, c := range []struct {
			from string
			c    *http.Client
			url  string
		}{{"node", e.node, "http://10.96.0.30:80/"}, {"node", e.node, nodePort}, {"external host", e.ext, nodePort}} {
			start := time.Now()
			_, err := nettest.Get(c.c, c.url)
			if !nettest.IsRefused(err) {
				t.Fatalf("%s from the %s: got %v, want connection refused", c.url, c.from, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("%s from the %s: refusal took %s", c.url, c.from, d)
			}
		}
	})

	t.Run("an endpoint change is one small transaction", func(t *testing.T) {
		// One endpoint fewer: the service chain's modulus changes and the
		// last element of its endpoint list goes (pod-2's address stays
		// in the hairpin set, other services use it).
		st.UpdateEndpoints(webEps, endpoints("web", "TCP", "2", 8080, pods[:2]))
		res := e.sync()
		if res.Full || res.Stats.ChainsWritten != 1 || res.Stats.ChainsDeleted != 0 || res.Stats.ElementsAdded != 0 || res.Stats.ElementsDeleted != 1 {
			t.Fatalf("endpoint change: %+v", res)
		}
		if counts := spread(t, e.node, url, 60); counts["pod-2"] != 0 || len(counts) != 2 {
			t.Fatalf("after removing pod-2: %v", counts)
		}
	})

	t.Run("replacing an endpoint rewrites no chain", func(t *testing.T) {
		// pod-1 out, pod-2 in: the second element of web's endpoint list
		// changes; its chain (the modulus is still 2) does not.
		st.UpdateEndpoints(endpoints("web", "TCP", "2", 8080, pods[:2]), endpoints("web", "TCP", "3", 8080, []*nettest.Pod{pods[0], pods[2]}))
		res := e.sync()
		if res.Full || res.Stats.ChainsWritten != 0 || res.Stats.ChainsDeleted != 0 || res.Stats.ElementsAdded != 1 || res.Stats.ElementsDeleted != 1 {
			t.Fatalf("endpoint replaced: %+v", res)
		}
		if counts := spread(t, e.node, url, 60); counts["pod-1"] != 0 || counts["pod-0"] == 0 || counts["pod-2"] == 0 {
			t.Fatalf("after replacing pod-1 by pod-2: %v", counts)
		}
		st.UpdateEndpoints(endpoints("web", "TCP", "3", 8080, []*nettest.Pod{pods[0], pods[2]}), endpoints("web", "TCP", "4", 8080, pods[:2]))
		e.sync()
	})

	t.Run("a restart changes nothing", func(t *testing.T) {
		before := e.ruleset()
		q := nftables.NewProxier(nftables.ProxierConfig{
			Render:   nftables.Config{ClusterCIDR: netip.MustParsePrefix(nettest.PodCIDR), MasqueradeBit: 14},
			Hostname: nodeName, SyncPeriod: time.Hour,
		}, e.nft, nil, nil, nil)
		// The same objects, fed anew.
		qs := q.State()
		qs.UpdateService(nil, web)
		qs.UpdateEndpoints(nil, endpoints("web", "TCP", "2", 8080, pods[:2]))
		qs.UpdateService(nil, service("echo", "ClusterIP", "UDP", "10.96.0.53", 53, 0))
		qs.UpdateEndpoints(nil, endpoints("echo", "UDP", "1", 5353, pods))
		qs.UpdateService(nil, service("empty", "NodePort", "TCP", "10.96.0.30", 80, 30030))
		qs.UpdateService(nil, sticky)
		qs.UpdateEndpoints(nil, endpoints("sticky", "TCP", "1", 8080, pods))
		qs.UpdateService(nil, local)
		qs.UpdateEndpoints(nil, endpoints("local", "TCP", "1", 8080, pods, true, false, false))
		if err := e.topo.Node.Do(q.Sync); err != nil {
			t.Fatal(err)
		}
		if after := e.ruleset(); after != before {
			t.Fatalf("the ruleset changed across a restart:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	t.Run("cleanup removes the table and nothing else", func(t *testing.T) {
		if err := e.topo.Node.Do(func() error { return nftables.Cleanup(context.Background(), e.nft) }); err != nil {
			t.Fatal(err)
		}
		if after := e.ruleset(); after != e.before {
			t.Fatalf("ruleset after cleanup:\n%s\nwant:\n%s", after, e.before)
		}
	})
}
