package remotecommand

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	apierrors "minik8s/api/errors"
)

// execProtocols are the WebSocket subprotocols of exec and attach, most
// preferred first. A client that names none is served channel.k8s.io.
var execProtocols = []string{ProtocolV5, ProtocolV4, ProtocolV4Base64, ProtocolV1, ProtocolV1Base64}

// closeWait bounds how long a finished session waits for the client to
// answer its close frame: closing the socket with unread input would reset
// the connection and could discard output the client has not read yet.
const closeWait = 5 * time.Second

// maxMessage bounds one outgoing message's payload.
const maxMessage = 32 << 10

func requestedProtocols(r *http.Request) []string { return websocket.Subprotocols(r) }

// pickProtocol returns the first of ours the client offers; ok is false
// when the client offers protocols and none is ours. No offer at all is
// the oldest protocol.
func pickProtocol(offered, ours []string) (string, bool) {
	if len(offered) == 0 {
		return "", true
	}
	for _, p := range ours {
		for _, o := range offered {
			if o == p {
				return p, true
			}
		}
	}
	return "", false
}

// wsChannels is the server side of a channel.k8s.io WebSocket: each
// message is one channel byte and a payload (in the base64 variants a text
// message: an ASCII digit and base64).
type wsChannels struct {
	ws     *websocket.Conn
	base64 bool
	mu     sync.Mutex // one writer at a time
}

func (c *wsChannels) write(ch byte, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base64 {
		msg := make([]byte, 1+base64.StdEncoding.EncodedLen(len(p)))
		msg[0] = '0' + ch
		base64.StdEncoding.Encode(msg[1:], p)
		return c.ws.WriteMessage(websocket.TextMessage, msg)
	}
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte{ch}); err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		return err
	}
	return w.Close()
}

// channelWriter writes to one channel, a message per maxMessage bytes.
type channelWriter struct {
	c  *wsChannels
	ch byte
}

func (w channelWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += maxMessage {
		end := min(off+maxMessage, len(p))
		if err := w.c.write(w.ch, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

func serveWebSocket(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) {
	protocol, ok := pickProtocol(requestedProtocols(r), execProtocols)
	if !ok {
		WriteStatus(w, apierrors.NewBadRequest(fmt.Sprintf("requested protocol(s) are not supported: %v; supports %v", requestedProtocols(r), execProtocols)))
		return
	}
	up := websocket.Upgrader{
		ReadBufferSize:  maxMessage + 1024,
		WriteBufferSize: maxMessage + 1024,
		// kubectl is not a browser: it sends no Origin, and the request
		// was authenticated like any other API call.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			WriteStatus(w, upgradeError(status, reason))
		},
	}
	if protocol != "" {
		up.Subprotocols = []string{protocol}
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	defer ws.Close()
	c := &wsChannels{ws: ws, base64: protocol == ProtocolV1Base64 || protocol == ProtocolV4Base64}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	s := Streams{Stdout: io.Discard, Stderr: io.Discard, Tty: opts.Tty}
	if opts.Stdout {
		s.Stdout = channelWriter{c, chanStdout}
	}
	if opts.Stderr {
		s.Stderr = channelWriter{c, chanStderr}
	} else if opts.Tty {
		s.Stderr = s.Stdout
	}
	var stdinR *io.PipeReader
	var stdinW *io.PipeWriter
	if opts.Stdin {
		stdinR, stdinW = io.Pipe()
		s.Stdin = stdinR
	}
	var resize chan TermSize
	if opts.Tty {
		resize = make(chan TermSize, 4)
		s.Resize = resize
	}

	// Tell the client the streams are up, as the kubelet does: older
	// clients wait for a first message.
	first := chanError
	switch {
	case opts.Stdout:
		first = chanStdout
	case opts.Stderr:
		first = chanStderr
	}
	if err := c.write(first, nil); err != nil {
		return
	}

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer cancel() // the client is gone (or answered our close)
		if resize != nil {
			defer close(resize)
		}
		if stdinW != nil {
			defer stdinW.Close()
		}
		readChannels(c, stdinW, resize)
	}()

	code, runErr := runSession(ctx, run, s)
	if stdinR != nil {
		// Unblock a reader goroutine stuck handing input to a command that
		// no longer reads it.
		stdinR.CloseWithError(io.ErrClosedPipe)
	}
	select {
	case <-readDone:
		return // the client went away: nobody to report to
	default:
	}
	if b := statusBytes(protocol, code, runErr); len(b) > 0 {
		_ = c.write(chanError, b)
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeWait))
	select {
	case <-readDone:
	case <-time.After(closeWait):
	}
}

// readChannels reads the client's messages until the connection ends: input
// for stdin, terminal sizes, and the v5 close signal for stdin.
func readChannels(c *wsChannels, stdin *io.PipeWriter, resize chan TermSize) {
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if len(data) == 0 {
			continue
		}
		ch, payload := data[0], data[1:]
		if c.base64 {
			if typ != websocket.TextMessage || ch < '0' || ch > '9' {
				continue
			}
			ch -= '0'
			dec := make([]byte, base64.StdEncoding.DecodedLen(len(payload)))
			n, err := base64.StdEncoding.Decode(dec, payload)
			if err != nil {
				continue
			}
			payload = dec[:n]
		}
		switch ch {
		case chanStdin:
			if stdin != nil && len(payload) > 0 {
				if _, err := stdin.Write(payload); err != nil {
					stdin = nil // the command stopped reading; drop further input
				}
			}
		case chanResize:
			if resize == nil {
				continue
			}
			// Clients send one JSON object per message; be lenient with
			// several.
			dec := json.NewDecoder(bytes.NewReader(payload))
			for {
				var sz TermSize
				if dec.Decode(&sz) != nil {
					break
				}
				sendResize(resize, sz)
			}
		case chanClose:
			// v5: the client closes one of its streams; only stdin is ours
			// to read.
			if len(payload) == 1 && payload[0] == chanStdin && stdin != nil {
				stdin.Close()
				stdin = nil
			}
		}
	}
}

// upgradeError turns a failed WebSocket handshake into a Status.
func upgradeError(status int, reason error) error {
	if status == http.StatusBadRequest {
		return apierrors.NewBadRequest("unable to upgrade connection: " + reason.Error())
	}
	return apierrors.NewInternal(fmt.Errorf("unable to upgrade connection: %w", reason))
}
