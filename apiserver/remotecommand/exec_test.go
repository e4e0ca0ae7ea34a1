package remotecommand

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

// fakeRun is a command interpreter for tests. Its command names what it does:
//
//	echo:     copy stdin upper-cased to stdout, "err" to stderr, exit 0
//	exit N:   write "bye" to stdout and exit N
//	fail MSG: return an error with MSG
//	slow:     print "late" after the server's request timeouts
//	size:     print each terminal size until the resize channel closes
//	          or two sizes arrived
func fakeRun(cmd []string) RunFunc {
	return func(ctx context.Context, s Streams) (int, error) {
		switch cmd[0] {
		case "echo":
			if s.Stdin != nil {
				b, err := io.ReadAll(s.Stdin)
				if err != nil {
					return 0, err
				}
				_, _ = s.Stdout.Write(bytes.ToUpper(b))
			}
			_, _ = s.Stderr.Write([]byte("err"))
			return 0, nil
		case "exit":
			n, _ := strconv.Atoi(cmd[1])
			_, _ = s.Stdout.Write([]byte("bye"))
			return n, nil
		case "fail":
			return 0, errors.New(cmd[1])
		case "slow":
			time.Sleep(700 * time.Millisecond)
			_, _ = s.Stdout.Write([]byte("late"))
			return 0, nil
		case "size":
			n := 0
			for sz := range s.Resize {
				fmt.Fprintf(s.Stdout, "%dx%d\n", sz.Width, sz.Height)
				if n++; n == 2 {
					break
				}
			}
			return 0, nil
		}
		return 127, nil
	}
}

func execServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts, err := ParseOptions(r.URL.Query())
		if err != nil {
			WriteStatus(w, err)
			return
		}
		ServeExec(middleware{w}, r, opts, fakeRun(opts.Command))
	}))
	// Timeouts for ordinary requests must not cut a session short (see
	// the "slow" command).
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// middleware wraps a ResponseWriter as logging or metrics middleware
// does: without Hijack of its own, only Unwrap.
type middleware struct{ http.ResponseWriter }

func (m middleware) Unwrap() http.ResponseWriter { return m.ResponseWriter }

func execURL(base string, cmd []string, stdin, stdout, stderr, tty bool) *url.URL {
	q := url.Values{"command": cmd}
	q.Set("stdin", strconv.FormatBool(stdin))
	q.Set("stdout", strconv.FormatBool(stdout))
	q.Set("stderr", strconv.FormatBool(stderr))
	q.Set("tty", strconv.FormatBool(tty))
	u, _ := url.Parse(base + "/exec?" + q.Encode())
	return u
}

// sizeQueue hands out fixed sizes, then blocks until the test ends.
type sizeQueue struct {
	mu    sync.Mutex
	sizes []remotecommand.TerminalSize
	done  chan struct{}
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	q.mu.Lock()
	if len(q.sizes) > 0 {
		sz := q.sizes[0]
		q.sizes = q.sizes[1:]
		q.mu.Unlock()
		return &sz
	}
	q.mu.Unlock()
	<-q.done
	return nil
}

type executorKind struct {
	name string
	new  func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error)
}

var executors = []executorKind{
	{"websocket-v5", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	}},
	{"spdy", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewSPDYExecutor(cfg, "POST", u)
	}},
	// kubectl's own choice: WebSocket first, SPDY if the upgrade fails.
	{"fallback", func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		if err != nil {
			return nil, err
		}
		sp, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
		if err != nil {
			return nil, err
		}
		return remotecommand.NewFallbackExecutor(ws, sp, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}},
}

func TestExecWithClientGo(t *testing.T) {
	srv := execServer(t)
	cfg := &rest.Config{Host: srv.URL}
	tests := []struct {
		name             string
		cmd              []string
		stdin            string
		useStdin, tty    bool
		sizes            []remotecommand.TerminalSize
		wantOut, wantErr string
		wantCode         int // a CodeExitError with this code
		wantErrMsg       string
	}{
		{name: "stdin stdout stderr", cmd: []string{"echo"}, stdin: "hello\nworld\n", useStdin: true, wantOut: "HELLO\nWORLD\n", wantErr: "err"},
		{name: "no stdin", cmd: []string{"echo"}, wantErr: "err"},
		{name: "large stdin", cmd: []string{"echo"}, stdin: strings.Repeat("abcdefgh", 50000), useStdin: true, wantOut: strings.Repeat("ABCDEFGH", 50000), wantErr: "err"},
		{name: "exit code 3", cmd: []string{"exit", "3"}, wantOut: "bye", wantCode: 3},
		{name: "exit code 0", cmd: []string{"exit", "0"}, wantOut: "bye"},
		{name: "slow", cmd: []string{"slow"}, wantOut: "late"},
		{name: "run error", cmd: []string{"fail", `exec: "nope": executable file not found in $PATH`}, wantErrMsg: `exec: "nope": executable file not found in $PATH`},
		{name: "tty resize", cmd: []string{"size"}, tty: true, sizes: []remotecommand.TerminalSize{{Width: 80, Height: 24}, {Width: 132, Height: 50}}, wantOut: "80x24\n132x50\n"},
	}
	for _, ex := range executors {
		for _, tc := range tests {
			t.Run(ex.name+"/"+tc.name, func(t *testing.T) {
				u := execURL(srv.URL, tc.cmd, tc.useStdin, true, !tc.tty, tc.tty)
				e, err := ex.new(cfg, u)
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tc.tty}
				if !tc.tty {
					opts.Stderr = &stderr
				}
				if tc.useStdin {
					opts.Stdin = strings.NewReader(tc.stdin)
				}
				if tc.sizes != nil {
					q := &sizeQueue{sizes: tc.sizes, done: make(chan struct{})}
					defer close(q.done)
					opts.TerminalSizeQueue = q
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err = e.StreamWithContext(ctx, opts)
				switch {
				case tc.wantCode != 0:
					var ce exec.CodeExitError
					if !errors.As(err, &ce) || ce.Code != tc.wantCode {
						t.Fatalf("err = %v (%T), want a CodeExitError with code %d", err, err, tc.wantCode)
					}
				case tc.wantErrMsg != "":
					if err == nil || err.Error() != tc.wantErrMsg {
						t.Fatalf("err = %v, want %q", err, tc.wantErrMsg)
					}
				case err != nil:
					t.Fatalf("stream: %v", err)
				}
				if stdout.String() != tc.wantOut {
					t.Errorf("stdout = %.80q, want %.80q", stdout.String(), tc.wantOut)
				}
				if stderr.String() != tc.wantErr {
					t.Errorf("stderr = %q, want %q", stderr.String(), tc.wantErr)
				}
			})
		}
	}
}

// Older WebSocket protocols: v4 reports a Status; channel.k8s.io has no
// exit codes (and client-go's v1 client does not wait for the error
// channel, so only a success is checked).
func TestExecOlderWebSocketProtocols(t *testing.T) {
	srv := execServer(t)
	cfg := &rest.Config{Host: srv.URL}
	for _, tc := range []struct {
		protocol         string
		cmd              []string
		wantOut, wantErr string
		check            func(t *testing.T, err error)
	}{
		{"v4.channel.k8s.io", []string{"exit", "3"}, "bye", "", func(t *testing.T, err error) {
			var ce exec.CodeExitError
			if !errors.As(err, &ce) || ce.Code != 3 {
				t.Fatalf("err = %v, want exit code 3", err)
			}
		}},
		{"channel.k8s.io", []string{"echo"}, "", "err", func(t *testing.T, err error) {
			if err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			u := execURL(srv.URL, tc.cmd, false, true, true, false)
			e, err := remotecommand.NewWebSocketExecutorForProtocols(cfg, "GET", u.String(), tc.protocol)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = e.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
			tc.check(t, err)
			if stdout.String() != tc.wantOut || stderr.String() != tc.wantErr {
				t.Errorf("stdout, stderr = %q, %q; want %q, %q", stdout.String(), stderr.String(), tc.wantOut, tc.wantErr)
			}
		})
	}
}

func TestExecRefusals(t *testing.T) {
	srv := execServer(t)
	for _, tc := range []struct {
		name, query string
		header      http.Header
		wantCode    int
		wantMsg     string
	}{
		{"no stream", "command=ls", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, 400, "you must specify at least 1 of stdin, stdout, stderr"},
		{"no command", "stdout=true", nil, 400, "you must specify at least one command for the container"},
		{"not an upgrade", "command=ls&stdout=true", nil, 400, "Upgrade request required"},
		{"unknown subprotocol", "command=ls&stdout=true", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
			"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v9.channel.k8s.io"}}, 400, "requested protocol(s) are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/exec?"+tc.query, nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var st struct {
				Kind, Status, Message, Reason string
				Code                          int
			}
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if resp.StatusCode != tc.wantCode || st.Code != tc.wantCode || st.Kind != "Status" || st.Status != "Failure" || !strings.Contains(st.Message, tc.wantMsg) {
				t.Errorf("got %d %+v, want %d with %q", resp.StatusCode, st, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// base64.channel.k8s.io: text messages, an ASCII channel digit and base64.
func TestExecBase64WebSocket(t *testing.T) {
	srv := execServer(t)
	u := execURL("ws"+strings.TrimPrefix(srv.URL, "http"), []string{"exit", "3"}, false, true, false, false)
	d := websocket.Dialer{Subprotocols: []string{ProtocolV1Base64}}
	ws, _, err := d.Dial(u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if ws.Subprotocol() != ProtocolV1Base64 {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []string
	for {
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("read: %v", err)
			}
			break
		}
		if typ != websocket.TextMessage {
			t.Fatalf("message type %d", typ)
		}
		b, err := base64.StdEncoding.DecodeString(string(msg[1:]))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(msg[0])+":"+string(b))
	}
	want := []string{"1:", "1:bye", "3:command terminated with non-zero exit code: 3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}

// Attach uses exec's framing; a runtime that cannot attach says so and
// kubectl prints it.
func TestAttach(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opts, err := ParseAttachOptions(r.URL.Query())
		if err != nil {
			WriteStatus(w, err)
			return
		}
		ServeAttach(w, r, opts, func(ctx context.Context, s Streams) (int, error) {
			if r.URL.Query().Get("container") == "none" {
				return 0, errors.New("attach is not supported by this kubelet")
			}
			_, _ = s.Stdout.Write([]byte("attached"))
			return 0, nil
		})
	}))
	defer srv.Close()
	for _, tc := range []struct{ container, wantOut, wantErr string }{
		{"app", "attached", ""},
		{"none", "", "attach is not supported by this kubelet"},
	} {
		t.Run(tc.container, func(t *testing.T) {
			e, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: srv.URL}, "GET", srv.URL+"/attach?stdout=true&container="+tc.container)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = e.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &out})
			if (err == nil && tc.wantErr != "") || (err != nil && err.Error() != tc.wantErr) || out.String() != tc.wantOut {
				t.Errorf("got %q, %v; want %q, %q", out.String(), err, tc.wantOut, tc.wantErr)
			}
		})
	}
}
