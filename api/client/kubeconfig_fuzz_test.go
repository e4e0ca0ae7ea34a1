package client

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadKubeconfig feeds arbitrary kubeconfig files to LoadKubeconfig:
// it never panics, and a Config it returns names servers only as
// HOST:PORT addresses.
func FuzzLoadKubeconfig(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: bm90IGEgY2VydA==\nusers:\n- name: u\n  user:\n    token: abc\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: ns}\ncurrent-context: x\n",
		"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"http://[::1]\"}\ncontexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
		"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://h:1/path?q\"}\ncontexts:\n- {name: x, context: {cluster: c, user: missing}}\ncurrent-context: x\n",
		"apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n",
		"apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {as: bob, as-groups: [a, b], as-user-extra: {k: [v]}, client-certificate-data: !!binary AA==}\n",
		"{}", "", "clusters: [", "kind: Config\nclusters:\n- cluster:\n    server: 127.0.0.1:6443\n  name: c\n- cluster: {server: x}\n  name: c\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		p := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadKubeconfig(KubeconfigOptions{Kubeconfig: p, Getenv: func(string) string { return "" }})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		for _, s := range c.Servers {
			if _, _, err := net.SplitHostPort(s); err != nil {
				t.Fatalf("server %q is not HOST:PORT: %v", s, err)
			}
		}
	})
}

// FuzzParseServer: --server and a kubeconfig's server URL parse to
// HOST:PORT or an error, never a panic.
func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"127.0.0.1:6443", "https://h", "http://h:80", "https://[::1]:6443/", "h", "ftp://h", "https://:0", "https://h:1/x", "https://u@h:1", "%zz://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, _, err := ParseServer(s)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			t.Fatalf("ParseServer(%q) = %q, not HOST:PORT: %v", s, addr, err)
		}
	})
}
