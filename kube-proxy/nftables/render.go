// Package nftables is kube-proxy's nftables mode: a packet to a service's
// IP:port is DNATed in the kernel to a randomly chosen ready endpoint, as
// in the iptables mode, but through one table of kube-proxy's own
// ("ip kube-proxy") whose entry points are verdict maps keyed by service
// address, protocol and port. Finding a service's chain is one map lookup
// instead of a walk down a rule per service, and a change to one service
// rewrites that service's chains and map elements, never a long shared
// chain.
//
// The package is split like the iptables mode: rendering (this file) is a
// pure function from service ports and endpoints to the chains, map
// elements and sets kube-proxy wants; diff.go turns two such renderings
// into the one nft transaction that moves the kernel from one to the
// other; proxier.go is the I/O - informer changes in, one transaction
// per sync out (a netlink batch by default, netlink.go; or `nft -f`
// through sigs.k8s.io/knftables).
//
// The table (Kubernetes' nftables proxier's entry points; the endpoint
// choice differs, see below):
//
//	nat-prerouting (nat, prerouting, dstnat), nat-output (nat, output,
//	    dstnat) -> services:
//	        ip daddr . meta l4proto . th dport vmap @service-ips
//	        fib daddr type local ... meta l4proto . th dport vmap @service-nodeports
//	service-ips: cluster IP / external IP . proto . port -> goto service-*
//	    (or external-* for external IPs)
//	service-nodeports: proto . node port -> goto external-*
//	external-*: marks traffic from outside for masquerade, goto service-*
//	    (externalTrafficPolicy Local: pods and the node itself go to
//	    service-*, the rest to a local endpoint, keeping its source)
//	        ip saddr != <cluster CIDR> ip daddr . meta l4proto . th dport
//	            @cluster-ips jump mark-for-masquerade (before the lookups)
//	service-*: DNATs straight from a map:
//	        meta l4proto tcp dnat to numgen random mod N offset K map @endpoints-tcp-S
//	    endpoints-tcp-S (a plain map, not a verdict map) holds keys K..K+N-1,
//	    each an endpoint's address . port. Every service port's endpoint
//	    list has a slot (numbered per protocol): map S = slot /
//	    EndpointListsPerMap, K = (slot %
//	    EndpointListsPerMap) * EndpointListSize.
//	nat-postrouting (nat, postrouting, srcnat) -> masquerading: marks
//	    hairpin traffic (a DNATed packet whose source is its new
//	    destination: ip saddr . ip daddr @hairpin-endpoints, one "ip . ip"
//	    element per endpoint address), then masquerades what carries the
//	    mark bit
//	filter-input, filter-forward (filter, priority -110) and filter-output
//	    (filter, priority -90, after the output DNAT): new connections
//	    still addressed to a service (nothing DNATed them) look up
//	    no-endpoint-services / no-endpoint-nodeports: goto reject-chain
//	    for ports without endpoints, drop for external traffic to a Local
//	    service without local endpoints.
//
// Why the endpoint choice is a map and not, as in Kubernetes, a numgen
// verdict map jumping to a chain per endpoint: the kernel (6.18 here)
// validates the whole graph of chains reachable from the base chains on
// every commit whose transaction adds a rule or a verdict-map element
// with a jump, goto, dnat or similar expression - 50-70 ms at 10,000
// services, for any endpoint change. Replacing an endpoint is now the
// deletion and addition of one element of a map whose values are data,
// which the kernel commits without that walk; a rule is rewritten only
// when a service's number of endpoints changes (the modulus), and then
// the walk covers one chain per service, not three. The maps are shared
// by EndpointListsPerMap lists because the kernel finds a set by name by
// walking the table's list of sets, and a map's every element is checked
// against every rule bound to it: one map per service, or one for all,
// makes a full sync quadratic in the kernel.
//
// ClientIP session affinity keeps the chain layout: a service chain looks
// the client up in one dynamic set per endpoint (with a timeout, as
// Kubernetes does), then chooses with numgen (a cascade of rules, or an
// inline verdict map above MaxCascade endpoints) among endpoint-* chains
// that record the client in their set and DNAT. Endpoint changes of such
// services still rewrite chains.
//
// Only the IPv4 family is programmed, as in the iptables mode.
package nftables

import (
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"minik8s/kube-proxy/proxy"
)

// TableName is kube-proxy's table, in the ip family. Nothing outside it
// is ever touched.
const TableName = "kube-proxy"

// Fixed chains, sets and maps of the table.
const (
	ChainNATPrerouting  = "nat-prerouting"
	ChainNATOutput      = "nat-output"
	ChainNATPostrouting = "nat-postrouting"
	ChainFilterInput    = "filter-input"
	ChainFilterForward  = "filter-forward"
	ChainFilterOutput   = "filter-output"

	ChainServices               = "services"
	ChainMasquerading           = "masquerading"
	ChainMarkForMasquerade      = "mark-for-masquerade"
	ChainServiceEndpointsCheck  = "service-endpoints-check"
	ChainNodePortEndpointsCheck = "nodeport-endpoints-check"
	ChainReject                 = "reject-chain"

	MapServiceIPs          = "service-ips"
	MapServiceNodePorts    = "service-nodeports"
	MapNoEndpointServices  = "no-endpoint-services"
	MapNoEndpointNodePorts = "no-endpoint-nodeports"
	// SetHairpin holds "ip . ip" for every endpoint address: a DNATed
	// packet whose source and destination are that address is hairpin
	// traffic, masqueraded so the endpoint's reply comes back through
	// the node.
	SetHairpin = "hairpin-endpoints"
	// SetClusterIPs holds cluster IP . protocol . port of every service
	// port with endpoints: traffic to them from outside the pod network
	// is marked for masquerade, by one rule in the services chain.
	SetClusterIPs = "cluster-ips"
	// PrefixEndpointMap names the endpoint maps: endpoints-tcp-0,
	// endpoints-udp-0, ... (one series per protocol: nft reads a map of
	// "th dport" values back from the kernel as conflicting with a
	// rule's "meta l4proto tcp", so each map names its protocol's port).
	PrefixEndpointMap = "endpoints-"

	// Per-service-port and per-endpoint objects: prefix, 8 characters of
	// a hash (names are cut nowhere, the hash only keeps them unique
	// whatever the characters), then a readable name.
	PrefixService  = "service-"
	PrefixExternal = "external-"
	PrefixEndpoint = "endpoint-"
	PrefixAffinity = "affinity-"
)

// EndpointListsPerMap is how many endpoint lists share one endpoint map,
// and EndpointListSize the keys each list has (its most endpoints).
const (
	EndpointListsPerMap = 64
	EndpointListSize    = 1 << 16
)

// EndpointMap is the map holding the endpoint list of a slot of a
// protocol (tcp, udp, sctp).
func EndpointMap(proto string, slot int) string {
	return PrefixEndpointMap + proto + "-" + strconv.Itoa(slot/EndpointListsPerMap)
}

// endpointOffset is the first key of a slot's list in its map.
func endpointOffset(slot int) int { return slot % EndpointListsPerMap * EndpointListSize }

// Config is what rendering needs besides services and endpoints.
type Config struct {
	// ClusterCIDR is the pod network; traffic to a cluster IP from
	// outside it is masqueraded. Invalid (zero): no such masquerading.
	ClusterCIDR netip.Prefix
	// MasqueradeBit is the bit of the packet mark meaning "masquerade me"
	// (Kubernetes' default 14: 0x4000).
	MasqueradeBit int
}

func (c Config) mark() string { return fmt.Sprintf("%#x", uint32(1)<<c.MasqueradeBit) }

// portBase is "namespace/name/proto/port", the readable part of the names
// of a service port's objects.
func portBase(n proxy.ServicePortName) string {
	return n.Namespace + "/" + n.Name + "/" + strings.ToLower(n.Protocol) + "/" + n.Port
}

func hash8(s string) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:8]
}

func named(prefix, base string) string { return prefix + hash8(base) + "-" + base }

// ServiceChain is the service-* chain of a service port.
func ServiceChain(n proxy.ServicePortName) string { return named(PrefixService, portBase(n)) }

// ExternalChain is the external-* chain of a service port.
func ExternalChain(n proxy.ServicePortName) string { return named(PrefixExternal, portBase(n)) }

// EndpointChain is the endpoint-* chain of one endpoint of a service port.
func EndpointChain(n proxy.ServicePortName, e proxy.Endpoint) string {
	return named(PrefixEndpoint, portBase(n)+"__"+e.IP.String()+"/"+strconv.Itoa(e.Port))
}

// AffinitySet is the set of clients stuck to one endpoint (ClientIP
// session affinity). Its timeout is part of the hashed name, so a changed
// timeout makes a new set rather than meeting an old one's.
func AffinitySet(n proxy.ServicePortName, e proxy.Endpoint, timeout time.Duration) string {
	base := portBase(n) + "__" + e.IP.String() + "/" + strconv.Itoa(e.Port)
	return PrefixAffinity + hash8(base+"/"+strconv.Itoa(int(timeout.Seconds()))) + "-" + base
}

// IsServiceObject reports whether a chain or set name is one of the
// per-service-port objects (those a sync may find stale): a prefix, then
// the hash (upper-case base32, which no fixed name has) and "-".
func IsServiceObject(name string) bool {
	for _, p := range []string{PrefixService, PrefixExternal, PrefixEndpoint, PrefixAffinity} {
		rest, ok := strings.CutPrefix(name, p)
		if !ok || len(rest) < 9 || rest[8] != '-' {
			continue
		}
		hashed := true
		for _, c := range rest[:8] {
			if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
				hashed = false
			}
		}
		if hashed {
			return true
		}
	}
	return false
}

// Element is one element of a map: key parts and the verdict.
type Element struct {
	Key   []string
	Value string
}

func (e Element) key() string { return strings.Join(e.Key, " . ") }

// Ruleset is a rendering: the per-service objects of the table (the fixed
// chains and maps are the same for every rendering; see Base).
type Ruleset struct {
	// Chains maps each per-service chain to its rules. It belongs to the
	// Renderer and is valid until its next Render: read, never modify.
	Chains map[string][]string
	// Elements maps each verdict map to its elements by key
	// ("10.96.0.10 . udp . 53"). Same ownership as Chains.
	Elements map[string]map[string]Element
	// Sets maps each affinity set to its timeout.
	Sets map[string]time.Duration
	// Touched names what may differ from the previous rendering; nil
	// means everything (a rendering from scratch).
	Touched *Touched
	// Rules counts the rules in Chains.
	Rules int
}

// Touched names the objects a partial rendering may have changed.
type Touched struct {
	Chains   map[string]bool
	Elements map[string]map[string]bool // map -> key
	Sets     map[string]bool
}

func newTouched() *Touched {
	return &Touched{Chains: map[string]bool{}, Elements: map[string]map[string]bool{}, Sets: map[string]bool{}}
}

func (t *Touched) element(m, key string) {
	if t.Elements[m] == nil {
		t.Elements[m] = map[string]bool{}
	}
	t.Elements[m][key] = true
}

// fragment is what one service port contributes.
type fragment struct {
	chains   []ownChain
	elements []mapElement
	sets     []ownSet
	// hairpins are the endpoint addresses (elements of SetHairpin,
	// shared by every service port with that endpoint address).
	hairpins []string
	// slots are the endpoint lists it uses.
	slots []slotKey
}

type ownChain struct {
	name  string
	rules []string
}

type mapElement struct {
	m string
	e Element
}

type ownSet struct {
	name    string
	timeout time.Duration
}

// MapDef is a map or set of the table that holds elements.
type MapDef struct {
	Name string
	// Type is its nft type; TypeOf, when set, replaces it (nft needs
	// typeof for a map keyed by numgen's plain integers).
	Type, TypeOf string
	// Set: elements have no value.
	Set bool
}

// Maps lists the fixed maps and sets; the endpoint maps (EndpointMap)
// are added as the service ports need them.
var Maps = []MapDef{
	{Name: MapServiceIPs, Type: "ipv4_addr . inet_proto . inet_service : verdict"},
	{Name: MapServiceNodePorts, Type: "inet_proto . inet_service : verdict"},
	{Name: MapNoEndpointServices, Type: "ipv4_addr . inet_proto . inet_service : verdict"},
	{Name: MapNoEndpointNodePorts, Type: "inet_proto . inet_service : verdict"},
	{Name: SetHairpin, Type: "ipv4_addr . ipv4_addr", Set: true},
	{Name: SetClusterIPs, Type: "ipv4_addr . inet_proto . inet_service", Set: true},
}

// endpointMapTypeOf is the type of a protocol's endpoint maps: numgen's
// value to address . port.
func endpointMapTypeOf(proto string) string {
	return "numgen random mod 1 : ip daddr . " + proto + " dport"
}

// endpointMapProto returns the protocol of an endpoint map ("" if name is
// not one).
func endpointMapProto(name string) string {
	rest, ok := strings.CutPrefix(name, PrefixEndpointMap)
	if !ok {
		return ""
	}
	proto, n, ok := strings.Cut(rest, "-")
	if _, known := knownProtocols[proto]; !ok || !known {
		return ""
	}
	if _, err := strconv.Atoi(n); err != nil {
		return ""
	}
	return proto
}

var knownProtocols = map[string]bool{"tcp": true, "udp": true, "sctp": true}

// IsEndpointMap reports whether name is an endpoint map.
func IsEndpointMap(name string) bool { return endpointMapProto(name) != "" }

// LookupMap returns the definition of a fixed or endpoint map.
func LookupMap(name string) (MapDef, bool) {
	for _, m := range Maps {
		if m.Name == name {
			return m, true
		}
	}
	if p := endpointMapProto(name); p != "" {
		return MapDef{Name: name, TypeOf: endpointMapTypeOf(p)}, true
	}
	return MapDef{}, false
}

// slotKey names an endpoint list: a service port's, or (local) its
// local endpoints' for externalTrafficPolicy Local.
type slotKey struct {
	name  proxy.ServicePortName
	local bool
}

// Renderer renders rulesets incrementally: it keeps each service port's
// fragment and the ruleset built from them; a change re-renders only the
// changed ports and swaps their chains, elements and sets. Not safe for
// concurrent use.
type Renderer struct {
	cfg   Config
	frags map[proxy.ServicePortName]*fragment
	rs    *Ruleset
	// slots: each endpoint list's slot, kept while its service port has
	// one (so an endpoint change rewrites no rule); free slots are
	// reused, lowest first.
	slots map[slotKey]int
	pools map[string]*slotPool // by protocol
	// hairpin counts the fragments with each endpoint address.
	hairpin map[string]int
}

// NewRenderer returns a renderer with an empty cache.
func NewRenderer(cfg Config) *Renderer {
	return &Renderer{cfg: cfg, frags: map[proxy.ServicePortName]*fragment{}}
}

// slotPool gives out one protocol's slots.
type slotPool struct {
	free []int // a min-heap
	next int
}

func (r *Renderer) pool(proto string) *slotPool {
	p := r.pools[proto]
	if p == nil {
		p = &slotPool{}
		r.pools[proto] = p
	}
	return p
}

// slot returns k's slot, allocating one if it has none.
func (r *Renderer) slot(k slotKey) int {
	if s, ok := r.slots[k]; ok {
		return s
	}
	var s int
	p := r.pool(strings.ToLower(k.name.Protocol))
	if len(p.free) > 0 {
		s = heapPop(&p.free)
	} else {
		s = p.next
		p.next++
	}
	r.slots[k] = s
	if m := EndpointMap(strings.ToLower(k.name.Protocol), s); r.rs.Elements[m] == nil {
		r.rs.Elements[m] = make(map[string]Element, 2*EndpointListsPerMap)
	}
	return s
}

// releaseSlots frees the slots of n that its fragment f (nil: none) does
// not use.
func (r *Renderer) releaseSlots(n proxy.ServicePortName, f *fragment) {
	for _, local := range []bool{false, true} {
		k := slotKey{n, local}
		s, ok := r.slots[k]
		if !ok || (f != nil && slices.Contains(f.slots, k)) {
			continue
		}
		delete(r.slots, k)
		heapPush(&r.pool(strings.ToLower(n.Protocol)).free, s)
	}
}

func heapPush(h *[]int, v int) {
	*h = append(*h, v)
	for i := len(*h) - 1; i > 0; {
		p := (i - 1) / 2
		if (*h)[p] <= (*h)[i] {
			break
		}
		(*h)[p], (*h)[i] = (*h)[i], (*h)[p]
		i = p
	}
}

func heapPop(h *[]int) int {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if l+1 < len(a) && a[l+1] < a[m] {
			m = l + 1
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// sortedPorts returns the names in m, in order (slots are given in this
// order, so a rendering is the same whatever the maps' order).
func sortedPorts[V any](m map[proxy.ServicePortName]V) []proxy.ServicePortName {
	names := make([]proxy.ServicePortName, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b proxy.ServicePortName) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name),
			strings.Compare(a.Port, b.Port), strings.Compare(a.Protocol, b.Protocol))
	})
	return names
}

// Render returns the ruleset for svcs and eps. changed names the service
// ports that differ from the previous call; nil means everything (the
// cache is dropped).
func (r *Renderer) Render(svcs proxy.ServicePortMap, eps proxy.EndpointsMap, changed map[proxy.ServicePortName]bool) *Ruleset {
	if changed == nil || r.rs == nil {
		r.frags = make(map[proxy.ServicePortName]*fragment, len(svcs))
		r.slots, r.pools = make(map[slotKey]int, len(svcs)), map[string]*slotPool{}
		r.hairpin = make(map[string]int, 2*len(svcs))
		r.rs = &Ruleset{Chains: make(map[string][]string, len(svcs)), Elements: map[string]map[string]Element{}, Sets: map[string]time.Duration{}}
		for _, m := range Maps {
			r.rs.Elements[m.Name] = map[string]Element{}
		}
		r.rs.Elements[MapServiceIPs] = make(map[string]Element, len(svcs))
		r.rs.Elements[SetHairpin] = make(map[string]Element, 2*len(svcs))
		for _, n := range sortedPorts(svcs) {
			if f := r.renderPort(svcs[n], eps[n]); f != nil {
				r.frags[n] = f
				r.add(f, nil)
			}
		}
		r.rs.Touched = nil
		return r.rs
	}
	t := newTouched()
	names := sortedPorts(changed)
	// Every old fragment goes before any new one comes: two ports may
	// swap a map key (a port renamed keeps its address and number).
	for _, n := range names {
		if old := r.frags[n]; old != nil {
			r.remove(old, t)
			delete(r.frags, n)
		}
	}
	for _, n := range names {
		if sp := svcs[n]; sp != nil {
			if f := r.renderPort(sp, eps[n]); f != nil {
				r.frags[n] = f
				r.add(f, t)
			}
		}
	}
	for _, n := range names {
		r.releaseSlots(n, r.frags[n])
	}
	r.rs.Touched = t
	return r.rs
}

func (r *Renderer) add(f *fragment, t *Touched) {
	for _, c := range f.chains {
		r.rs.Chains[c.name] = c.rules
		r.rs.Rules += len(c.rules)
		if t != nil {
			t.Chains[c.name] = true
		}
	}
	for _, e := range f.elements {
		r.rs.Elements[e.m][e.e.key()] = e.e
		if t != nil {
			t.element(e.m, e.e.key())
		}
	}
	for _, s := range f.sets {
		r.rs.Sets[s.name] = s.timeout
		if t != nil {
			t.Sets[s.name] = true
		}
	}
	for _, ip := range f.hairpins {
		r.hairpin[ip]++
		if r.hairpin[ip] == 1 {
			e := Element{Key: []string{ip, ip}}
			r.rs.Elements[SetHairpin][e.key()] = e
			if t != nil {
				t.element(SetHairpin, e.key())
			}
		}
	}
}

func (r *Renderer) remove(f *fragment, t *Touched) {
	for _, c := range f.chains {
		delete(r.rs.Chains, c.name)
		r.rs.Rules -= len(c.rules)
		t.Chains[c.name] = true
	}
	for _, e := range f.elements {
		delete(r.rs.Elements[e.m], e.e.key())
		t.element(e.m, e.e.key())
	}
	for _, s := range f.sets {
		delete(r.rs.Sets, s.name)
		t.Sets[s.name] = true
	}
	for _, ip := range f.hairpins {
		r.hairpin[ip]--
		if r.hairpin[ip] == 0 {
			delete(r.hairpin, ip)
			k := ip + " . " + ip
			delete(r.rs.Elements[SetHairpin], k)
			t.element(SetHairpin, k)
		}
	}
}

func l4proto(sp *proxy.ServicePort) string { return strings.ToLower(sp.Protocol) }

// renderPort renders one service port; nil when it has nothing to render
// (not IPv4).
func (r *Renderer) renderPort(sp *proxy.ServicePort, all []proxy.Endpoint) *fragment {
	c := r.cfg
	if !sp.ClusterIP.Is4() {
		return nil
	}
	eps := make([]proxy.Endpoint, 0, len(all))
	for _, e := range all {
		if e.IP.Is4() {
			eps = append(eps, e)
		}
	}
	p := l4proto(sp)
	port := strconv.Itoa(sp.Port)
	f := &fragment{}
	elem := func(m string, v string, key ...string) {
		f.elements = append(f.elements, mapElement{m, Element{Key: key, Value: v}})
	}
	if len(eps) == 0 {
		// Nothing to send it to: refuse at once rather than let clients
		// time out on an address nothing answers.
		reject := "goto " + ChainReject
		elem(MapNoEndpointServices, reject, sp.ClusterIP.String(), p, port)
		for _, eip := range sp.ExternalIPs {
			elem(MapNoEndpointServices, reject, eip.String(), p, port)
		}
		if sp.NodePort != 0 {
			elem(MapNoEndpointNodePorts, reject, p, strconv.Itoa(sp.NodePort))
		}
		return f
	}
	svcChain, extChain := ServiceChain(sp.Name), ""
	external := sp.HasExternal()
	if external {
		extChain = ExternalChain(sp.Name)
	}
	elem(MapServiceIPs, "goto "+svcChain, sp.ClusterIP.String(), p, port)
	if external {
		for _, eip := range sp.ExternalIPs {
			elem(MapServiceIPs, "goto "+extChain, eip.String(), p, port)
		}
		if sp.NodePort != 0 {
			elem(MapServiceNodePorts, "goto "+extChain, p, strconv.Itoa(sp.NodePort))
		}
	}

	// A list has EndpointListSize keys: the cut keeps a larger list from
	// spilling into the next service's key range (Kubernetes itself caps
	// an Endpoints object at 1000 addresses).
	if len(eps) > EndpointListSize {
		eps = eps[:EndpointListSize]
	}
	for _, e := range eps {
		f.hairpins = append(f.hairpins, e.IP.String())
	}

	// service-*: choose an endpoint (the services chain has marked what
	// comes from outside the pod network, through cluster-ips).
	if c.ClusterCIDR.IsValid() {
		elem(SetClusterIPs, "", sp.ClusterIP.String(), p, port)
	}
	rules := r.chooseEndpoint(f, nil, sp, eps, false)
	f.chains = append(f.chains, ownChain{svcChain, rules})

	if external {
		var ext []string
		if !sp.ExternalPolicyLocal {
			ext = append(ext, "jump "+ChainMarkForMasquerade, "goto "+svcChain)
		} else {
			var local []proxy.Endpoint
			for _, e := range eps {
				if e.Local {
					local = append(local, e)
				}
			}
			// Pods and the node itself may use any endpoint; traffic from
			// outside keeps its source and goes to local endpoints only.
			if c.ClusterCIDR.IsValid() {
				ext = append(ext, fmt.Sprintf("ip saddr %s goto %s", c.ClusterCIDR, svcChain))
			}
			ext = append(ext, "fib saddr type local jump "+ChainMarkForMasquerade, "fib saddr type local goto "+svcChain)
			if len(local) > 0 {
				ext = r.chooseEndpoint(f, ext, sp, local, true)
			} else {
				// No local endpoint: outside traffic falls through
				// un-DNATed and the filter side drops it.
				for _, eip := range sp.ExternalIPs {
					elem(MapNoEndpointServices, "drop", eip.String(), p, port)
				}
				if sp.NodePort != 0 {
					elem(MapNoEndpointNodePorts, "drop", p, strconv.Itoa(sp.NodePort))
				}
			}
		}
		f.chains = append(f.chains, ownChain{extChain, ext})
	}

	// endpoint-*: one chain per endpoint, for ClientIP affinity only.
	if sp.StickyMaxAge > 0 {
		for _, e := range eps {
			set := AffinitySet(sp.Name, e, sp.StickyMaxAge)
			f.sets = append(f.sets, ownSet{set, sp.StickyMaxAge})
			f.chains = append(f.chains, ownChain{EndpointChain(sp.Name, e), []string{
				"update @" + set + " { ip saddr }",
				fmt.Sprintf("meta l4proto %s dnat to %s", p, e),
			}})
		}
	}
	return f
}

// MaxCascade is the most endpoints a service chain chooses among with a
// cascade of numgen rules; above it the choice is one numgen lookup in an
// inline verdict map, as Kubernetes writes it for every service. The
// cascade exists because the kernel walks the whole transaction for every
// inline (anonymous) map it binds, so a full sync of 10,000 services each
// with its own inline map costs O(n^2) in the kernel (measured: 2,000
// services 8 s, against 1.6 s with cascades; see docs/benchmarks.md). A
// cascade of k rules costs a packet at most k numgen draws, the price
// iptables' statistic chains pay too.
const MaxCascade = 8

// chooseEndpoint appends the endpoint choice. Without affinity: one DNAT
// from the list's slot of an endpoint map, numgen choosing the key, and
// the list's elements added to f. With ClientIP affinity, a lookup per
// endpoint first (a client seen within the timeout goes where it went
// before), then an even random choice among the endpoint chains - rule i
// of a cascade takes 1/(n-i) of what reaches it, so each endpoint gets
// 1/n.
func (r *Renderer) chooseEndpoint(f *fragment, rules []string, sp *proxy.ServicePort, eps []proxy.Endpoint, local bool) []string {
	if sp.StickyMaxAge == 0 {
		k := slotKey{sp.Name, local}
		slot := r.slot(k)
		f.slots = append(f.slots, k)
		m, off := EndpointMap(l4proto(sp), slot), endpointOffset(slot)
		for i, e := range eps {
			f.elements = append(f.elements, mapElement{m, Element{
				Key: []string{strconv.Itoa(off + i)}, Value: e.IP.String() + " . " + strconv.Itoa(e.Port)}})
		}
		offset := ""
		if off != 0 {
			offset = " offset " + strconv.Itoa(off)
		}
		return append(rules, fmt.Sprintf("meta l4proto %s dnat to numgen random mod %d%s map @%s", l4proto(sp), len(eps), offset, m))
	}
	for _, e := range eps {
		rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", AffinitySet(sp.Name, e, sp.StickyMaxAge), EndpointChain(sp.Name, e)))
	}
	if len(eps) <= MaxCascade {
		for i, e := range eps {
			if i < len(eps)-1 {
				rules = append(rules, fmt.Sprintf("numgen random mod %d == 0 goto %s", len(eps)-i, EndpointChain(sp.Name, e)))
			} else {
				rules = append(rules, "goto "+EndpointChain(sp.Name, e))
			}
		}
		return rules
	}
	var b strings.Builder
	fmt.Fprintf(&b, "numgen random mod %d vmap {", len(eps))
	for i, e := range eps {
		if i > 0 {
			b.WriteString(" ,")
		}
		fmt.Fprintf(&b, " %d : goto %s", i, EndpointChain(sp.Name, e))
	}
	b.WriteString(" }")
	return append(rules, b.String())
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
