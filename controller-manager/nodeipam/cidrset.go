package nodeipam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrFull is returned by CIDRSet.Allocate when every subnet is in use.
var ErrFull = errors.New("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")

// CIDRSet hands out the subnets of one prefix length from a cluster
// CIDR (IPv4), never the same one twice until released. It is not safe
// for concurrent use; the controller serializes access.
type CIDRSet struct {
	cluster netip.Prefix
	bits    int // subnet prefix length
	used    []bool
	inUse   int
	next    int // round-robin start, so a released subnet is not reused at once
}

// NewCIDRSet returns the subnets of length maskSize in cluster.
func NewCIDRSet(cluster netip.Prefix, maskSize int) (*CIDRSet, error) {
	cluster = cluster.Masked()
	if !cluster.Addr().Is4() {
		return nil, fmt.Errorf("cluster CIDR %s: only IPv4 is supported", cluster)
	}
	if maskSize < cluster.Bits() || maskSize > 32 {
		return nil, fmt.Errorf("node CIDR mask size %d must be between %d and 32", maskSize, cluster.Bits())
	}
	if maskSize-cluster.Bits() > 24 {
		return nil, fmt.Errorf("node CIDR mask size %d gives too many subnets of %s", maskSize, cluster)
	}
	return &CIDRSet{cluster: cluster, bits: maskSize, used: make([]bool, 1<<(maskSize-cluster.Bits()))}, nil
}

// Size is the number of subnets; Free the number not in use.
func (s *CIDRSet) Size() int { return len(s.used) }

// Free is the number of subnets not in use.
func (s *CIDRSet) Free() int { return len(s.used) - s.inUse }

func (s *CIDRSet) subnet(i int) netip.Prefix {
	base := binary.BigEndian.Uint32(s.cluster.Addr().AsSlice())
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], base+uint32(i)<<(32-s.bits))
	return netip.PrefixFrom(netip.AddrFrom4(a), s.bits)
}

// index returns the subnet index of p, or an error when p is not one of
// this set's subnets.
func (s *CIDRSet) index(p netip.Prefix) (int, error) {
	if p.Bits() != s.bits || !p.Addr().Is4() || !s.cluster.Contains(p.Addr()) || p.Masked() != p {
		return 0, fmt.Errorf("%s is not a /%d subnet of %s", p, s.bits, s.cluster)
	}
	base := binary.BigEndian.Uint32(s.cluster.Addr().AsSlice())
	return int((binary.BigEndian.Uint32(p.Addr().AsSlice()) - base) >> (32 - s.bits)), nil
}

// Allocate returns the next free subnet.
func (s *CIDRSet) Allocate() (netip.Prefix, error) {
	for n := range len(s.used) {
		i := (s.next + n) % len(s.used)
		if !s.used[i] {
			s.used[i] = true
			s.inUse++
			s.next = (i + 1) % len(s.used)
			return s.subnet(i), nil
		}
	}
	return netip.Prefix{}, ErrFull
}

// Occupy marks p as in use (a node that already has it); it fails for a
// subnet outside the set.
func (s *CIDRSet) Occupy(p netip.Prefix) error {
	i, err := s.index(p)
	if err != nil {
		return err
	}
	if !s.used[i] {
		s.used[i] = true
		s.inUse++
	}
	return nil
}

// Release frees p; releasing a free or foreign subnet does nothing.
func (s *CIDRSet) Release(p netip.Prefix) {
	i, err := s.index(p)
	if err != nil || !s.used[i] {
		return
	}
	s.used[i] = false
	s.inUse--
}
