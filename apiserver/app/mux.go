package app

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"sync"
	"time"
)

// One port, two protocols: a connection that opens with the HTTP/2
// client preface is gRPC (our components speak gRPC over cleartext
// HTTP/2); anything else is HTTP/1.x, the REST API that kubectl and
// client-go use on an http:// URL. The first bytes are read, then handed
// on with the connection, so neither server notices the peek. With TLS
// (the security issue) ALPN takes this role: "h2" conns carry both, and
// the HTTP server hands application/grpc requests to the gRPC server.

// h2Start is how the HTTP/2 client preface ("PRI * HTTP/2.0...", RFC 9113
// section 3.4) starts; no HTTP/1.x method does.
var h2Start = []byte("PRI")

// splitListener accepts on one listener and sorts connections into two.
type splitListener struct {
	inner    net.Listener
	grpc     *chanListener
	http     *chanListener
	stopOnce sync.Once
}

func newSplitListener(l net.Listener) *splitListener {
	s := &splitListener{inner: l, grpc: newChanListener(l.Addr()), http: newChanListener(l.Addr())}
	go s.run()
	return s
}

func (s *splitListener) run() {
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
		go s.sort(c)
	}
}

// sort reads the first bytes of the connection to tell the protocols
// apart. A client that sends nothing for 10 s is dropped.
func (s *splitListener) sort(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 4096)
	head, err := br.Peek(len(h2Start))
	_ = c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	if err != nil && len(head) == 0 {
		c.Close()
		return
	}
	if bytes.Equal(head, h2Start) {
		s.grpc.deliver(pc)
		return
	}
	s.http.deliver(pc)
}

// Close stops accepting.
func (s *splitListener) Close() error {
	var err error
	s.stopOnce.Do(func() { err = s.inner.Close() })
	return err
}

// peekedConn reads what was peeked before the rest of the connection.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// chanListener is a net.Listener fed by splitListener.
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
