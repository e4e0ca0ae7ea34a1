// Package network gives pods their network: a network namespace per pod
// sandbox, a veth pair whose host end sits on the node's bridge and whose
// pod end is eth0 with an IP from the node's pod CIDR, a default route via
// the bridge, routes to the other nodes' pod CIDRs, and one masquerade rule
// for traffic leaving the cluster. Linux implements it with netlink and
// iptables; Fake is an in-memory double for the kubelet's unit tests.
package network

import (
	"context"
	"net"
)

// PodNetwork is what a pod sandbox gets.
type PodNetwork struct {
	// Key identifies the allocation (IPAM owner, netns name, veth name).
	Key string
	// NetnsPath is the pod's network namespace, for the sandbox to join.
	NetnsPath string
	IP        net.IP
}

// NodeRoute sends a remote node's pod CIDR to that node's IP.
type NodeRoute struct {
	CIDR string
	Via  net.IP
}

// Manager sets up and tears down pod networks. Safe for concurrent use.
type Manager interface {
	// Init prepares the node: the bridge with the gateway address,
	// forwarding, the masquerade rule. podCIDR is the node's range.
	Init(ctx context.Context, podCIDR string) error
	// PodCIDR returns the range given to Init ("" before).
	PodCIDR() string
	// Setup creates the network of a pod sandbox identified by key (unique
	// per sandbox; it is reused verbatim by Teardown). Setup for a key that
	// already has a network returns it unchanged.
	Setup(ctx context.Context, key string) (PodNetwork, error)
	// Teardown removes the veth pair, the namespace and the IP of key.
	// Tearing down an unknown key is not an error.
	Teardown(ctx context.Context, key string) error
	// List returns the pod networks present (from the IPAM store and the
	// namespaces on disk), for garbage collection after a restart.
	List(ctx context.Context) ([]PodNetwork, error)
	// SyncRoutes makes the routes to other nodes' pod CIDRs exactly routes.
	SyncRoutes(ctx context.Context, routes []NodeRoute) error
	// SyncHostPorts makes the node's host port mappings exactly ports.
	SyncHostPorts(ctx context.Context, ports []HostPort) error
	// HostNetns is the namespace of hostNetwork pods: the node's ("" means
	// the kubelet's own).
	HostNetns() string
	// DialContext connects from the node's network namespace, where pod
	// IPs are reachable (probes use it).
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}
