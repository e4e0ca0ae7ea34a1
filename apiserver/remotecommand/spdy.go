package remotecommand

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// spdyProtocols are the stream protocol versions of exec and attach over
// SPDY (X-Stream-Protocol-Version), most preferred first.
var spdyProtocols = []string{ProtocolV4, ProtocolV3, ProtocolV2, ProtocolV1}

// streamCreationTimeout bounds the wait for the client's streams after the
// upgrade, as the kubelet's does.
const streamCreationTimeout = 30 * time.Second

// idleTimeout closes a SPDY connection nobody has used for this long.
const idleTimeout = 4 * time.Hour

// Stream types, the streamType header of a SPDY stream.
const (
	streamTypeError  = "error"
	streamTypeStdin  = "stdin"
	streamTypeStdout = "stdout"
	streamTypeStderr = "stderr"
	streamTypeResize = "resize"
	streamTypeData   = "data"
)

type acceptedStream struct {
	s         httpstream.Stream
	replySent <-chan struct{}
}

// streamAcceptor collects the streams a client opens on a SPDY connection.
type streamAcceptor struct {
	ch   chan acceptedStream
	done chan struct{}
}

func newStreamAcceptor() *streamAcceptor {
	return &streamAcceptor{ch: make(chan acceptedStream, 8), done: make(chan struct{})}
}

func (a *streamAcceptor) handle(s httpstream.Stream, replySent <-chan struct{}) error {
	select {
	case a.ch <- acceptedStream{s, replySent}:
		return nil
	case <-a.done:
		return fmt.Errorf("unexpected stream of type %q", s.Headers().Get("streamType"))
	}
}

func serveSPDY(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) {
	protocol, err := httpstream.Handshake(r, w, spdyProtocols)
	if err != nil {
		return // Handshake answered
	}
	acc := newStreamAcceptor()
	defer close(acc.done)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, acc.handle)
	if conn == nil {
		return // the upgrader answered
	}
	defer conn.Close()
	conn.SetIdleTimeout(idleTimeout)

	want := 1 // the error stream
	for _, b := range []bool{opts.Stdin, opts.Stdout, opts.Stderr, opts.Tty && protocol != ProtocolV2 && protocol != ProtocolV1} {
		if b {
			want++
		}
	}
	streams := map[string]acceptedStream{}
	timeout := time.NewTimer(streamCreationTimeout)
	defer timeout.Stop()
	for len(streams) < want {
		select {
		case a := <-acc.ch:
			streams[a.s.Headers().Get("streamType")] = a
		case <-timeout.C:
			if e, ok := streams[streamTypeError]; ok {
				<-e.replySent
				_, _ = e.s.Write([]byte("timed out waiting for client to create streams"))
			}
			return
		case <-conn.CloseChan():
			return
		}
	}
	for _, a := range streams {
		<-a.replySent // writing before the reply is a protocol error
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-conn.CloseChan():
			cancel()
		case <-ctx.Done():
		}
	}()

	// Writes are locked per stream: Streams promises writers safe for
	// concurrent use, and a SPDY stream write is not atomic under that.
	s := Streams{Stdout: io.Discard, Stderr: io.Discard, Tty: opts.Tty}
	if a, ok := streams[streamTypeStdin]; ok {
		s.Stdin = a.s
	}
	if a, ok := streams[streamTypeStdout]; ok {
		s.Stdout = lockedWriter{&sync.Mutex{}, a.s}
	}
	if a, ok := streams[streamTypeStderr]; ok {
		s.Stderr = lockedWriter{&sync.Mutex{}, a.s}
	} else if opts.Tty {
		s.Stderr = s.Stdout
	}
	if a, ok := streams[streamTypeResize]; ok {
		resize := make(chan TermSize, 4)
		s.Resize = resize
		go func() {
			defer close(resize)
			dec := json.NewDecoder(a.s)
			for {
				var sz TermSize
				if dec.Decode(&sz) != nil {
					return
				}
				sendResize(resize, sz)
			}
		}()
	} else if opts.Tty {
		// A v1/v2 client has no resize stream: give run a channel that
		// closes with the session.
		resize := make(chan TermSize)
		s.Resize = resize
		defer close(resize)
	}

	code, runErr := runSession(ctx, run, s)
	if ctx.Err() != nil {
		return
	}
	for _, t := range []string{streamTypeStdout, streamTypeStderr} {
		if a, ok := streams[t]; ok {
			_ = a.s.Close()
		}
	}
	e := streams[streamTypeError].s
	if b := statusBytes(protocol, code, runErr); len(b) > 0 {
		_, _ = e.Write(b)
	}
	_ = e.Close()
}
