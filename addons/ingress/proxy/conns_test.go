package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingBackend answers every request with its path and counts the
// connections it accepted.
func countingBackend(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &n
}

func proxyTo(t *testing.T, be string) (*Proxy, string) {
	t.Helper()
	p, front := newProxy(t)
	p.Swap(cluster{hosts: map[string]string{"c.test": "svc"}, endpoints: map[string][]string{"svc": {be}}}.table(t))
	return p, front.URL
}

// TestConns covers the proxy's own keep-alive transport.
func TestConns(t *testing.T) {
	t.Run("keep-alive: one connection for sequential requests", func(t *testing.T) {
		be, conns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/empty":
				w.Header().Set("Content-Length", "0")
			case "/chunked":
				w.(http.Flusher).Flush()
				fmt.Fprint(w, "chunk")
			default:
				fmt.Fprint(w, r.URL.Path)
			}
		})
		_, url := proxyTo(t, addr(be))
		c := &http.Client{}
		for i := range 30 {
			path := []string{"/a", "/empty", "/chunked"}[i%3]
			code, body, _ := get(t, c, url+path, "c.test")
			want := map[string]string{"/a": "/a", "/empty": "", "/chunked": "chunk"}[path]
			if code != 200 || body != want {
				t.Fatalf("GET %s: %d %q, want %q", path, code, body, want)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("%d backend connections for 30 sequential requests, want 1", n)
		}
	})

	t.Run("a pooled connection closed by the endpoint is replaced", func(t *testing.T) {
		be, conns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
		p, url := proxyTo(t, addr(be))
		c := &http.Client{}
		if code, body, _ := get(t, c, url+"/", "c.test"); code != 200 || body != "ok" {
			t.Fatalf("first: %d %q", code, body)
		}
		// The backend drops its idle connections (an idle timeout).
		be.Config.SetKeepAlivesEnabled(false)
		be.CloseClientConnections()
		be.Config.SetKeepAlivesEnabled(true)
		time.Sleep(50 * time.Millisecond)
		if code, body, _ := get(t, c, url+"/", "c.test"); code != 200 || body != "ok" {
			t.Errorf("after the backend closed the pooled connection: %d %q", code, body)
		}
		if n := conns.Load(); n != 2 {
			t.Errorf("%d backend connections, want 2", n)
		}
		if r := metric(t, p, "ingress_upstream_retries_total"); r != 0 {
			t.Errorf("%v retries on another endpoint, want 0 (the same endpoint, a new connection)", r)
		}
	})

	t.Run("idle connections are closed after the idle timeout", func(t *testing.T) {
		closed := make(chan struct{}, 1)
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
		s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				closed <- struct{}{}
			}
		}
		s.Start()
		t.Cleanup(s.Close)
		p, err := New(Options{ConnectTimeout: time.Second, IdleConnTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		front := httptest.NewServer(p)
		t.Cleanup(func() { front.Close(); p.CloseIdleConnections() })
		p.Swap(cluster{hosts: map[string]string{"c.test": "svc"}, endpoints: map[string][]string{"svc": {addr(s)}}}.table(t))
		if code, _, _ := get(t, &http.Client{}, front.URL+"/", "c.test"); code != 200 {
			t.Fatalf("%d", code)
		}
		select {
		case <-closed:
		case <-time.After(3 * time.Second):
			t.Error("the idle backend connection is still open after 3s (idle timeout 100ms)")
		}
	})

	t.Run("Connection: close is not pooled", func(t *testing.T) {
		be, conns := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		})
		_, url := proxyTo(t, addr(be))
		c := &http.Client{}
		for range 3 {
			if code, body, _ := get(t, c, url+"/", "c.test"); code != 200 || body != "bye" {
				t.Fatalf("%d %q", code, body)
			}
		}
		if n := conns.Load(); n != 3 {
			t.Errorf("%d backend connections, want 3", n)
		}
	})

	t.Run("1xx answers before the response are skipped", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		}()
		_, url := proxyTo(t, ln.Addr().String())
		if code, body, _ := get(t, &http.Client{}, url+"/", "c.test"); code != 200 || body != "hello" {
			t.Errorf("%d %q, want 200 hello", code, body)
		}
	})

	t.Run("a client leaving a stream closes the backend connection", func(t *testing.T) {
		gone := make(chan struct{})
		be, _ := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for {
				if _, err := fmt.Fprint(w, "data: tick\n\n"); err != nil {
					close(gone)
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					close(gone)
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
		_, url := proxyTo(t, addr(be))
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events", nil)
		req.Host = "c.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.Contains(line, "tick") {
			t.Fatalf("first line %q %v", line, err)
		}
		cancel()
		resp.Body.Close()
		select {
		case <-gone:
		case <-time.After(5 * time.Second):
			t.Fatal("the backend still streams after the client left")
		}
	})

	t.Run("the response header timeout", func(t *testing.T) {
		be, _ := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		p, err := New(Options{ConnectTimeout: time.Second, ResponseHeaderTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		front := httptest.NewServer(p)
		t.Cleanup(func() { front.Close(); p.CloseIdleConnections() })
		p.Swap(cluster{hosts: map[string]string{"c.test": "svc"}, endpoints: map[string][]string{"svc": {addr(be)}}}.table(t))
		start := time.Now()
		if code, _, _ := get(t, &http.Client{}, front.URL+"/", "c.test"); code != http.StatusGatewayTimeout {
			t.Errorf("slow backend: %d, want 504", code)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v, want about the 200ms timeout", d)
		}
	})
}

// TestConnsBody: a request with a body goes through net/http's Transport,
// which sees a backend's early answer to a body it never reads.
func TestConnsBody(t *testing.T) {
	be, _ := countingBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && r.URL.Path == "/early" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d", r.Method, len(b))
	})
	_, url := proxyTo(t, addr(be))
	post := func(path string, n int) (int, string) {
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(strings.Repeat("x", n)))
		req.Host = "c.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/echo", 100000); code != 200 || body != "POST 100000" {
		t.Errorf("POST of 100000 bytes: %d %q", code, body)
	}
	if code, _ := post("/early", 8<<20); code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST the backend refuses early: %d, want 413", code)
	}
}
