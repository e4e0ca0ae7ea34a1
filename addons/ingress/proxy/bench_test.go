package proxy

import (
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// The proxy's overhead over a direct request to a pod, with keep-alive on
// both hops: compare BenchmarkDirect, BenchmarkRelay (the floor of any
// userspace relay) and BenchmarkProxy (ns/op, and the p50/p99 latencies
// they report) from the same run:
//
//	go test ./addons/ingress/proxy -run '^$' -bench 'Direct|Relay|MinimalHTTP|Proxy' -benchtime 20000x
func BenchmarkDirect(b *testing.B) {
	be := benchBackend(b)
	benchGet(b, be.URL, "")
}

// BenchmarkRelay puts a bare TCP relay between the same client and
// backend: one backend connection per client connection, bytes copied
// both ways, no HTTP parsing. What it adds over Direct is what any proxy
// in user space pays on this machine (a second connection, its syscalls
// and wake-ups), before it does any work of its own.
func BenchmarkRelay(b *testing.B) {
	be := benchBackend(b)
	benchGet(b, "http://"+relay(b, addr(be)), "")
}

// relay listens on loopback and copies each accepted connection to and
// from a new connection to backend; it returns its address.
func relay(b *testing.B, backend string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				bc, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer bc.Close()
				go func() { _, _ = io.Copy(bc, c); _ = bc.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, bc)
			}()
		}
	}()
	return l.Addr().String()
}

// BenchmarkMinimalHTTP is the least a proxy on net/http's server does:
// parse the request, send it on a pooled connection (this package's
// transport), copy the answer back; no routing, metrics or ReverseProxy.
// Between it and Relay is what net/http's server and a second HTTP
// exchange cost; between it and Proxy what the proxy's own work costs.
func BenchmarkMinimalHTTP(b *testing.B) {
	be := benchBackend(b)
	t := &conns{dialer: &net.Dialer{}, idleTimeout: time.Minute, maxIdle: 8, std: &http.Transport{}}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		out.RequestURI, out.URL.Scheme, out.URL.Host = "", "http", addr(be)
		resp, err := t.RoundTrip(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		maps.Copy(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	b.Cleanup(front.Close)
	b.Cleanup(t.CloseIdleConnections)
	benchGet(b, front.URL, "")
}

func BenchmarkProxy(b *testing.B) {
	be := benchBackend(b)
	p, front := newProxy(b)
	p.Swap(cluster{hosts: map[string]string{"bench.test": "svc"}, endpoints: map[string][]string{"svc": {addr(be)}}}.table(b))
	benchGet(b, front.URL, "bench.test")
}

func benchBackend(b *testing.B) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("You've hit bench\n"))
	}))
	b.Cleanup(s.Close)
	return s
}

func benchGet(b *testing.B, url, host string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	began := time.Now()
	for b.Loop() {
		start := time.Now()
		req, _ := http.NewRequest("GET", url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(len(lat))/time.Since(began).Seconds(), "req/s")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
