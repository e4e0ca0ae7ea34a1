// Package iptables is kube-proxy's iptables mode: a packet to a service's
// IP:port is DNATed in the kernel to a randomly chosen ready endpoint.
//
// The package is split the way Kubernetes' proxier is: rendering (this
// file, rules.go) is a pure function from service ports and endpoints to
// the rules of every chain kube-proxy owns; restore.go turns two such
// renderings into the iptables-restore input that moves the kernel from
// one to the other; proxier.go is the I/O - informer changes in, one
// iptables-restore --noflush per table out, base chains and jumps through
// go-iptables.
//
// Chains (nat table unless noted), as in Kubernetes:
//
//	PREROUTING, OUTPUT -> KUBE-SERVICES: one rule per service port (cluster
//	    IP, external IPs) -> KUBE-SVC-<hash> (or KUBE-EXT-<hash>), and last
//	    "destination is a local address" -> KUBE-NODEPORTS
//	KUBE-NODEPORTS: one rule per node port -> KUBE-EXT-<hash>
//	KUBE-EXT-<hash>: marks external traffic for masquerade, -> KUBE-SVC
//	    (externalTrafficPolicy Local: -> KUBE-SVL, local endpoints only)
//	KUBE-SVC-<hash>: marks off-cluster sources for masquerade, then picks
//	    an endpoint: session-affinity "recent" checks, then
//	    "statistic --mode random --probability 1/n, 1/(n-1), ..., 1"
//	KUBE-SEP-<hash>: marks hairpin traffic (the pod reaching itself),
//	    DNAT to the endpoint
//	KUBE-MARK-MASQ: sets the masquerade mark bit
//	POSTROUTING -> KUBE-POSTROUTING: MASQUERADE what carries the mark
//	filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES: REJECT for service
//	    ports without endpoints (so clients fail at once, not time out)
//	filter KUBE-FORWARD: accept forwarded service traffic
package iptables

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/proxy"
)

// Chain names kube-proxy owns.
const (
	ChainServices         = "KUBE-SERVICES"
	ChainExternalServices = "KUBE-EXTERNAL-SERVICES"
	ChainNodePorts        = "KUBE-NODEPORTS"
	ChainPostrouting      = "KUBE-POSTROUTING"
	ChainMarkMasq         = "KUBE-MARK-MASQ"
	ChainForward          = "KUBE-FORWARD"

	// Per-service-port and per-endpoint chains: prefix + 16 characters of
	// a hash, 25 characters in all (iptables allows 28).
	PrefixService         = "KUBE-SVC-"
	PrefixServiceLocal    = "KUBE-SVL-"
	PrefixExternal        = "KUBE-EXT-"
	PrefixServiceEndpoint = "KUBE-SEP-"
)

// Config is what rendering needs besides services and endpoints.
type Config struct {
	// ClusterCIDR is the pod network; traffic to a cluster IP from
	// outside it is masqueraded. Invalid (zero): no such masquerading.
	ClusterCIDR netip.Prefix
	// MasqueradeBit is the bit of the packet mark meaning "masquerade me"
	// (Kubernetes' default 14: 0x4000).
	MasqueradeBit int
	// LargeClusterEndpoints: above this many endpoints in all, rules in
	// the per-service chains carry no comments (0: always comments). Each
	// comment is a match the kernel validates on every change, about a
	// quarter of an update's cost at 10,000 services; Kubernetes drops
	// them the same way above 1000 endpoints. KUBE-SERVICES, KUBE-NODEPORTS
	// and the filter rules keep theirs, naming the service.
	LargeClusterEndpoints int
}

func (c Config) mark() string { return fmt.Sprintf("%#x", 1<<c.MasqueradeBit) }

// hash16 is Kubernetes' chain name hash: base32 of SHA-256, 16 characters.
func hash16(s string) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:16]
}

// ServiceChain is the KUBE-SVC chain of a service port.
func ServiceChain(n proxy.ServicePortName) string {
	return PrefixService + hash16(n.String()+strings.ToLower(n.Protocol))
}

// ServiceLocalChain is the KUBE-SVL chain (local endpoints only).
func ServiceLocalChain(n proxy.ServicePortName) string {
	return PrefixServiceLocal + hash16(n.String()+strings.ToLower(n.Protocol))
}

// ExternalChain is the KUBE-EXT chain of a service port.
func ExternalChain(n proxy.ServicePortName) string {
	return PrefixExternal + hash16(n.String()+strings.ToLower(n.Protocol))
}

// EndpointChain is the KUBE-SEP chain of one endpoint of a service port.
func EndpointChain(n proxy.ServicePortName, e proxy.Endpoint) string {
	return PrefixServiceEndpoint + hash16(n.String()+strings.ToLower(n.Protocol)+e.String())
}

// Owned reports whether chain is one kube-proxy's iptables mode manages.
func Owned(chain string) bool {
	switch chain {
	case ChainServices, ChainExternalServices, ChainNodePorts, ChainPostrouting, ChainMarkMasq, ChainForward:
		return true
	}
	return isServiceChain(chain)
}

// isServiceChain: a per-service or per-endpoint chain.
func isServiceChain(chain string) bool {
	return strings.HasPrefix(chain, PrefixService) || strings.HasPrefix(chain, PrefixServiceLocal) ||
		strings.HasPrefix(chain, PrefixExternal) || strings.HasPrefix(chain, PrefixServiceEndpoint)
}

// Table is one rendered table: each chain kube-proxy owns in it, with its
// rules as iptables-restore lines ("-A CHAIN ...\n").
type Table struct {
	Name ipt.Table
	// Chains belongs to the Renderer that returned it and is valid until
	// its next Render: read it, never modify or keep it.
	Chains map[string]string
	// Rules counts the rule lines.
	Rules int
}

// Ruleset is a rendering of both tables.
type Ruleset struct {
	Filter, NAT *Table
	// Touched names, per table, the chains that may differ from the
	// previous rendering (changed, new or gone); nil means every chain
	// (a rendering from scratch).
	Touched map[ipt.Table]map[string]bool
}

// fragment is what one service port contributes: its lines in the shared
// chains and its own chains.
type fragment struct {
	natServices, natNodePorts      string
	filterServices, filterExternal string
	chains                         []ownChain
	natRules, filterRules          int
}

type ownChain struct{ name, rules string }

// shared returns the fragment's lines in the shared chain c of table t.
func (f *fragment) shared(t ipt.Table, c string) string {
	if f == nil {
		return ""
	}
	switch {
	case t == ipt.TableNAT && c == ChainServices:
		return f.natServices
	case t == ipt.TableNAT && c == ChainNodePorts:
		return f.natNodePorts
	case t == ipt.TableFilter && c == ChainServices:
		return f.filterServices
	case t == ipt.TableFilter && c == ChainExternalServices:
		return f.filterExternal
	}
	return ""
}

// sharedChains are the chains every service port adds lines to.
var sharedChains = []struct {
	table ipt.Table
	chain string
}{{ipt.TableNAT, ChainServices}, {ipt.TableNAT, ChainNodePorts}, {ipt.TableFilter, ChainServices}, {ipt.TableFilter, ChainExternalServices}}

// Renderer renders rulesets incrementally: it keeps each service port's
// fragment and the tables built from them, and on a change re-renders only
// the changed ports, replaces their chains, and rebuilds a shared chain
// (KUBE-SERVICES, ...) only when a changed port's lines in it differ. An
// endpoint change among 10,000 services thus costs microseconds here.
// Not safe for concurrent use.
type Renderer struct {
	cfg         Config
	frags       map[proxy.ServicePortName]*fragment
	order       []proxy.ServicePortName // sorted keys of frags; nil: re-sort
	nat, filter *Table
	large       bool // comments dropped from per-service chains
}

// NewRenderer returns a renderer with an empty cache.
func NewRenderer(cfg Config) *Renderer {
	return &Renderer{cfg: cfg, frags: map[proxy.ServicePortName]*fragment{}}
}

// Render returns the ruleset for svcs and eps. changed names the service
// ports that differ from the previous call; nil means everything (the
// cache is dropped). Ports not named are taken from the cache as they are.
func (r *Renderer) Render(svcs proxy.ServicePortMap, eps proxy.EndpointsMap, changed map[proxy.ServicePortName]bool) *Ruleset {
	large := false
	if r.cfg.LargeClusterEndpoints > 0 {
		total := 0
		for _, list := range eps {
			total += len(list)
		}
		large = total > r.cfg.LargeClusterEndpoints
	}
	if large != r.large {
		r.large, changed = large, nil // every fragment's comments change
	}
	if changed == nil || r.nat == nil {
		return r.renderAll(svcs, eps)
	}
	touched := map[ipt.Table]map[string]bool{ipt.TableNAT: {}, ipt.TableFilter: {}}
	rebuild := map[[2]string]bool{}
	for n := range changed {
		old := r.frags[n]
		var f *fragment
		if sp := svcs[n]; sp != nil {
			f = r.renderPort(sp, eps[n])
		}
		if old != nil {
			for _, c := range old.chains {
				delete(r.nat.Chains, c.name)
				touched[ipt.TableNAT][c.name] = true
			}
			r.nat.Rules -= old.natRules
			r.filter.Rules -= old.filterRules
		}
		if f != nil {
			for _, c := range f.chains {
				r.nat.Chains[c.name] = c.rules
				touched[ipt.TableNAT][c.name] = true
			}
			r.nat.Rules += f.natRules
			r.filter.Rules += f.filterRules
			r.frags[n] = f
		} else {
			delete(r.frags, n)
		}
		if (old == nil) != (f == nil) {
			r.order = nil
		}
		for _, sc := range sharedChains {
			if old.shared(sc.table, sc.chain) != f.shared(sc.table, sc.chain) {
				rebuild[[2]string{string(sc.table), sc.chain}] = true
			}
		}
	}
	r.sort()
	for _, sc := range sharedChains {
		if rebuild[[2]string{string(sc.table), sc.chain}] {
			t := r.table(sc.table)
			t.Chains[sc.chain] = r.sharedChain(sc.table, sc.chain)
			touched[sc.table][sc.chain] = true
		}
	}
	return &Ruleset{Filter: r.filter, NAT: r.nat, Touched: touched}
}

func (r *Renderer) table(t ipt.Table) *Table {
	if t == ipt.TableNAT {
		return r.nat
	}
	return r.filter
}

func (r *Renderer) sort() {
	if r.order != nil {
		return
	}
	r.order = make([]proxy.ServicePortName, 0, len(r.frags))
	for n := range r.frags {
		r.order = append(r.order, n)
	}
	sort.Slice(r.order, func(i, j int) bool { return lessName(r.order[i], r.order[j]) })
}

func lessName(a, b proxy.ServicePortName) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	if a.Port != b.Port {
		return a.Port < b.Port
	}
	return a.Protocol < b.Protocol
}

// sharedChain concatenates the service ports' lines of a shared chain, in
// name order; KUBE-SERVICES (nat) ends with the jump to KUBE-NODEPORTS.
func (r *Renderer) sharedChain(t ipt.Table, c string) string {
	var sb strings.Builder
	for _, n := range r.order {
		sb.WriteString(r.frags[n].shared(t, c))
	}
	if t == ipt.TableNAT && c == ChainServices {
		var b rules
		b.add(ChainServices, comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
			"-m addrtype --dst-type LOCAL -j", ChainNodePorts)
		sb.WriteString(b.take())
	}
	return sb.String()
}

// renderAll renders every service port and builds the tables afresh.
func (r *Renderer) renderAll(svcs proxy.ServicePortMap, eps proxy.EndpointsMap) *Ruleset {
	r.frags = make(map[proxy.ServicePortName]*fragment, len(svcs))
	r.order = nil
	for n, sp := range svcs {
		if f := r.renderPort(sp, eps[n]); f != nil {
			r.frags[n] = f
		}
	}
	r.sort()
	nat := &Table{Name: ipt.TableNAT, Chains: make(map[string]string, 3*len(r.frags)+4)}
	filter := &Table{Name: ipt.TableFilter, Chains: map[string]string{}}
	r.nat, r.filter = nat, filter
	for _, n := range r.order {
		f := r.frags[n]
		for _, c := range f.chains {
			nat.Chains[c.name] = c.rules
		}
		nat.Rules += f.natRules
		filter.Rules += f.filterRules
	}
	for _, sc := range sharedChains {
		r.table(sc.table).Chains[sc.chain] = r.sharedChain(sc.table, sc.chain)
	}
	mark := r.cfg.mark()
	var b rules
	nat.Chains[ChainMarkMasq] = b.add(ChainMarkMasq, "-j MARK --or-mark", mark).take()
	b.add(ChainPostrouting, "-m mark ! --mark", mark+"/"+mark, "-j RETURN")
	b.add(ChainPostrouting, "-j MARK --xor-mark", mark)
	b.add(ChainPostrouting, comment("kubernetes service traffic requiring SNAT"), "-j MASQUERADE --random-fully")
	nat.Chains[ChainPostrouting] = b.take()
	b.add(ChainForward, "-m conntrack --ctstate INVALID -j DROP")
	b.add(ChainForward, comment("kubernetes forwarding rules"), "-m mark --mark", mark+"/"+mark, "-j ACCEPT")
	b.add(ChainForward, comment("kubernetes forwarding conntrack rule"), "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	filter.Chains[ChainForward] = b.take()
	nat.Rules += 5 // the jump to KUBE-NODEPORTS, KUBE-MARK-MASQ, KUBE-POSTROUTING
	filter.Rules += 3
	return &Ruleset{Filter: filter, NAT: nat}
}

func lines(s string) int { return strings.Count(s, "\n") }

// rules accumulates "-A chain args" lines.
type rules struct{ sb strings.Builder }

func (b *rules) add(chain string, args ...string) *rules {
	b.sb.WriteString("-A ")
	b.sb.WriteString(chain)
	for _, a := range args {
		if a == "" {
			continue
		}
		b.sb.WriteByte(' ')
		b.sb.WriteString(a)
	}
	b.sb.WriteByte('\n')
	return b
}

// take returns the lines so far and resets b.
func (b *rules) take() string {
	s := b.sb.String()
	b.sb.Reset()
	return s
}

func comment(s string) string { return `-m comment --comment "` + s + `"` }

func hostNet(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

// portMatch is "-p tcp -m tcp --dport 80".
func portMatch(proto string, port int) string {
	p := strings.ToLower(proto)
	return "-p " + p + " -m " + p + " --dport " + strconv.Itoa(port)
}

// probability is the statistic match of endpoint i of n: 1/(n-i), so
// each of n endpoints is chosen with probability 1/n overall.
func probability(i, n int) string {
	return fmt.Sprintf("-m statistic --mode random --probability %0.10f", 1/float64(n-i))
}

// renderPort renders one service port; nil when it has nothing to render
// (not IPv4: the iptables mode programs IPv4 only).
func (r *Renderer) renderPort(sp *proxy.ServicePort, all []proxy.Endpoint) *fragment {
	f := r.renderPortRules(sp, all)
	if f != nil {
		f.natRules = lines(f.natServices) + lines(f.natNodePorts)
		for _, c := range f.chains {
			f.natRules += lines(c.rules)
		}
		f.filterRules = lines(f.filterServices) + lines(f.filterExternal)
	}
	return f
}

// note is comment(s) in a per-service chain, nothing in large clusters.
func (r *Renderer) note(s string) string {
	if r.large {
		return ""
	}
	return comment(s)
}

func (r *Renderer) renderPortRules(sp *proxy.ServicePort, all []proxy.Endpoint) *fragment {
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
	name := sp.Name.String()
	dport := portMatch(sp.Protocol, sp.Port)
	cluster := "-d " + hostNet(sp.ClusterIP)
	f := &fragment{}
	var b rules
	if len(eps) == 0 {
		// Nothing to send it to: refuse at once rather than let clients
		// time out on an address nothing answers.
		why := comment(name + " has no endpoints")
		f.filterServices = b.add(ChainServices, why, cluster, dport, "-j REJECT").take()
		for _, eip := range sp.ExternalIPs {
			b.add(ChainExternalServices, why, "-d", hostNet(eip), dport, "-j REJECT")
		}
		if sp.NodePort != 0 {
			b.add(ChainExternalServices, why, "-m addrtype --dst-type LOCAL", portMatch(sp.Protocol, sp.NodePort), "-j REJECT")
		}
		f.filterExternal = b.take()
		return f
	}
	svcChain, extChain := ServiceChain(sp.Name), ExternalChain(sp.Name)
	external := sp.HasExternal()
	extTarget := svcChain
	if external {
		extTarget = extChain
	}

	b.add(ChainServices, comment(name+" cluster IP"), cluster, dport, "-j", svcChain)
	for _, eip := range sp.ExternalIPs {
		b.add(ChainServices, comment(name+" external IP"), "-d", hostNet(eip), dport, "-j", extTarget)
	}
	f.natServices = b.take()
	if sp.NodePort != 0 {
		f.natNodePorts = b.add(ChainNodePorts, comment(name), portMatch(sp.Protocol, sp.NodePort), "-j", extTarget).take()
	}

	// KUBE-SVC: masquerade what comes from outside the pod network, then
	// choose an endpoint.
	if c.ClusterCIDR.IsValid() {
		b.add(svcChain, r.note(name+" cluster IP"), "!", "-s", c.ClusterCIDR.String(), cluster, dport, "-j", ChainMarkMasq)
	}
	r.chooseEndpoint(&b, svcChain, sp, eps)
	f.chains = append(f.chains, ownChain{svcChain, b.take()})

	var local []proxy.Endpoint
	if external {
		if !sp.ExternalPolicyLocal {
			b.add(extChain, r.note("masquerade traffic for "+name+" external destinations"), "-j", ChainMarkMasq)
			b.add(extChain, "-j", svcChain)
		} else {
			for _, e := range eps {
				if e.Local {
					local = append(local, e)
				}
			}
			// Pods and the node itself may use any endpoint; traffic from
			// outside keeps its source and goes to local endpoints only.
			if c.ClusterCIDR.IsValid() {
				b.add(extChain, r.note("pod traffic for "+name+" external destinations"), "-s", c.ClusterCIDR.String(), "-j", svcChain)
			}
			b.add(extChain, r.note("masquerade LOCAL traffic for "+name+" external destinations"), "-m addrtype --src-type LOCAL -j", ChainMarkMasq)
			b.add(extChain, r.note("route LOCAL traffic for "+name+" external destinations"), "-m addrtype --src-type LOCAL -j", svcChain)
			if len(local) > 0 {
				b.add(extChain, "-j", ServiceLocalChain(sp.Name))
			}
		}
		f.chains = append(f.chains, ownChain{extChain, b.take()})
		if sp.ExternalPolicyLocal {
			if len(local) > 0 {
				svl := ServiceLocalChain(sp.Name)
				r.chooseEndpoint(&b, svl, sp, local)
				f.chains = append(f.chains, ownChain{svl, b.take()})
			} else {
				// No local endpoint: drop external traffic (it was not
				// DNATed, so the filter table sees the service address).
				why := comment(name + " has no local endpoints")
				for _, eip := range sp.ExternalIPs {
					b.add(ChainExternalServices, why, "-d", hostNet(eip), dport, "-j DROP")
				}
				if sp.NodePort != 0 {
					b.add(ChainExternalServices, why, "-m addrtype --dst-type LOCAL", portMatch(sp.Protocol, sp.NodePort), "-j DROP")
				}
				f.filterExternal = b.take()
			}
		}
	}

	// KUBE-SEP: one chain per endpoint.
	for _, e := range eps {
		sep := EndpointChain(sp.Name, e)
		b.add(sep, r.note(name), "-s", hostNet(e.IP), "-j", ChainMarkMasq)
		recent := ""
		if sp.StickyMaxAge > 0 {
			recent = "-m recent --name " + sep + " --set"
		}
		b.add(sep, r.note(name), "-p", strings.ToLower(sp.Protocol), "-m", strings.ToLower(sp.Protocol), recent, "-j DNAT --to-destination", e.String())
		f.chains = append(f.chains, ownChain{sep, b.take()})
	}
	return f
}

// chooseEndpoint writes the endpoint choice into chain: with ClientIP
// affinity, first a "recent" check per endpoint (a client seen within the
// timeout goes where it went before), then the random choice.
func (r *Renderer) chooseEndpoint(b *rules, chain string, sp *proxy.ServicePort, eps []proxy.Endpoint) {
	name := sp.Name.String()
	if sp.StickyMaxAge > 0 {
		secs := strconv.Itoa(int(sp.StickyMaxAge.Seconds()))
		for _, e := range eps {
			sep := EndpointChain(sp.Name, e)
			b.add(chain, r.note(name+" -> "+e.String()), "-m recent --name", sep, "--rcheck --seconds", secs, "--reap -j", sep)
		}
	}
	for i, e := range eps {
		stat := ""
		if i < len(eps)-1 {
			stat = probability(i, len(eps))
		}
		b.add(chain, r.note(name+" -> "+e.String()), stat, "-j", EndpointChain(sp.Name, e))
	}
}
