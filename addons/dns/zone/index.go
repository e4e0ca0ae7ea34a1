// Package zone holds the cluster's DNS data and answers questions about
// it. The Index is an in-memory copy of what DNS needs from Services and
// Endpoints; Resolve turns a question into a response from it without any
// I/O, so every naming rule is tested table-driven without a network. The
// server package feeds the Index from informers and puts it on the wire.
package zone

import (
	"net/netip"
	"sort"
	"strings"
	"sync"

	corev1 "minik8s/api/core/v1"
)

// Port is one named port of a service or of its endpoints.
type Port struct {
	Name     string
	Protocol string // TCP, UDP or SCTP, upper case as in the API
	Port     int32
}

// Service is what DNS needs from a Service.
type Service struct {
	Namespace, Name string
	// ClusterIPs are the virtual IPs; empty for headless and ExternalName
	// services.
	ClusterIPs []netip.Addr
	// Headless services (clusterIP None) resolve to their endpoints.
	Headless bool
	// ExternalName makes the service name a CNAME to this host.
	ExternalName string
	// PublishNotReady puts not-ready endpoints in DNS too, as StatefulSets
	// need for peers to find each other before they are ready.
	PublishNotReady bool
	Ports           []Port
}

// Address is one endpoint address.
type Address struct {
	IP netip.Addr
	// Hostname is set for pods with spec.hostname and a matching
	// subdomain (StatefulSet pods); it names the pod inside its service.
	Hostname string
}

// Subset is a group of addresses sharing ports.
type Subset struct {
	Ready, NotReady []Address
	Ports           []Port
}

// Endpoints is what DNS needs from an Endpoints object.
type Endpoints struct {
	Namespace, Name string
	Subsets         []Subset
}

type key struct{ namespace, name string }

// Index is the cluster's DNS data. It is safe for concurrent use: the
// informer goroutines write it while DNS queries read it.
type Index struct {
	domain string // canonical: lower case, fully qualified ("cluster.local.")

	mu        sync.RWMutex
	services  map[key]*Service
	endpoints map[key]*Endpoints
	// namespaces counts the services per namespace, so "<ns>.svc.<domain>"
	// exists (NODATA) exactly while some service lives in ns.
	namespaces map[string]int
	serial     uint32
}

// NewIndex returns an empty index for the cluster domain ("cluster.local").
// serial is the SOA serial to start from; every change increments it so
// that a secondary or a cache comparing serials sees the zone change.
func NewIndex(domain string, serial uint32) *Index {
	return &Index{
		domain:     canonical(domain),
		services:   map[key]*Service{},
		endpoints:  map[key]*Endpoints{},
		namespaces: map[string]int{},
		serial:     serial,
	}
}

// Domain returns the cluster domain in canonical form ("cluster.local.").
func (ix *Index) Domain() string { return ix.domain }

// SetService adds or replaces a service. The index keeps s; the caller
// must not change it afterwards.
func (ix *Index) SetService(s *Service) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	k := key{s.Namespace, s.Name}
	if _, ok := ix.services[k]; !ok {
		ix.namespaces[s.Namespace]++
	}
	ix.services[k] = s
	ix.serial++
}

// DeleteService removes a service; an unknown one is ignored.
func (ix *Index) DeleteService(namespace, name string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	k := key{namespace, name}
	if _, ok := ix.services[k]; !ok {
		return
	}
	delete(ix.services, k)
	if ix.namespaces[namespace]--; ix.namespaces[namespace] <= 0 {
		delete(ix.namespaces, namespace)
	}
	ix.serial++
}

// SetEndpoints adds or replaces the endpoints of a service. The index
// keeps e; the caller must not change it afterwards.
func (ix *Index) SetEndpoints(e *Endpoints) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.endpoints[key{e.Namespace, e.Name}] = e
	ix.serial++
}

// DeleteEndpoints removes the endpoints of a service; unknown ones are ignored.
func (ix *Index) DeleteEndpoints(namespace, name string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	k := key{namespace, name}
	if _, ok := ix.endpoints[k]; !ok {
		return
	}
	delete(ix.endpoints, k)
	ix.serial++
}

// ServiceFromAPI extracts the DNS view of an API Service. Addresses that
// do not parse are dropped: a broken object must not break the zone.
func ServiceFromAPI(s *corev1.Service) *Service {
	md, spec := s.GetMetadata(), s.GetSpec()
	out := &Service{
		Namespace:       md.GetNamespace(),
		Name:            md.GetName(),
		Headless:        spec.GetClusterIP() == "None",
		PublishNotReady: spec.GetPublishNotReadyAddresses(),
	}
	if spec.GetType() == "ExternalName" {
		out.ExternalName = canonical(spec.GetExternalName())
	}
	ips := spec.GetClusterIPs()
	if len(ips) == 0 && spec.GetClusterIP() != "" {
		ips = []string{spec.GetClusterIP()}
	}
	if !out.Headless && out.ExternalName == "" {
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				out.ClusterIPs = append(out.ClusterIPs, a.Unmap())
			}
		}
	}
	for _, p := range spec.GetPorts() {
		out.Ports = append(out.Ports, Port{Name: p.GetName(), Protocol: protocol(p.GetProtocol()), Port: p.GetPort()})
	}
	return out
}

// EndpointsFromAPI extracts the DNS view of an API Endpoints object.
func EndpointsFromAPI(e *corev1.Endpoints) *Endpoints {
	md := e.GetMetadata()
	out := &Endpoints{Namespace: md.GetNamespace(), Name: md.GetName()}
	addrs := func(in []*corev1.EndpointAddress) []Address {
		var as []Address
		for _, a := range in {
			ip, err := netip.ParseAddr(a.GetIp())
			if err != nil {
				continue
			}
			as = append(as, Address{IP: ip.Unmap(), Hostname: strings.ToLower(a.GetHostname())})
		}
		return as
	}
	for _, ss := range e.GetSubsets() {
		sub := Subset{Ready: addrs(ss.GetAddresses()), NotReady: addrs(ss.GetNotReadyAddresses())}
		for _, p := range ss.GetPorts() {
			sub.Ports = append(sub.Ports, Port{Name: p.GetName(), Protocol: protocol(p.GetProtocol()), Port: p.GetPort()})
		}
		out.Subsets = append(out.Subsets, sub)
	}
	return out
}

// protocol defaults an empty protocol to TCP, as the API does.
func protocol(p string) string {
	if p == "" {
		return "TCP"
	}
	return strings.ToUpper(p)
}

// canonical lower-cases a name and makes it fully qualified.
func canonical(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return ""
	}
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// endpoint is one address of a service's endpoints with the ports of its
// subset, flattened for lookups.
type endpoint struct {
	addr  Address
	ports []Port
}

// hostLabel is the name of an endpoint inside its service: its hostname,
// or else its IP with dashes (10-244-1-5), as CoreDNS names them, so that
// every address of a headless service has a name an SRV record can target.
func (e endpoint) hostLabel() string {
	if e.addr.Hostname != "" {
		return e.addr.Hostname
	}
	return dashed(e.addr.IP)
}

// dashed writes an IP with dashes instead of dots or colons.
func dashed(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.StringExpanded(), ":", "-")
}

// endpointsLocked returns the addresses of a service that DNS publishes:
// the ready ones, plus the not-ready ones when the service asks for them.
// The order is stable (by IP, then hostname) so answers are reproducible;
// the server shuffles them on the wire. Callers hold ix.mu.
func (ix *Index) endpointsLocked(s *Service) []endpoint {
	e := ix.endpoints[key{s.Namespace, s.Name}]
	if e == nil {
		return nil
	}
	var out []endpoint
	for _, ss := range e.Subsets {
		for _, a := range ss.Ready {
			out = append(out, endpoint{a, ss.Ports})
		}
		if s.PublishNotReady {
			for _, a := range ss.NotReady {
				out = append(out, endpoint{a, ss.Ports})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := out[i].addr.IP.Compare(out[j].addr.IP); c != 0 {
			return c < 0
		}
		return out[i].addr.Hostname < out[j].addr.Hostname
	})
	return out
}
