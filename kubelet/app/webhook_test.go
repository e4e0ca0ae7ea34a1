package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/pki"
	"minik8s/kubelet/runtime/fake"
	"minik8s/kubelet/server"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestWebhookKubeletAPI: a kubelet server with --authorization-mode=Webhook
// and --authentication-token-webhook against a real apiserver. Under
// AlwaysAllow the apiserver's client certificate and an accepted token get
// in; under AlwaysDeny the kubelet's own reviews are refused, so nothing
// but /healthz does.
func TestWebhookKubeletAPI(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokFile, []byte("bob-token,bob,42,dev\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	etcd := etcdtest.Start(t, 1)
	allow := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "AlwaysAllow", TokenAuthFile: tokFile})
	deny := apiservertest.Start(t, etcd, apiservertest.Options{AuthorizationMode: "AlwaysDeny", TokenAuthFile: tokFile, PKI: allow.PKI})
	caFile := filepath.Join(allow.PKI, "pki", "ca.crt")
	cas, err := pki.CertPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	// The kubelet's serving certificate, of a CA of its own.
	kca, _ := pki.NewCA("kubelet-ca")
	kcert, err := kca.Sign(pki.CertConfig{CommonName: "n1", Usage: pki.Server, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.ConfigFromFlags("", allow.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	adminTLS, err := admin.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}

	start := func(t *testing.T, s *apiservertest.Server) string {
		o := Options{AuthenticationTokenWebhook: true, AuthorizationMode: "Webhook", AuthenticationTokenWebhookCacheTTL: time.Minute,
			AuthorizationWebhookCacheAuthorizedTTL: time.Minute, AuthorizationWebhookCacheUnauthorizedTTL: time.Second}
		tr, ar, err := o.reviewers(s.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		srv := server.New(server.Config{NodeName: "n1", ClientCAs: cas, Tokens: tr, Authorizer: ar,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{kcert.Cert.Raw}, PrivateKey: kcert.Key}},
				ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}}, fake.New(nil), noPods{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = srv.Serve(ctx, ln); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return "https://" + ln.Addr().String()
	}
	roots := x509.NewCertPool()
	roots.AddCert(kca.Cert)
	get := func(t *testing.T, url string, certs []tls.Certificate, token string) int {
		t.Helper()
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name   string
		s      *apiservertest.Server
		path   string
		certs  []tls.Certificate
		token  string
		status int
	}{
		{"allow admin pods", allow, "/pods", adminTLS.Certificates, "", 200},
		{"allow token stats", allow, "/stats/summary", nil, "bob-token", 200},
		{"allow bad token", allow, "/pods", nil, "nope", 401},
		{"allow nobody", allow, "/pods", nil, "", 401},
		{"deny admin pods", deny, "/pods", adminTLS.Certificates, "", 500},
		{"deny token", deny, "/pods", nil, "bob-token", 401},
		{"deny healthz", deny, "/healthz", nil, "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := start(t, tc.s)
			if got := get(t, base+tc.path, tc.certs, tc.token); got != tc.status {
				t.Errorf("GET %s: %d, want %d", tc.path, got, tc.status)
			}
		})
	}
}

type noPods struct{}

func (noPods) Pods() []*corev1.Pod                     { return nil }
func (noPods) Status(string) (*corev1.PodStatus, bool) { return nil, false }
