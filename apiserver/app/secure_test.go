package app_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
	"minik8s/api/pki"
	"minik8s/test/apiservertest"
)

// TestSecurePort: one TLS port serves REST over HTTP/1.1 and HTTP/2 and
// gRPC; without credentials or with a certificate of another CA only the
// open paths answer.
func TestSecurePort(t *testing.T) {
	s := apiservertest.StartWithEtcd(t)
	cfg, err := client.ConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	anon := &tls.Config{RootCAs: admin.RootCAs}
	other, _ := pki.NewCA("other")
	mallory, _ := other.Sign(pki.CertConfig{CommonName: "mallory", Organization: []string{pki.GroupMasters}, Usage: pki.Client})
	foreign := &tls.Config{RootCAs: admin.RootCAs, Certificates: []tls.Certificate{{
		Certificate: [][]byte{mallory.Cert.Raw}, PrivateKey: mallory.Key, Leaf: mallory.Cert,
	}}}

	get := func(t *testing.T, tc *tls.Config, h2 bool, path string) (int, int) {
		t.Helper()
		// As kubectl's transport does, h2 is offered together with
		// http/1.1 (a client offering h2 alone is taken for gRPC).
		rt := &http.Transport{TLSClientConfig: tc.Clone(), ForceAttemptHTTP2: h2}
		if !h2 {
			rt.TLSClientConfig.NextProtos = []string{"http/1.1"}
		}
		resp, err := (&http.Client{Transport: rt}).Get("https://" + s.Addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.ProtoMajor
	}
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		path string
		want int
	}{
		{"admin list", admin, "/api/v1/namespaces", 200},
		{"admin discovery", admin, "/apis", 200},
		{"anonymous list", anon, "/api/v1/namespaces", 401},
		{"anonymous discovery", anon, "/api", 401},
		{"anonymous openapi", anon, "/openapi/v2", 401},
		{"anonymous healthz", anon, "/healthz", 200},
		{"anonymous readyz", anon, "/readyz", 200},
		{"anonymous version", anon, "/version", 200},
		{"another CA", foreign, "/api/v1/namespaces", 401},
	} {
		for _, h2 := range []bool{false, true} {
			name := tc.name + " h1"
			if h2 {
				name = tc.name + " h2"
			}
			t.Run(name, func(t *testing.T) {
				code, proto := get(t, tc.tls, h2, tc.path)
				if code != tc.want {
					t.Errorf("status %d, want %d", code, tc.want)
				}
				if h2 && proto != 2 || !h2 && proto != 1 {
					t.Errorf("protocol HTTP/%d", proto)
				}
			})
		}
	}

	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		tls     *tls.Config
		wantErr string
	}{
		{"grpc admin", admin, ""},
		{"grpc anonymous", anon, apierrors.ReasonUnauthorized},
		{"grpc another CA", foreign, apierrors.ReasonUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New([]string{s.Addr}, client.WithTLS(tc.tls), client.WithRetry(client.Backoff{Steps: 1}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ns, err := c.Dynamic("namespaces")
			if err != nil {
				t.Fatal(err)
			}
			_, err = ns.Get(ctx, "", "default")
			if got := apierrors.ReasonOf(err); (tc.wantErr == "" && err != nil) || got != tc.wantErr {
				t.Fatalf("err = %v (reason %q), want %q", err, got, tc.wantErr)
			}
		})
	}

	t.Run("plain connection refused", func(t *testing.T) {
		resp, err := http.Get("http://" + s.Addr + "/api/v1/namespaces")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plain HTTP served the API")
			}
		}
	})
}
