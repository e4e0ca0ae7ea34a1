package remotecommand

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

// echoServer answers every connection with what it reads, until the
// client half-closes.
func echoServer(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln
}

type dialerKind struct {
	name string
	new  func(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error)
}

var pfDialers = []dialerKind{
	{"websocket-tunnel", func(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error) {
		return portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	}},
	{"spdy", func(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error) {
		tr, up, err := spdy.RoundTripperFor(cfg)
		if err != nil {
			return nil, err
		}
		return spdy.NewDialerForStreaming(up, &http.Client{Transport: tr}, "POST", u), nil
	}},
}

// forwardOne starts a port forwarder of remote port 80 through the
// dialer and returns the local port.
func forwardOne(t *testing.T, d httpstream.Dialer) (local uint16, done <-chan error) {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	// client-go writes its "Handling connection" lines from one goroutine
	// per connection: discard them.
	pf, err := portforward.NewOnAddressesForStreaming(d, []string{"127.0.0.1"}, []string{"0:80"}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc, finished := make(chan error, 1), make(chan struct{})
	go func() {
		errc <- pf.ForwardPorts()
		close(finished)
	}()
	t.Cleanup(func() { close(stop); <-finished })
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("ForwardPorts: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port forwarder not ready")
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("ports %v, %v", ports, err)
	}
	return ports[0].Local, errc
}

func TestPortForwardWithClientGo(t *testing.T) {
	echo := echoServer(t)
	var dialed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ServePortForward(w, r, func(ctx context.Context, port int32) (net.Conn, error) {
			dialed.Store(port)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", echo.Addr().String())
		})
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	u, _ := url.Parse(srv.URL + "/api/v1/namespaces/default/pods/web/portforward")

	for _, dk := range pfDialers {
		t.Run(dk.name, func(t *testing.T) {
			d, err := dk.new(cfg, u)
			if err != nil {
				t.Fatal(err)
			}
			local, _ := forwardOne(t, d)
			// Several connections, one after the other and two at once.
			for i := range 3 {
				msg := strings.Repeat(fmt.Sprintf("hello %d ", i), 10000)
				if got := roundTrip(t, local, msg); got != msg {
					t.Fatalf("echo %d: got %d bytes, want %d", i, len(got), len(msg))
				}
			}
			res := make(chan string, 2)
			for i := range 2 {
				go func() { res <- roundTrip(t, local, fmt.Sprint("parallel ", i)) }()
			}
			got := []string{<-res, <-res}
			if !(got[0] == "parallel 0" && got[1] == "parallel 1" || got[0] == "parallel 1" && got[1] == "parallel 0") {
				t.Errorf("parallel echoes %q", got)
			}
			if dialed.Load() != 80 {
				t.Errorf("dialed port %d, want 80", dialed.Load())
			}
		})
	}
}

// roundTrip sends msg, half-closes and reads the answer to the end.
func roundTrip(t *testing.T, port uint16, msg string) string {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = io.WriteString(c, msg)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Error(err)
	}
	return string(b)
}

// A failed dial reaches the client's error stream; kubectl then ends the
// session (client-go closes the connection on any forwarding error).
func TestPortForwardDialError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ServePortForward(w, r, func(ctx context.Context, port int32) (net.Conn, error) {
			return nil, fmt.Errorf("connection refused")
		})
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	u, _ := url.Parse(srv.URL + "/portforward")
	for _, dk := range pfDialers {
		t.Run(dk.name, func(t *testing.T) {
			d, err := dk.new(cfg, u)
			if err != nil {
				t.Fatal(err)
			}
			local, done := forwardOne(t, d)
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if b, _ := io.ReadAll(c); len(b) != 0 {
				t.Errorf("read %q from a failed forward", b)
			}
			select {
			case err := <-done:
				if err != portforward.ErrLostConnectionToPod {
					t.Errorf("ForwardPorts = %v, want ErrLostConnectionToPod", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the forwarder kept running after the error")
			}
		})
	}
}

func TestPortForwardNotUpgrade(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ServePortForward(w, r, nil)
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}
