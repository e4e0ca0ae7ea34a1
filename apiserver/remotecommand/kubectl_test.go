package remotecommand

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRealKubectl drives the handlers with real kubectl binaries, listed
// in $MINIK8S_KUBECTL (space-separated paths; the test is skipped without
// it), e.g.
//
//	MINIK8S_KUBECTL="$(ls /usr/lib/google-cloud-sdk/bin/kubectl.1.*)" go test -run RealKubectl ./apiserver/remotecommand
//
// kubectl up to 1.29 speaks SPDY, 1.30 and later WebSockets for exec; port
// forwarding tunnels SPDY through a WebSocket from 1.31 on.
func TestRealKubectl(t *testing.T) {
	bins := strings.Fields(os.Getenv("MINIK8S_KUBECTL"))
	if len(bins) == 0 {
		t.Skip("set MINIK8S_KUBECTL to kubectl binaries to run")
	}
	echo := echoServer(t)
	srv := httptest.NewServer(fakeAPIServer(echo.Addr().String()))
	defer srv.Close()

	for _, bin := range bins {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			kubectl := func(stdin string, args ...string) (string, string, int) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := osexec.CommandContext(ctx, bin, append([]string{"-s", srv.URL}, args...)...)
				var stdout, stderr bytes.Buffer
				cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
				err := cmd.Run()
				var ee *osexec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatalf("kubectl %v: %v", args, err)
				}
				return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
			}
			if out, errOut, rc := kubectl("hello\n", "exec", "-i", "web", "--", "echo"); rc != 0 || out != "HELLO\n" || errOut != "err" {
				t.Errorf("exec -i: rc %d, stdout %q, stderr %q", rc, out, errOut)
			}
			if out, errOut, rc := kubectl("", "exec", "web", "--", "exit", "3"); rc != 3 || out != "bye" || !strings.Contains(errOut, "command terminated with exit code 3") {
				t.Errorf("exit 3: rc %d, stdout %q, stderr %q", rc, out, errOut)
			}
			if _, errOut, rc := kubectl("", "exec", "web", "--", "fail", "no such file"); rc != 1 || errOut != "error: no such file\n" {
				t.Errorf("fail: rc %d, stderr %q", rc, errOut)
			}
			t.Run("port-forward", func(t *testing.T) { kubectlPortForward(t, bin, srv.URL) })
		})
	}
}

func kubectlPortForward(t *testing.T, bin, server string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := osexec.CommandContext(ctx, bin, "-s", server, "port-forward", "--address", "127.0.0.1", "pod/web", ":80")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 80`)
	sc := bufio.NewScanner(out)
	var port string
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			port = m[1]
			break
		}
	}
	if port == "" {
		t.Fatal("kubectl port-forward printed no local port")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	for i := range 2 {
		msg := fmt.Sprintf("hello %d through kubectl", i)
		var p uint16
		fmt.Sscan(port, &p)
		if got := roundTrip(t, p, msg); got != msg {
			t.Errorf("echo %d: %q, want %q", i, got, msg)
		}
	}
}

// fakeAPIServer serves what kubectl exec and port-forward read: discovery,
// one running pod default/web, and its exec and portforward subresources
// (the run functions of fakeRun; port 80 dials echoAddr).
func fakeAPIServer(echoAddr string) http.Handler {
	mux := http.NewServeMux()
	js := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, body)
		}
	}
	mux.Handle("/api", js(`{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`))
	mux.Handle("/apis", js(`{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`))
	mux.Handle("/api/v1", js(`{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"]},{"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]},{"name":"pods/portforward","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create","get"]}]}`))
	mux.Handle("/api/v1/namespaces/default/pods/web", js(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"containers":[{"name":"app","image":"x"}]},"status":{"phase":"Running","podIP":"127.0.0.1"}}`))
	mux.HandleFunc("/api/v1/namespaces/default/pods/web/exec", func(w http.ResponseWriter, r *http.Request) {
		opts, err := ParseOptions(r.URL.Query())
		if err != nil {
			WriteStatus(w, err)
			return
		}
		ServeExec(w, r, opts, fakeRun(opts.Command))
	})
	mux.HandleFunc("/api/v1/namespaces/default/pods/web/portforward", func(w http.ResponseWriter, r *http.Request) {
		ServePortForward(w, r, func(ctx context.Context, port int32) (net.Conn, error) {
			if port != 80 {
				return nil, fmt.Errorf("dial tcp 127.0.0.1:%d: connect: connection refused", port)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", echoAddr)
		})
	})
	return mux
}
