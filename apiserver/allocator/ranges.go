package allocator

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Etcd prefixes of the two maps.
const (
	ServiceIPsPrefix       = RangesPrefix + "serviceips/"
	ServiceNodePortsPrefix = RangesPrefix + "servicenodeports/"
)

// maxIPRange caps the addresses used from a huge (IPv6) prefix; Kubernetes
// caps its bitmap the same way.
const maxIPRange = 1 << 20

// IPRange allocates addresses of a CIDR: the network address and, for
// IPv4, the broadcast address are never handed out.
type IPRange struct {
	*Range
	prefix netip.Prefix
	first  netip.Addr // value 0
}

// NewIPRange returns the cluster IP allocator of cidr ("10.96.0.0/16").
func NewIPRange(cli *clientv3.Client, cidr string) (*IPRange, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("service cluster IP range %q: %w", cidr, err)
	}
	p = p.Masked()
	hostBits := p.Addr().BitLen() - p.Bits()
	size := maxIPRange
	if hostBits < 21 {
		size = 1<<hostBits - 1 // without the network address
		if p.Addr().Is4() {
			size-- // nor the broadcast address
		}
	}
	if size < 1 {
		return nil, fmt.Errorf("service cluster IP range %s: too small, needs at least one usable address", cidr)
	}
	r := &IPRange{prefix: p, first: p.Addr().Next()}
	r.Range = NewRange(cli, ServiceIPsPrefix, size, dynamicBand(size, 16, 256), r.formatIP, r.parseIP)
	return r, nil
}

// CIDR is the range as configured.
func (r *IPRange) CIDR() netip.Prefix { return r.prefix }

// Addr returns the address of value i.
func (r *IPRange) Addr(i int) netip.Addr {
	if r.first.Is4() {
		b := r.first.As4()
		v := binary.BigEndian.Uint32(b[:]) + uint32(i)
		binary.BigEndian.PutUint32(b[:], v)
		return netip.AddrFrom4(b)
	}
	n := new(big.Int).SetBytes(r.first.AsSlice())
	n.Add(n, big.NewInt(int64(i)))
	var b [16]byte
	n.FillBytes(b[:])
	return netip.AddrFrom16(b)
}

// Index returns the value number of addr, or false when addr is not an
// allocatable address of the range.
func (r *IPRange) Index(addr netip.Addr) (int, bool) {
	addr = addr.Unmap()
	if !r.prefix.Contains(addr) || addr.Is4() != r.first.Is4() {
		return 0, false
	}
	d := new(big.Int).Sub(new(big.Int).SetBytes(addr.AsSlice()), new(big.Int).SetBytes(r.first.AsSlice()))
	if d.Sign() < 0 || !d.IsInt64() || d.Int64() >= int64(r.Size()) {
		return 0, false
	}
	return int(d.Int64()), true
}

func (r *IPRange) formatIP(i int) string { return r.Addr(i).String() }

func (r *IPRange) parseIP(s string) (int, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return 0, false
	}
	return r.Index(a)
}

// AllocateIP takes addr for owner (ErrOutOfRange, ErrAllocated).
func (r *IPRange) AllocateIP(ctx context.Context, addr netip.Addr, owner Owner) error {
	i, ok := r.Index(addr)
	if !ok {
		return ErrOutOfRange
	}
	return r.Allocate(ctx, i, owner)
}

// AllocateNextIP takes a free address for owner (ErrFull).
func (r *IPRange) AllocateNextIP(ctx context.Context, owner Owner) (netip.Addr, error) {
	i, err := r.AllocateNext(ctx, owner)
	if err != nil {
		return netip.Addr{}, err
	}
	return r.Addr(i), nil
}

// ReleaseIP frees addr; addresses outside the range are ignored.
func (r *IPRange) ReleaseIP(ctx context.Context, addr netip.Addr) error {
	i, ok := r.Index(addr)
	if !ok {
		return nil
	}
	return r.Release(ctx, i)
}

// PortRange allocates node ports from [Base, Base+Size).
type PortRange struct {
	*Range
	Base int
}

// DefaultNodePortRange is Kubernetes' --service-node-port-range.
const DefaultNodePortRange = "30000-32767"

// ParsePortRange parses "30000-32767" (or a single port "30000").
func ParsePortRange(s string) (base, size int, err error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b := a
	var err2 error
	if found {
		b, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || a < 1 || b > 65535 || b < a {
		return 0, 0, fmt.Errorf("invalid port range %q: want LOW-HIGH within 1-65535", s)
	}
	return a, b - a + 1, nil
}

// NewPortRange returns the node port allocator of spec ("30000-32767").
func NewPortRange(cli *clientv3.Client, spec string) (*PortRange, error) {
	base, size, err := ParsePortRange(spec)
	if err != nil {
		return nil, fmt.Errorf("service node port range: %w", err)
	}
	r := &PortRange{Base: base}
	format := func(i int) string { return strconv.Itoa(base + i) }
	parse := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n - base, err == nil && n >= base && n < base+size
	}
	r.Range = NewRange(cli, ServiceNodePortsPrefix, size, dynamicBand(size, 32, 128), format, parse)
	return r, nil
}

// String is the range as the flag spells it.
func (r *PortRange) String() string {
	return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Size()-1)
}

// Contains reports whether port is in the range.
func (r *PortRange) Contains(port int) bool { return port >= r.Base && port < r.Base+r.Size() }

// AllocatePort takes port for owner (ErrOutOfRange, ErrAllocated).
func (r *PortRange) AllocatePort(ctx context.Context, port int, owner Owner) error {
	if !r.Contains(port) {
		return ErrOutOfRange
	}
	return r.Allocate(ctx, port-r.Base, owner)
}

// AllocateNextPort takes a free port for owner (ErrFull).
func (r *PortRange) AllocateNextPort(ctx context.Context, owner Owner) (int, error) {
	i, err := r.AllocateNext(ctx, owner)
	if err != nil {
		return 0, err
	}
	return r.Base + i, nil
}

// ReleasePort frees port; ports outside the range are ignored.
func (r *PortRange) ReleasePort(ctx context.Context, port int) error {
	if !r.Contains(port) {
		return nil
	}
	return r.Release(ctx, port-r.Base)
}
