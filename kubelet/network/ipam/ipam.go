// Package ipam hands out pod IPs from a node's pod CIDR and remembers them
// on disk, like CNI's host-local plugin: one file per allocated IP holding
// the owner's key, so allocations survive a kubelet restart and two pods
// never get one IP. The network address, the gateway (the first address)
// and the broadcast address are never handed out.
package ipam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// ErrExhausted is returned when every address of the range is taken.
var ErrExhausted = errors.New("no free IP address in range")

// Store allocates IPv4 addresses of one subnet. Safe for concurrent use,
// also across processes sharing the directory (an flock guards changes).
type Store struct {
	dir    string
	subnet *net.IPNet
	mu     sync.Mutex
}

// New returns the store for subnet (an IPv4 CIDR of at most /30) kept in
// dir/<subnet>, creating the directory.
func New(dir string, cidr string) (*Store, error) {
	_, subnet, err := net.ParseCIDR(cidr)
	if err != nil || subnet.IP.To4() == nil {
		return nil, fmt.Errorf("ipam: %q is not an IPv4 CIDR", cidr)
	}
	if ones, bits := subnet.Mask.Size(); bits-ones < 2 {
		return nil, fmt.Errorf("ipam: %s is too small", cidr)
	}
	d := filepath.Join(dir, strings.ReplaceAll(subnet.String(), "/", "_"))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, fmt.Errorf("ipam: %w", err)
	}
	return &Store{dir: d, subnet: subnet}, nil
}

// Subnet returns the store's range.
func (s *Store) Subnet() *net.IPNet { return s.subnet }

// Gateway returns the first address of the subnet, which the node's
// bridge holds.
func Gateway(subnet *net.IPNet) net.IP {
	return u2ip(ip2u(subnet.IP.To4()) + 1)
}

// Allocate returns key's address, allocating the next free one after the
// last allocation when key has none. Keys must not contain "/" or newlines.
func (s *Store) Allocate(key string) (net.IP, error) {
	if key == "" || strings.ContainsAny(key, "/\n") {
		return nil, fmt.Errorf("ipam: invalid key %q", key)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	for ip, k := range all {
		if k == key {
			return net.ParseIP(ip).To4(), nil
		}
	}
	first, last := s.bounds()
	start := first
	if b, err := os.ReadFile(filepath.Join(s.dir, "last_reserved_ip")); err == nil {
		if ip := net.ParseIP(strings.TrimSpace(string(b))).To4(); ip != nil && s.subnet.Contains(ip) {
			start = ip2u(ip) + 1
		}
	}
	n := last - first + 1
	for i := uint32(0); i < n; i++ {
		cand := first + (start-first+i)%n
		ip := u2ip(cand)
		if _, taken := all[ip.String()]; taken {
			continue
		}
		f, err := os.OpenFile(filepath.Join(s.dir, ip.String()), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ipam: reserve %s: %w", ip, err)
		}
		_, werr := f.WriteString(key)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			_ = os.Remove(f.Name())
			return nil, fmt.Errorf("ipam: reserve %s: %w", ip, err)
		}
		_ = os.WriteFile(filepath.Join(s.dir, "last_reserved_ip"), []byte(ip.String()), 0o644)
		return ip, nil
	}
	return nil, fmt.Errorf("ipam: %s: %w", s.subnet, ErrExhausted)
}

// Release frees key's address; releasing an unknown key is not an error.
func (s *Store) Release(key string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.list()
	if err != nil {
		return err
	}
	for ip, k := range all {
		if k == key {
			if err := os.Remove(filepath.Join(s.dir, ip)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("ipam: release %s: %w", ip, err)
			}
		}
	}
	return nil
}

// List returns the allocations as key -> IP.
func (s *Store) List() (map[string]net.IP, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	out := make(map[string]net.IP, len(all))
	for ip, k := range all {
		out[k] = net.ParseIP(ip).To4()
	}
	return out, nil
}

// list reads ip -> key; the caller holds the lock.
func (s *Store) list() (map[string]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("ipam: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if net.ParseIP(e.Name()) == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			continue
		}
		out[e.Name()] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// bounds are the first and last assignable addresses: after the gateway,
// before the broadcast address.
func (s *Store) bounds() (first, last uint32) {
	base := ip2u(s.subnet.IP.To4())
	ones, bits := s.subnet.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	return base + 2, base + size - 2
}

func (s *Store) lock() (func(), error) {
	s.mu.Lock()
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("ipam: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		s.mu.Unlock()
		return nil, fmt.Errorf("ipam: lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		s.mu.Unlock()
	}, nil
}

func ip2u(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

func u2ip(u uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, u)
	return ip
}
