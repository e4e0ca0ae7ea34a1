// Package kubelet is the kubelet server's wire contract and its client: the
// exec and port-forward stream protocols (both ends use them, the kubelet
// serving and the apiserver's proxy calling), container logs and the stats
// summary. It lives in api/ so the apiserver, minictl and the autoscaler
// reach a kubelet without importing the kubelet's packages.
package kubelet

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TermSize is a terminal size for an exec with a TTY.
type TermSize struct{ Width, Height uint16 }

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

const MaxFrame = 1 << 20

// FrameWriter writes frames to W; safe for concurrent use.
type FrameWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (fw *FrameWriter) Write(id byte, p []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	var hdr [5]byte
	hdr[0] = id
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := fw.W.Write(hdr[:]); err != nil {
		return err
	}
	_, err := fw.W.Write(p)
	return err
}

func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return hdr[0], p, err
}

// StreamWriter sends writes as frames of one stream.
type StreamWriter struct {
	FW *FrameWriter
	ID byte
}

func (s StreamWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += MaxFrame {
		end := min(off+MaxFrame, len(p))
		if err := s.FW.Write(s.ID, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// ExecOptions are the streams of a client-side Exec.
type ExecOptions struct {
	Stdin          io.Reader // nil: no stdin
	Stdout, Stderr io.Writer
	Tty            bool
	Resize         <-chan TermSize
	// Dial connects to the kubelet (default net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is the client TLS for an https kubelet URL (the apiserver's
	// client certificate and the CA of the kubelets' serving
	// certificates); nil uses the system roots and no certificate.
	TLS *tls.Config
}

// secure wraps conn in TLS for an https base URL and completes the
// handshake; an http URL leaves it plain.
func secure(ctx context.Context, conn net.Conn, u *url.URL, tc *tls.Config) (net.Conn, error) {
	if u.Scheme != "https" {
		return conn, nil
	}
	cfg := &tls.Config{}
	if tc != nil {
		cfg = tc.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	cfg.NextProtos = []string{"http/1.1"}
	t := tls.Client(conn, cfg)
	if err := t.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("kubelet %s: %w", u.Host, err)
	}
	return t, nil
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
	raw, err := dial(ctx, "tcp", u.Host)
	if err != nil {
		return 0, err
	}
	defer raw.Close()
	conn, err := secure(ctx, raw, u, o.TLS)
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
		return 0, &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	fw := &FrameWriter{W: conn}
	if o.Stdin != nil {
		go func() {
			_, _ = io.Copy(StreamWriter{FW: fw, ID: StreamStdin}, o.Stdin)
			_ = fw.Write(StreamStdin, nil)
		}()
	}
	if o.Resize != nil {
		go func() {
			for sz := range o.Resize {
				var p [4]byte
				binary.BigEndian.PutUint16(p[0:2], sz.Width)
				binary.BigEndian.PutUint16(p[2:4], sz.Height)
				if fw.Write(StreamResize, p[:]) != nil {
					return
				}
			}
		}()
	}
	for {
		id, p, err := ReadFrame(br)
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
				return 0, &CommandError{Message: e}
			}
			return strconv.Atoi(s)
		}
	}
}

// Summary is the /stats/summary document (a subset of Kubernetes').
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats is node-level usage.
type NodeStats struct {
	NodeName  string    `json:"nodeName"`
	StartTime time.Time `json:"startTime,omitempty"`
	CPU       *CPU      `json:"cpu,omitempty"`
	Memory    *Memory   `json:"memory,omitempty"`
}

// PodStats is one pod's usage.
type PodStats struct {
	PodRef     PodRef           `json:"podRef"`
	CPU        *CPU             `json:"cpu,omitempty"`
	Memory     *Memory          `json:"memory,omitempty"`
	Containers []ContainerStats `json:"containers"`
}

// PodRef names a pod.
type PodRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// ContainerStats is one container's usage.
type ContainerStats struct {
	Name      string    `json:"name"`
	StartTime time.Time `json:"startTime"`
	CPU       *CPU      `json:"cpu,omitempty"`
	Memory    *Memory   `json:"memory,omitempty"`
}

// CPU usage: a rate since the previous sample and the cumulative total.
type CPU struct {
	Time                 time.Time `json:"time"`
	UsageNanoCores       uint64    `json:"usageNanoCores"`
	UsageCoreNanoSeconds uint64    `json:"usageCoreNanoSeconds"`
}

// Memory usage.
type Memory struct {
	Time            time.Time `json:"time"`
	UsageBytes      uint64    `json:"usageBytes"`
	WorkingSetBytes uint64    `json:"workingSetBytes"`
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow    bool
	Previous  bool
	TailLines int64 // <= 0: all
}

// Logs opens a container's log at the kubelet server at base. The caller
// closes the body; with Follow it ends when ctx ends or the container's
// log stops.
func Logs(ctx context.Context, hc *http.Client, base, ns, pod, container string, o LogOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.Previous {
		q.Set("previous", "true")
	}
	if o.TailLines > 0 {
		q.Set("tailLines", strconv.FormatInt(o.TailLines, 10))
	}
	u := fmt.Sprintf("%s/containerLogs/%s/%s/%s?%s", strings.TrimSuffix(base, "/"), url.PathEscape(ns), url.PathEscape(pod), url.PathEscape(container), q.Encode())
	resp, err := get(ctx, hc, u)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// GetSummary reads the kubelet's /stats/summary.
func GetSummary(ctx context.Context, hc *http.Client, base string) (*Summary, error) {
	resp, err := get(ctx, hc, strings.TrimSuffix(base, "/")+"/stats/summary")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s Summary
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("stats summary from %s: %w", base, err)
	}
	return &s, nil
}

// get issues a GET and turns a non-200 answer into an error carrying the
// kubelet's one-line message.
func get(ctx context.Context, hc *http.Client, u string) (*http.Response, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	return resp, nil
}

// StatusError is a kubelet answer other than 200: NotFound for a pod or
// container it does not run, BadRequest for a bad query.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// CommandError is the kubelet's report that the command could not run in
// the container (no such executable, container stopped).
type CommandError struct{ Message string }

func (e *CommandError) Error() string { return e.Message }

// PortForwardProtocol is the Upgrade token of the kubelet's port-forward
// endpoint: after the 101 answer the connection is a plain TCP stream to
// the pod's port.
const PortForwardProtocol = "minik8s-portforward/1"

// PortForward connects to port of a pod through the kubelet server at base
// ("http://10.0.0.1:10250"), which dials the pod's IP from the node's
// network. ctx bounds the setup only; the connection lives until closed.
// It supports CloseWrite, passed on to the pod as a half-close. A refusal
// is a *StatusError: 404 for a pod the kubelet does not run, 502 when the
// port does not answer.
func PortForward(ctx context.Context, base, ns, pod string, port int32, tc *tls.Config) (net.Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("port-forward: kubelet URL %s: want http or https", base)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	conn, err := secure(ctx, raw, u, tc)
	if err != nil {
		raw.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	nc, err := portForwardHandshake(conn, u.Host, ns, pod, port)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return nc, nil
}

func portForwardHandshake(conn net.Conn, host, ns, pod string, port int32) (net.Conn, error) {
	path := fmt.Sprintf("/portForward/%s/%s?port=%d", url.PathEscape(ns), url.PathEscape(pod), port)
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\nContent-Length: 0\r\n\r\n", path, host, PortForwardProtocol)
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	return &upgradedConn{Conn: conn, r: br}, nil
}

// upgradedConn reads what the handshake's reader buffered before the
// connection itself.
type upgradedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *upgradedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the connection: the pod's port reads EOF.
func (c *upgradedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
