package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/pki"
)

// TestAuthenticationRequired: the apiserver serves only TLS and, without a
// client certificate of the cluster CA, answers 401 on both fronts except
// for /healthz, /livez, /readyz and /version; etcd's client port refuses a
// client without a certificate of the etcd CA.
func TestAuthenticationRequired(t *testing.T) {
	c := need(t)
	cfg, err := client.ConfigFromFlags(c.servers, c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := cfg.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	anonymous := &tls.Config{RootCAs: admin.RootCAs}
	other, err := pki.NewCA("another-ca")
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := other.Sign(pki.CertConfig{CommonName: "mallory", Organization: []string{pki.GroupMasters}, Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	foreign := &tls.Config{RootCAs: admin.RootCAs, Certificates: []tls.Certificate{{
		Certificate: [][]byte{mallory.Cert.Raw}, PrivateKey: mallory.Key, Leaf: mallory.Cert,
	}}}
	server := cfg.Servers[0]

	get := func(t *testing.T, tc *tls.Config, path string) (int, string) {
		t.Helper()
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
		resp, err := hc.Get("https://" + server + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		path string
		want int
	}{
		{"admin lists pods", admin, "/api/v1/pods", 200},
		{"no credentials: pods", anonymous, "/api/v1/pods", 401},
		{"no credentials: secrets", anonymous, "/api/v1/namespaces/kube-system/secrets", 401},
		{"no credentials: discovery", anonymous, "/apis", 401},
		{"no credentials: metrics", anonymous, "/metrics", 401},
		{"no credentials: healthz", anonymous, "/healthz", 200},
		{"no credentials: readyz", anonymous, "/readyz", 200},
		{"no credentials: livez", anonymous, "/livez", 200},
		{"no credentials: version", anonymous, "/version", 200},
		{"another CA: pods", foreign, "/api/v1/pods", 401},
	} {
		t.Run("REST "+tc.name, func(t *testing.T) {
			code, body := get(t, tc.tls, tc.path)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if code == 401 && (strings.Contains(body, "mallory") || strings.Contains(body, "x509")) {
				t.Errorf("the 401 tells why: %s", body)
			}
		})
	}

	t.Run("plain HTTP is not served", func(t *testing.T) {
		hc := &http.Client{Timeout: 10 * time.Second}
		resp, err := hc.Get("http://" + server + "/api/v1/pods")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatal("plain HTTP served the API")
			}
		}
	})

	for _, tc := range []struct {
		name string
		tls  *tls.Config
		want string
	}{
		{"admin", admin, ""},
		{"no credentials", anonymous, apierrors.ReasonUnauthorized},
		{"another CA", foreign, apierrors.ReasonUnauthorized},
	} {
		t.Run("gRPC "+tc.name, func(t *testing.T) {
			cl, err := client.New([]string{server}, client.WithTLS(tc.tls), client.WithRetry(client.Backoff{Steps: 1}))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = client.For[*corev1.Pod](cl).List(ctx, "kube-system", client.ListOptions{})
			if got := apierrors.ReasonOf(err); got != tc.want {
				t.Fatalf("list pods: %v (reason %q), want reason %q", err, got, tc.want)
			}
		})
	}

	t.Run("etcd without a client certificate", func(t *testing.T) {
		if len(c.etcdTLS) == 0 {
			t.Fatal("cluster.env names no etcd client certificate: etcd is plain")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The CA only: the server is trusted, the client is not known.
		out, err := c.run(ctx, c.bin+"/etcdctl", "--endpoints", c.etcd, "--cacert", c.etcdTLS[1],
			"--dial-timeout", "3s", "--command-timeout", "5s", "get", "/registry/namespaces/default")
		if err == nil {
			t.Fatalf("etcdctl without a client certificate read the store:\n%s", out)
		}
		// With the apiserver's etcd client certificate it works.
		if _, err := c.run(ctx, c.bin+"/etcdctl", c.etcdctl("get", "/registry/namespaces/default", "--keys-only")...); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSecretsEncryptedAtRest: `make up` encrypts Secrets in etcd
// (--encryption-provider-config, aesgcm): etcdctl shows k8s:enc:
// ciphertext without the value, kubectl the plain Secret.
func TestSecretsEncryptedAtRest(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "enc")
	k.ok(t, "create", "secret", "generic", "db", "-n", ns, "--from-literal=password=hunter2-at-rest")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.run(ctx, c.bin+"/etcdctl", c.etcdctl("get", "/registry/secrets/"+ns+"/db", "--print-value-only")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "k8s:enc:aesgcm:v1:key1:") || strings.Contains(out, "hunter2") ||
		strings.Contains(out, "aHVudGVyMi1hdC1yZXN0") {
		t.Fatalf("etcd holds the secret as %.80q, want aesgcm ciphertext", out)
	}
	if got := k.ok(t, "get", "secret", "db", "-n", ns, "-o", "jsonpath={.data.password}"); got != "aHVudGVyMi1hdC1yZXN0" {
		t.Fatalf("kubectl reads password %q", got)
	}
}
