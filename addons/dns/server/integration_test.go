package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"minik8s/addons/dns/server"
	"minik8s/api/client"
	"minik8s/api/codec"
	"minik8s/api/component"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/test/apiservertest"

	_ "minik8s/api/all"
)

// cluster is a real apiserver on a real etcd with the DNS server running
// in-process on a free loopback port.
type cluster struct {
	api        *client.Client
	dnsAddr    string
	healthAddr string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	api := apiservertest.StartWithEtcd(t)
	s, err := server.New(server.Options{
		ClientOptions: component.ClientOptions{Server: api.Addr, Kubeconfig: api.Kubeconfig},
		Listen:        "127.0.0.1:0",
		HealthAddr:    "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dns server: %v", err)
		}
	})
	c := &cluster{api: api.Client(t), dnsAddr: s.Addr(), healthAddr: s.HealthAddr()}
	eventually(t, 30*time.Second, func() error {
		if code := c.get(t, "/readyz"); code != http.StatusOK {
			return fmt.Errorf("/readyz answers %d", code)
		}
		return nil
	})
	return c
}

func (c *cluster) get(t *testing.T, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + c.healthAddr + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// ask queries the DNS server over network (udp or tcp).
func (c *cluster) ask(t *testing.T, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	cl := &dns.Client{Net: network, Timeout: 2 * time.Second}
	in, _, err := cl.Exchange(new(dns.Msg).SetQuestion(name, qtype), c.dnsAddr)
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return in
}

// summary is "RCODE rr rr ..." with the records in a stable order.
func summary(m *dns.Msg) string {
	var rrs []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			rrs = append(rrs, v.A.String())
		case *dns.SRV:
			rrs = append(rrs, fmt.Sprintf("%d:%s", v.Port, v.Target))
		default:
			rrs = append(rrs, rr.String())
		}
	}
	slices.Sort(rrs)
	return strings.TrimSpace(dns.RcodeToString[m.Rcode] + " " + strings.Join(rrs, " "))
}

func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expect polls until name answers want over UDP, for at most within: the
// informers deliver changes asynchronously, so a fixed sleep would either
// flake or waste time.
func (c *cluster) expect(t *testing.T, within time.Duration, name string, qtype uint16, want string) {
	t.Helper()
	eventually(t, within, func() error {
		if got := summary(c.ask(t, "udp", name, qtype)); got != want {
			return fmt.Errorf("%s %s = %q, want %q", name, dns.TypeToString[qtype], got, want)
		}
		return nil
	})
}

func svc(ns, name, clusterIP string, ports ...*corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:     &corev1.ServiceSpec{ClusterIP: clusterIP, Ports: ports},
	}
}

func endpoints(ns, name string, ports []*corev1.EndpointPort, addrs ...*corev1.EndpointAddress) *corev1.Endpoints {
	e := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns}}
	if len(addrs) > 0 {
		e.Subsets = []*corev1.EndpointSubset{{Addresses: addrs, Ports: ports}}
	}
	return e
}

// TestDNSAgainstAPIServer drives the DNS server through the API like a
// user: services and endpoints are created, changed and deleted, and the
// answers follow within a second.
func TestDNSAgainstAPIServer(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	services := client.For[*corev1.Service](c.api)
	eps := client.For[*corev1.Endpoints](c.api)

	web, err := services.Create(ctx, svc("default", "web", "",
		&corev1.ServicePort{Name: "http", Port: 80}, &corev1.ServicePort{Name: "dns", Protocol: "UDP", Port: 53}))
	if err != nil {
		t.Fatal(err)
	}
	ip := web.GetSpec().GetClusterIP()
	if ip == "" {
		t.Fatal("no cluster IP allocated")
	}
	if _, err := services.Create(ctx, svc("default", "db", "None", &corev1.ServicePort{Name: "pg", Port: 5432})); err != nil {
		t.Fatal(err)
	}
	pg := []*corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: "TCP"}}
	if _, err := eps.Create(ctx, endpoints("default", "db", pg,
		&corev1.EndpointAddress{Ip: "10.244.1.5", Hostname: "db-0"},
		&corev1.EndpointAddress{Ip: "10.244.2.6", Hostname: "db-1"})); err != nil {
		t.Fatal(err)
	}
	const sec = time.Second

	t.Run("cluster IP", func(t *testing.T) {
		c.expect(t, 5*sec, "web.default.svc.cluster.local.", dns.TypeA, "NOERROR "+ip)
		// The same answer over TCP.
		if got := summary(c.ask(t, "tcp", "web.default.svc.cluster.local.", dns.TypeA)); got != "NOERROR "+ip {
			t.Errorf("over TCP: %q", got)
		}
		m := c.ask(t, "udp", "web.default.svc.cluster.local.", dns.TypeA)
		if !m.Authoritative || m.Answer[0].Header().Ttl != 5 {
			t.Errorf("aa=%v ttl=%d, want an authoritative answer with TTL 5", m.Authoritative, m.Answer[0].Header().Ttl)
		}
		if got := summary(c.ask(t, "udp", "web.default.svc.cluster.local.", dns.TypeAAAA)); got != "NOERROR" {
			t.Errorf("AAAA: %q, want NOERROR without answers", got)
		}
	})
	t.Run("headless", func(t *testing.T) {
		c.expect(t, 5*sec, "db.default.svc.cluster.local.", dns.TypeA, "NOERROR 10.244.1.5 10.244.2.6")
		c.expect(t, 5*sec, "db-1.db.default.svc.cluster.local.", dns.TypeA, "NOERROR 10.244.2.6")
	})
	t.Run("SRV", func(t *testing.T) {
		c.expect(t, 5*sec, "_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, "NOERROR 80:web.default.svc.cluster.local.")
		c.expect(t, 5*sec, "_dns._udp.web.default.svc.cluster.local.", dns.TypeSRV, "NOERROR 53:web.default.svc.cluster.local.")
		c.expect(t, 5*sec, "_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV,
			"NOERROR 5432:db-0.db.default.svc.cluster.local. 5432:db-1.db.default.svc.cluster.local.")
		m := c.ask(t, "udp", "_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV)
		if len(m.Extra) != 2 {
			t.Errorf("SRV additional section %v, want the A records of both pods", m.Extra)
		}
	})
	t.Run("pod", func(t *testing.T) {
		c.expect(t, 5*sec, "10-244-3-7.default.pod.cluster.local.", dns.TypeA, "NOERROR 10.244.3.7")
	})
	t.Run("NXDOMAIN and REFUSED", func(t *testing.T) {
		m := c.ask(t, "udp", "nope.default.svc.cluster.local.", dns.TypeA)
		if m.Rcode != dns.RcodeNameError || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("unknown service: %s with authority %v, want NXDOMAIN with the SOA", dns.RcodeToString[m.Rcode], m.Ns)
		}
		if m := c.ask(t, "udp", "example.com.", dns.TypeA); m.Rcode != dns.RcodeRefused {
			t.Errorf("outside name: %s, want REFUSED (no upstream)", dns.RcodeToString[m.Rcode])
		}
	})
	t.Run("new service shows within a second", func(t *testing.T) {
		created, err := services.Create(ctx, svc("kube-system", "late", "", &corev1.ServicePort{Name: "http", Port: 8080}))
		if err != nil {
			t.Fatal(err)
		}
		c.expect(t, sec, "late.kube-system.svc.cluster.local.", dns.TypeA, "NOERROR "+created.GetSpec().GetClusterIP())
	})
	t.Run("removed endpoint goes within a second", func(t *testing.T) {
		cur, err := eps.Get(ctx, "default", "db")
		if err != nil {
			t.Fatal(err)
		}
		cur.Subsets[0].Addresses = cur.Subsets[0].Addresses[:1]
		if _, err := eps.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		c.expect(t, sec, "db.default.svc.cluster.local.", dns.TypeA, "NOERROR 10.244.1.5")
		c.expect(t, sec, "db-1.db.default.svc.cluster.local.", dns.TypeA, "NXDOMAIN")
	})
	t.Run("deleted service goes within a second", func(t *testing.T) {
		if _, err := services.Delete(ctx, "default", "web", nil); err != nil {
			t.Fatal(err)
		}
		c.expect(t, sec, "web.default.svc.cluster.local.", dns.TypeA, "NXDOMAIN")
	})
	t.Run("the add-on manifest applies", func(t *testing.T) {
		data, err := os.ReadFile("../../../deploy/addons/dns.yaml")
		if err != nil {
			t.Fatal(err)
		}
		objs, err := codec.DecodeObjects(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			k, err := scheme.KindOf(o)
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.api.Dynamic(k.Resource)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := res.Create(ctx, o); err != nil {
				t.Fatalf("create %s %s: %v", k.Kind, o.GetMetadata().GetName(), err)
			}
		}
		c.expect(t, sec, "kube-dns.kube-system.svc.cluster.local.", dns.TypeA, "NOERROR 10.96.0.10")
		c.expect(t, sec, "ns.dns.cluster.local.", dns.TypeA, "NOERROR 10.96.0.10")
	})
	t.Run("health and metrics", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			if code := c.get(t, p); code != http.StatusOK {
				t.Errorf("GET %s: %d", p, code)
			}
		}
	})
}

// TestNotReadyWithoutAPIServer checks that, until the caches sync, the
// server is live but not ready and answers cluster names with SERVFAIL
// rather than denying names it cannot know yet.
func TestNotReadyWithoutAPIServer(t *testing.T) {
	// A loopback port nobody listens on: the client keeps retrying it.
	s, err := server.New(server.Options{ClientOptions: component.ClientOptions{Server: "127.0.0.1:1"}, Listen: "127.0.0.1:0", HealthAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c := &cluster{dnsAddr: s.Addr(), healthAddr: s.HealthAddr()}
	eventually(t, 10*time.Second, func() error {
		if code := c.get(t, "/healthz"); code != http.StatusOK {
			return fmt.Errorf("/healthz answers %d", code)
		}
		return nil
	})
	if code := c.get(t, "/readyz"); code != http.StatusInternalServerError { // Kubernetes' failed-check status
		t.Errorf("/readyz answers %d before the caches synced, want 500", code)
	}
	if m := c.ask(t, "udp", "web.default.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("cluster name before sync: %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	if m := c.ask(t, "tcp", "example.com.", dns.TypeA); m.Rcode != dns.RcodeRefused {
		t.Errorf("outside name: %s, want REFUSED", dns.RcodeToString[m.Rcode])
	}
}
