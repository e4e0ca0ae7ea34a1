package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"minik8s/api/client"
	"minik8s/api/pki"
)

// TestCerts: `minictl certs` writes the layout, its kubeconfigs load as
// client configs with TLS, and a second run keeps every file.
func TestCerts(t *testing.T) {
	dir := t.TempDir()
	args := []string{"certs", "--cert-dir", filepath.Join(dir, "pki"), "--apiserver-advertise-address", "10.250.0.1,10.250.0.11",
		"--nodes", "mk8s-node1=10.250.0.11+127.0.0.1", "--client", "kube-dns.conf=system:kube-dns/dns"}
	out, errOut, code, _ := runEnv(t, nil, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "kept") {
		t.Errorf("first run kept files:\n%s", out)
	}
	for _, f := range []string{"admin.conf", "kube-dns.conf", "kubelet-mk8s-node1.conf", "pki/kubelet/mk8s-node1.crt", "pki/etcd/peer.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	cfg, err := client.ConfigFromFlags("", filepath.Join(dir, "admin.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.TLS || cfg.Servers[0] != "10.250.0.1:6443" {
		t.Errorf("admin.conf: servers %v tls %v", cfg.Servers, cfg.TLS)
	}
	if tc, err := cfg.TLSConfig(); err != nil || len(tc.Certificates) != 1 || tc.RootCAs == nil {
		t.Errorf("admin.conf TLS: %v", err)
	}
	kubelet, err := pki.ReadKeyPair(filepath.Join(dir, "pki"), "kubelet/mk8s-node1")
	if err != nil {
		t.Fatal(err)
	}
	if err := kubelet.Cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	out, _, code, _ = runEnv(t, nil, args...)
	if code != 0 || strings.Contains(out, "created") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	if _, errOut, code, _ := runEnv(t, nil, "certs", "--cert-dir", dir); code == 0 || !strings.Contains(errOut, "--server") {
		t.Errorf("no address: exit %d %s", code, errOut)
	}
}
