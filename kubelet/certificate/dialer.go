package certificate

import (
	"context"
	"net"
	"sync"

	"google.golang.org/grpc"

	"minik8s/api/client"
)

// Dialer opens the client's connections to the apiserver and remembers
// them, so that CloseAll after a rotation makes the client reconnect and
// present the new certificate: a TLS connection keeps the certificate of
// its handshake, and gRPC keeps connections open for as long as they
// work (Kubernetes' kubelet closes its connections likewise).
type Dialer struct {
	d     net.Dialer
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

// NewDialer returns a Dialer with no connections.
func NewDialer() *Dialer { return &Dialer{conns: map[*trackedConn]struct{}{}} }

// DialContext dials addr over TCP and tracks the connection until it is
// closed.
func (d *Dialer) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, d: d}
	d.mu.Lock()
	d.conns[tc] = struct{}{}
	d.mu.Unlock()
	return tc, nil
}

// ClientOption makes a client dial through d.
func (d *Dialer) ClientOption() client.Option {
	return client.WithDialOptions(grpc.WithContextDialer(d.DialContext))
}

// CloseAll closes every open connection; the client dials anew.
func (d *Dialer) CloseAll() {
	d.mu.Lock()
	conns := d.conns
	d.conns = map[*trackedConn]struct{}{}
	d.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// Open returns how many connections are open (tests).
func (d *Dialer) Open() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

type trackedConn struct {
	net.Conn
	d    *Dialer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		delete(c.d.conns, c)
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}
