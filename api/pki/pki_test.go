package pki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestSignVerifies(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewCA("other-ca")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, tc := range []struct {
		name  string
		cfg   CertConfig
		usage x509.ExtKeyUsage
		host  string
	}{
		{"server", CertConfig{CommonName: "srv", Usage: Server}.withHosts([]string{"10.0.0.1", "example"}), x509.ExtKeyUsageServerAuth, "10.0.0.1"},
		{"client", CertConfig{CommonName: "alice", Organization: []string{"dev"}, Usage: Client}, x509.ExtKeyUsageClientAuth, ""},
		{"peer", CertConfig{CommonName: "p", Usage: Peer}.withHosts([]string{"peer.local"}), x509.ExtKeyUsageClientAuth, "peer.local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kp, err := ca.Sign(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			opts := x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{tc.usage}, DNSName: tc.host}
			if _, err := kp.Cert.Verify(opts); err != nil {
				t.Fatalf("verify: %v", err)
			}
			bad := x509.NewCertPool()
			bad.AddCert(other.Cert)
			opts.Roots = bad
			if _, err := kp.Cert.Verify(opts); err == nil {
				t.Fatal("verified against another CA")
			}
			if kp.Cert.Subject.CommonName != tc.cfg.CommonName || !slices.Equal(kp.Cert.Subject.Organization, tc.cfg.Organization) {
				t.Fatalf("subject %v", kp.Cert.Subject)
			}
		})
	}
}

func TestPEMRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca, _ := NewCA("ca")
	if err := WriteKeyPair(dir, "sub/ca", ca); err != nil {
		t.Fatal(err)
	}
	got, err := ReadKeyPair(dir, "sub/ca")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.Equal(ca.Cert) {
		t.Fatal("certificate differs after round trip")
	}
	certFile, keyFile := Paths(dir, "sub/ca")
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatalf("crypto/tls cannot load what we wrote: %v", err)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode())
	}
}

func TestGenerateLayoutAndIdempotence(t *testing.T) {
	dir := t.TempDir()
	o := ClusterOptions{
		CertDir: filepath.Join(dir, "pki"), Server: "https://10.250.0.1:6443",
		APIServerAddresses: []string{"10.250.0.1", "master"},
		Nodes:              []Node{{Name: "node1", Addresses: []string{"10.250.0.11"}}},
	}
	gen, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(gen.Kept) != 0 {
		t.Fatalf("kept on first run: %v", gen.Kept)
	}
	for _, f := range []string{"pki/ca.crt", "pki/ca.key", "pki/apiserver.crt", "pki/apiserver-kubelet-client.key",
		"pki/apiserver-etcd-client.crt", "pki/etcd/ca.crt", "pki/etcd/server.crt", "pki/etcd/peer.key",
		"pki/sa.key", "pki/sa.pub", "pki/kubelet/node1.crt", "admin.conf", "scheduler.conf",
		"controller-manager.conf", "kube-proxy.conf", "kubelet-node1.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	api, err := ReadKeyPair(o.CertDir, "apiserver")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"10.96.0.1", "10.250.0.1", "kubernetes.default.svc.cluster.local", "master"} {
		if err := api.Cert.VerifyHostname(h); err != nil {
			t.Errorf("apiserver certificate: %v", err)
		}
	}
	for file, want := range map[string][2]string{
		"admin.conf":         {"kubernetes-admin", GroupMasters},
		"scheduler.conf":     {UserScheduler, ""},
		"kubelet-node1.conf": {"system:node:node1", GroupNodes},
	} {
		cfg, err := clientcmd.LoadFromFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		ctx := cfg.Contexts[cfg.CurrentContext]
		if cfg.Clusters[ctx.Cluster].Server != o.Server {
			t.Errorf("%s: server %q", file, cfg.Clusters[ctx.Cluster].Server)
		}
		certs, err := ParseCerts(cfg.AuthInfos[ctx.AuthInfo].ClientCertificateData)
		if err != nil {
			t.Fatal(err)
		}
		if certs[0].Subject.CommonName != want[0] || (want[1] != "" && !slices.Contains(certs[0].Subject.Organization, want[1])) {
			t.Errorf("%s: subject %v", file, certs[0].Subject)
		}
	}
	before, _ := os.ReadFile(filepath.Join(o.CertDir, "ca.crt"))
	gen, err = Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(gen.Created) != 0 {
		t.Fatalf("second run created %v", gen.Created)
	}
	after, _ := os.ReadFile(filepath.Join(o.CertDir, "ca.crt"))
	if string(before) != string(after) {
		t.Fatal("ca.crt rewritten")
	}
}
