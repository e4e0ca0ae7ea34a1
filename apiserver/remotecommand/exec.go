package remotecommand

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
)

// TermSize is a terminal size sent by the client of a session with a TTY.
type TermSize struct{ Width, Height uint16 }

// Streams are a session's standard streams as the run function sees them.
type Streams struct {
	// Stdin is the client's input; nil when the client asked for none. It
	// returns io.EOF when the client closes its input.
	Stdin io.Reader
	// Stdout and Stderr are never nil: a stream the client did not ask for
	// discards what is written. With Tty, Stderr writes to the terminal,
	// that is to Stdout. Both are safe for concurrent use.
	Stdout, Stderr io.Writer
	// Tty says the client asked for a terminal.
	Tty bool
	// Resize carries the client's terminal sizes (nil without Tty); it is
	// closed when the client's side of the session ends.
	Resize <-chan TermSize
}

// RunFunc runs the command of a session and returns its exit code. An
// error is reported to the client as the session's failure (kubectl prints
// its message); an *apierrors.StatusError is passed on as it is. The
// context ends when the client goes away.
type RunFunc func(ctx context.Context, s Streams) (exitCode int, err error)

// Protocol names: the WebSocket subprotocols and SPDY stream protocol
// versions of remote commands.
const (
	ProtocolV5       = "v5.channel.k8s.io" // v4 plus the client's close signal
	ProtocolV4       = "v4.channel.k8s.io" // error channel carries a metav1.Status
	ProtocolV4Base64 = "v4.base64.channel.k8s.io"
	ProtocolV3       = "v3.channel.k8s.io" // SPDY only: adds the resize stream
	ProtocolV2       = "v2.channel.k8s.io" // SPDY only
	ProtocolV1       = "channel.k8s.io"
	ProtocolV1Base64 = "base64.channel.k8s.io"
)

// Channel numbers of the WebSocket framing (the first byte of a message).
const (
	chanStdin  byte = 0
	chanStdout byte = 1
	chanStderr byte = 2
	chanError  byte = 3
	chanResize byte = 4
	chanClose  byte = 255
)

// ServeExec serves an exec request (GET or POST with a WebSocket or SPDY
// upgrade): it runs run with the session's streams and reports its exit
// code to the client, so kubectl exits with it. It returns when the
// session is over. A request that is not an upgrade gets a 400 Status.
// The ResponseWriter must support hijacking (directly or through Unwrap).
func ServeExec(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) {
	serve(w, r, opts, run)
}

// ServeAttach serves an attach request; the framing is exec's. run
// attaches to the running container's streams (opts.Command is empty); a
// runtime that cannot attach returns an error, which kubectl prints.
func ServeAttach(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) {
	serve(w, r, opts, run)
}

func serve(w http.ResponseWriter, r *http.Request, opts Options, run RunFunc) {
	w = hijackable{w}
	if opts.Tty {
		opts.Stderr = false
	}
	switch {
	case isWebSocket(r):
		serveWebSocket(w, r, opts, run)
	case isSPDY(r):
		serveSPDY(w, r, opts, run)
	default:
		WriteStatus(w, apierrors.NewBadRequest("Upgrade request required"))
	}
}

func headerHas(r *http.Request, name, token string) bool {
	for _, v := range r.Header.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func isWebSocket(r *http.Request) bool {
	return headerHas(r, "Connection", "upgrade") && headerHas(r, "Upgrade", "websocket")
}

func isSPDY(r *http.Request) bool {
	return headerHas(r, "Connection", "upgrade") && headerHas(r, "Upgrade", "SPDY/3.1")
}

// WriteStatus answers a request that was not upgraded with err as a
// metav1.Status JSON (an *apierrors.StatusError keeps its code and reason;
// anything else is an InternalError).
func WriteStatus(w http.ResponseWriter, err error) {
	st := toStatus(err)
	b, merr := codec.MarshalJSON(st)
	if merr != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	code := int(st.GetCode())
	if code == 0 {
		code = http.StatusInternalServerError
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func toStatus(err error) *metav1.Status {
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.Status != nil {
		return se.Status
	}
	return apierrors.NewInternal(err).Status
}

// Reason and cause type of a non-zero exit, which client-go turns into an
// exec.CodeExitError.
const (
	reasonNonZeroExitCode = "NonZeroExitCode"
	causeExitCode         = "ExitCode"
)

// sessionStatus is the outcome of a session as the error channel reports
// it in protocols v4 and later: nil error and code 0 is Success.
func sessionStatus(code int, err error) *metav1.Status {
	switch {
	case err != nil:
		var se *apierrors.StatusError
		if errors.As(err, &se) && se.Status != nil {
			return se.Status
		}
		return &metav1.Status{Status: "Failure", Reason: apierrors.ReasonInternal, Code: 500, Message: err.Error()}
	case code == 0:
		return &metav1.Status{Status: "Success"}
	case code < 0 || code > 255:
		// client-go reads exit codes as one byte; anything else cannot be
		// passed through.
		return &metav1.Status{Status: "Failure", Reason: "InternalError", Code: 500,
			Message: fmt.Sprintf("command terminated with exit code %d", code)}
	default:
		return &metav1.Status{
			Status:  "Failure",
			Reason:  reasonNonZeroExitCode,
			Message: fmt.Sprintf("command terminated with non-zero exit code: %d", code),
			Details: &metav1.StatusDetails{Causes: []*metav1.StatusCause{{Reason: causeExitCode, Message: fmt.Sprint(code)}}},
		}
	}
}

// statusBytes encodes a session's outcome for the error channel of the
// negotiated protocol: Status JSON for v4 and later, the bare message (and
// nothing on success) before.
func statusBytes(protocol string, code int, err error) []byte {
	st := sessionStatus(code, err)
	switch protocol {
	case ProtocolV5, ProtocolV4, ProtocolV4Base64:
		b, merr := codec.MarshalJSON(st)
		if merr != nil {
			return []byte(`{"status":"Failure","message":"cannot encode the command's status"}`)
		}
		return b
	}
	if st.GetStatus() == "Success" {
		return nil
	}
	return []byte(st.GetMessage())
}

// lockedWriter serialises writes of several goroutines to one stream.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runSession calls run, recovering a panic into an error so one broken
// session cannot take the server down.
func runSession(ctx context.Context, run RunFunc, s Streams) (code int, err error) {
	defer func() {
		if p := recover(); p != nil {
			slog.Error("remote command panicked", "panic", p)
			code, err = 0, fmt.Errorf("internal error: %v", p)
		}
	}()
	return run(ctx, s)
}

// sendResize delivers a size without blocking the reader: when the run
// function is behind, the oldest pending size is dropped, since only the
// latest matters.
func sendResize(ch chan TermSize, sz TermSize) {
	for {
		select {
		case ch <- sz:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// hijackable lets the upgraders take over the connection through
// middleware that wraps the ResponseWriter (http.ResponseController finds
// the Hijacker through Unwrap), and clears the deadlines the HTTP server
// set for ordinary requests, which would cut a long session.
type hijackable struct{ http.ResponseWriter }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		_ = c.SetDeadline(time.Time{})
	}
	return c, brw, err
}

func (h hijackable) Unwrap() http.ResponseWriter { return h.ResponseWriter }
