package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minik8s/addons/ingress/routes"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	networkingv1 "minik8s/api/networking/v1"
)

// cluster describes a table: host -> service name, service -> endpoint
// addresses (host:port of real loopback servers).
type cluster struct {
	hosts     map[string]string
	endpoints map[string][]string
	tls       map[string]*corev1.Secret // host -> secret
}

func (c cluster) table(t testing.TB) *routes.Table {
	t.Helper()
	in := routes.Input{Classes: []*networkingv1.IngressClass{{
		Metadata: &metav1.ObjectMeta{Name: "minik8s", Annotations: map[string]string{routes.DefaultClassAnnotation: "true"}},
		Spec:     &networkingv1.IngressClassSpec{Controller: routes.ControllerName},
	}}}
	ing := &networkingv1.Ingress{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: &networkingv1.IngressSpec{}}
	for host, svc := range c.hosts {
		ing.Spec.Rules = append(ing.Spec.Rules, &networkingv1.IngressRule{Host: host, Http: &networkingv1.HTTPIngressRuleValue{Paths: []*networkingv1.HTTPIngressPath{{
			Path: "/", PathType: new("Prefix"),
			Backend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: &networkingv1.ServiceBackendPort{Number: 80}}},
		}}}})
	}
	for host, s := range c.tls {
		ing.Spec.Tls = append(ing.Spec.Tls, &networkingv1.IngressTLS{Hosts: []string{host}, SecretName: s.Metadata.Name})
		in.Secrets = append(in.Secrets, s)
	}
	in.Ingresses = []*networkingv1.Ingress{ing}
	for svc, addrs := range c.endpoints {
		in.Services = append(in.Services, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: svc, Namespace: "default"},
			Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP"}}}})
		sub := &corev1.EndpointSubset{}
		port := ""
		for _, a := range addrs {
			host, p, err := net.SplitHostPort(a)
			if err != nil {
				t.Fatal(err)
			}
			if port != "" && p != port {
				t.Fatalf("endpoints of %s on different ports", svc)
			}
			port = p
			sub.Addresses = append(sub.Addresses, &corev1.EndpointAddress{Ip: host})
		}
		n, _ := strconv.Atoi(port)
		sub.Ports = []*corev1.EndpointPort{{Port: int32(n), Protocol: "TCP"}}
		in.Endpoints = append(in.Endpoints, &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Name: svc, Namespace: "default"}, Subsets: []*corev1.EndpointSubset{sub}})
	}
	tab := routes.Build(in)
	if len(tab.Problems()) > 0 {
		t.Fatalf("problems: %v", tab.Problems())
	}
	return tab
}

// backend is a loopback server answering "NAME\n" with the request's
// forwarded headers echoed in response headers.
func backend(t testing.TB, name, ip string) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip"} {
			w.Header().Set("Echo-"+k, r.Header.Get(k))
		}
		w.Header().Set("Echo-Host", r.Host)
		fmt.Fprintln(w, name)
	})
	s := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func addr(s *httptest.Server) string { return s.Listener.Addr().String() }

// sameport starts n backends on 127.0.0.x with one port, as a Service's
// endpoints share a target port.
func sameport(t testing.TB, prefix string, n int) ([]*httptest.Server, []string) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first := backend(t, prefix+"0", "127.0.0.1")
		_, port, _ := net.SplitHostPort(addr(first))
		servers, addrs := []*httptest.Server{first}, []string{addr(first)}
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%s", i+1, port))
			if err != nil {
				ok = false
				break
			}
			name := fmt.Sprintf("%s%d", prefix, i)
			s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, name) }))
			s.Listener = l
			s.Start()
			t.Cleanup(s.Close)
			servers, addrs = append(servers, s), append(addrs, addr(s))
		}
		if ok {
			return servers, addrs
		}
	}
	t.Fatal("no common free port on 127.0.0.x")
	return nil, nil
}

func newProxy(t testing.TB) (*Proxy, *httptest.Server) {
	t.Helper()
	p, err := New(Options{ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(p)
	t.Cleanup(func() { front.Close(); p.CloseIdleConnections() })
	return p, front
}

func get(t testing.TB, c *http.Client, url, host string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

func TestRouting(t *testing.T) {
	a, b := backend(t, "a", "127.0.0.1"), backend(t, "b", "127.0.0.1")
	p, front := newProxy(t)
	p.Swap(cluster{
		hosts:     map[string]string{"a.test": "svc-a", "b.test": "svc-b", "empty.test": "svc-empty"},
		endpoints: map[string][]string{"svc-a": {addr(a)}, "svc-b": {addr(b)}, "svc-empty": nil},
	}.table(t))
	for _, tc := range []struct {
		host string
		code int
		body string
	}{
		{"a.test", 200, "a"},
		{"b.test:30080", 200, "b"},
		{"unknown.test", 404, "default backend - 404"},
		{"empty.test", 503, "503 Service Temporarily Unavailable"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			code, body, h := get(t, front.Client(), front.URL+"/x", tc.host)
			if code != tc.code || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", code, body, tc.code, tc.body)
			}
			if code == 200 {
				if h.Get("Echo-Host") != tc.host || h.Get("Echo-X-Forwarded-Host") != tc.host ||
					h.Get("Echo-X-Forwarded-Proto") != "http" || h.Get("Echo-X-Forwarded-For") != "127.0.0.1" || h.Get("Echo-X-Real-Ip") != "127.0.0.1" {
					t.Errorf("forwarded headers %v", h)
				}
			}
		})
	}
	// A client's own X-Forwarded-For is not trusted.
	req, _ := http.NewRequest("GET", front.URL, nil)
	req.Host = "a.test"
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Echo-X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want only the client's address", got)
	}
	if got := metric(t, p, `ingress_requests_total{code="200",ingress="default/web",method="GET"}`); got != 3 {
		t.Errorf("ingress_requests_total{default/web,200,GET} = %v, want 3", got)
	}
	if got := metric(t, p, `ingress_requests_total{code="404",ingress="",method="GET"}`); got != 1 {
		t.Errorf("ingress_requests_total{\"\",404} = %v, want 1", got)
	}
}

func TestRoundRobin(t *testing.T) {
	_, addrs := sameport(t, "ep", 3)
	p, front := newProxy(t)
	p.Swap(cluster{hosts: map[string]string{"rr.test": "svc"}, endpoints: map[string][]string{"svc": addrs}}.table(t))
	seen := map[string]int{}
	for range 9 {
		code, body, _ := get(t, front.Client(), front.URL, "rr.test")
		if code != 200 {
			t.Fatalf("code %d", code)
		}
		seen[body]++
	}
	if len(seen) != 3 || seen["ep0"] != 3 || seen["ep1"] != 3 || seen["ep2"] != 3 {
		t.Errorf("spread %v, want 3 each", seen)
	}
}

func TestRetryOnDeadEndpoint(t *testing.T) {
	servers, addrs := sameport(t, "ep", 2)
	servers[1].Close() // 127.0.0.2: connection refused
	p, front := newProxy(t)
	p.Swap(cluster{hosts: map[string]string{"r.test": "svc"}, endpoints: map[string][]string{"svc": addrs}}.table(t))
	for i := range 6 {
		code, body, _ := get(t, front.Client(), front.URL, "r.test")
		if code != 200 || body != "ep0" {
			t.Fatalf("request %d: %d %q, want 200 from ep0", i, code, body)
		}
	}
	if got := metric(t, p, "ingress_upstream_retries_total"); got != 3 {
		t.Errorf("retries %v, want 3 (every other request hits the dead endpoint)", got)
	}
	// A POST with a body is not retried: half of them fail with 502.
	failed := 0
	for range 4 {
		req, _ := http.NewRequest("POST", front.URL, strings.NewReader("data"))
		req.Host = "r.test"
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d of 4 POSTs failed, want 2", failed)
	}
}

// TestWebSocket upgrades a connection through the proxy to a backend that
// echoes lines, over a raw TCP connection as a WebSocket client would.
func TestWebSocket(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			rw.WriteString("echo: " + line)
			rw.Flush()
		}
	}))
	t.Cleanup(echo.Close)
	p, front := newProxy(t)
	p.Swap(cluster{hosts: map[string]string{"ws.test": "ws"}, endpoints: map[string][]string{"ws": {addr(echo)}}}.table(t))

	conn, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	for _, msg := range []string{"hello", "again"} {
		fmt.Fprintf(conn, "%s\n", msg)
		got, err := br.ReadString('\n')
		if err != nil || got != "echo: "+msg+"\n" {
			t.Fatalf("read %q, %v; want the echo of %q", got, err, msg)
		}
	}
}

func TestTLSBySNI(t *testing.T) {
	a, b := backend(t, "a", "127.0.0.1"), backend(t, "b", "127.0.0.1")
	ca, caKey := newCA(t)
	secret := func(name, host string) *corev1.Secret {
		crt, key := issue(t, ca, caKey, host)
		return &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Type: routes.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
	}
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Swap(cluster{
		hosts:     map[string]string{"a.test": "svc-a", "b.test": "svc-b"},
		endpoints: map[string][]string{"svc-a": {addr(a)}, "svc-b": {addr(b)}},
		tls:       map[string]*corev1.Secret{"a.test": secret("a-tls", "a.test"), "b.test": secret("b-tls", "b.test")},
	}.table(t))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p, TLSConfig: p.TLSConfig()}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, host := range []string{"a.test", "b.test"} {
		t.Run(host, func(t *testing.T) {
			// Like curl --resolve: the name in SNI and Host, the address dialed.
			c := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, l.Addr().String())
				},
			}}
			code, body, h := get(t, c, "https://"+host+"/", host)
			if code != 200 || body != host[:1] {
				t.Fatalf("got %d %q", code, body)
			}
			if h.Get("Echo-X-Forwarded-Proto") != "https" {
				t.Errorf("X-Forwarded-Proto %q, want https", h.Get("Echo-X-Forwarded-Proto"))
			}
		})
	}
	// No certificate for the name: the self-signed fallback, which a
	// verifying client refuses.
	conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{ServerName: "other.test", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; !strings.Contains(cn, "fallback") {
		t.Errorf("certificate for other.test: CN %q, want the fallback", cn)
	}
}

// TestReloadUnderLoad swaps the table between backends hundreds of times
// while clients send requests: no request may fail, and slow requests in
// flight finish on the table they started with.
func TestReloadUnderLoad(t *testing.T) {
	_, addrs := sameport(t, "ep", 3)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		fmt.Fprintln(w, "slow")
	}))
	t.Cleanup(slow.Close)
	p, front := newProxy(t)
	tables := []*routes.Table{
		cluster{hosts: map[string]string{"load.test": "svc", "slow.test": "slow"}, endpoints: map[string][]string{"svc": addrs[:1], "slow": {addr(slow)}}}.table(t),
		cluster{hosts: map[string]string{"load.test": "svc", "slow.test": "slow"}, endpoints: map[string][]string{"svc": addrs, "slow": {addr(slow)}}}.table(t),
		// The slow host disappears: requests already sent to it must finish.
		cluster{hosts: map[string]string{"load.test": "svc"}, endpoints: map[string][]string{"svc": addrs[1:]}}.table(t),
	}
	p.Swap(tables[0])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var ok, failed, slowOK atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 5 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := "load.test"
			for ctx.Err() == nil {
				req, _ := http.NewRequest("GET", front.URL, nil)
				req.Host = host
				if w == 0 {
					req.Host = "slow.test"
				}
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 200 && w == 0:
					slowOK.Add(1)
				case resp.StatusCode == 200:
					ok.Add(1)
				case w == 0 && resp.StatusCode == 404:
					// slow.test is not routed while tables[2] is current.
				default:
					failed.Add(1)
					t.Errorf("status %d %q", resp.StatusCode, body)
				}
			}
		}()
	}
	swaps := 0
	for i := 0; ctx.Err() == nil; i++ {
		p.Swap(tables[i%len(tables)])
		swaps++
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	t.Logf("%d swaps, %d requests ok, %d slow ok, %d failed", swaps, ok.Load(), slowOK.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() == 0 || slowOK.Load() == 0 {
		t.Fatalf("%d failed, %d ok, %d slow ok", failed.Load(), ok.Load(), slowOK.Load())
	}
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, k
}

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, host string) (crtPEM, keyPEM []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// metric scrapes /metrics of p's health mux for one sample's value.
func metric(t testing.TB, p *Proxy, sample string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	p.HealthMux(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no sample %s in /metrics", sample)
	return 0
}
