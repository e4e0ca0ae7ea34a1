package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// conns is the transport of ordinary requests to the endpoints: HTTP/1.1
// over a keep-alive pool per endpoint, with each exchange done on the
// calling goroutine. net/http's Transport hands every request to a
// connection's writer goroutine and takes the response from its reader
// goroutine; on this path, which does nothing else, those hand-offs were
// a good part of the proxy's cost. Requests that need more go to the
// standard Transport, std: an Upgrade, an Expect: 100-continue, and any
// request with a body (a backend may answer before it has read the body,
// and only a transport that reads while it writes sees that answer).
type conns struct {
	dialer        *net.Dialer
	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxIdle       int
	std           *http.Transport

	mu    sync.Mutex
	idle  map[string][]*pconn // endpoint -> idle connections, most recent last
	sweep *time.Timer         // closes connections idle too long; nil when the pool is empty
}

// pconn is one connection to an endpoint.
type pconn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

func (t *conns) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Upgrade") != "" || req.Header.Get("Expect") != "" || req.URL.Scheme != "http" ||
		(req.Body != nil && req.Body != http.NoBody) {
		return t.std.RoundTrip(req)
	}
	addr := req.URL.Host
	for {
		pc, reused, err := t.get(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		resp, sent, err := t.exchange(req, pc)
		if err == nil {
			return resp, nil
		}
		_ = pc.c.Close()
		// A pooled connection the endpoint closed while idle fails before
		// any answer: send again on a new one, as net/http does (these
		// requests have no body to resend).
		if reused && !sent && req.Context().Err() == nil {
			continue
		}
		return nil, err
	}
}

// get takes an idle connection to addr, or dials one.
func (t *conns) get(ctx context.Context, addr string) (*pconn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	for l := t.idle[addr]; len(l) > 0; l = t.idle[addr] {
		pc := l[len(l)-1]
		l[len(l)-1] = nil
		t.idle[addr] = l[:len(l)-1]
		if now.Sub(pc.idleAt) < t.idleTimeout {
			t.mu.Unlock()
			return pc, true, nil
		}
		_ = pc.c.Close()
	}
	t.mu.Unlock()
	c, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &pconn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}, false, nil
}

// put returns a connection whose exchange is complete to the pool.
func (t *conns) put(addr string, pc *pconn) {
	pc.idleAt = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*pconn{}
	}
	if l := t.idle[addr]; len(l) < t.maxIdle {
		t.idle[addr] = append(l, pc)
		if t.sweep == nil {
			t.sweep = time.AfterFunc(t.idleTimeout, t.reap)
		}
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = pc.c.Close()
}

// reap closes the connections idle longer than idleTimeout (those of
// endpoints gone from every table among them) and comes back while any
// stay pooled.
func (t *conns) reap() {
	now := time.Now()
	var expired []*pconn
	t.mu.Lock()
	for addr, l := range t.idle {
		keep := l[:0]
		for _, pc := range l {
			if now.Sub(pc.idleAt) >= t.idleTimeout {
				expired = append(expired, pc)
			} else {
				keep = append(keep, pc)
			}
		}
		clear(l[len(keep):])
		if len(keep) == 0 {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = keep
		}
	}
	t.sweep = nil
	if len(t.idle) > 0 {
		t.sweep = time.AfterFunc(t.idleTimeout/2, t.reap)
	}
	t.mu.Unlock()
	for _, pc := range expired {
		_ = pc.c.Close()
	}
}

// CloseIdleConnections closes every pooled connection.
func (t *conns) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, l := range idle {
		for _, pc := range l {
			_ = pc.c.Close()
		}
	}
	t.std.CloseIdleConnections()
}

// errNoAnswer marks a connection that closed before any byte of a
// response arrived.
var errNoAnswer = errors.New("endpoint closed the connection without answering")

// exchange writes req on pc and reads the response head; sent says some
// byte of an answer arrived (after that the request is not sent again).
// The response's body gives pc back to the pool once read to its end.
func (t *conns) exchange(req *http.Request, pc *pconn) (*http.Response, bool, error) {
	ctx := req.Context()
	// A client that goes away ends the exchange: the deadline in the past
	// fails the connection's blocked read or write.
	stop := context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(time.Unix(1, 0)) })
	if err := req.Write(pc.bw); err != nil {
		stop()
		return nil, false, err
	}
	if err := pc.bw.Flush(); err != nil {
		stop()
		return nil, false, err
	}
	if t.headerTimeout > 0 {
		_ = pc.c.SetReadDeadline(time.Now().Add(t.headerTimeout))
	}
	var resp *http.Response
	for {
		if _, err := pc.br.Peek(1); err != nil {
			stop()
			if errors.Is(err, io.EOF) {
				err = errNoAnswer
			}
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, false, err
		}
		r, err := http.ReadResponse(pc.br, req)
		if err != nil {
			stop()
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, true, err
		}
		// 1xx answers (103 Early Hints) come before the real one.
		if r.StatusCode >= 100 && r.StatusCode < 200 && r.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		resp = r
		break
	}
	if t.headerTimeout > 0 {
		_ = pc.c.SetReadDeadline(time.Time{})
	}
	b := &body{t: t, addr: req.URL.Host, pc: pc, stop: stop, rc: resp.Body, reuse: !resp.Close && !req.Close}
	if resp.Body == http.NoBody {
		b.release(true)
		return resp, true, nil
	}
	resp.Body = b
	return resp, true, nil
}

// body returns its connection to the pool when read to its end, and
// closes it when closed before (a client gone in mid-stream: the rest of
// an endless stream is not drained).
type body struct {
	t     *conns
	addr  string
	pc    *pconn
	stop  func() bool
	rc    io.ReadCloser
	reuse bool
	eof   bool
	done  bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return 0, errors.New("read on a closed body")
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *body) Close() error {
	if b.done {
		return nil
	}
	b.release(b.eof)
	return nil
}

// release ends the exchange: the connection goes back to the pool when
// the response was read whole and the context did not fire.
func (b *body) release(whole bool) {
	b.done = true
	if b.stop() && whole && b.reuse {
		b.t.put(b.addr, b.pc)
		return
	}
	_ = b.pc.c.Close()
}
