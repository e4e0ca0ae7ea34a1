package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Fake is an in-memory Manager for unit tests: it hands out 10.88.0.x
// addresses and records what it was asked to do.
type Fake struct {
	mu       sync.Mutex
	cidr     string
	next     byte
	nets     map[string]PodNetwork
	Routes   []NodeRoute
	SetupErr error
}

var _ Manager = (*Fake)(nil)

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{nets: map[string]PodNetwork{}, next: 2} }

// Init implements Manager.
func (f *Fake) Init(_ context.Context, podCIDR string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cidr = podCIDR
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
	pn := PodNetwork{Key: key, NetnsPath: "/fake/netns/" + key, IP: net.IPv4(10, 88, 0, f.next).To4()}
	f.next++
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
