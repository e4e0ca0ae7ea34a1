package iptables

import (
	"flag"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/ipt/ipttest"
	"minik8s/kube-proxy/proxy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const hostname = "node-a"

var testConfig = Config{ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"), MasqueradeBit: 14}

// svc builds a Service; ports are "name:port/PROTO" or "port".
func svc(ns, name, typ, ip string, ports ...*corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1"},
		Spec:     &corev1.ServiceSpec{Type: typ, ClusterIP: ip, ClusterIPs: []string{ip}, Ports: ports},
	}
}

func port(name string, p int32, proto string, nodePort int32) *corev1.ServicePort {
	return &corev1.ServicePort{Name: name, Port: p, Protocol: proto, NodePort: nodePort}
}

type addr struct {
	ip, node string
}

// eps builds Endpoints with one subset.
func eps(ns, name string, addrs []addr, ports ...*corev1.EndpointPort) *corev1.Endpoints {
	ss := &corev1.EndpointSubset{Ports: ports}
	for _, a := range addrs {
		ea := &corev1.EndpointAddress{Ip: a.ip}
		if a.node != "" {
			ea.NodeName = &a.node
		}
		ss.Addresses = append(ss.Addresses, ea)
	}
	return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1"}, Subsets: []*corev1.EndpointSubset{ss}}
}

func epPort(name string, p int32, proto string) *corev1.EndpointPort {
	return &corev1.EndpointPort{Name: name, Port: p, Protocol: proto}
}

func at(ips ...string) []addr {
	out := make([]addr, len(ips))
	for i, ip := range ips {
		out[i] = addr{ip: ip, node: "node-b"}
	}
	return out
}

// state feeds objects through proxy.State, as the informers do.
func state(objs ...any) *proxy.State {
	s := proxy.NewState(hostname, nil)
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			s.UpdateService(nil, o)
		case *corev1.Endpoints:
			s.UpdateEndpoints(nil, o)
		}
	}
	s.Apply()
	return s
}

// Scenarios shared by the golden and trace tests.
var scenarios = map[string][]any{
	"several-services": {
		svc("default", "web", "ClusterIP", "10.96.0.20", port("", 80, "TCP", 0)),
		eps("default", "web", at("10.244.1.2", "10.244.2.3", "10.244.3.4"), epPort("", 8080, "TCP")),
		svc("default", "db", "ClusterIP", "10.96.0.30", port("", 5432, "TCP", 0)),
		eps("default", "db", at("10.244.2.9"), epPort("", 5432, "TCP")),
		svc("kube-system", "kube-dns", "ClusterIP", "10.96.0.10", port("dns", 53, "UDP", 0), port("dns-tcp", 53, "TCP", 0)),
		eps("kube-system", "kube-dns", at("10.244.1.7", "10.244.2.7"), epPort("dns", 53, "UDP"), epPort("dns-tcp", 53, "TCP")),
		// Neither headless nor ExternalName services get rules.
		svc("default", "headless", "ClusterIP", "None", port("", 80, "TCP", 0)),
		eps("default", "headless", at("10.244.1.2"), epPort("", 80, "TCP")),
		&corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "ext", ResourceVersion: "1"},
			Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}},
	},
	"nodeport": {
		func() *corev1.Service {
			s := svc("default", "web", "NodePort", "10.96.0.20", port("http", 80, "TCP", 30080))
			s.Spec.ExternalIPs = []string{"192.0.2.50"}
			return s
		}(),
		eps("default", "web", at("10.244.1.2", "10.244.2.3"), epPort("http", 8080, "TCP")),
	},
	"affinity": {
		func() *corev1.Service {
			s := svc("default", "sticky", "ClusterIP", "10.96.0.40", port("", 80, "TCP", 0))
			s.Spec.SessionAffinity = "ClientIP"
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(600))}}
			return s
		}(),
		eps("default", "sticky", at("10.244.1.2", "10.244.2.3"), epPort("", 8080, "TCP")),
	},
	"no-endpoints": {
		func() *corev1.Service {
			s := svc("default", "empty", "NodePort", "10.96.0.50", port("", 80, "TCP", 30050))
			s.Spec.ExternalIPs = []string{"192.0.2.51"}
			return s
		}(),
		// Endpoints with only not-ready addresses count as none.
		&corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "empty", ResourceVersion: "1"},
			Subsets: []*corev1.EndpointSubset{{NotReadyAddresses: []*corev1.EndpointAddress{{Ip: "10.244.1.9"}}, Ports: []*corev1.EndpointPort{epPort("", 80, "TCP")}}}},
		svc("default", "udp-empty", "ClusterIP", "10.96.0.51", port("", 53, "UDP", 0)),
	},
	"named-ports": {
		// targetPort "http" resolves to different numbers on different
		// pods; the endpoints controller lists them in two subsets.
		svc("default", "api", "ClusterIP", "10.96.0.60", port("http", 80, "TCP", 0), port("metrics", 9090, "TCP", 0)),
		&corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "api", ResourceVersion: "1"}, Subsets: []*corev1.EndpointSubset{
			{Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.2"}}, Ports: []*corev1.EndpointPort{epPort("http", 8080, "TCP"), epPort("metrics", 9100, "TCP")}},
			{Addresses: []*corev1.EndpointAddress{{Ip: "10.244.2.3"}}, Ports: []*corev1.EndpointPort{epPort("http", 8081, "TCP"), epPort("metrics", 9100, "TCP"), epPort("unused", 1, "TCP")}},
		}},
	},
	"local-policy": {
		func() *corev1.Service {
			s := svc("default", "local", "NodePort", "10.96.0.70", port("", 80, "TCP", 30070))
			s.Spec.ExternalTrafficPolicy = "Local"
			return s
		}(),
		eps("default", "local", []addr{{"10.244.1.2", hostname}, {"10.244.2.3", "node-b"}}, epPort("", 8080, "TCP")),
		func() *corev1.Service {
			s := svc("default", "remote", "NodePort", "10.96.0.71", port("", 80, "TCP", 30071))
			s.Spec.ExternalTrafficPolicy = "Local"
			return s
		}(),
		eps("default", "remote", []addr{{"10.244.2.3", "node-b"}}, epPort("", 8080, "TCP")),
	},
}

// render is a full restore from nothing, filter then nat.
func render(t *testing.T, s *proxy.State) string {
	t.Helper()
	rs := NewRenderer(testConfig).Render(s.Services(), s.Endpoints(), nil)
	return string(Diff(rs.Filter, nil, nil, true, nil).Data) + string(Diff(rs.NAT, nil, nil, true, nil).Data)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendering (run with -update to accept):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff lists lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var b strings.Builder
	for l, n := range count {
		for ; n > 0; n-- {
			b.WriteString("- " + l + "\n")
		}
		for ; n < 0; n++ {
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(same lines, different order)\n--- got:\n" + got
	}
	return b.String()
}

func TestRenderGolden(t *testing.T) {
	for name, objs := range scenarios {
		t.Run(name, func(t *testing.T) {
			got := render(t, state(objs...))
			// The output must be valid restore input, all of it.
			if _, err := ipttest.Parse(got); err != nil {
				t.Fatalf("rendered rules do not parse: %v\n%s", err, got)
			}
			golden(t, name, got)
		})
	}
}

func TestChainNames(t *testing.T) {
	n := proxy.ServicePortName{Namespace: "a-very-long-namespace-name", Name: "and-a-very-long-service-name", Port: "https", Protocol: "TCP"}
	e := proxy.Endpoint{IP: netip.MustParseAddr("10.244.1.2"), Port: 8443}
	for _, c := range []string{ServiceChain(n), ExternalChain(n), ServiceLocalChain(n), EndpointChain(n, e)} {
		if len(c) > 28 || !Owned(c) {
			t.Errorf("chain %q: %d characters, owned %v", c, len(c), Owned(c))
		}
	}
	udp := n
	udp.Protocol = "UDP"
	if ServiceChain(n) == ServiceChain(udp) {
		t.Error("TCP and UDP ports share a chain")
	}
	for _, c := range []string{"INPUT", "KUBE-FIREWALL", "KUBE-PROXY-CANARY", "DOCKER", "KUBE-SVCX"} {
		if Owned(c) {
			t.Errorf("%s is claimed", c)
		}
	}
}

// probabilities sums outcome probabilities by destination: "ip:port"
// for an accepted DNAT, plus " masq" when masqueraded, or the verdict.
func probabilities(outs []ipttest.Outcome) map[string]float64 {
	m := map[string]float64{}
	for _, o := range outs {
		k := o.Verdict
		if o.DNAT != "" {
			k = o.DNAT
			if o.Verdict != "ACCEPT" {
				k += " " + o.Verdict
			}
		}
		if o.Masquerade {
			k += " masq"
		}
		m[k] += o.Prob
	}
	return m
}

func expectProbs(t *testing.T, outs []ipttest.Outcome, want map[string]float64) {
	t.Helper()
	got := probabilities(outs)
	for k, p := range want {
		if math.Abs(got[k]-p) > 1e-6 {
			t.Errorf("P(%s) = %.6f, want %.6f (all: %v)", k, got[k], p, got)
		}
	}
	for k, p := range got {
		if _, ok := want[k]; !ok && p > 1e-9 {
			t.Errorf("unexpected outcome %s with P=%.6f", k, p)
		}
	}
}

func traceTables(t *testing.T, name string) ipttest.Tables {
	t.Helper()
	tables, err := ipttest.Parse(render(t, state(scenarios[name]...)))
	if err != nil {
		t.Fatal(err)
	}
	// The jumps from the built-in chains, as EnsureBase adds them.
	f := ipttest.NewFake()
	for n, tb := range tables {
		for _, c := range tb.ChainNames() {
			if !tb.Chains[c].Builtin {
				_ = f.EnsureChain(ipt.Table(n), c)
			}
		}
	}
	if err := EnsureBase(f); err != nil {
		t.Fatal(err)
	}
	for n, tb := range f.Tables() {
		for _, c := range builtinNames(n) {
			tables[n].Chains[c] = tb.Chains[c]
		}
	}
	return tables
}

func builtinNames(table string) []string {
	if table == "nat" {
		return []string{"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}
	}
	return []string{"INPUT", "FORWARD", "OUTPUT"}
}

var (
	nodeIP   = netip.MustParseAddr("192.168.50.10")
	podA     = netip.MustParseAddr("10.244.5.5")
	outsider = netip.MustParseAddr("198.51.100.7")
)

func tcp(src, dst string, dport int, local bool) ipttest.Packet {
	return ipttest.Packet{Protocol: "tcp", Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), DstPort: dport,
		Local: local, LocalAddrs: []netip.Addr{nodeIP, netip.MustParseAddr("127.0.0.1")}}
}

// TestPacketTrace walks packets through the rendered rules.
func TestPacketTrace(t *testing.T) {
	third := 1.0 / 3
	for _, tc := range []struct {
		name     string
		scenario string
		pkt      ipttest.Packet
		want     map[string]float64
	}{
		{"pod to cluster IP: even split, no SNAT", "several-services", tcp(podA.String(), "10.96.0.20", 80, false),
			map[string]float64{"10.244.1.2:8080": third, "10.244.2.3:8080": third, "10.244.3.4:8080": third}},
		{"node to cluster IP: masqueraded", "several-services", tcp(nodeIP.String(), "10.96.0.20", 80, true),
			map[string]float64{"10.244.1.2:8080 masq": third, "10.244.2.3:8080 masq": third, "10.244.3.4:8080 masq": third}},
		{"pod reaching itself: hairpin masquerade", "several-services", tcp("10.244.2.9", "10.96.0.30", 5432, false),
			map[string]float64{"10.244.2.9:5432 masq": 1}},
		{"dns over udp", "several-services", ipttest.Packet{Protocol: "udp", Src: podA, Dst: netip.MustParseAddr("10.96.0.10"), DstPort: 53},
			map[string]float64{"10.244.1.7:53": 0.5, "10.244.2.7:53": 0.5}},
		{"unknown port passes untouched", "several-services", tcp(podA.String(), "10.96.0.20", 81, false),
			map[string]float64{"ACCEPT": 1}},
		{"node port from outside", "nodeport", tcp(outsider.String(), nodeIP.String(), 30080, false),
			map[string]float64{"10.244.1.2:8080 masq": 0.5, "10.244.2.3:8080 masq": 0.5}},
		{"external IP", "nodeport", tcp(outsider.String(), "192.0.2.50", 80, false),
			map[string]float64{"10.244.1.2:8080 masq": 0.5, "10.244.2.3:8080 masq": 0.5}},
		{"node port on a non-local address is not a node port", "nodeport", tcp(outsider.String(), "203.0.113.1", 30080, false),
			map[string]float64{"ACCEPT": 1}},
		{"no endpoints rejects", "no-endpoints", tcp(podA.String(), "10.96.0.50", 80, false),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects the node port", "no-endpoints", tcp(outsider.String(), nodeIP.String(), 30050, false),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects the external IP", "no-endpoints", tcp(outsider.String(), "192.0.2.51", 80, false),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects locally made packets", "no-endpoints", tcp(nodeIP.String(), "10.96.0.50", 80, true),
			map[string]float64{"REJECT": 1}},
		{"named port http", "named-ports", tcp(podA.String(), "10.96.0.60", 80, false),
			map[string]float64{"10.244.1.2:8080": 0.5, "10.244.2.3:8081": 0.5}},
		{"named port metrics", "named-ports", tcp(podA.String(), "10.96.0.60", 9090, false),
			map[string]float64{"10.244.1.2:9100": 0.5, "10.244.2.3:9100": 0.5}},
		{"local policy: outside traffic to the local endpoint, source kept", "local-policy", tcp(outsider.String(), nodeIP.String(), 30070, false),
			map[string]float64{"10.244.1.2:8080": 1}},
		{"local policy: pods use every endpoint", "local-policy", tcp(podA.String(), nodeIP.String(), 30070, false),
			map[string]float64{"10.244.1.2:8080": 0.5, "10.244.2.3:8080": 0.5}},
		{"local policy without local endpoints drops outside traffic", "local-policy", tcp(outsider.String(), nodeIP.String(), 30071, false),
			map[string]float64{"DROP": 1}},
		{"affinity: a new client is spread", "affinity", tcp(podA.String(), "10.96.0.40", 80, false),
			map[string]float64{"10.244.1.2:8080": 0.5, "10.244.2.3:8080": 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.pkt.LocalAddrs = []netip.Addr{nodeIP, netip.MustParseAddr("127.0.0.1")}
			if tc.pkt.Src == nodeIP {
				tc.pkt.Local = true
			}
			outs, err := ipttest.Trace(traceTables(t, tc.scenario), tc.pkt)
			if err != nil {
				t.Fatal(err)
			}
			expectProbs(t, outs, tc.want)
		})
	}
}

// TestAffinityTrace: a client already in an endpoint's recent list goes
// back to that endpoint, and its DNAT refreshes the list.
func TestAffinityTrace(t *testing.T) {
	s := state(scenarios["affinity"]...)
	sp := s.Services()[proxy.ServicePortName{Namespace: "default", Name: "sticky", Protocol: "TCP"}]
	second := s.Endpoints()[sp.Name][1]
	sep := EndpointChain(sp.Name, second)
	pkt := tcp(podA.String(), "10.96.0.40", 80, false)
	pkt.Recent = map[string]bool{sep: true}
	outs, err := ipttest.Trace(traceTables(t, "affinity"), pkt)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].DNAT != second.String() || len(outs[0].RecentSet) != 1 || outs[0].RecentSet[0] != sep {
		t.Fatalf("sticky client: %+v", outs)
	}
}

// TestProbabilitiesAreEven: for any number of endpoints, each gets 1/n.
func TestProbabilitiesAreEven(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 20} {
		var addrs []addr
		for i := 0; i < n; i++ {
			addrs = append(addrs, addr{ip: netip.AddrFrom4([4]byte{10, 244, 1, byte(i + 1)}).String()})
		}
		s := state(svc("default", "web", "ClusterIP", "10.96.0.20", port("", 80, "TCP", 0)), eps("default", "web", addrs, epPort("", 80, "TCP")))
		tables, err := ipttest.Parse(render(t, s))
		if err != nil {
			t.Fatal(err)
		}
		outs, err := traceChain(tables, ServiceChain(proxy.ServicePortName{Namespace: "default", Name: "web", Protocol: "TCP"}))
		if err != nil {
			t.Fatal(err)
		}
		got := probabilities(outs)
		if len(got) != n {
			t.Fatalf("n=%d: %d outcomes", n, len(got))
		}
		for k, p := range got {
			if math.Abs(p-1/float64(n)) > 1e-6 {
				t.Errorf("n=%d: P(%s) = %f", n, k, p)
			}
		}
	}
}

// traceChain walks a packet from a pod through one nat chain.
func traceChain(tables ipttest.Tables, chain string) ([]ipttest.Outcome, error) {
	tables["nat"].Chains["PREROUTING"].Rules = []ipttest.Rule{{Chain: "PREROUTING", Args: []string{"-j", chain}}}
	return ipttest.Trace(tables, ipttest.Packet{Protocol: "tcp", Src: podA, Dst: netip.MustParseAddr("10.96.0.20"), DstPort: 80})
}

// TestLargeClusterDropsComments: above the endpoint threshold the
// per-service chains lose their comments, KUBE-SERVICES keeps them, and
// crossing the threshold re-renders everything.
func TestLargeClusterDropsComments(t *testing.T) {
	cfg := testConfig
	cfg.LargeClusterEndpoints = 4
	s := proxy.NewState(hostname, nil)
	r := NewRenderer(cfg)
	feedAll := func(objs ...any) *Ruleset {
		for _, o := range objs {
			switch o := o.(type) {
			case *corev1.Service:
				s.UpdateService(nil, o)
			case *corev1.Endpoints:
				s.UpdateEndpoints(nil, o)
			}
		}
		return r.Render(s.Services(), s.Endpoints(), s.Apply().Ports)
	}
	rs := feedAll(scenarios["several-services"]...) // 6 endpoints
	svc := ServiceChain(proxy.ServicePortName{Namespace: "default", Name: "web", Protocol: "TCP"})
	if strings.Contains(rs.NAT.Chains[svc], "--comment") {
		t.Fatalf("large cluster, comments kept:\n%s", rs.NAT.Chains[svc])
	}
	if !strings.Contains(rs.NAT.Chains[ChainServices], `--comment "default/web cluster IP"`) {
		t.Fatal("KUBE-SERVICES lost its comments")
	}
	web := scenarios["several-services"][1].(*corev1.Endpoints)
	small := withEndpoints(web, "9", "10.244.1.2")
	s.UpdateService(scenarios["several-services"][4].(*corev1.Service), nil) // kube-dns goes
	s.UpdateEndpoints(scenarios["several-services"][5].(*corev1.Endpoints), nil)
	s.UpdateEndpoints(web, small) // 3 endpoints left, counting the headless one
	rs = r.Render(s.Services(), s.Endpoints(), s.Apply().Ports)
	if rs.Touched != nil || !strings.Contains(rs.NAT.Chains[svc], "--comment") {
		t.Fatalf("below the threshold again: touched %v\n%s", rs.Touched, rs.NAT.Chains[svc])
	}
}
