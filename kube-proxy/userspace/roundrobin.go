package userspace

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"minik8s/kube-proxy/proxy"
)

// ErrNoEndpoints: the service port has no ready endpoint.
var ErrNoEndpoints = errors.New("no endpoints")

// LoadBalancer picks endpoints round robin per service port, keeping a
// client on its endpoint under ClientIP session affinity. Safe for
// concurrent use.
type LoadBalancer struct {
	mu       sync.Mutex
	services map[proxy.ServicePortName]*balancer
	now      func() time.Time
}

type balancer struct {
	endpoints []string // "ip:port"
	next      int
	sticky    time.Duration
	affinity  map[netip.Addr]*affinity
}

type affinity struct {
	endpoint string
	last     time.Time
}

// NewLoadBalancer returns an empty balancer.
func NewLoadBalancer() *LoadBalancer {
	return &LoadBalancer{services: map[proxy.ServicePortName]*balancer{}, now: time.Now}
}

// Update sets the endpoints and affinity timeout of a service port. The
// round robin position is kept when the list stays the same; affinities
// to endpoints that are gone are dropped.
func (lb *LoadBalancer) Update(n proxy.ServicePortName, eps []proxy.Endpoint, sticky time.Duration) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	b := lb.services[n]
	if b == nil {
		b = &balancer{affinity: map[netip.Addr]*affinity{}}
		lb.services[n] = b
	}
	list := make([]string, len(eps))
	keep := make(map[string]bool, len(eps))
	for i, e := range eps {
		list[i] = e.String()
		keep[list[i]] = true
	}
	if !equal(list, b.endpoints) {
		b.endpoints, b.next = list, 0
	}
	if b.sticky != sticky {
		b.sticky = sticky
		clear(b.affinity)
	}
	for ip, a := range b.affinity {
		if !keep[a.endpoint] {
			delete(b.affinity, ip)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Remove forgets a service port.
func (lb *LoadBalancer) Remove(n proxy.ServicePortName) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	delete(lb.services, n)
}

// Next returns the endpoint for a new connection from client. With
// resetAffinity (the affine endpoint just failed) the client is moved on.
func (lb *LoadBalancer) Next(n proxy.ServicePortName, client netip.Addr, resetAffinity bool) (string, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	b := lb.services[n]
	if b == nil || len(b.endpoints) == 0 {
		return "", ErrNoEndpoints
	}
	now := lb.now()
	if b.sticky > 0 && client.IsValid() && !resetAffinity {
		if a := b.affinity[client]; a != nil && now.Sub(a.last) < b.sticky {
			a.last = now
			return a.endpoint, nil
		}
	}
	ep := b.endpoints[b.next%len(b.endpoints)]
	b.next = (b.next + 1) % len(b.endpoints)
	if b.sticky > 0 && client.IsValid() {
		b.affinity[client] = &affinity{endpoint: ep, last: now}
	}
	return ep, nil
}

// Endpoints returns how many endpoints a service port has.
func (lb *LoadBalancer) Endpoints(n proxy.ServicePortName) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if b := lb.services[n]; b != nil {
		return len(b.endpoints)
	}
	return 0
}
