package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"

	kubeletapi "minik8s/api/kubelet"
	"minik8s/kubelet/runtime"
)

// serveStream runs cmd in the container, relaying frames on conn.
func serveStream(ctx context.Context, conn net.Conn, in *bufio.Reader, rt runtime.Runtime, id string, cmd []string, stdin, tty bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fw := &kubeletapi.FrameWriter{W: conn}
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
			sid, p, err := kubeletapi.ReadFrame(in)
			if err != nil {
				if !stdin {
					// Without stdin, a closed client connection ends the exec.
					cancel()
				}
				return
			}
			switch sid {
			case kubeletapi.StreamStdin:
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
			case kubeletapi.StreamResize:
				if len(p) == 4 {
					select {
					case resize <- runtime.TermSize{Width: binary.BigEndian.Uint16(p[0:2]), Height: binary.BigEndian.Uint16(p[2:4])}:
					default:
					}
				}
			}
		}
	}()
	opts := runtime.ExecOptions{Cmd: cmd, Tty: tty, Stdin: stdinR, Stdout: kubeletapi.StreamWriter{FW: fw, ID: kubeletapi.StreamStdout}, Resize: resize}
	if !tty {
		opts.Stderr = kubeletapi.StreamWriter{FW: fw, ID: kubeletapi.StreamStderr}
	}
	code, err := rt.Exec(ctx, id, opts)
	msg := strconv.Itoa(code)
	if err != nil {
		msg = "error: " + err.Error()
	}
	_ = fw.Write(kubeletapi.StreamExit, []byte(msg))
}
