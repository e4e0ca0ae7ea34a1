package userspace

import (
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/net/ipv4"

	"minik8s/kube-proxy/proxy"
)

// udpProxy relays datagrams of one service port. Each client address gets
// a "session": a connected socket to the backend chosen for it, kept while
// packets flow and closed after the idle timeout, whose replies are sent
// back to the client from the service's socket.
type udpProxy struct {
	p    *Proxier
	conn net.PacketConn
	// pc reads each datagram's destination address and sends replies
	// from it: after a REDIRECT the client's conntrack entry expects
	// replies from that address (127.0.0.1 for local clients), which is
	// not the source the kernel would pick for an unbound reply.
	pc   *ipv4.PacketConn
	name proxy.ServicePortName

	mu      sync.Mutex
	clients map[string]*udpClient
	closed  bool
	wg      sync.WaitGroup
}

type udpClient struct {
	backend net.Conn
	local   net.IP // the address the client sent to (after REDIRECT)
}

const maxDatagram = 64 << 10

func (u *udpProxy) close() {
	u.mu.Lock()
	u.closed = true
	for k, c := range u.clients {
		_ = c.backend.Close()
		delete(u.clients, k)
	}
	u.mu.Unlock()
	_ = u.conn.Close()
}

func (u *udpProxy) serve() {
	defer u.wg.Wait()
	buf := make([]byte, maxDatagram)
	for {
		n, cm, from, err := u.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var local net.IP
		if cm != nil {
			local = cm.Dst
		}
		c, err := u.client(from, local)
		if err != nil {
			u.p.log.Debug("no backend for datagram", "service", u.name.String(), "client", from.String(), "err", err)
			continue
		}
		_ = c.backend.SetReadDeadline(time.Now().Add(u.p.cfg.UDPIdleTimeout))
		if _, err := c.backend.Write(buf[:n]); err != nil {
			u.p.log.Debug("write to backend", "service", u.name.String(), "err", err)
		}
	}
}

// client returns the session of from, creating it (and its reply pump).
func (u *udpProxy) client(from net.Addr, local net.IP) (*udpClient, error) {
	key := from.String()
	u.mu.Lock()
	if c := u.clients[key]; c != nil {
		u.mu.Unlock()
		return c, nil
	}
	u.mu.Unlock()
	backend, _, err := u.p.dialBackend(u.name, addrOf(from), "udp")
	if err != nil {
		return nil, err
	}
	c := &udpClient{backend: backend, local: local}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		_ = backend.Close()
		return nil, net.ErrClosed
	}
	u.clients[key] = c
	u.mu.Unlock()
	u.p.metrics.UserspaceConns.WithLabelValues("UDP").Inc()
	u.wg.Add(1)
	go u.replies(key, from, c)
	return c, nil
}

// replies copies the backend's datagrams back to the client until the
// session is idle for the timeout (the read deadline) or closed.
func (u *udpProxy) replies(key string, to net.Addr, c *udpClient) {
	defer u.wg.Done()
	defer func() {
		u.mu.Lock()
		if u.clients[key] == c {
			delete(u.clients, key)
		}
		u.mu.Unlock()
		_ = c.backend.Close()
	}()
	buf := make([]byte, maxDatagram)
	for {
		_ = c.backend.SetReadDeadline(time.Now().Add(u.p.cfg.UDPIdleTimeout))
		n, err := c.backend.Read(buf)
		if err != nil {
			return
		}
		var cm *ipv4.ControlMessage
		if c.local != nil {
			cm = &ipv4.ControlMessage{Src: c.local}
		}
		if _, err := u.pc.WriteTo(buf[:n], cm, to); err != nil {
			return
		}
	}
}
