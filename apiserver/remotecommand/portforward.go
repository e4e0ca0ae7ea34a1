package remotecommand

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	apierrors "minik8s/api/errors"
)

// Port-forward protocols: SPDY's stream protocol version, and the
// WebSocket subprotocol kubectl uses to tunnel SPDY through a WebSocket.
const (
	ProtocolPortForward       = "portforward.k8s.io"
	ProtocolPortForwardTunnel = "SPDY/3.1+portforward.k8s.io"
)

// DialFunc connects to a port of the target (a pod).
type DialFunc func(ctx context.Context, port int32) (net.Conn, error)

// ServePortForward serves a port-forward request: kubectl's SPDY tunneled
// in a WebSocket (the default since kubectl 1.31) or plain SPDY (its
// fallback, and older clients). Every connection the client forwards
// becomes a dial and a byte copy both ways; a failed dial is reported on
// the connection's error stream, which kubectl prints. It returns when the
// client hangs up. The ResponseWriter must support hijacking (directly or
// through Unwrap).
func ServePortForward(w http.ResponseWriter, r *http.Request, dial DialFunc) {
	w = hijackable{w}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	pf := &portForwarder{ctx: ctx, dial: dial, pairs: map[string]*streamPair{}}
	var conn httpstream.Connection
	switch {
	case isWebSocket(r):
		if _, ok := pickProtocol(requestedProtocols(r), []string{ProtocolPortForwardTunnel}); !ok || len(requestedProtocols(r)) == 0 {
			WriteStatus(w, apierrors.NewBadRequest(fmt.Sprintf("requested protocol(s) are not supported: %v; supports %v", requestedProtocols(r), []string{ProtocolPortForwardTunnel})))
			return
		}
		up := websocket.Upgrader{
			ReadBufferSize:  maxMessage + 1024,
			WriteBufferSize: maxMessage + 1024,
			Subprotocols:    []string{ProtocolPortForwardTunnel},
			CheckOrigin:     func(*http.Request) bool { return true },
			Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
				WriteStatus(w, upgradeError(status, reason))
			},
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		tc := newTunnelConn(ws)
		c, err := spdy.NewServerConnection(tc, pf.handleStream)
		if err != nil {
			_ = tc.Close()
			return
		}
		conn = c
	case isSPDY(r):
		if _, err := httpstream.Handshake(r, w, []string{ProtocolPortForward}); err != nil {
			return
		}
		conn = spdy.NewResponseUpgrader().UpgradeResponse(w, r, pf.handleStream)
		if conn == nil {
			return
		}
	default:
		WriteStatus(w, apierrors.NewBadRequest("Upgrade request required"))
		return
	}
	defer conn.Close()
	conn.SetIdleTimeout(idleTimeout)

	<-conn.CloseChan()
	cancel()
	// handleStream starts no forward once the context has ended; taking
	// the lock orders its last wg.Add before the Wait.
	pf.mu.Lock()
	pf.mu.Unlock() //nolint:staticcheck // an empty critical section on purpose
	pf.wg.Wait()
}

// portForwarder pairs each forwarded connection's error and data streams
// (same requestID header) and serves the pair.
type portForwarder struct {
	ctx  context.Context // ends when the client hangs up
	dial DialFunc
	wg   sync.WaitGroup

	mu    sync.Mutex
	pairs map[string]*streamPair
}

type streamPair struct {
	id          string
	data, error httpstream.Stream
	dataReply   <-chan struct{}
	errorReply  <-chan struct{}
	timer       *time.Timer
}

func (pf *portForwarder) handleStream(s httpstream.Stream, replySent <-chan struct{}) error {
	h := s.Headers()
	typ := h.Get("streamType")
	if typ != streamTypeData && typ != streamTypeError {
		return fmt.Errorf("invalid stream type %q", typ)
	}
	id := h.Get("requestID")
	if id == "" {
		return fmt.Errorf("stream of type %q has no requestID", typ)
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.ctx.Err() != nil {
		return fmt.Errorf("the connection is closing")
	}
	p, ok := pf.pairs[id]
	if !ok {
		p = &streamPair{id: id}
		pf.pairs[id] = p
		p.timer = time.AfterFunc(streamCreationTimeout, func() { pf.expire(p) })
	}
	switch typ {
	case streamTypeData:
		if p.data != nil {
			return fmt.Errorf("duplicate data stream for request %s", id)
		}
		p.data, p.dataReply = s, replySent
	case streamTypeError:
		if p.error != nil {
			return fmt.Errorf("duplicate error stream for request %s", id)
		}
		p.error, p.errorReply = s, replySent
	}
	if p.data != nil && p.error != nil {
		p.timer.Stop()
		delete(pf.pairs, id)
		pf.wg.Add(1)
		go func() {
			defer pf.wg.Done()
			pf.forward(pf.ctx, p)
		}()
	}
	return nil
}

// expire drops a pair whose other half never came.
func (pf *portForwarder) expire(p *streamPair) {
	pf.mu.Lock()
	if pf.pairs[p.id] != p {
		pf.mu.Unlock()
		return
	}
	delete(pf.pairs, p.id)
	pf.mu.Unlock()
	if p.error != nil {
		<-p.errorReply
		fmt.Fprintf(p.error, "timed out waiting for the data stream of request %s", p.id)
		_ = p.error.Close()
	}
	if p.data != nil {
		_ = p.data.Reset()
	}
}

// forward dials the port and copies both ways until the target is done
// sending; the client's end of input is passed on as a half-close.
func (pf *portForwarder) forward(ctx context.Context, p *streamPair) {
	<-p.dataReply
	<-p.errorReply
	defer p.error.Close()
	defer p.data.Close()
	portStr := p.data.Headers().Get("port")
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		fmt.Fprintf(p.error, "invalid port %q", portStr)
		return
	}
	target, err := pf.dial(ctx, int32(port))
	if err != nil {
		fmt.Fprintf(p.error, "error forwarding port %d: %v", port, err)
		return
	}
	defer target.Close()
	stop := context.AfterFunc(ctx, func() { target.Close() })
	defer stop()

	go func() {
		_, _ = io.Copy(target, p.data)
		// The client sends no more: pass the half-close on, so the target
		// can finish its answer.
		if cw, ok := target.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	// A copy error is not reported: kubectl treats any message on the
	// error stream as fatal to the whole session, and a reset stream (the
	// local client hung up) is routine.
	_, _ = io.Copy(p.data, target)
}
