package runtime

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
)

// Hosts decides where images of a registry are pulled from: a mirror
// ("docker.io" -> http://127.0.0.1:5000), plain HTTP for insecure
// registries and loopback, HTTPS otherwise.
type Hosts struct {
	mirrors  map[string]*url.URL
	insecure map[string]bool
	client   *http.Client
}

// ParseMirror parses a --registry-mirror value "REGISTRY=URL"
// ("docker.io=http://127.0.0.1:5000").
func ParseMirror(s string) (registry string, u *url.URL, err error) {
	reg, raw, ok := strings.Cut(s, "=")
	if !ok || reg == "" || raw == "" {
		return "", nil, fmt.Errorf("registry mirror %q: want REGISTRY=URL", s)
	}
	u, err = url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, fmt.Errorf("registry mirror %q: want an http:// or https:// URL", s)
	}
	return reg, u, nil
}

// NewHosts returns the registry configuration for the given mirrors
// (registry host -> mirror URL) and plain-HTTP registries (host[:port]).
func NewHosts(mirrors map[string]*url.URL, insecure []string) *Hosts {
	h := &Hosts{mirrors: map[string]*url.URL{}, insecure: map[string]bool{}}
	for k, v := range mirrors {
		h.mirrors[k] = v
	}
	for _, s := range insecure {
		h.insecure[s] = true
	}
	tr := docker.DefaultHTTPTransport(nil)
	tr.Proxy = nil // never send pulls through an environment proxy
	h.client = &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	return h
}

// Registry returns the hosts to try for a registry name, in order.
func (h *Hosts) Registry(host string) ([]docker.RegistryHost, error) {
	caps := docker.HostCapabilityPull | docker.HostCapabilityResolve
	if m, ok := h.mirrors[host]; ok {
		path := strings.TrimSuffix(m.Path, "/")
		if path == "" {
			path = "/v2"
		}
		return []docker.RegistryHost{{Client: h.client, Host: m.Host, Scheme: m.Scheme, Path: path, Capabilities: caps}}, nil
	}
	scheme := "https"
	if h.insecure[host] || isLoopback(host) {
		scheme = "http"
	}
	name := host
	if host == "docker.io" {
		name = "registry-1.docker.io"
	}
	return []docker.RegistryHost{{Client: h.client, Host: name, Scheme: scheme, Path: "/v2", Capabilities: caps}}, nil
}

// Resolver returns a containerd resolver using these hosts.
func (h *Hosts) Resolver() remotes.Resolver {
	return docker.NewResolver(docker.ResolverOptions{Hosts: h.Registry})
}

func isLoopback(hostport string) bool {
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
