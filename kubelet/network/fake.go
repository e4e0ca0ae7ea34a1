package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Fake is an in-memory Manager for unit tests and hollow nodes: it hands
// out the addresses of the pod CIDR given to Init in order from .2 (an
// address is not reused) and records what it was asked to do.
type Fake struct {
	mu     sync.Mutex
	cidr   string
	prefix netip.Prefix
	next   netip.Addr
	nets   map[string]PodNetwork
	Routes []NodeRoute
	// HostPorts is what the last SyncHostPorts asked for.
	HostPorts []HostPort
	SetupErr  error
}

var _ Manager = (*Fake)(nil)

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{nets: map[string]PodNetwork{}} }

// Init implements Manager.
func (f *Fake) Init(_ context.Context, podCIDR string) error {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("fake network: pod CIDR %q: not an IPv4 prefix", podCIDR)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cidr, f.prefix = podCIDR, p.Masked()
	f.next = f.prefix.Addr().Next().Next()
	return nil
}

// PodCIDR implements Manager.
func (f *Fake) PodCIDR() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cidr
}

// Setup implements Manager.
func (f *Fake) Setup(_ context.Context, key string) (PodNetwork, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.SetupErr != nil {
		return PodNetwork{}, f.SetupErr
	}
	if f.cidr == "" {
		return PodNetwork{}, errors.New("not initialized")
	}
	if pn, ok := f.nets[key]; ok {
		return pn, nil
	}
	if !f.prefix.Contains(f.next) {
		return PodNetwork{}, fmt.Errorf("fake network: pod CIDR %s exhausted", f.cidr)
	}
	pn := PodNetwork{Key: key, NetnsPath: "/fake/netns/" + key, IP: net.IP(f.next.AsSlice())}
	f.next = f.next.Next()
	f.nets[key] = pn
	return pn, nil
}

// Teardown implements Manager.
func (f *Fake) Teardown(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.nets, key)
	return nil
}

// List implements Manager.
func (f *Fake) List(context.Context) ([]PodNetwork, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]PodNetwork, 0, len(f.nets))
	for _, pn := range f.nets {
		out = append(out, pn)
	}
	return out, nil
}

// SyncHostPorts implements Manager.
func (f *Fake) SyncHostPorts(_ context.Context, ports []HostPort) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.HostPorts = append([]HostPort(nil), ports...)
	return nil
}

// SyncRoutes implements Manager.
func (f *Fake) SyncRoutes(_ context.Context, routes []NodeRoute) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Routes = append([]NodeRoute(nil), routes...)
	return nil
}

// HostNetns implements Manager.
func (f *Fake) HostNetns() string { return "" }

// DialContext implements Manager; the fake has no network.
func (f *Fake) DialContext(_ context.Context, _, addr string) (net.Conn, error) {
	return nil, fmt.Errorf("fake network cannot dial %s", addr)
}
