package zone

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// TTL is the time to live of every record, and the negative-caching TTL
// in the SOA: short, so that a changed service is seen within seconds even
// by clients that cache.
const TTL = 5

// SchemaVersion is the Kubernetes DNS specification this zone implements,
// served as TXT at dns-version.<domain> as the specification asks.
const SchemaVersion = "1.1.0"

// Response is the answer to one question. Rcode is dns.RcodeSuccess
// (with or without answers) or dns.RcodeNameError for names in the zone.
type Response struct {
	Rcode         int
	Authoritative bool
	Answer        []dns.RR
	Ns            []dns.RR // the SOA, for negative answers
	Extra         []dns.RR // addresses of SRV and NS targets
	// Outside reports a name this server does not own (outside the cluster
	// domain, or a reverse name of no known address): the server forwards
	// it upstream or refuses it. The other fields are empty then.
	Outside bool
}

// Resolve answers q from the index. It never does I/O and never fails:
// a name in the cluster domain gets an answer, NODATA (NOERROR with the SOA
// and no answers) when the name exists without records of that type, or
// NXDOMAIN; anything else is Outside.
//
// The names, as in the Kubernetes DNS specification and CoreDNS:
//
//	<svc>.<ns>.svc.<domain>                A: cluster IP; headless: ready endpoint IPs
//	<host>.<svc>.<ns>.svc.<domain>         A: the endpoint with that hostname (or dashed IP)
//	_<port>._<proto>.<svc>.<ns>.svc.<domain>  SRV: per named port (per endpoint when headless)
//	<a-b-c-d>.<ns>.pod.<domain>            A: a.b.c.d
//	dns-version.<domain>                   TXT: the schema version
//	<reverse of a service or endpoint IP>  PTR: its service or endpoint name
//
// Names the search path produces by mistake (web.default.default.svc...,
// web.svc.cluster.local) are simply unknown names in the zone: NXDOMAIN,
// so the stub resolver moves on to the next search domain.
func (ix *Index) Resolve(q dns.Question) Response {
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		return Response{Outside: true}
	}
	name := strings.ToLower(dns.Fqdn(q.Name))
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	r := &resolver{ix: ix, qname: dns.Fqdn(q.Name), qtype: q.Qtype}
	switch {
	case name == ix.domain || strings.HasSuffix(name, "."+ix.domain):
		rel := strings.TrimSuffix(strings.TrimSuffix(name, ix.domain), ".")
		var labels []string
		if rel != "" {
			labels = strings.Split(rel, ".")
		}
		return r.inZone(labels)
	case strings.HasSuffix(name, ".in-addr.arpa.") || strings.HasSuffix(name, ".ip6.arpa."):
		return r.reverse(name)
	}
	return Response{Outside: true}
}

// resolver carries one question through the lookup; the index is read-locked.
type resolver struct {
	ix    *Index
	qname string // as asked (case kept), fully qualified: the owner of answers
	qtype uint16
}

func (r *resolver) inZone(labels []string) Response {
	n := len(labels)
	if n == 0 {
		return r.apex()
	}
	switch labels[n-1] {
	case "svc":
		return r.svc(labels[:n-1])
	case "pod":
		return r.pod(labels[:n-1])
	case "dns-version":
		if n == 1 {
			if r.qtype == dns.TypeTXT || r.qtype == dns.TypeANY {
				return r.answer(&dns.TXT{Hdr: r.hdr(r.qname, dns.TypeTXT), Txt: []string{SchemaVersion}})
			}
			return r.nodata()
		}
	case "dns":
		// ns.dns.<domain> is the name server the apex NS record names.
		switch {
		case n == 1:
			return r.nodata()
		case n == 2 && labels[0] == "ns":
			return r.answer(r.addrs(r.qname, r.nameServerIPs())...)
		}
	}
	return r.nxdomain()
}

// apex answers the zone's own SOA and NS.
func (r *resolver) apex() Response {
	switch r.qtype {
	case dns.TypeSOA:
		return r.answer(r.soa())
	case dns.TypeNS:
		ns := "ns.dns." + r.ix.domain
		resp := r.answer(&dns.NS{Hdr: r.hdr(r.qname, dns.TypeNS), Ns: ns})
		resp.Extra = r.addrsOfType(ns, dns.TypeANY, r.nameServerIPs())
		return resp
	}
	return r.nodata()
}

// nameServerIPs are the cluster IPs of kube-system/kube-dns: the address
// clients reach this server at.
func (r *resolver) nameServerIPs() []netip.Addr {
	if s := r.ix.services[key{"kube-system", "kube-dns"}]; s != nil {
		return s.ClusterIPs
	}
	return nil
}

// svc resolves the labels in front of "svc.<domain>".
func (r *resolver) svc(labels []string) Response {
	n := len(labels)
	switch {
	case n == 0:
		return r.nodata()
	case n == 1:
		// <ns>.svc.<domain> exists while it has services below it.
		if r.ix.namespaces[labels[0]] > 0 {
			return r.nodata()
		}
		return r.nxdomain()
	case n > 4:
		return r.nxdomain()
	}
	name, ns := labels[n-2], labels[n-1]
	s := r.ix.services[key{ns, name}]
	if s == nil {
		return r.nxdomain()
	}
	svcName := name + "." + ns + ".svc." + r.ix.domain
	if n == 2 {
		return r.service(s, svcName)
	}
	if s.ExternalName != "" {
		// An alias has no endpoints or ports of its own to name.
		return r.nxdomain()
	}
	if n == 3 {
		if proto, ok := strings.CutPrefix(labels[0], "_"); ok {
			// _<proto>.<svc>... is the parent of the SRV names.
			if len(r.srvRecords(s, svcName, "", proto)) > 0 {
				return r.nodata()
			}
			return r.nxdomain()
		}
		return r.endpointName(s, svcName, labels[0])
	}
	port, okPort := strings.CutPrefix(labels[0], "_")
	proto, okProto := strings.CutPrefix(labels[1], "_")
	if !okPort || !okProto || port == "" {
		return r.nxdomain()
	}
	srvs := r.srvRecords(s, svcName, port, proto)
	switch {
	case len(srvs) == 0:
		return r.nxdomain()
	case r.qtype == dns.TypeSRV || r.qtype == dns.TypeANY:
		return r.srvResponse(srvs)
	}
	return r.nodata()
}

// service answers the name of a service itself.
func (r *resolver) service(s *Service, svcName string) Response {
	if s.ExternalName != "" {
		// A CNAME stands for every type at its name.
		return r.answer(&dns.CNAME{Hdr: r.hdr(r.qname, dns.TypeCNAME), Target: s.ExternalName})
	}
	ips := s.ClusterIPs
	if s.Headless {
		eps := r.ix.endpointsLocked(s)
		if len(eps) == 0 {
			// As CoreDNS: a headless service without endpoints has
			// nothing to name, and clients retry a negative answer soon
			// (the SOA minimum is TTL).
			return r.nxdomain()
		}
		ips = uniqueIPs(eps)
	}
	switch r.qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
		return r.answer(r.addrs(r.qname, ips)...)
	case dns.TypeSRV:
		// A bare service name answers SRV for every port, as CoreDNS does.
		return r.srvResponse(r.srvRecords(s, svcName, "", ""))
	}
	return r.nodata()
}

// endpointName answers <host>.<svc>.<ns>.svc.<domain>: the endpoint whose
// hostname, or dashed IP, is host.
func (r *resolver) endpointName(s *Service, svcName, host string) Response {
	var match []endpoint
	for _, e := range r.ix.endpointsLocked(s) {
		if e.hostLabel() == host {
			match = append(match, e)
		}
	}
	if len(match) == 0 {
		return r.nxdomain()
	}
	switch r.qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
		return r.answer(r.addrs(r.qname, uniqueIPs(match))...)
	}
	return r.nodata()
}

// srvTarget is one SRV record before rendering, with the addresses of its
// target for the additional section.
type srvTarget struct {
	port   int32
	target string
	ips    []netip.Addr
}

// srvRecords lists the SRV targets of a service for a port name and
// protocol ("" matches any). A service with a cluster IP points at its own
// name and service port; a headless one at each endpoint's name and the
// endpoint's port, so clients connect to the pods directly.
func (r *resolver) srvRecords(s *Service, svcName, portName, proto string) []srvTarget {
	match := func(p Port) bool {
		return (portName == "" || strings.EqualFold(p.Name, portName)) &&
			(proto == "" || strings.EqualFold(p.Protocol, proto))
	}
	var out []srvTarget
	if !s.Headless {
		if len(s.ClusterIPs) == 0 {
			return nil
		}
		for _, p := range s.Ports {
			if match(p) {
				out = append(out, srvTarget{port: p.Port, target: svcName, ips: s.ClusterIPs})
			}
		}
		return out
	}
	for _, e := range r.ix.endpointsLocked(s) {
		for _, p := range e.ports {
			if match(p) {
				out = append(out, srvTarget{port: p.Port, target: e.hostLabel() + "." + svcName, ips: []netip.Addr{e.addr.IP}})
			}
		}
	}
	return out
}

// srvResponse renders SRV targets, with equal priority and weights that
// share 100 among them, and the targets' addresses as additional records
// so the client needs no second query.
func (r *resolver) srvResponse(ts []srvTarget) Response {
	if len(ts) == 0 {
		return r.nodata()
	}
	weight := uint16(100 / len(ts))
	if weight == 0 {
		weight = 1
	}
	var answer, extra []dns.RR
	seen := map[string]bool{}
	for _, t := range ts {
		answer = append(answer, &dns.SRV{Hdr: r.hdr(r.qname, dns.TypeSRV), Priority: 0, Weight: weight, Port: uint16(t.port), Target: t.target})
		if !seen[t.target] {
			seen[t.target] = true
			extra = append(extra, r.addrsOfType(t.target, dns.TypeANY, t.ips)...)
		}
	}
	resp := r.answer(answer...)
	resp.Extra = extra
	return resp
}

// pod answers <a-b-c-d>.<ns>.pod.<domain> with the address the name spells
// (CoreDNS's "pods insecure" mode: the pod is not looked up).
func (r *resolver) pod(labels []string) Response {
	switch len(labels) {
	case 0, 1:
		// pod.<domain> and <ns>.pod.<domain> are parents of pod names.
		return r.nodata()
	case 2:
		ip, ok := parseDashed(labels[0])
		if !ok {
			return r.nxdomain()
		}
		switch r.qtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
			return r.answer(r.addrs(r.qname, []netip.Addr{ip})...)
		}
		return r.nodata()
	}
	return r.nxdomain()
}

// parseDashed reads 10-244-1-5 (or an IPv6 address with dashes for colons).
func parseDashed(s string) (netip.Addr, bool) {
	if strings.Count(s, "-") == 3 {
		if ip, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ".")); err == nil && ip.Is4() {
			return ip, true
		}
		return netip.Addr{}, false
	}
	if ip, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ":")); err == nil && ip.Is6() && ip.Zone() == "" {
		return ip, true
	}
	return netip.Addr{}, false
}

// reverse answers PTR for service cluster IPs and endpoint addresses.
// Other reverse names are not the cluster's: Outside. It scans every
// service and endpoint, which is fine at this cluster's size and keeps the
// index free of a second map to keep in step.
func (r *resolver) reverse(name string) Response {
	ip, ok := parseReverse(name)
	if !ok {
		return Response{Outside: true}
	}
	var names []string
	for k, s := range r.ix.services {
		svcName := k.name + "." + k.namespace + ".svc." + r.ix.domain
		for _, c := range s.ClusterIPs {
			if c == ip {
				names = append(names, svcName)
			}
		}
		for _, e := range r.ix.endpointsLocked(s) {
			if e.addr.IP == ip {
				names = append(names, e.hostLabel()+"."+svcName)
			}
		}
	}
	if len(names) == 0 {
		return Response{Outside: true}
	}
	if r.qtype != dns.TypePTR && r.qtype != dns.TypeANY {
		return r.nodata()
	}
	sort.Strings(names)
	var rrs []dns.RR
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			continue
		}
		rrs = append(rrs, &dns.PTR{Hdr: r.hdr(r.qname, dns.TypePTR), Ptr: n})
	}
	return r.answer(rrs...)
}

// parseReverse reads a full in-addr.arpa or ip6.arpa name (lower case).
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		l := strings.Split(rest, ".")
		if len(l) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, s := range l {
			v, err := strconv.ParseUint(s, 10, 8)
			if err != nil || (len(s) > 1 && s[0] == '0') {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		l := strings.Split(rest, ".")
		if len(l) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, s := range l {
			v, err := strconv.ParseUint(s, 16, 8)
			if err != nil || len(s) != 1 {
				return netip.Addr{}, false
			}
			pos := 31 - i // nibble index from the most significant
			b[pos/2] |= byte(v) << (4 * (1 - pos%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func uniqueIPs(eps []endpoint) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, e := range eps {
		if !seen[e.addr.IP] {
			seen[e.addr.IP] = true
			out = append(out, e.addr.IP)
		}
	}
	return out
}

// addrs renders the addresses the question's type asks for: A for IPv4,
// AAAA for IPv6, both for ANY. An existing name without addresses of the
// asked family gets no records, which answer turns into NODATA.
func (r *resolver) addrs(owner string, ips []netip.Addr) []dns.RR {
	return r.addrsOfType(owner, r.qtype, ips)
}

func (r *resolver) addrsOfType(owner string, qtype uint16, ips []netip.Addr) []dns.RR {
	var out []dns.RR
	for _, ip := range ips {
		switch {
		case ip.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			out = append(out, &dns.A{Hdr: r.hdr(owner, dns.TypeA), A: ip.AsSlice()})
		case ip.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			out = append(out, &dns.AAAA{Hdr: r.hdr(owner, dns.TypeAAAA), AAAA: ip.AsSlice()})
		}
	}
	return out
}

func (r *resolver) hdr(owner string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

// soa is the zone's SOA. Its minimum (the negative-caching TTL) is TTL, so
// a name that appears is found within seconds even by caching clients.
func (r *resolver) soa() dns.RR {
	d := r.ix.domain
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: d, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: TTL},
		Ns:  "ns.dns." + d, Mbox: "hostmaster." + d, Serial: r.ix.serial,
		Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: TTL,
	}
}

// answer is a positive answer, or NODATA when there are no records.
func (r *resolver) answer(rrs ...dns.RR) Response {
	if len(rrs) == 0 {
		return r.nodata()
	}
	return Response{Rcode: dns.RcodeSuccess, Authoritative: true, Answer: rrs}
}

func (r *resolver) nodata() Response {
	return Response{Rcode: dns.RcodeSuccess, Authoritative: true, Ns: []dns.RR{r.soa()}}
}

func (r *resolver) nxdomain() Response {
	return Response{Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{r.soa()}}
}
