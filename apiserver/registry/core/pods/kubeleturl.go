package pods

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
)

// DefaultPreferredAddressTypes is the order in which a Node's addresses
// are tried for its kubelet (kubeadm's choice for
// --kubelet-preferred-address-types: node names rarely resolve).
var DefaultPreferredAddressTypes = []string{"InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS"}

// KubeletConfig says how the apiserver reaches kubelets: at the address a
// Node publishes in status.addresses (the first of PreferredAddressTypes
// it has) and the port in status.daemonEndpoints.kubeletEndpoint, as
// Kubernetes does. Nothing a client writes into the Node's metadata is
// ever dialled.
type KubeletConfig struct {
	// Scheme is "http" or "https"; empty is "http".
	Scheme string
	// PreferredAddressTypes orders the Node address types; empty is
	// DefaultPreferredAddressTypes.
	PreferredAddressTypes []string
}

// KubeletURL returns the base URL of the node's kubelet server
// ("https://10.250.0.11:10250"). A node that publishes no usable address
// or port is ServiceUnavailable, naming the node.
func (c KubeletConfig) KubeletURL(n *corev1.Node) (string, error) {
	name := n.GetMetadata().GetName()
	port := n.GetStatus().GetDaemonEndpoints().GetKubeletEndpoint().GetPort()
	if port <= 0 || port > 65535 {
		return "", apierrors.NewUnavailable(fmt.Sprintf("node %q does not publish its kubelet port (status.daemonEndpoints.kubeletEndpoint.Port)", name))
	}
	types := c.PreferredAddressTypes
	if len(types) == 0 {
		types = DefaultPreferredAddressTypes
	}
	host := ""
	for _, t := range types {
		for _, a := range n.GetStatus().GetAddresses() {
			if a.GetType() == t && validHost(a.GetAddress()) {
				host = a.GetAddress()
				break
			}
		}
		if host != "" {
			break
		}
	}
	if host == "" {
		return "", apierrors.NewUnavailable(fmt.Sprintf("node %q has no address of the types %s", name, strings.Join(types, ", ")))
	}
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

// validHost accepts an IP or a DNS name, nothing that would change the
// URL's meaning (a scheme, user info, a path or a port).
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, r := range h {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// ParseAddressTypes reads --kubelet-preferred-address-types
// ("InternalIP,Hostname").
func ParseAddressTypes(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch t {
		case "":
			continue
		case "Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS":
			out = append(out, t)
		default:
			return nil, fmt.Errorf("unknown node address type %q (Hostname, InternalIP, ExternalIP, InternalDNS, ExternalDNS)", t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no node address type given")
	}
	return out, nil
}
