package nftables

import (
	"context"
	"flag"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/knftables"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kube-proxy/nftables/nfttest"
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

// newFake is an empty fake nftables holding kube-proxy's table.
func newFake() *knftables.Fake { return knftables.NewFake(knftables.IPv4Family, TableName) }

// render is the full-sync transaction from nothing, and the fake it was
// applied to (which checks every reference in it).
func render(t *testing.T, s *proxy.State) (string, *knftables.Fake) {
	t.Helper()
	rs := NewRenderer(testConfig).Render(s.Services(), s.Endpoints(), nil)
	f := newFake()
	tx := f.NewTransaction()
	Diff(TxWriter{tx}, testConfig, rs, &Applied{}, true, nil)
	if err := f.Run(context.Background(), tx); err != nil {
		t.Fatalf("the fake refused the transaction: %v\n%s", err, tx)
	}
	return tx.String(), f
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
			got, _ := render(t, state(objs...))
			golden(t, name, got)
		})
	}
}

func TestNames(t *testing.T) {
	n := proxy.ServicePortName{Namespace: "a-very-long-namespace-name", Name: "and-a-very-long-service-name", Port: "https", Protocol: "TCP"}
	e := proxy.Endpoint{IP: netip.MustParseAddr("10.244.1.2"), Port: 8443}
	for _, c := range []string{ServiceChain(n), ExternalChain(n), EndpointChain(n, e), AffinitySet(n, e, time.Hour)} {
		if len(c) > knftables.NameLengthMax || !IsServiceObject(c) {
			t.Errorf("%q: %d characters, service object %v", c, len(c), IsServiceObject(c))
		}
	}
	udp := n
	udp.Protocol = "UDP"
	if ServiceChain(n) == ServiceChain(udp) {
		t.Error("TCP and UDP ports share a chain")
	}
	if AffinitySet(n, e, time.Hour) == AffinitySet(n, e, time.Minute) {
		t.Error("a new affinity timeout keeps the set name")
	}
	for _, c := range []string{ChainServices, ChainNATPrerouting, ChainMarkForMasquerade, ChainReject, MapServiceIPs} {
		if IsServiceObject(c) {
			t.Errorf("fixed object %s looks per-service", c)
		}
	}
}

// probabilities sums outcome probabilities by destination: "ip:port" for
// an accepted DNAT (plus " masq" when masqueraded), or the verdict.
func probabilities(outs []nfttest.Outcome) map[string]float64 {
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

func expectProbs(t *testing.T, outs []nfttest.Outcome, want map[string]float64) {
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

var (
	nodeIP   = netip.MustParseAddr("192.168.50.10")
	podA     = netip.MustParseAddr("10.244.5.5")
	outsider = netip.MustParseAddr("198.51.100.7")
)

func tcp(src, dst string, dport int) nfttest.Packet {
	return nfttest.Packet{Protocol: "tcp", Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), DstPort: dport}
}

func trace(t *testing.T, f *knftables.Fake, pkt nfttest.Packet) []nfttest.Outcome {
	t.Helper()
	pkt.LocalAddrs = []netip.Addr{nodeIP, netip.MustParseAddr("127.0.0.1")}
	if pkt.Src == nodeIP {
		pkt.Local = true
	}
	outs, err := nfttest.Trace(f.Table, pkt)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// TestPacketTrace walks packets through the rendered table: the same
// cases as the iptables mode's tracer, with the answers Kubernetes'
// nftables mode gives where the modes differ (a cluster IP's unknown
// port, node ports on loopback).
func TestPacketTrace(t *testing.T) {
	third := 1.0 / 3
	for _, tc := range []struct {
		name     string
		scenario string
		pkt      nfttest.Packet
		want     map[string]float64
	}{
		{"pod to cluster IP: even split, no SNAT", "several-services", tcp(podA.String(), "10.96.0.20", 80),
			map[string]float64{"10.244.1.2:8080": third, "10.244.2.3:8080": third, "10.244.3.4:8080": third}},
		{"node to cluster IP: masqueraded", "several-services", tcp(nodeIP.String(), "10.96.0.20", 80),
			map[string]float64{"10.244.1.2:8080 masq": third, "10.244.2.3:8080 masq": third, "10.244.3.4:8080 masq": third}},
		{"pod reaching itself: hairpin masquerade", "several-services", tcp("10.244.2.9", "10.96.0.30", 5432),
			map[string]float64{"10.244.2.9:5432 masq": 1}},
		{"dns over udp", "several-services", nfttest.Packet{Protocol: "udp", Src: podA, Dst: netip.MustParseAddr("10.96.0.10"), DstPort: 53},
			map[string]float64{"10.244.1.7:53": 0.5, "10.244.2.7:53": 0.5}},
		{"dns over tcp", "several-services", tcp(podA.String(), "10.96.0.10", 53),
			map[string]float64{"10.244.1.7:53": 0.5, "10.244.2.7:53": 0.5}},
		{"unknown port passes untouched", "several-services", tcp(podA.String(), "10.96.0.20", 81),
			map[string]float64{"ACCEPT": 1}},
		{"node port from outside", "nodeport", tcp(outsider.String(), nodeIP.String(), 30080),
			map[string]float64{"10.244.1.2:8080 masq": 0.5, "10.244.2.3:8080 masq": 0.5}},
		{"node port from the node", "nodeport", tcp(nodeIP.String(), nodeIP.String(), 30080),
			map[string]float64{"10.244.1.2:8080 masq": 0.5, "10.244.2.3:8080 masq": 0.5}},
		{"node port on loopback is not a node port", "nodeport", tcp("127.0.0.1", "127.0.0.1", 30080),
			map[string]float64{"ACCEPT": 1}},
		{"external IP", "nodeport", tcp(outsider.String(), "192.0.2.50", 80),
			map[string]float64{"10.244.1.2:8080 masq": 0.5, "10.244.2.3:8080 masq": 0.5}},
		{"node port on a non-local address is not a node port", "nodeport", tcp(outsider.String(), "203.0.113.1", 30080),
			map[string]float64{"ACCEPT": 1}},
		{"no endpoints rejects", "no-endpoints", tcp(podA.String(), "10.96.0.50", 80),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects the node port", "no-endpoints", tcp(outsider.String(), nodeIP.String(), 30050),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects the external IP", "no-endpoints", tcp(outsider.String(), "192.0.2.51", 80),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects locally made packets", "no-endpoints", tcp(nodeIP.String(), "10.96.0.50", 80),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects the node port from the node", "no-endpoints", tcp(nodeIP.String(), nodeIP.String(), 30050),
			map[string]float64{"REJECT": 1}},
		{"no endpoints rejects udp", "no-endpoints", nfttest.Packet{Protocol: "udp", Src: podA, Dst: netip.MustParseAddr("10.96.0.51"), DstPort: 53},
			map[string]float64{"REJECT": 1}},
		{"named port http", "named-ports", tcp(podA.String(), "10.96.0.60", 80),
			map[string]float64{"10.244.1.2:8080": 0.5, "10.244.2.3:8081": 0.5}},
		{"named port metrics", "named-ports", tcp(podA.String(), "10.96.0.60", 9090),
			map[string]float64{"10.244.1.2:9100": 0.5, "10.244.2.3:9100": 0.5}},
		{"local policy: outside traffic to the local endpoint, source kept", "local-policy", tcp(outsider.String(), nodeIP.String(), 30070),
			map[string]float64{"10.244.1.2:8080": 1}},
		{"local policy: pods use every endpoint", "local-policy", tcp(podA.String(), nodeIP.String(), 30070),
			map[string]float64{"10.244.1.2:8080": 0.5, "10.244.2.3:8080": 0.5}},
		{"local policy: the node uses every endpoint, masqueraded", "local-policy", tcp(nodeIP.String(), nodeIP.String(), 30070),
			map[string]float64{"10.244.1.2:8080 masq": 0.5, "10.244.2.3:8080 masq": 0.5}},
		{"local policy without local endpoints drops outside traffic", "local-policy", tcp(outsider.String(), nodeIP.String(), 30071),
			map[string]float64{"DROP": 1}},
		{"local policy without local endpoints still serves pods", "local-policy", tcp(podA.String(), nodeIP.String(), 30071),
			map[string]float64{"10.244.2.3:8080": 1}},
		{"affinity: a new client is spread", "affinity", tcp(podA.String(), "10.96.0.40", 80),
			map[string]float64{"10.244.1.2:8080": 0.5, "10.244.2.3:8080": 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f := render(t, state(scenarios[tc.scenario]...))
			expectProbs(t, trace(t, f, tc.pkt), tc.want)
		})
	}
}

// TestAffinityTrace: a client already in an endpoint's affinity set goes
// back to that endpoint, and its DNAT refreshes the set; a new client is
// recorded in the set of the endpoint it got.
func TestAffinityTrace(t *testing.T) {
	s := state(scenarios["affinity"]...)
	sp := s.Services()[proxy.ServicePortName{Namespace: "default", Name: "sticky", Protocol: "TCP"}]
	if sp.StickyMaxAge != 600*time.Second {
		t.Fatalf("timeout %s", sp.StickyMaxAge)
	}
	_, f := render(t, s)
	second := s.Endpoints()[sp.Name][1]
	set := AffinitySet(sp.Name, second, sp.StickyMaxAge)
	if fs := f.Table.Sets[set]; fs == nil || fs.Timeout == nil || *fs.Timeout != 600*time.Second {
		t.Fatalf("affinity set %s: %+v", set, fs)
	}
	pkt := tcp(podA.String(), "10.96.0.40", 80)
	pkt.InSets = map[string]bool{set: true}
	outs := trace(t, f, pkt)
	if len(outs) != 1 || outs[0].DNAT != second.String() || len(outs[0].Updated) != 1 || outs[0].Updated[0] != set {
		t.Fatalf("sticky client: %+v", outs)
	}
	for _, o := range trace(t, f, tcp(podA.String(), "10.96.0.40", 80)) {
		if len(o.Updated) != 1 || !strings.Contains(o.Updated[0], o.DNAT[:strings.Index(o.DNAT, ":")]) {
			t.Errorf("new client sent to %s recorded in %v", o.DNAT, o.Updated)
		}
	}
}

// TestProbabilitiesAreEven: for any number of endpoints, each gets 1/n.
func TestProbabilitiesAreEven(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 20} {
		var addrs []addr
		for i := 0; i < n; i++ {
			addrs = append(addrs, addr{ip: netip.AddrFrom4([4]byte{10, 244, 1, byte(i + 1)}).String()})
		}
		_, f := render(t, state(svc("default", "web", "ClusterIP", "10.96.0.20", port("", 80, "TCP", 0)), eps("default", "web", addrs, epPort("", 80, "TCP"))))
		got := probabilities(trace(t, f, tcp(podA.String(), "10.96.0.20", 80)))
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

// TestRulesCompile: every rule and element the renderer writes, in every
// scenario, compiles to netlink expressions (the default backend's path).
func TestRulesCompile(t *testing.T) {
	for name, objs := range scenarios {
		t.Run(name, func(t *testing.T) {
			s := state(objs...)
			rs := NewRenderer(testConfig).Render(s.Services(), s.Endpoints(), nil)
			tx := (&Netlink{}).NewTx(true).(*netlinkTx)
			Diff(tx, testConfig, rs, &Applied{}, true, nil)
			if tx.err != nil {
				t.Fatal(tx.err)
			}
			if len(tx.ops) == 0 {
				t.Fatal("no operations")
			}
		})
	}
}
