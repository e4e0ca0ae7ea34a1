// Package proxy is what both kube-proxy modes share: the proxier's view of
// Services and Endpoints (one ServicePort per service port, its ready
// Endpoints), and State, which informer handlers feed and a sync drains,
// telling the proxier which service ports changed since the last sync.
package proxy

import (
	"net/netip"
	"time"
)

// ServicePortName names one port of a Service: "namespace/name:port"
// (":port" is the port's name, empty for a single unnamed port) and its
// protocol. Endpoints ports are matched to service ports by name and
// protocol, so a targetPort given by name needs nothing more here.
type ServicePortName struct {
	Namespace, Name string
	Port            string
	Protocol        string
}

// String is "namespace/name:port", as Kubernetes prints it in comments.
func (n ServicePortName) String() string {
	s := n.Namespace + "/" + n.Name
	if n.Port != "" {
		s += ":" + n.Port
	}
	return s
}

// ServicePort is what a proxier needs of one port of a Service with a
// cluster IP. Values are immutable once built; a change builds a new one.
type ServicePort struct {
	Name      ServicePortName
	ClusterIP netip.Addr
	Port      int
	Protocol  string // TCP, UDP or SCTP
	NodePort  int    // 0: none
	// ExternalIPs are the Service's spec.externalIPs (of ClusterIP's family).
	ExternalIPs []netip.Addr
	// StickyMaxAge is the ClientIP session affinity timeout; 0 means none.
	StickyMaxAge time.Duration
	// ExternalPolicyLocal: externalTrafficPolicy Local - traffic from
	// outside goes only to endpoints on this node and keeps its source.
	ExternalPolicyLocal bool
}

// Equal reports whether two service ports would render the same rules.
func (s *ServicePort) Equal(o *ServicePort) bool {
	if s == nil || o == nil {
		return s == o
	}
	if s.Name != o.Name || s.ClusterIP != o.ClusterIP || s.Port != o.Port || s.Protocol != o.Protocol ||
		s.NodePort != o.NodePort || s.StickyMaxAge != o.StickyMaxAge || s.ExternalPolicyLocal != o.ExternalPolicyLocal ||
		len(s.ExternalIPs) != len(o.ExternalIPs) {
		return false
	}
	for i := range s.ExternalIPs {
		if s.ExternalIPs[i] != o.ExternalIPs[i] {
			return false
		}
	}
	return true
}

// HasExternal reports whether traffic reaches the port from outside the
// cluster IP: a node port or an external IP.
func (s *ServicePort) HasExternal() bool { return s.NodePort != 0 || len(s.ExternalIPs) > 0 }

// Endpoint is one ready backend of a service port.
type Endpoint struct {
	IP   netip.Addr
	Port int
	// Local: the endpoint runs on this node (its nodeName is the
	// proxier's hostname).
	Local bool
}

// String is "ip:port".
func (e Endpoint) String() string {
	return netip.AddrPortFrom(e.IP, uint16(e.Port)).String()
}

// ServicePortMap holds every proxied service port by name.
type ServicePortMap map[ServicePortName]*ServicePort

// EndpointsMap holds the ready endpoints of every service port, each list
// sorted by address and port.
type EndpointsMap map[ServicePortName][]Endpoint

// endpointsEqual compares two sorted endpoint lists.
func endpointsEqual(a, b []Endpoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
