package client

import (
	"context"
	"errors"
	"io"

	apierrors "minik8s/api/errors"
	"minik8s/api/rpc"
)

// PodLogs copies a container's log to w (through the apiserver's proxy
// to the pod's kubelet). With req.Follow it returns when ctx ends or the
// log stops.
func (c *Client) PodLogs(ctx context.Context, req *rpc.PodLogsRequest, w io.Writer) error {
	stream, err := c.api.PodLogs(ctx, req)
	if err != nil {
		return apierrors.FromGRPC(err)
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return apierrors.FromGRPC(err)
		}
		if _, err := w.Write(chunk.Data); err != nil {
			return err
		}
	}
}

// TermSize is a terminal size for an exec with a TTY.
type TermSize struct{ Width, Height uint32 }

// ExecStreams are the local ends of an exec.
type ExecStreams struct {
	Stdin          io.Reader // nil: the command gets no stdin
	Stdout, Stderr io.Writer
	Resize         <-chan TermSize
}

// ExecError is a command that could not run in the container (as opposed
// to one that ran and exited non-zero, which is an exit code).
type ExecError struct{ Message string }

func (e *ExecError) Error() string { return e.Message }

// Exec runs start.Command in a container and returns its exit code.
func (c *Client) Exec(ctx context.Context, start *rpc.ExecStart, s ExecStreams) (int, error) {
	start.Stdin = s.Stdin != nil
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Exec(ctx)
	if err != nil {
		return 0, apierrors.FromGRPC(err)
	}
	if err := stream.Send(&rpc.ExecMessage{Msg: &rpc.ExecMessage_Start{Start: start}}); err != nil {
		return 0, execRecvErr(stream)
	}
	// One goroutine sends (stdin, then resizes): a gRPC stream allows one
	// sender at a time.
	go func() {
		if s.Stdin != nil {
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Stdin.Read(buf)
				if n > 0 {
					if stream.Send(&rpc.ExecMessage{Msg: &rpc.ExecMessage_Stdin{Stdin: append([]byte(nil), buf[:n]...)}}) != nil {
						return
					}
				}
				if err != nil {
					break
				}
			}
			if stream.Send(&rpc.ExecMessage{Msg: &rpc.ExecMessage_StdinClosed{StdinClosed: true}}) != nil {
				return
			}
		}
		if s.Resize == nil {
			_ = stream.CloseSend()
			return
		}
		for {
			select {
			case sz, ok := <-s.Resize:
				if !ok {
					_ = stream.CloseSend()
					return
				}
				if stream.Send(&rpc.ExecMessage{Msg: &rpc.ExecMessage_Resize{Resize: &rpc.TerminalSize{Width: sz.Width, Height: sz.Height}}}) != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		m, err := stream.Recv()
		if err != nil {
			if err == io.EOF {
				return 0, errors.New("exec: the stream ended without an exit code")
			}
			return 0, apierrors.FromGRPC(err)
		}
		switch {
		case m.GetStdout() != nil && s.Stdout != nil:
			_, _ = s.Stdout.Write(m.GetStdout())
		case m.GetStderr() != nil && s.Stderr != nil:
			_, _ = s.Stderr.Write(m.GetStderr())
		case m.GetExit() != nil:
			if e := m.GetExit().GetError(); e != "" {
				return 0, &ExecError{Message: e}
			}
			return int(m.GetExit().GetCode()), nil
		}
	}
}

// execRecvErr reports why the server ended a stream whose Send failed.
func execRecvErr(stream rpc.API_ExecClient) error {
	_, err := stream.Recv()
	if err == nil || err == io.EOF {
		return errors.New("exec: the server closed the stream")
	}
	return apierrors.FromGRPC(err)
}

// NodeStats returns a node's kubelet stats summary document (JSON).
func (c *Client) NodeStats(ctx context.Context, node string) ([]byte, error) {
	chunk, err := c.api.NodeStats(ctx, &rpc.NodeStatsRequest{Name: node})
	if err != nil {
		return nil, apierrors.FromGRPC(err)
	}
	return chunk.Data, nil
}
