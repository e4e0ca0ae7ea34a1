package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
	"minik8s/api/pki"
)

// csrManifest is a user's CertificateSigningRequest for the
// kube-apiserver-client signer, as the Kubernetes documentation writes it.
func csrManifest(name string, request []byte) string {
	return fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: %s
spec:
  request: %s
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 86400
  usages:
  - client auth
`, name, base64.StdEncoding.EncodeToString(request))
}

// applyStdin runs kubectl apply -f - with manifest.
func applyStdin(t *testing.T, k *kubectl, manifest string) {
	t.Helper()
	if out, errOut, code := k.run(manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// userRequest makes a key and a PEM certificate request for CN=user,
// O=groups, as `openssl req -new` would.
func userRequest(t *testing.T, user string, groups ...string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: user, Organization: groups}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestCSRUser: a new user is added with a CSR and kubectl alone - the user
// makes a key and a request, the admin applies it and runs `kubectl
// certificate approve`, the controller-manager's signer issues the
// certificate, and `kubectl auth whoami` with it names the user and the
// groups of the request. A denied request never gets a certificate.
func TestCSRUser(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	suffix := time.Now().UnixNano() % 100000
	user := fmt.Sprintf("csr-jane-%d", suffix)
	name := user
	t.Cleanup(func() { k.run("", "delete", "csr", name, "--ignore-not-found") })

	key, req := userRequest(t, user, "developers", "qa")
	applyStdin(t, k, csrManifest(name, req))
	k.expect(t, []string{"get", "csr", name}, "SIGNERNAME", "kubernetes.io/kube-apiserver-client", "REQUESTEDDURATION", "24h", "Pending")
	k.expect(t, []string{"certificate", "approve", name}, "certificatesigningrequest.certificates.k8s.io/"+name+" approved")

	var certPEM []byte
	eventually(t, 60*time.Second, "the signer issues the certificate", func() string {
		b64 := k.ok(t, "get", "csr", name, "-o", "jsonpath={.status.certificate}")
		if b64 == "" {
			return "no status.certificate yet"
		}
		var err error
		if certPEM, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return err.Error()
		}
		return ""
	})
	k.expect(t, []string{"get", "csr", name}, "Approved,Issued")

	// The user's kubeconfig: the cluster's server and CA, the new
	// certificate and the user's own key.
	certs, err := pki.ParseCerts(certPEM)
	if err != nil {
		t.Fatalf("status.certificate: %v", err)
	}
	cfg, err := client.LoadKubeconfig(client.KubeconfigOptions{Kubeconfig: k.kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ReadKeyPair(filepath.Join(filepath.Dir(k.kubeconfig), "pki"), "ca")
	if err != nil {
		t.Fatalf("cluster CA: %v", err)
	}
	file := filepath.Join(t.TempDir(), user+".conf")
	if err := pki.WriteKubeconfig(file, "https://"+cfg.Servers[0], ca.Cert, &pki.KeyPair{Cert: certs[0], Key: key}, user); err != nil {
		t.Fatal(err)
	}
	jane := *k
	jane.kubeconfig = file
	var review struct {
		Status struct {
			UserInfo struct {
				Username string   `json:"username"`
				Groups   []string `json:"groups"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(jane.ok(t, "auth", "whoami", "-o", "json")), &review); err != nil {
		t.Fatal(err)
	}
	u := review.Status.UserInfo
	if u.Username != user || !slices.Contains(u.Groups, "developers") || !slices.Contains(u.Groups, "qa") || !slices.Contains(u.Groups, "system:authenticated") {
		t.Fatalf("kubectl auth whoami with the issued certificate: %+v", u)
	}

	t.Run("deny", func(t *testing.T) {
		denied := fmt.Sprintf("csr-mallory-%d", suffix)
		t.Cleanup(func() { k.run("", "delete", "csr", denied, "--ignore-not-found") })
		_, req := userRequest(t, denied, "developers")
		applyStdin(t, k, csrManifest(denied, req))
		k.expect(t, []string{"certificate", "deny", denied}, "certificatesigningrequest.certificates.k8s.io/"+denied+" denied")
		// Give the signer the time it took above; it must do nothing.
		time.Sleep(5 * time.Second)
		if cert := k.ok(t, "get", "csr", denied, "-o", "jsonpath={.status.certificate}"); cert != "" {
			t.Fatalf("a denied request got a certificate")
		}
		k.expect(t, []string{"get", "csr", denied}, "Denied")
		// And a decision is not reversed by kubectl.
		if _, errOut, code := k.run("", "certificate", "approve", denied); code == 0 || !strings.Contains(errOut, "already Denied") {
			t.Errorf("approving a denied request: exit %d %s", code, errOut)
		}
	})
}
