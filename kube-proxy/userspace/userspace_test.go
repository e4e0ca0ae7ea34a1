package userspace

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kube-proxy/ipt/ipttest"
	"minik8s/kube-proxy/proxy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func name(svc string) proxy.ServicePortName {
	return proxy.ServicePortName{Namespace: "default", Name: svc, Protocol: "TCP"}
}

func ep(s string) proxy.Endpoint {
	ap := netip.MustParseAddrPort(s)
	return proxy.Endpoint{IP: ap.Addr(), Port: int(ap.Port())}
}

func TestRoundRobin(t *testing.T) {
	lb := NewLoadBalancer()
	n := name("web")
	if _, err := lb.Next(n, netip.Addr{}, false); err != ErrNoEndpoints {
		t.Fatalf("unknown service: %v", err)
	}
	lb.Update(n, []proxy.Endpoint{ep("10.0.0.1:80"), ep("10.0.0.2:80"), ep("10.0.0.3:80")}, 0)
	var got []string
	for i := 0; i < 6; i++ {
		e, err := lb.Next(n, netip.MustParseAddr("10.9.9.9"), false)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	want := "10.0.0.1:80 10.0.0.2:80 10.0.0.3:80 10.0.0.1:80 10.0.0.2:80 10.0.0.3:80"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
	// The same list again keeps the position.
	lb.Update(n, []proxy.Endpoint{ep("10.0.0.1:80"), ep("10.0.0.2:80"), ep("10.0.0.3:80")}, 0)
	lb.Next(n, netip.Addr{}, false)
	if e, _ := lb.Next(n, netip.Addr{}, false); e != "10.0.0.2:80" {
		t.Fatalf("position lost: %s", e)
	}
}

func TestAffinity(t *testing.T) {
	lb := NewLoadBalancer()
	now := time.Unix(1000, 0)
	lb.now = func() time.Time { return now }
	n := name("sticky")
	lb.Update(n, []proxy.Endpoint{ep("10.0.0.1:80"), ep("10.0.0.2:80")}, time.Minute)
	a, b := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	ea, _ := lb.Next(n, a, false)
	eb, _ := lb.Next(n, b, false)
	if ea == eb {
		t.Fatalf("two clients on one endpoint %s", ea)
	}
	for i := 0; i < 5; i++ {
		if e, _ := lb.Next(n, a, false); e != ea {
			t.Fatalf("client moved from %s to %s", ea, e)
		}
	}
	now = now.Add(2 * time.Minute)
	lb.Next(n, b, false) // b's affinity expired too: takes the next
	if e, _ := lb.Next(n, a, false); e == "" {
		t.Fatal("no endpoint after expiry")
	}
	// A failed endpoint moves the client on.
	e1, _ := lb.Next(n, a, false)
	e2, _ := lb.Next(n, a, true)
	if e1 == e2 {
		t.Fatalf("reset kept %s", e1)
	}
	// Removing the endpoint drops affinities to it.
	lb.Update(n, []proxy.Endpoint{ep(e1)}, time.Minute)
	if e, _ := lb.Next(n, a, false); e != e1 {
		t.Fatalf("after removal: %s", e)
	}
}

func TestRenderPortalsGolden(t *testing.T) {
	sp := func(svc, ip string, port, nodePort int, proto string, ext ...string) *proxy.ServicePort {
		s := &proxy.ServicePort{Name: proxy.ServicePortName{Namespace: "default", Name: svc, Protocol: proto},
			ClusterIP: netip.MustParseAddr(ip), Port: port, Protocol: proto, NodePort: nodePort}
		for _, e := range ext {
			s.ExternalIPs = append(s.ExternalIPs, netip.MustParseAddr(e))
		}
		return s
	}
	got := string(RenderPortals([]Portal{
		{sp("web", "10.96.0.20", 80, 30080, "TCP", "192.0.2.50"), 40001},
		{sp("dns", "10.96.0.10", 53, 0, "UDP"), 40002},
	}))
	if _, err := ipttest.Parse(got); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "portals.golden")
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("portals differ from %s:\n%s", path, got)
	}
	// A packet to the service is redirected to its proxy port.
	tables, _ := ipttest.Parse(got)
	for _, j := range Jumps {
		c := tables[string(j.Table)].Chains[j.Chain]
		c.Rules = append(c.Rules, ipttest.Rule{Chain: j.Chain, Args: j.Rule})
	}
	outs, err := ipttest.Trace(tables, ipttest.Packet{Protocol: "tcp", Src: netip.MustParseAddr("10.244.1.5"),
		Dst: netip.MustParseAddr("10.96.0.20"), DstPort: 80, Local: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Redirect != 40001 {
		t.Fatalf("trace: %+v", outs)
	}
}

// backend is an HTTP server on loopback answering with its name.
func backend(t *testing.T, id string) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, id) })}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func service(svc, ip string, port int32, proto string) *corev1.Service {
	return &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: svc, ResourceVersion: "1"},
		Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIP: ip, Ports: []*corev1.ServicePort{{Port: port, Protocol: proto}}}}
}

func endpoints(svc, proto string, addrs ...string) *corev1.Endpoints {
	e := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: svc, ResourceVersion: "1"}}
	for _, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		e.Subsets = append(e.Subsets, &corev1.EndpointSubset{
			Addresses: []*corev1.EndpointAddress{{Ip: ap.Addr().String()}},
			Ports:     []*corev1.EndpointPort{{Port: int32(ap.Port()), Protocol: proto}},
		})
	}
	return e
}

// TestProxyTCP: connections to the proxy port are spread round robin,
// exactly, and a refusing backend is skipped.
func TestProxyTCP(t *testing.T) {
	f := ipttest.NewFake()
	p := NewProxier(Config{ListenIP: netip.MustParseAddr("127.0.0.1")}, f, nil, nil)
	t.Cleanup(p.Close)
	dead, _ := net.Listen("tcp4", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there: connections are refused
	p.State().UpdateService(nil, service("web", "10.96.0.20", 80, "TCP"))
	p.State().UpdateEndpoints(nil, endpoints("web", "TCP", backend(t, "a"), backend(t, "b"), backend(t, "c"), deadAddr))
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	port := p.ProxyPort(name("web"))
	if port == 0 {
		t.Fatal("no proxy socket")
	}
	if !strings.Contains(f.Dump(), fmt.Sprintf("--to-ports %d", port)) {
		t.Fatalf("no redirect rule:\n%s", f.Dump())
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	counts := map[string]int{}
	for i := 0; i < 30; i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		counts[string(body)]++
	}
	if counts["a"] != 10 || counts["b"] != 10 || counts["c"] != 10 {
		t.Fatalf("distribution %v, want 10 each", counts)
	}

	// The service goes: its socket closes and its rules go.
	p.State().UpdateService(service("web", "10.96.0.20", 80, "TCP"), nil)
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	if p.ProxyPort(name("web")) != 0 || strings.Contains(f.Dump(), "--to-ports") {
		t.Fatalf("service removed, proxy kept:\n%s", f.Dump())
	}
	if _, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
		t.Fatal("the closed proxy port still answers")
	}
}

// TestProxyUDP: each client gets a backend round robin and its replies.
func TestProxyUDP(t *testing.T) {
	f := ipttest.NewFake()
	p := NewProxier(Config{ListenIP: netip.MustParseAddr("127.0.0.1"), UDPIdleTimeout: time.Second}, f, nil, nil)
	t.Cleanup(p.Close)
	var addrs []string
	for _, id := range []string{"x", "y"} {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			buf := make([]byte, 1500)
			for {
				n, from, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = c.WriteTo(append([]byte(id+":"), buf[:n]...), from)
			}
		}()
		addrs = append(addrs, c.LocalAddr().String())
	}
	p.State().UpdateService(nil, service("dns", "10.96.0.10", 53, "UDP"))
	p.State().UpdateEndpoints(nil, endpoints("dns", "UDP", addrs...))
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	port := p.ProxyPort(proxy.ServicePortName{Namespace: "default", Name: "dns", Protocol: "UDP"})
	seen := map[string]int{}
	for i := 0; i < 4; i++ {
		c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 2; j++ { // one client keeps its backend
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			seen[strings.SplitN(string(buf[:n]), ":", 2)[0]+fmt.Sprint(i)]++
		}
		c.Close()
	}
	if len(seen) != 4 {
		t.Fatalf("replies %v: want every client on one backend", seen)
	}
	if seen["x0"]+seen["y1"]+seen["x2"]+seen["y3"] != 8 && seen["y0"]+seen["x1"]+seen["y2"]+seen["x3"] != 8 {
		t.Fatalf("clients not spread round robin: %v", seen)
	}
}
