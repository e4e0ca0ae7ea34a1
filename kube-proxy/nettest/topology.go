package nettest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Addresses of a Topology. They exist only inside its namespaces.
const (
	ServiceCIDR = "10.96.0.0/16"
	PodCIDR     = "10.244.0.0/16"
	BridgeIP    = "10.244.0.1" // the node on the pod bridge
	NodeIP      = "192.168.77.1"
	ExternalIP  = "192.168.77.2"
)

// Topology is one node and its pods, plus a host outside the cluster:
//
//	ext (192.168.77.2) --veth-- node (192.168.77.1; bridge 10.244.0.1/24) --veth-- pod-i (10.244.0.10+i)
//
// kube-proxy runs in the node namespace; clients run in the node (as a
// pod on the node would, through OUTPUT) or in ext (through PREROUTING,
// the NodePort path). The node routes the service CIDR to its bridge, so a
// packet no rule rewrote stays on the bridge.
type Topology struct {
	Env  *Env
	Node *NS
	Ext  *NS
	Pods []*Pod
}

// Pod is a backend namespace.
type Pod struct {
	NS *NS
	IP string
}

// NewTopology builds a node with n pods and the external host. On error
// it removes what it made.
func NewTopology(n int) (*Topology, error) {
	t := &Topology{Env: &Env{}}
	if err := t.build(n); err != nil {
		_ = t.Env.Close()
		return nil, err
	}
	return t, nil
}

func (t *Topology) build(n int) error {
	var err error
	if t.Node, err = t.Env.NewNS("node"); err != nil {
		return err
	}
	if err := t.Node.Bridge("mk8s-br", BridgeIP+"/24"); err != nil {
		return err
	}
	if err := t.Node.IP("route", "add", ServiceCIDR, "dev", "mk8s-br"); err != nil {
		return err
	}
	if err := t.Node.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	if t.Ext, err = t.Env.NewNS("ext"); err != nil {
		return err
	}
	if err := Link(t.Node, "veth-ext", NodeIP+"/24", "", t.Ext, "eth0", ExternalIP+"/24"); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		ns, err := t.Env.NewNS(fmt.Sprintf("pod%d", i))
		if err != nil {
			return err
		}
		ip := fmt.Sprintf("10.244.0.%d", 10+i)
		if err := Link(t.Node, fmt.Sprintf("veth-p%d", i), "", "mk8s-br", ns, "eth0", ip+"/24"); err != nil {
			return err
		}
		if err := ns.IP("route", "add", "default", "via", BridgeIP); err != nil {
			return err
		}
		t.Pods = append(t.Pods, &Pod{NS: ns, IP: ip})
	}
	return nil
}

// Close removes every namespace.
func (t *Topology) Close() error { return t.Env.Close() }

// ServeHTTP runs an HTTP server in the pod on port answering every
// request with body; the returned func stops it.
func (p *Pod) ServeHTTP(port int, body string) (func(), error) {
	l, err := p.NS.Listen("tcp4", fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	}), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { _ = srv.Serve(l); close(done) }()
	return func() { _ = srv.Close(); <-done }, nil
}

// ServeUDPEcho answers every datagram on port with prefix + ":" + it.
func (p *Pod) ServeUDPEcho(port int, prefix string) (func(), error) {
	c, err := p.NS.ListenPacket("udp4", fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo(append([]byte(prefix+":"), buf[:n]...), from)
		}
	}()
	return func() { _ = c.Close(); <-done }, nil
}

// HTTPClient returns a client dialing from ns, one connection per request
// (so each request is a new connection the proxy balances).
func (ns *NS) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
}

// Get fetches url with c and returns the body.
func Get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// UDPExchange sends msg from ns to addr and returns the reply.
func (ns *NS) UDPExchange(addr, msg string, timeout time.Duration) (string, error) {
	var reply string
	err := ns.Do(func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		reply = string(buf[:n])
		return nil
	})
	return reply, err
}

// IsRefused reports whether err is a refused connection (a REJECT).
func IsRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
