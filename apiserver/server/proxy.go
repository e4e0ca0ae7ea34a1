package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	apierrors "minik8s/api/errors"
	kubelet "minik8s/api/kubelet"
	"minik8s/api/rpc"
	"minik8s/apiserver/endpoints"
	"minik8s/apiserver/registry/core/pods"
)

// podTarget authorizes a pod subresource and resolves the pod's
// container and kubelet.
func (s *Server) podTarget(ctx context.Context, verb, subresource, ns, name, container string) (*pods.Target, error) {
	if _, err := s.cfg.API.Authorize(ctx, verb, endpoints.Target{Resource: "pods", Subresource: subresource, Namespace: ns, Name: name}); err != nil {
		return nil, err
	}
	return s.proxy().PodTarget(ctx, ns, name, container)
}

func (s *Server) proxy() *pods.Proxy { return &pods.Proxy{Store: s.cfg.Store, Kubelet: s.cfg.Kubelet} }

// PodLogs implements rpc.APIServer.
func (s *Server) PodLogs(req *rpc.PodLogsRequest, stream rpc.API_PodLogsServer) error {
	return apierrors.ToGRPC(s.podLogs(req, stream))
}

func (s *Server) podLogs(req *rpc.PodLogsRequest, stream rpc.API_PodLogsServer) error {
	ctx := stream.Context()
	pt, err := s.podTarget(ctx, "get", "log", req.Namespace, req.Name, req.Container)
	if err != nil {
		return err
	}
	body, err := kubelet.Logs(ctx, s.proxy().HTTPClient(), pt.Kubelet, req.Namespace, req.Name, pt.Container,
		kubelet.LogOptions{Follow: req.Follow, Previous: req.Previous, TailLines: req.TailLines})
	if err != nil {
		return pods.KubeletError(pt.Node, err)
	}
	defer body.Close()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if err := stream.Send(&rpc.Chunk{Data: buf[:n]}); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return nil // the client went away; nothing to report
			}
			return pods.KubeletError(pt.Node, rerr)
		}
	}
}

// NodeStats implements rpc.APIServer.
func (s *Server) NodeStats(ctx context.Context, req *rpc.NodeStatsRequest) (*rpc.Chunk, error) {
	out, err := s.nodeStats(ctx, req)
	return out, apierrors.ToGRPC(err)
}

func (s *Server) nodeStats(ctx context.Context, req *rpc.NodeStatsRequest) (*rpc.Chunk, error) {
	if _, err := s.cfg.API.Authorize(ctx, "get", endpoints.Target{Resource: "nodes", Subresource: "stats", Name: req.Name}); err != nil {
		return nil, err
	}
	base, err := s.proxy().KubeletFor(ctx, req.Name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/stats/summary", nil)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	resp, err := s.proxy().HTTPClient().Do(hreq)
	if err != nil {
		return nil, pods.KubeletError(req.Name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, pods.KubeletError(req.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, pods.KubeletError(req.Name, &kubelet.StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(data))})
	}
	return &rpc.Chunk{Data: data}, nil
}

// Exec implements rpc.APIServer.
func (s *Server) Exec(stream rpc.API_ExecServer) error {
	return apierrors.ToGRPC(s.exec(stream))
}

func (s *Server) exec(stream rpc.API_ExecServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return apierrors.NewBadRequest("exec: the first message must be start")
	}
	if len(start.Command) == 0 {
		return apierrors.NewBadRequest("exec: you must specify at least one command for the container")
	}
	pt, err := s.podTarget(ctx, "create", "exec", start.Namespace, start.Name, start.Container)
	if err != nil {
		return err
	}

	// Relay the client's stdin and resizes to the kubelet stream.
	var stdin io.Reader
	var stdinW *io.PipeWriter
	if start.Stdin {
		var r *io.PipeReader
		r, stdinW = io.Pipe()
		stdin = r
	}
	var resize chan kubelet.TermSize
	if start.Tty {
		resize = make(chan kubelet.TermSize, 4)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer func() {
			if stdinW != nil {
				stdinW.Close()
			}
		}()
		for {
			m, err := stream.Recv()
			if err != nil {
				// The client closed its side or went away: that ends the
				// command's input (the deferred close); a vanished client
				// also cancels the stream's context, which ends the exec.
				return
			}
			switch {
			case m.GetStdin() != nil && stdinW != nil:
				if _, err := stdinW.Write(m.GetStdin()); err != nil {
					return
				}
			case m.GetStdinClosed() && stdinW != nil:
				stdinW.Close()
				stdinW = nil
			case m.GetResize() != nil && resize != nil:
				sz := kubelet.TermSize{Width: uint16(m.GetResize().Width), Height: uint16(m.GetResize().Height)}
				select {
				case resize <- sz:
				default:
				}
			}
		}
	}()

	out := &execSender{stream: stream}
	opts := kubelet.ExecOptions{Stdin: stdin, Tty: start.Tty, Stdout: out.writer(true), Stderr: out.writer(false), TLS: s.proxy().TLS()}
	if resize != nil {
		opts.Resize = resize
	}
	code, err := kubelet.Exec(ctx, pt.Kubelet, start.Namespace, start.Name, pt.Container, start.Command, opts)
	exit := &rpc.ExecExit{Code: int32(code)}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		var ce *kubelet.CommandError
		if !errors.As(err, &ce) {
			// The kubelet refused or could not be reached: an API error.
			return pods.KubeletError(pt.Node, err)
		}
		exit = &rpc.ExecExit{Error: ce.Message}
	}
	return out.send(&rpc.ExecMessage{Msg: &rpc.ExecMessage_Exit{Exit: exit}})
}

// execSender sends the command's output. The kubelet client writes stdout
// and stderr from its one reading loop and the exit after it, so sends
// never overlap (a gRPC stream allows one sender at a time).
type execSender struct {
	stream rpc.API_ExecServer
}

func (e *execSender) send(m *rpc.ExecMessage) error { return e.stream.Send(m) }

type execWriter struct {
	e      *execSender
	stdout bool
}

func (e *execSender) writer(stdout bool) io.Writer { return execWriter{e: e, stdout: stdout} }

func (w execWriter) Write(p []byte) (int, error) {
	data := append([]byte(nil), p...)
	var m *rpc.ExecMessage
	if w.stdout {
		m = &rpc.ExecMessage{Msg: &rpc.ExecMessage_Stdout{Stdout: data}}
	} else {
		m = &rpc.ExecMessage{Msg: &rpc.ExecMessage_Stderr{Stderr: data}}
	}
	if err := w.e.send(m); err != nil {
		return 0, err
	}
	return len(p), nil
}
