// Package conntrack deletes stale UDP connection-tracking entries. A UDP
// "connection" to a service lives on in conntrack after its endpoint is
// gone (or while packets were rejected for lack of endpoints) and keeps
// steering the client's packets the old way until it times out; kube-proxy
// deletes such entries after the rules change, through netlink (no
// conntrack binary needed). Like iptables, it acts on the network
// namespace of the calling thread.
package conntrack

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Filter selects UDP entries; zero fields match anything, but at least
// one of the addresses must be set.
type Filter struct {
	// OrigDst is the address the client sent to (a service IP).
	OrigDst netip.Addr
	// OrigDstPort is the port the client sent to (a node port).
	OrigDstPort int
	// ReplySrc is the address replies come from (the endpoint after DNAT).
	ReplySrc netip.Addr
}

// Interface deletes entries.
type Interface interface {
	// ClearUDP deletes the UDP entries matching f and returns how many.
	ClearUDP(f Filter) (int, error)
}

// Netlink is the kernel implementation.
type Netlink struct{}

// ClearUDP implements Interface.
func (Netlink) ClearUDP(f Filter) (int, error) {
	if !f.OrigDst.IsValid() && !f.ReplySrc.IsValid() {
		return 0, fmt.Errorf("conntrack filter without an address")
	}
	nf := &netlink.ConntrackFilter{}
	if err := nf.AddProtocol(unix.IPPROTO_UDP); err != nil {
		return 0, err
	}
	if f.OrigDst.IsValid() {
		if err := nf.AddIP(netlink.ConntrackOrigDstIP, net.IP(f.OrigDst.AsSlice())); err != nil {
			return 0, err
		}
	}
	if f.OrigDstPort != 0 {
		if err := nf.AddPort(netlink.ConntrackOrigDstPort, uint16(f.OrigDstPort)); err != nil {
			return 0, err
		}
	}
	if f.ReplySrc.IsValid() {
		if err := nf.AddIP(netlink.ConntrackReplySrcIP, net.IP(f.ReplySrc.AsSlice())); err != nil {
			return 0, err
		}
	}
	family := netlink.InetFamily(unix.AF_INET)
	if (f.OrigDst.IsValid() && f.OrigDst.Is6()) || (f.ReplySrc.IsValid() && f.ReplySrc.Is6()) {
		family = netlink.InetFamily(unix.AF_INET6)
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, family, nf)
	if err != nil {
		return int(n), fmt.Errorf("delete conntrack entries %+v: %w", f, err)
	}
	return int(n), nil
}

// Fake records the filters it is given.
type Fake struct{ Cleared []Filter }

// ClearUDP implements Interface.
func (f *Fake) ClearUDP(flt Filter) (int, error) {
	f.Cleared = append(f.Cleared, flt)
	return 0, nil
}
