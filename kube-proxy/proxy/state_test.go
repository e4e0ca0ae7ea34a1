package proxy

import (
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

func service(name, typ, ip, rv string, ports ...*corev1.ServicePort) *corev1.Service {
	return &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv},
		Spec: &corev1.ServiceSpec{Type: typ, ClusterIP: ip, Ports: ports}}
}

func endpoints(name, rv string, ips []string, ports ...*corev1.EndpointPort) *corev1.Endpoints {
	ss := &corev1.EndpointSubset{Ports: ports}
	for _, ip := range ips {
		ss.Addresses = append(ss.Addresses, &corev1.EndpointAddress{Ip: ip, NodeName: new("node-a")})
	}
	return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv}, Subsets: []*corev1.EndpointSubset{ss}}
}

func names(m map[ServicePortName]bool) string {
	var out []string
	for n := range m {
		out = append(out, n.String()+"/"+n.Protocol)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestServicePorts(t *testing.T) {
	s := service("web", "NodePort", "10.96.0.5", "1", &corev1.ServicePort{Name: "http", Port: 80, NodePort: 30080})
	s.Spec.SessionAffinity = "ClientIP"
	s.Spec.ExternalTrafficPolicy = "Local"
	s.Spec.ExternalIPs = []string{"192.0.2.1", "2001:db8::1", "bogus"}
	ps := ServicePorts(s)
	if len(ps) != 1 {
		t.Fatalf("%d ports", len(ps))
	}
	p := ps[0]
	if p.Name.String() != "ns/web:http" || p.Protocol != "TCP" || p.NodePort != 30080 || p.StickyMaxAge != 3*time.Hour ||
		!p.ExternalPolicyLocal || len(p.ExternalIPs) != 1 || p.ClusterIP != netip.MustParseAddr("10.96.0.5") {
		t.Fatalf("%+v", p)
	}
	for _, skip := range []*corev1.Service{
		service("h", "ClusterIP", "None", "1", &corev1.ServicePort{Port: 80}),
		service("p", "ClusterIP", "", "1", &corev1.ServicePort{Port: 80}),
		{Metadata: &metav1.ObjectMeta{Name: "x"}, Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "a.b"}},
	} {
		if ps := ServicePorts(skip); len(ps) != 0 {
			t.Errorf("%s: %d ports", skip.Metadata.Name, len(ps))
		}
	}
	// A ClusterIP service with a leftover node port does not get it.
	if ps := ServicePorts(service("c", "ClusterIP", "10.96.0.6", "1", &corev1.ServicePort{Port: 80, NodePort: 30000})); ps[0].NodePort != 0 {
		t.Fatal("node port on a ClusterIP service")
	}
}

func TestEndpointsByPort(t *testing.T) {
	e := endpoints("web", "1", []string{"10.0.0.3", "10.0.0.1", "10.0.0.3", "nonsense"},
		&corev1.EndpointPort{Name: "http", Port: 8080}, &corev1.EndpointPort{Name: "dns", Port: 53, Protocol: "UDP"})
	e.Subsets[0].NotReadyAddresses = []*corev1.EndpointAddress{{Ip: "10.0.0.9"}}
	m := EndpointsByPort(e, "node-a")
	http := m[ServicePortName{Namespace: "ns", Name: "web", Port: "http", Protocol: "TCP"}]
	if len(http) != 2 || http[0].String() != "10.0.0.1:8080" || http[1].String() != "10.0.0.3:8080" || !http[0].Local {
		t.Fatalf("http: %v", http)
	}
	if dns := m[ServicePortName{Namespace: "ns", Name: "web", Port: "dns", Protocol: "UDP"}]; len(dns) != 2 || dns[0].Port != 53 {
		t.Fatalf("dns: %v", dns)
	}
	if other := EndpointsByPort(e, "node-b"); other[ServicePortName{Namespace: "ns", Name: "web", Port: "http", Protocol: "TCP"}][0].Local {
		t.Fatal("an endpoint on another node is local")
	}
}

func TestStateApply(t *testing.T) {
	notified := 0
	s := NewState("node-a", func() { notified++ })
	web := service("web", "ClusterIP", "10.96.0.5", "1", &corev1.ServicePort{Port: 80, Protocol: "TCP"})
	s.UpdateService(nil, web)
	s.UpdateService(web, web) // a resync: ignored
	if notified != 1 || s.PendingSince().IsZero() {
		t.Fatalf("notified %d", notified)
	}
	ch := s.Apply()
	if names(ch.Ports) != "ns/web/TCP" || !s.PendingSince().IsZero() {
		t.Fatalf("changes %s", names(ch.Ports))
	}
	if ch := s.Apply(); len(ch.Ports) != 0 {
		t.Fatalf("second apply: %s", names(ch.Ports))
	}

	// Several updates between syncs count once; an update equal to the
	// applied state changes nothing.
	ep := endpoints("web", "2", []string{"10.0.0.1"}, &corev1.EndpointPort{Port: 8080})
	s.UpdateEndpoints(nil, ep)
	ep2 := proto.Clone(ep).(*corev1.Endpoints)
	ep2.Metadata.ResourceVersion = "3"
	ep2.Subsets[0].Addresses = append(ep2.Subsets[0].Addresses, &corev1.EndpointAddress{Ip: "10.0.0.2"})
	s.UpdateEndpoints(ep, ep2)
	ch = s.Apply()
	if names(ch.Ports) != "ns/web/TCP" || len(s.Endpoints()[ServicePortName{Namespace: "ns", Name: "web", Protocol: "TCP"}]) != 2 {
		t.Fatalf("endpoint changes %s %v", names(ch.Ports), s.Endpoints())
	}
	same := proto.Clone(web).(*corev1.Service)
	same.Metadata.ResourceVersion = "9"
	same.Metadata.Labels = map[string]string{"a": "b"}
	s.UpdateService(web, same)
	if ch := s.Apply(); len(ch.Ports) != 0 {
		t.Fatalf("a label change changed %s", names(ch.Ports))
	}

	// Renaming the port: the old name goes, the new comes.
	renamed := proto.Clone(same).(*corev1.Service)
	renamed.Metadata.ResourceVersion = "10"
	renamed.Spec.Ports[0].Name = "http"
	s.UpdateService(same, renamed)
	if ch := s.Apply(); names(ch.Ports) != "ns/web/TCP ns/web:http/TCP" {
		t.Fatalf("rename: %s", names(ch.Ports))
	}
	s.UpdateService(renamed, nil)
	s.UpdateEndpoints(ep2, nil)
	ch = s.Apply()
	if len(s.Services()) != 0 || len(s.Endpoints()) != 0 || names(ch.Ports) != "ns/web/TCP ns/web:http/TCP" {
		t.Fatalf("delete: %s, left %v %v", names(ch.Ports), s.Services(), s.Endpoints())
	}
}

func TestStateUDPStaleness(t *testing.T) {
	s := NewState("", nil)
	s.UpdateService(nil, service("dns", "ClusterIP", "10.96.0.10", "1", &corev1.ServicePort{Port: 53, Protocol: "UDP"}))
	s.Apply()
	ep := endpoints("dns", "2", []string{"10.0.0.1", "10.0.0.2"}, &corev1.EndpointPort{Port: 53, Protocol: "UDP"})
	s.UpdateEndpoints(nil, ep)
	ch := s.Apply()
	if len(ch.NewlyServed) != 1 || len(ch.StaleEndpoints) != 0 {
		t.Fatalf("first endpoints: %+v", ch)
	}
	ep2 := endpoints("dns", "3", []string{"10.0.0.2"}, &corev1.EndpointPort{Port: 53, Protocol: "UDP"})
	s.UpdateEndpoints(ep, ep2)
	ch = s.Apply()
	if len(ch.StaleEndpoints) != 1 || ch.StaleEndpoints[0].Endpoint.String() != "10.0.0.1:53" || len(ch.NewlyServed) != 0 {
		t.Fatalf("endpoint removed: %+v", ch)
	}
}
