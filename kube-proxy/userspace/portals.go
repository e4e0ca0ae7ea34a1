package userspace

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"minik8s/kube-proxy/ipt"
	"minik8s/kube-proxy/proxy"
)

// Chains of the userspace mode (nat table), as Kubernetes named them.
const (
	ChainPortalsContainer  = "KUBE-PORTALS-CONTAINER"  // from PREROUTING: traffic arriving
	ChainPortalsHost       = "KUBE-PORTALS-HOST"       // from OUTPUT: traffic made here
	ChainNodePortContainer = "KUBE-NODEPORT-CONTAINER" // node ports, arriving
	ChainNodePortHost      = "KUBE-NODEPORT-HOST"      // node ports, made here
)

var chains = []string{ChainPortalsContainer, ChainPortalsHost, ChainNodePortContainer, ChainNodePortHost}

// Owned reports whether chain belongs to the userspace mode.
func Owned(chain string) bool {
	for _, c := range chains {
		if c == chain {
			return true
		}
	}
	return false
}

// Jumps send service traffic into the portal chains.
var Jumps = []ipt.Jump{
	{Table: ipt.TableNAT, Chain: "PREROUTING", Rule: []string{"-m", "comment", "--comment", "handle ClusterIPs; NOTE: this must be before the NodePort rules", "-j", ChainPortalsContainer}},
	{Table: ipt.TableNAT, Chain: "OUTPUT", Rule: []string{"-m", "comment", "--comment", "handle ClusterIPs; NOTE: this must be before the NodePort rules", "-j", ChainPortalsHost}},
	{Table: ipt.TableNAT, Chain: "PREROUTING", Rule: []string{"-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", "handle service NodePorts; NOTE: this must be the last rule in the chain", "-j", ChainNodePortContainer}},
	{Table: ipt.TableNAT, Chain: "OUTPUT", Rule: []string{"-m", "addrtype", "--dst-type", "LOCAL", "-m", "comment", "--comment", "handle service NodePorts; NOTE: this must be the last rule in the chain", "-j", ChainNodePortHost}},
}

// Portal is one service port and the local port its proxy listens on.
type Portal struct {
	Service   *proxy.ServicePort
	ProxyPort int
}

// RenderPortals returns the nat table restore input redirecting every
// portal's cluster IP, external IPs and node port to its proxy port:
// REDIRECT rewrites the destination to this host (the arriving
// interface's address, or 127.0.0.1 for local traffic) and the port to the
// proxy's, where the userspace proxy accepts the connection.
func RenderPortals(portals []Portal) []byte {
	sorted := append([]Portal(nil), portals...)
	sort.Slice(sorted, func(i, j int) bool {
		return sorted[i].Service.Name.String()+sorted[i].Service.Protocol < sorted[j].Service.Name.String()+sorted[j].Service.Protocol
	})
	var b strings.Builder
	b.WriteString("*nat\n")
	for _, c := range chains {
		b.WriteString(":" + c + " - [0:0]\n")
	}
	add := func(chain string, args ...string) {
		b.WriteString("-A " + chain + " " + strings.Join(args, " ") + "\n")
	}
	for _, p := range sorted {
		sp := p.Service
		name := `-m comment --comment "` + sp.Name.String() + `"`
		proto := strings.ToLower(sp.Protocol)
		to := "-j REDIRECT --to-ports " + strconv.Itoa(p.ProxyPort)
		dests := append([]netip.Addr{sp.ClusterIP}, sp.ExternalIPs...)
		for _, d := range dests {
			match := "-d " + netip.PrefixFrom(d, d.BitLen()).String() + " -p " + proto + " -m " + proto + " --dport " + strconv.Itoa(sp.Port)
			add(ChainPortalsContainer, name, match, to)
			add(ChainPortalsHost, name, match, to)
		}
		if sp.NodePort != 0 {
			match := "-p " + proto + " -m " + proto + " --dport " + strconv.Itoa(sp.NodePort)
			add(ChainNodePortContainer, name, match, to)
			add(ChainNodePortHost, name, match, to)
		}
	}
	b.WriteString("COMMIT\n")
	return []byte(b.String())
}
