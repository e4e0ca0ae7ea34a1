package proxy

import (
	"net/netip"
	"sort"
	"time"

	corev1 "minik8s/api/core/v1"
)

// defaultStickyTimeout is Kubernetes' ClientIP affinity timeout (3 hours).
const defaultStickyTimeout = 10800 * time.Second

// ServicePorts returns the proxied ports of svc: none for headless
// (clusterIP None), ExternalName and not-yet-allocated Services.
func ServicePorts(svc *corev1.Service) []*ServicePort {
	sp := svc.GetSpec()
	if sp == nil || sp.Type == "ExternalName" {
		return nil
	}
	ip, err := netip.ParseAddr(sp.ClusterIP)
	if err != nil {
		return nil // "", "None" or garbage: nothing to proxy
	}
	var sticky time.Duration
	if sp.SessionAffinity == "ClientIP" {
		sticky = defaultStickyTimeout
		if t := sp.GetSessionAffinityConfig().GetClientIP().GetTimeoutSeconds(); t > 0 {
			sticky = time.Duration(t) * time.Second
		}
	}
	var external []netip.Addr
	for _, s := range sp.ExternalIPs {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() == ip.Is4() {
			external = append(external, a)
		}
	}
	local := sp.ExternalTrafficPolicy == "Local" && (sp.Type == "NodePort" || sp.Type == "LoadBalancer")
	md := svc.GetMetadata()
	out := make([]*ServicePort, 0, len(sp.Ports))
	for _, p := range sp.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		nodePort := 0
		if sp.Type == "NodePort" || sp.Type == "LoadBalancer" {
			nodePort = int(p.NodePort)
		}
		out = append(out, &ServicePort{
			Name:                ServicePortName{Namespace: md.GetNamespace(), Name: md.GetName(), Port: p.Name, Protocol: proto},
			ClusterIP:           ip,
			Port:                int(p.Port),
			Protocol:            proto,
			NodePort:            nodePort,
			ExternalIPs:         external,
			StickyMaxAge:        sticky,
			ExternalPolicyLocal: local,
		})
	}
	return out
}

// EndpointsByPort returns the ready endpoints of every port listed in eps,
// sorted; hostname marks the endpoints on this node as Local. Not-ready
// addresses are left out: they get no traffic.
func EndpointsByPort(eps *corev1.Endpoints, hostname string) EndpointsMap {
	md := eps.GetMetadata()
	out := EndpointsMap{}
	seen := map[ServicePortName]map[Endpoint]bool{}
	for _, ss := range eps.GetSubsets() {
		for _, p := range ss.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = "TCP"
			}
			name := ServicePortName{Namespace: md.GetNamespace(), Name: md.GetName(), Port: p.Name, Protocol: proto}
			if p.Port <= 0 || p.Port > 65535 {
				continue
			}
			for _, a := range ss.Addresses {
				ip, err := netip.ParseAddr(a.Ip)
				if err != nil {
					continue
				}
				ep := Endpoint{IP: ip, Port: int(p.Port), Local: hostname != "" && a.GetNodeName() == hostname}
				if seen[name] == nil {
					seen[name] = map[Endpoint]bool{}
				}
				if !seen[name][ep] {
					seen[name][ep] = true
					out[name] = append(out[name], ep)
				}
			}
		}
	}
	for _, list := range out {
		SortEndpoints(list)
	}
	return out
}

// SortEndpoints orders endpoints by address, then port.
func SortEndpoints(list []Endpoint) {
	sort.Slice(list, func(i, j int) bool {
		if c := list[i].IP.Compare(list[j].IP); c != 0 {
			return c < 0
		}
		return list[i].Port < list[j].Port
	})
}
