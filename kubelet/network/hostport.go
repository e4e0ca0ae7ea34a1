package network

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// HostPort maps a port of the node to a port of a pod: a container port
// that asks for a hostPort (Kubernetes' portmap behaviour). Connections
// to the node's addresses on HostPort (or only to HostIP when set) are
// DNATed to PodIP:PodPort.
type HostPort struct {
	// Pod is namespace/name, written into the rule's comment.
	Pod string
	// Protocol is "tcp", "udp" or "sctp".
	Protocol string
	// HostIP limits the mapping to one node address ("" or 0.0.0.0: any).
	HostIP   string
	HostPort int32
	PodIP    string
	PodPort  int32
}

// Host port chains: the kubelet owns KUBE-HOSTPORTS in the node's nat
// table and one jump to it from PREROUTING (traffic arriving at the node)
// and from OUTPUT (the node's own processes), each for local destinations.
const (
	hostPortsChain   = "KUBE-HOSTPORTS"
	hostPortsComment = "minik8s-kubelet: pod hostPorts"
)

// hostPortJumps are the rules that send traffic to the chain.
var hostPortJumps = map[string][]string{
	"PREROUTING": {"-m", "comment", "--comment", hostPortsComment, "-m", "addrtype", "--dst-type", "LOCAL", "-j", hostPortsChain},
	"OUTPUT":     {"-m", "comment", "--comment", hostPortsComment, "-m", "addrtype", "--dst-type", "LOCAL", "-j", hostPortsChain},
}

// renderHostPorts is the iptables-restore input (for --noflush) that
// makes KUBE-HOSTPORTS hold exactly ports: declaring the chain flushes
// it, so one restore replaces every rule at once. Pure: the same ports in
// any order render the same bytes.
func renderHostPorts(ports []HostPort) []byte {
	sorted := slices.Clone(ports)
	slices.SortFunc(sorted, func(a, b HostPort) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.HostPort, b.HostPort),
			cmp.Compare(a.HostIP, b.HostIP), cmp.Compare(a.Pod, b.Pod), cmp.Compare(a.PodIP, b.PodIP), cmp.Compare(a.PodPort, b.PodPort))
	})
	var b bytes.Buffer
	b.WriteString("*nat\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n", hostPortsChain)
	for _, p := range sorted {
		proto := strings.ToLower(p.Protocol)
		fmt.Fprintf(&b, "-A %s -m comment --comment %q -p %s -m %s --dport %d", hostPortsChain,
			fmt.Sprintf("%s hostPort %d/%s", p.Pod, p.HostPort, proto), proto, proto, p.HostPort)
		if p.HostIP != "" && p.HostIP != "0.0.0.0" {
			fmt.Fprintf(&b, " -d %s/32", p.HostIP)
		}
		fmt.Fprintf(&b, " -j DNAT --to-destination %s:%d\n", p.PodIP, p.PodPort)
	}
	b.WriteString("COMMIT\n")
	return b.Bytes()
}
