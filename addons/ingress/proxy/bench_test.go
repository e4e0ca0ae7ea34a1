package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// The proxy's overhead over a direct request to a pod, with keep-alive on
// both hops: compare BenchmarkDirect and BenchmarkProxy (ns/op, and the
// p50/p99 latencies they report) from the same run:
//
//	go test ./addons/ingress/proxy -run '^$' -bench 'Direct|Proxy' -benchtime 20000x
func BenchmarkDirect(b *testing.B) {
	be := benchBackend(b)
	benchGet(b, be.URL, "")
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
