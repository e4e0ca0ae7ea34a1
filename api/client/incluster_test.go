package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInClusterConfig(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
	getenv := func(k string) string { return env[k] }

	if _, err := inClusterConfig(func(string) string { return "" }, dir); !errors.Is(err, ErrNotInCluster) {
		t.Fatalf("outside a pod: %v", err)
	}
	if _, err := inClusterConfig(getenv, dir); err == nil || !strings.Contains(err.Error(), "service-account token") {
		t.Fatalf("without a token: %v", err)
	}
	for f, v := range map[string]string{"token": "tok\n", "ca.crt": "pem", "namespace": "kube-system\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := inClusterConfig(getenv, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Servers[0] != "10.96.0.1:443" || !c.TLS || c.TokenFile != filepath.Join(dir, "token") ||
		c.CertificateAuthority != filepath.Join(dir, "ca.crt") || c.Namespace != "kube-system" {
		t.Fatalf("config %+v", c)
	}
	env["KUBERNETES_SERVICE_HOST"] = "fd00::1"
	if c, _ := inClusterConfig(getenv, dir); c.Servers[0] != "[fd00::1]:443" {
		t.Fatalf("IPv6 server %q", c.Servers[0])
	}
}
