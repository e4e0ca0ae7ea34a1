package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"minik8s/kubelet/runtime"
)

// StreamProtocol is the Upgrade token of the exec stream. After the 101
// answer both sides exchange frames: one byte of stream ID, a big-endian
// uint32 length, then the payload.
//
//	client -> kubelet: StreamStdin (empty payload = EOF), StreamResize
//	                   (two big-endian uint16: width, height)
//	kubelet -> client: StreamStdout, StreamStderr, then one StreamExit whose
//	                   payload is the decimal exit code or "error: <text>";
//	                   the kubelet closes the connection after it.
const StreamProtocol = "minik8s-exec/1"

// Stream IDs.
const (
	StreamStdin  byte = 0
	StreamStdout byte = 1
	StreamStderr byte = 2
	StreamResize byte = 3
	StreamExit   byte = 4
)

const maxFrame = 1 << 20

// writeFrame writes one frame; safe for concurrent use through fw.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (fw *frameWriter) write(id byte, p []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var hdr [5]byte
	hdr[0] = id
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := fw.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := fw.w.Write(p)
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return hdr[0], p, err
}

// streamWriter sends writes as frames of one stream.
type streamWriter struct {
	fw *frameWriter
	id byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += maxFrame {
		end := min(off+maxFrame, len(p))
		if err := s.fw.write(s.id, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// serveStream runs cmd in the container, relaying frames on conn.
func serveStream(ctx context.Context, conn net.Conn, in *bufio.Reader, rt runtime.Runtime, id string, cmd []string, stdin, tty bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fw := &frameWriter{w: conn}
	var stdinR io.Reader
	var pw *io.PipeWriter
	if stdin {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		stdinR = pr
	}
	resize := make(chan runtime.TermSize, 4)
	go func() {
		defer func() {
			if pw != nil {
				pw.Close()
			}
		}()
		for {
			sid, p, err := readFrame(in)
			if err != nil {
				if !stdin {
					// Without stdin, a closed client connection ends the exec.
					cancel()
				}
				return
			}
			switch sid {
			case StreamStdin:
				if pw == nil {
					continue
				}
				if len(p) == 0 {
					pw.Close()
					pw = nil
					continue
				}
				if _, err := pw.Write(p); err != nil {
					return
				}
			case StreamResize:
				if len(p) == 4 {
					select {
					case resize <- runtime.TermSize{Width: binary.BigEndian.Uint16(p[0:2]), Height: binary.BigEndian.Uint16(p[2:4])}:
					default:
					}
				}
			}
		}
	}()
	opts := runtime.ExecOptions{Cmd: cmd, Tty: tty, Stdin: stdinR, Stdout: streamWriter{fw, StreamStdout}, Resize: resize}
	if !tty {
		opts.Stderr = streamWriter{fw, StreamStderr}
	}
	code, err := rt.Exec(ctx, id, opts)
	msg := strconv.Itoa(code)
	if err != nil {
		msg = "error: " + err.Error()
	}
	_ = fw.write(StreamExit, []byte(msg))
}

// ExecOptions are the streams of a client-side Exec.
type ExecOptions struct {
	Stdin          io.Reader // nil: no stdin
	Stdout, Stderr io.Writer
	Tty            bool
	Resize         <-chan runtime.TermSize
	// Dial connects to the kubelet (default net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Exec runs cmd in a container through the kubelet server at base
// ("http://10.0.0.1:10250") and returns the exit code. minictl exec (via
// the apiserver's proxy) speaks the same protocol.
func Exec(ctx context.Context, base, ns, pod, container string, cmd []string, o ExecOptions) (int, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, err
	}
	q := url.Values{"command": cmd}
	if o.Stdin != nil {
		q.Set("stdin", "true")
	}
	if o.Tty {
		q.Set("tty", "true")
	}
	path := fmt.Sprintf("/exec/%s/%s/%s?%s", url.PathEscape(ns), url.PathEscape(pod), url.PathEscape(container), q.Encode())
	dial := o.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", u.Host)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\nContent-Length: 0\r\n\r\n", path, u.Host, StreamProtocol)
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("exec: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fw := &frameWriter{w: conn}
	if o.Stdin != nil {
		go func() {
			_, _ = io.Copy(streamWriter{fw, StreamStdin}, o.Stdin)
			_ = fw.write(StreamStdin, nil)
		}()
	}
	if o.Resize != nil {
		go func() {
			for sz := range o.Resize {
				var p [4]byte
				binary.BigEndian.PutUint16(p[0:2], sz.Width)
				binary.BigEndian.PutUint16(p[2:4], sz.Height)
				if fw.write(StreamResize, p[:]) != nil {
					return
				}
			}
		}()
	}
	for {
		id, p, err := readFrame(br)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("exec stream: %w", err)
		}
		switch id {
		case StreamStdout:
			if o.Stdout != nil {
				_, _ = o.Stdout.Write(p)
			}
		case StreamStderr:
			if o.Stderr != nil {
				_, _ = o.Stderr.Write(p)
			}
		case StreamExit:
			s := string(p)
			if e, ok := strings.CutPrefix(s, "error: "); ok {
				return 0, errors.New(e)
			}
			return strconv.Atoi(s)
		}
	}
}
