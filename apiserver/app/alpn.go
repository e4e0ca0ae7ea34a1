package app

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// The TLS listener of the API port, sorting connections after the
// handshake: a client that offers only "h2" by ALPN is a gRPC client
// (grpc-go offers nothing else; kubectl, client-go, curl and browsers
// also offer http/1.1) and goes to the gRPC server's own transport;
// everyone else goes to the http.Server. The native gRPC transport
// created pods at 369-370/s against 260-335/s through
// grpc.Server.ServeHTTP over the same TLS (hack/bench, two runs each,
// docs/benchmarks.md), which is why the bytes are not simply all handed to
// net/http. A gRPC call that does arrive through net/http (a client that
// offers both protocols) still works: the HTTP handler passes
// application/grpc requests to ServeHTTP. The price: a plain HTTP/2
// client that offers only h2 (no http/1.1) is taken for gRPC; kubectl,
// client-go and curl offer both.

// tlsSplitListener accepts TCP connections, completes the TLS handshake
// of each (bounded by handshakeTimeout) and delivers it to grpc or http.
type tlsSplitListener struct {
	inner    net.Listener
	cfg      *tls.Config
	grpcOnly sync.Map // raw net.Conn -> true when its ClientHello offered only h2
	grpc     *chanListener
	http     *chanListener
	once     sync.Once
}

const handshakeTimeout = 10 * time.Second

func newTLSSplitListener(l net.Listener, base *tls.Config) *tlsSplitListener {
	s := &tlsSplitListener{inner: l, grpc: newChanListener(l.Addr()), http: newChanListener(l.Addr())}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == "h2" {
			s.grpcOnly.Store(hello.Conn, true)
		}
		return nil, nil
	}
	s.cfg = cfg
	go s.run()
	return s
}

func (s *tlsSplitListener) run() {
	for {
		c, err := s.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			s.grpc.fail(err)
			s.http.fail(err)
			return
		}
		go s.handshake(c)
	}
}

func (s *tlsSplitListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, s.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	_, grpcOnly := s.grpcOnly.LoadAndDelete(raw)
	if err != nil {
		raw.Close()
		return
	}
	if grpcOnly && tc.ConnectionState().NegotiatedProtocol == "h2" {
		s.grpc.deliver(tc)
		return
	}
	s.http.deliver(tc)
}

// Close stops accepting.
func (s *tlsSplitListener) Close() error {
	var err error
	s.once.Do(func() { err = s.inner.Close() })
	return err
}

// handshaken are gRPC transport credentials for connections whose TLS
// handshake tlsSplitListener already completed: they report the TLS state
// (the peer certificates the authenticators read) instead of handshaking
// again.
type handshaken struct{}

func (handshaken) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("handshaken credentials are for the server side")
}

func (handshaken) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return nil, nil, errors.New("not a TLS connection")
	}
	return c, credentials.TLSInfo{State: tc.ConnectionState(), CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
}

func (handshaken) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", SecurityVersion: "1.2"}
}

func (h handshaken) Clone() credentials.TransportCredentials { return h }

func (handshaken) OverrideServerName(string) error { return nil }

// chanListener is a net.Listener fed by tlsSplitListener.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	closed bool
	err    error
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) fail(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	l.once.Do(func() { close(l.done) })
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil && !l.closed {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
