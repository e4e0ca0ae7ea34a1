package zone

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func ips(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func addr(ip, host string) Address { return Address{IP: netip.MustParseAddr(ip), Hostname: host} }

// testIndex is a small cluster covering every kind of name.
func testIndex() *Index {
	ix := NewIndex("Cluster.Local", 100)
	ix.SetService(&Service{Namespace: "default", Name: "web", ClusterIPs: ips("10.96.0.20"),
		Ports: []Port{{"http", "TCP", 80}, {"metrics", "TCP", 9090}, {"", "TCP", 8443}}})
	ix.SetEndpoints(&Endpoints{Namespace: "default", Name: "web", Subsets: []Subset{{
		Ready: []Address{addr("10.244.1.3", "")}, Ports: []Port{{"http", "TCP", 8080}}}}})
	ix.SetService(&Service{Namespace: "other", Name: "web", ClusterIPs: ips("10.96.0.30"), Ports: []Port{{"http", "TCP", 80}}})
	ix.SetService(&Service{Namespace: "default", Name: "db", Headless: true, Ports: []Port{{"postgres", "TCP", 5432}}})
	ix.SetEndpoints(&Endpoints{Namespace: "default", Name: "db", Subsets: []Subset{{
		Ready:    []Address{addr("10.244.2.6", "db-1"), addr("10.244.1.5", "db-0")},
		NotReady: []Address{addr("10.244.3.7", "db-2")},
		Ports:    []Port{{"postgres", "TCP", 5432}},
	}}})
	ix.SetService(&Service{Namespace: "default", Name: "peers", Headless: true, PublishNotReady: true})
	ix.SetEndpoints(&Endpoints{Namespace: "default", Name: "peers", Subsets: []Subset{{
		Ready: []Address{addr("10.244.1.8", "")}, NotReady: []Address{addr("10.244.3.8", "")}}}})
	ix.SetService(&Service{Namespace: "default", Name: "empty", Headless: true})
	ix.SetEndpoints(&Endpoints{Namespace: "default", Name: "empty", Subsets: []Subset{{
		NotReady: []Address{addr("10.244.3.9", "")}}}})
	ix.SetService(&Service{Namespace: "default", Name: "ext", ExternalName: "db.example.com."})
	ix.SetService(&Service{Namespace: "default", Name: "dual", ClusterIPs: ips("10.96.0.40", "fd00::40")})
	ix.SetService(&Service{Namespace: "kube-system", Name: "kube-dns", ClusterIPs: ips("10.96.0.10"),
		Ports: []Port{{"dns", "UDP", 53}, {"dns-tcp", "TCP", 53}}})
	return ix
}

// soa is the SOA of testIndex: serial 100 plus its 12 changes.
const soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 112 7200 1800 86400 5"

func TestResolve(t *testing.T) {
	const (
		nx, ok = dns.RcodeNameError, dns.RcodeSuccess
		A      = dns.TypeA
	)
	for _, tc := range []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answer  []string
		extra   []string
		outside bool
	}{
		// Services with a cluster IP.
		{name: "cluster IP", qname: "web.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"web.default.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "same name in another namespace", qname: "web.other.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"web.other.svc.cluster.local. 5 IN A 10.96.0.30"}},
		{name: "case is kept in the answer, ignored in the lookup", qname: "WEB.Default.SVC.cluster.LOCAL.", qtype: A, rcode: ok,
			answer: []string{"WEB.Default.SVC.cluster.LOCAL. 5 IN A 10.96.0.20"}},
		{name: "name without the final dot", qname: "web.default.svc.cluster.local", qtype: A, rcode: ok,
			answer: []string{"web.default.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "AAAA of an IPv4 service is NODATA", qname: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA, rcode: ok},
		{name: "MX of a service is NODATA", qname: "web.default.svc.cluster.local.", qtype: dns.TypeMX, rcode: ok},
		{name: "dual-stack A", qname: "dual.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"dual.default.svc.cluster.local. 5 IN A 10.96.0.40"}},
		{name: "dual-stack AAAA", qname: "dual.default.svc.cluster.local.", qtype: dns.TypeAAAA, rcode: ok,
			answer: []string{"dual.default.svc.cluster.local. 5 IN AAAA fd00::40"}},
		{name: "unknown service", qname: "nope.default.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "unknown service AAAA", qname: "nope.default.svc.cluster.local.", qtype: dns.TypeAAAA, rcode: nx},
		{name: "service in the wrong namespace", qname: "db.other.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "endpoint of a cluster-IP service by dashed IP", qname: "10-244-1-3.web.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"10-244-1-3.web.default.svc.cluster.local. 5 IN A 10.244.1.3"}},

		// Headless services.
		{name: "headless: ready endpoints", qname: "db.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"db.default.svc.cluster.local. 5 IN A 10.244.1.5", "db.default.svc.cluster.local. 5 IN A 10.244.2.6"}},
		{name: "headless: pod hostname", qname: "db-0.db.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.5"}},
		{name: "headless: not-ready pod has no name", qname: "db-2.db.default.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "headless: pod hostname AAAA is NODATA", qname: "db-1.db.default.svc.cluster.local.", qtype: dns.TypeAAAA, rcode: ok},
		{name: "headless: publishNotReadyAddresses", qname: "peers.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"peers.default.svc.cluster.local. 5 IN A 10.244.1.8", "peers.default.svc.cluster.local. 5 IN A 10.244.3.8"}},
		{name: "headless: address without hostname by dashed IP", qname: "10-244-3-8.peers.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"10-244-3-8.peers.default.svc.cluster.local. 5 IN A 10.244.3.8"}},
		{name: "headless: no ready endpoints", qname: "empty.default.svc.cluster.local.", qtype: A, rcode: nx},

		// SRV.
		{name: "SRV of a named port", qname: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "SRV protocol must match", qname: "_http._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: nx},
		{name: "SRV unknown port", qname: "_https._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: nx},
		{name: "SRV UDP port", qname: "_dns._udp.kube-dns.kube-system.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{"_dns._udp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local."},
			extra:  []string{"kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10"}},
		{name: "SRV headless targets each pod", qname: "_postgres._tcp.db.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{
				"_postgres._tcp.db.default.svc.cluster.local. 5 IN SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
				"_postgres._tcp.db.default.svc.cluster.local. 5 IN SRV 0 50 5432 db-1.db.default.svc.cluster.local.",
			},
			extra: []string{"db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.5", "db-1.db.default.svc.cluster.local. 5 IN A 10.244.2.6"}},
		{name: "SRV of the bare service lists every port", qname: "web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok,
			answer: []string{
				"web.default.svc.cluster.local. 5 IN SRV 0 33 80 web.default.svc.cluster.local.",
				"web.default.svc.cluster.local. 5 IN SRV 0 33 9090 web.default.svc.cluster.local.",
				"web.default.svc.cluster.local. 5 IN SRV 0 33 8443 web.default.svc.cluster.local.",
			},
			extra: []string{"web.default.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "A of an SRV name is NODATA", qname: "_http._tcp.web.default.svc.cluster.local.", qtype: A, rcode: ok},
		{name: "protocol parent of SRV names exists", qname: "_tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: ok},
		{name: "protocol parent without such ports", qname: "_sctp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: nx},
		{name: "SRV of an unknown service", qname: "_http._tcp.nope.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: nx},
		{name: "SRV labels must start with underscores", qname: "http.tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV, rcode: nx},

		// ExternalName.
		{name: "ExternalName is a CNAME", qname: "ext.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"ext.default.svc.cluster.local. 5 IN CNAME db.example.com."}},
		{name: "ExternalName has no endpoint names", qname: "x.ext.default.svc.cluster.local.", qtype: A, rcode: nx},

		// Pods.
		{name: "pod A", qname: "10-244-1-5.default.pod.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"10-244-1-5.default.pod.cluster.local. 5 IN A 10.244.1.5"}},
		{name: "pod in any namespace", qname: "10-244-9-9.anything.pod.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"10-244-9-9.anything.pod.cluster.local. 5 IN A 10.244.9.9"}},
		{name: "pod AAAA of an IPv4 pod is NODATA", qname: "10-244-1-5.default.pod.cluster.local.", qtype: dns.TypeAAAA, rcode: ok},
		{name: "IPv6 pod", qname: "fd00--5.default.pod.cluster.local.", qtype: dns.TypeAAAA, rcode: ok,
			answer: []string{"fd00--5.default.pod.cluster.local. 5 IN AAAA fd00::5"}},
		{name: "pod name that is no address", qname: "10-244-1.default.pod.cluster.local.", qtype: A, rcode: nx},
		{name: "pod octet out of range", qname: "10-244-1-300.default.pod.cluster.local.", qtype: A, rcode: nx},
		{name: "pod name with extra labels", qname: "x.10-244-1-5.default.pod.cluster.local.", qtype: A, rcode: nx},

		// Structure of the zone.
		{name: "apex SOA", qname: "cluster.local.", qtype: dns.TypeSOA, rcode: ok, answer: []string{soa}},
		{name: "apex NS", qname: "cluster.local.", qtype: dns.TypeNS, rcode: ok,
			answer: []string{"cluster.local. 5 IN NS ns.dns.cluster.local."},
			extra:  []string{"ns.dns.cluster.local. 5 IN A 10.96.0.10"}},
		{name: "name server address", qname: "ns.dns.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"ns.dns.cluster.local. 5 IN A 10.96.0.10"}},
		{name: "apex A is NODATA", qname: "cluster.local.", qtype: A, rcode: ok},
		{name: "svc parent is NODATA", qname: "svc.cluster.local.", qtype: A, rcode: ok},
		{name: "namespace with services is NODATA", qname: "default.svc.cluster.local.", qtype: A, rcode: ok},
		{name: "namespace without services", qname: "empty-ns.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "pod parent is NODATA", qname: "pod.cluster.local.", qtype: A, rcode: ok},
		{name: "schema version", qname: "dns-version.cluster.local.", qtype: dns.TypeTXT, rcode: ok,
			answer: []string{`dns-version.cluster.local. 5 IN TXT "1.1.0"`}},
		{name: "unknown top label", qname: "foo.cluster.local.", qtype: A, rcode: nx},
		{name: "too many labels", qname: "a.b._http._tcp.web.default.svc.cluster.local.", qtype: A, rcode: nx},

		// What a pod's search path (default.svc.cluster.local svc.cluster.local
		// cluster.local, ndots:5) makes of short and wrong names: every
		// miss inside the zone is NXDOMAIN, so the resolver tries the next.
		{name: "search: web.default + namespace", qname: "web.default.default.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "search: web.default + svc domain", qname: "web.default.svc.cluster.local.", qtype: A, rcode: ok,
			answer: []string{"web.default.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "search: web + cluster domain", qname: "web.cluster.local.", qtype: A, rcode: nx},
		{name: "search: web.svc + cluster domain", qname: "web.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "search: full name + namespace", qname: "web.default.svc.cluster.local.default.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "search: external name + namespace", qname: "example.com.default.svc.cluster.local.", qtype: A, rcode: nx},
		{name: "search: external name + cluster domain", qname: "example.com.cluster.local.", qtype: A, rcode: nx},

		// Outside the cluster domain.
		{name: "external name", qname: "example.com.", qtype: A, outside: true},
		{name: "domain lookalike", qname: "evilcluster.local.", qtype: A, outside: true},
		{name: "root", qname: ".", qtype: dns.TypeNS, outside: true},
		{name: "short name queried alone", qname: "web.default.svc.", qtype: A, outside: true},

		// Reverse lookups.
		{name: "PTR of a cluster IP", qname: "20.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: ok,
			answer: []string{"20.0.96.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local."}},
		{name: "PTR of a headless pod", qname: "5.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: ok,
			answer: []string{"5.1.244.10.in-addr.arpa. 5 IN PTR db-0.db.default.svc.cluster.local."}},
		{name: "PTR of an IPv6 cluster IP", qname: "0.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", qtype: dns.TypePTR, rcode: ok,
			answer: []string{"0.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. 5 IN PTR dual.default.svc.cluster.local."}},
		{name: "PTR of an unknown address is not ours", qname: "1.1.168.192.in-addr.arpa.", qtype: dns.TypePTR, outside: true},
		{name: "partial reverse name is not ours", qname: "96.10.in-addr.arpa.", qtype: dns.TypePTR, outside: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := testIndex()
			got := ix.Resolve(dns.Question{Name: tc.qname, Qtype: tc.qtype, Qclass: dns.ClassINET})
			if got.Outside != tc.outside {
				t.Fatalf("Outside = %v, want %v", got.Outside, tc.outside)
			}
			if tc.outside {
				if got.Answer != nil || got.Ns != nil || got.Rcode != 0 {
					t.Fatalf("outside response carries data: %+v", got)
				}
				return
			}
			if got.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[got.Rcode], dns.RcodeToString[tc.rcode])
			}
			if !got.Authoritative {
				t.Error("answer from the cluster zone is not authoritative")
			}
			assertRRs(t, "answer", got.Answer, tc.answer)
			assertRRs(t, "extra", got.Extra, tc.extra)
			// Negative answers (NXDOMAIN and NODATA) carry the SOA so that
			// resolvers cache them for its minimum TTL only.
			var wantNs []string
			if len(tc.answer) == 0 {
				wantNs = []string{soa}
			}
			assertRRs(t, "authority", got.Ns, wantNs)
		})
	}
}

func assertRRs(t *testing.T, section string, got []dns.RR, want []string) {
	t.Helper()
	var g []string
	for _, rr := range got {
		g = append(g, strings.Join(strings.Fields(rr.String()), " "))
	}
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got: %q\nwant: %q", section, g, want)
	}
}

func TestResolveOtherClass(t *testing.T) {
	got := testIndex().Resolve(dns.Question{Name: "version.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS})
	if !got.Outside {
		t.Fatalf("CHAOS query answered from the zone: %+v", got)
	}
}

// TestIndexChanges checks that updates and deletes take effect and bump
// the SOA serial, and that a namespace disappears with its last service.
func TestIndexChanges(t *testing.T) {
	ix := NewIndex("cluster.local", 7)
	q := func(name string) Response {
		return ix.Resolve(dns.Question{Name: name, Qtype: dns.TypeA, Qclass: dns.ClassINET})
	}
	serial := func(r Response) uint32 { return r.Ns[0].(*dns.SOA).Serial }
	if r := q("a.x.svc.cluster.local."); r.Rcode != dns.RcodeNameError || serial(r) != 7 {
		t.Fatalf("empty index: %+v", r)
	}
	ix.SetService(&Service{Namespace: "x", Name: "a", Headless: true})
	ix.SetEndpoints(&Endpoints{Namespace: "x", Name: "a", Subsets: []Subset{{Ready: []Address{addr("10.0.0.1", ""), addr("10.0.0.2", "")}}}})
	if r := q("a.x.svc.cluster.local."); len(r.Answer) != 2 {
		t.Fatalf("two endpoints: %+v", r)
	}
	ix.SetEndpoints(&Endpoints{Namespace: "x", Name: "a", Subsets: []Subset{{Ready: []Address{addr("10.0.0.2", "")}}}})
	if r := q("a.x.svc.cluster.local."); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.0.0.2" {
		t.Fatalf("one endpoint left: %+v", r)
	}
	ix.DeleteEndpoints("x", "a")
	if r := q("a.x.svc.cluster.local."); r.Rcode != dns.RcodeNameError {
		t.Fatalf("endpoints gone: %+v", r)
	}
	if r := q("x.svc.cluster.local."); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("namespace with a service: %+v", r)
	}
	ix.DeleteService("x", "a")
	ix.DeleteService("x", "a") // a second delete is ignored
	r := q("x.svc.cluster.local.")
	if r.Rcode != dns.RcodeNameError {
		t.Fatalf("namespace without services: %+v", r)
	}
	if serial(r) != 7+5 {
		t.Errorf("serial %d after 5 changes from 7, want 12", serial(r))
	}
}

func TestFromAPI(t *testing.T) {
	svc := &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: "db", Namespace: "prod"},
		Spec: &corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}, PublishNotReadyAddresses: true,
			Ports: []*corev1.ServicePort{{Name: "pg", Port: 5432}, {Name: "dns", Protocol: "UDP", Port: 53}}},
	}
	s := ServiceFromAPI(svc)
	if !s.Headless || len(s.ClusterIPs) != 0 || !s.PublishNotReady || s.Namespace != "prod" || s.Name != "db" {
		t.Errorf("headless service: %+v", s)
	}
	if want := []Port{{"pg", "TCP", 5432}, {"dns", "UDP", 53}}; len(s.Ports) != 2 || s.Ports[0] != want[0] || s.Ports[1] != want[1] {
		t.Errorf("ports %+v, want %+v (protocol defaults to TCP)", s.Ports, want)
	}
	ci := ServiceFromAPI(&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "w", Namespace: "d"},
		Spec: &corev1.ServiceSpec{ClusterIP: "10.96.1.1"}})
	if len(ci.ClusterIPs) != 1 || ci.ClusterIPs[0] != netip.MustParseAddr("10.96.1.1") || ci.Headless {
		t.Errorf("cluster IP from clusterIP alone: %+v", ci)
	}
	ext := ServiceFromAPI(&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "e", Namespace: "d"},
		Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "DB.Example.com"}})
	if ext.ExternalName != "db.example.com." || len(ext.ClusterIPs) != 0 {
		t.Errorf("external name: %+v", ext)
	}

	ep := EndpointsFromAPI(&corev1.Endpoints{
		Metadata: &metav1.ObjectMeta{Name: "db", Namespace: "prod"},
		Subsets: []*corev1.EndpointSubset{{
			Addresses:         []*corev1.EndpointAddress{{Ip: "10.244.1.5", Hostname: "db-0"}, {Ip: "not-an-ip"}},
			NotReadyAddresses: []*corev1.EndpointAddress{{Ip: "10.244.2.6", Hostname: "DB-1"}},
			Ports:             []*corev1.EndpointPort{{Name: "pg", Port: 5432}},
		}},
	})
	if len(ep.Subsets) != 1 {
		t.Fatalf("subsets: %+v", ep)
	}
	ss := ep.Subsets[0]
	if len(ss.Ready) != 1 || ss.Ready[0] != addr("10.244.1.5", "db-0") {
		t.Errorf("ready addresses %+v (a bad IP is dropped)", ss.Ready)
	}
	if len(ss.NotReady) != 1 || ss.NotReady[0] != addr("10.244.2.6", "db-1") {
		t.Errorf("not-ready addresses %+v (hostnames are lower-cased)", ss.NotReady)
	}
	if len(ss.Ports) != 1 || ss.Ports[0] != (Port{"pg", "TCP", 5432}) {
		t.Errorf("ports %+v", ss.Ports)
	}
}
