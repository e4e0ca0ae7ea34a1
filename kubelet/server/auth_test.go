package server

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"minik8s/api/pki"
)

// TestAuthenticate: over HTTPS only a client certificate of the client CA
// gets past /healthz.
func TestAuthenticate(t *testing.T) {
	ca, _ := pki.NewCA("ca")
	other, _ := pki.NewCA("other")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := httptest.NewUnstartedServer(authenticate(ok, pool))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	certOf := func(signer *pki.KeyPair, u pki.Usage) []tls.Certificate {
		kp, err := signer.Sign(pki.CertConfig{CommonName: "kube-apiserver-kubelet-client", Usage: u})
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{{Certificate: [][]byte{kp.Cert.Raw}, PrivateKey: kp.Key}}
	}
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		path  string
		want  int
	}{
		{"apiserver client exec", certOf(ca, pki.Client), "/exec/default/p/c", 200},
		{"apiserver client pods", certOf(ca, pki.Client), "/pods", 200},
		{"no certificate pods", nil, "/pods", 401},
		{"no certificate run", nil, "/run/default/p/c", 401},
		{"no certificate metrics", nil, "/metrics", 401},
		{"no certificate healthz", nil, "/healthz", 200},
		{"another CA", certOf(other, pki.Client), "/pods", 401},
		{"server certificate", certOf(ca, pki.Server), "/pods", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.Certificates = tc.certs
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
