package client

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// kubeconfig renders a kubeconfig with one context per cluster name, the
// named one current.
func kubeconfig(current string, clusters map[string]string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\ncurrent-context: " + current + "\nclusters:\n")
	for name, server := range clusters {
		b.WriteString("- name: " + name + "\n  cluster:\n    server: " + server + "\n")
	}
	b.WriteString("users:\n- name: admin\n  user: {}\ncontexts:\n")
	for name := range clusters {
		b.WriteString("- name: " + name + "\n  context:\n    cluster: " + name + "\n    user: admin\n")
	}
	return b.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadKubeconfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	writeFile(t, home, ".kube/config", kubeconfig("home", map[string]string{"home": "http://10.0.0.1:6443"}))
	a := writeFile(t, dir, "a", kubeconfig("a", map[string]string{"a": "http://10.0.0.2:6443", "shared": "http://10.0.0.3:6443"}))
	// b's current-context and its "shared" cluster lose to a's (the first
	// file to set a value wins); its own entries are still merged in.
	b := writeFile(t, dir, "b", kubeconfig("b", map[string]string{"b": "http://10.0.0.4:6443", "shared": "http://10.0.0.5:6443"}))
	explicit := writeFile(t, dir, "explicit", kubeconfig("e", map[string]string{"e": "http://10.0.0.6:6443"}))
	missing := filepath.Join(dir, "missing")

	for _, tc := range []struct {
		name    string
		opts    KubeconfigOptions
		env     map[string]string
		servers []string
		context string
	}{
		{"home", KubeconfigOptions{}, map[string]string{"HOME": home}, []string{"10.0.0.1:6443"}, "home"},
		{"no home, no file", KubeconfigOptions{}, nil, nil, ""},
		{"KUBECONFIG over home", KubeconfigOptions{}, map[string]string{"HOME": home, "KUBECONFIG": b}, []string{"10.0.0.4:6443"}, "b"},
		{"KUBECONFIG merged, first wins", KubeconfigOptions{}, map[string]string{"KUBECONFIG": a + ":" + b}, []string{"10.0.0.2:6443"}, "a"},
		{"KUBECONFIG missing entries skipped", KubeconfigOptions{}, map[string]string{"KUBECONFIG": missing + "::" + b}, []string{"10.0.0.4:6443"}, "b"},
		{"KUBECONFIG all missing", KubeconfigOptions{}, map[string]string{"HOME": home, "KUBECONFIG": missing}, nil, ""},
		{"context from the second file", KubeconfigOptions{Context: "b"}, map[string]string{"KUBECONFIG": a + ":" + b}, []string{"10.0.0.4:6443"}, "b"},
		{"shared cluster from the first file", KubeconfigOptions{Context: "shared"}, map[string]string{"KUBECONFIG": b + ":" + a}, []string{"10.0.0.5:6443"}, "shared"},
		{"--kubeconfig over KUBECONFIG", KubeconfigOptions{Kubeconfig: explicit}, map[string]string{"HOME": home, "KUBECONFIG": a}, []string{"10.0.0.6:6443"}, "e"},
		{"--server over the cluster", KubeconfigOptions{Kubeconfig: explicit, Server: "http://10.9.9.9:7000"}, nil, []string{"10.9.9.9:7000"}, "e"},
		{"--server list", KubeconfigOptions{Kubeconfig: explicit, Server: "10.9.9.9:7000, 10.9.9.9:7001"}, nil, []string{"10.9.9.9:7000", "10.9.9.9:7001"}, "e"},
		{"--server without a kubeconfig", KubeconfigOptions{Server: "10.9.9.9:7000"}, nil, []string{"10.9.9.9:7000"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Getenv = env(tc.env)
			c, err := LoadKubeconfig(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Servers, tc.servers) || c.Context != tc.context {
				t.Errorf("servers %v context %q, want %v %q", c.Servers, c.Context, tc.servers, tc.context)
			}
		})
	}
}

func TestLoadKubeconfigCarriesCredentials(t *testing.T) {
	dir := t.TempDir()
	ca := writeFile(t, dir, "pki/ca.crt", "not checked yet")
	p := writeFile(t, dir, "config", `apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c
  cluster:
    server: http://apiserver.local:6443
    certificate-authority: pki/ca.crt
    tls-server-name: kubernetes
users:
- name: u
  user:
    token: s3cret
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
    as: jane
    as-groups: [g]
contexts:
- name: dev
  context: {cluster: c, user: u, namespace: team-a}
`)
	c, err := LoadKubeconfig(KubeconfigOptions{Kubeconfig: p, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Servers:               []string{"apiserver.local:6443"},
		TLSServerName:         "kubernetes",
		CertificateAuthority:  ca, // relative paths resolve against the file's directory
		ClientCertificateData: []byte("cert"),
		ClientKeyData:         []byte("key"),
		Token:                 "s3cret",
		Impersonate:           Impersonation{User: "jane", Groups: []string{"g"}},
		Namespace:             "team-a",
		Context:               "dev", Cluster: "c", User: "u",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestLoadKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good", kubeconfig("a", map[string]string{"a": "http://10.0.0.2:6443"}))
	bad := writeFile(t, dir, "bad", "apiVersion: v1\nkind: Config\nclusters: [\n  - name: x\n    oops: : :\n")
	for _, tc := range []struct {
		name string
		opts KubeconfigOptions
		env  map[string]string
		want []string // substrings of the one-line error
	}{
		{"--kubeconfig missing", KubeconfigOptions{Kubeconfig: filepath.Join(dir, "nope")}, nil, []string{"kubeconfig " + filepath.Join(dir, "nope") + ": no such file"}},
		{"--kubeconfig malformed", KubeconfigOptions{Kubeconfig: bad}, nil, []string{"kubeconfig " + bad + ": ", "yaml"}},
		{"KUBECONFIG with a malformed file", KubeconfigOptions{}, map[string]string{"KUBECONFIG": good + ":" + bad}, []string{"kubeconfig " + bad + ": "}},
		{"unknown --context", KubeconfigOptions{Kubeconfig: good, Context: "nope"}, nil, []string{"kubeconfig " + good + `: context "nope" not found`}},
		{"https", KubeconfigOptions{Kubeconfig: good, Server: "ftp://x:1"}, nil, []string{"--server: ", "neither http nor https"}},
		{"server with a path", KubeconfigOptions{Server: "http://x:1/api"}, nil, []string{"no path"}},
		{"server without a port", KubeconfigOptions{Server: "x"}, nil, []string{`server "x"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Getenv = env(tc.env)
			_, err := LoadKubeconfig(tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestParseServer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		addr string
		tls  bool
	}{
		{"http://10.250.0.1:6443", "10.250.0.1:6443", false},
		{"http://10.250.0.1:6443/", "10.250.0.1:6443", false},
		{"http://apiserver", "apiserver:80", false},
		{"https://apiserver", "apiserver:443", true},
		{"https://[::1]:6443", "[::1]:6443", true},
		{"127.0.0.1:6443", "127.0.0.1:6443", true},
	} {
		addr, tls, err := parseServer(tc.in)
		if err != nil || addr != tc.addr || tls != tc.tls {
			t.Errorf("parseServer(%q) = %q %v %v, want %q %v", tc.in, addr, tls, err, tc.addr, tc.tls)
		}
	}
}

func TestNewForConfig(t *testing.T) {
	if _, err := NewForConfig(&Config{}); err == nil || !strings.Contains(err.Error(), "no server") {
		t.Errorf("no servers: %v", err)
	}
	c, err := ConfigFromFlags("http://10.0.0.1:6443", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewForConfig(c)
	if err == nil || !strings.Contains(err.Error(), "TLS only") || strings.Contains(err.Error(), "\n") {
		t.Errorf("http: %v", err)
	}
	c.TLS, c.CertificateAuthority = true, "/nonexistent/ca.crt"
	if _, err = NewForConfig(c); err == nil || !strings.Contains(err.Error(), "certificate-authority") {
		t.Errorf("unreadable CA: %v", err)
	}
	c, err = ConfigFromFlags("127.0.0.1:1,127.0.0.1:2", "")
	if err != nil || !reflect.DeepEqual(c.Servers, []string{"127.0.0.1:1", "127.0.0.1:2"}) {
		t.Fatalf("ConfigFromFlags: %+v %v", c, err)
	}
	cl, err := NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	_ = cl.Close()
}

func TestConfigFromFlags(t *testing.T) {
	dir := t.TempDir()
	kc := writeFile(t, dir, "kubeconfig", kubeconfig("a", map[string]string{"a": "http://10.0.0.2:6443"}))
	// Daemons read only the file they are given, never $KUBECONFIG.
	t.Setenv("KUBECONFIG", writeFile(t, dir, "other", kubeconfig("o", map[string]string{"o": "http://10.0.0.9:6443"})))
	for _, tc := range []struct {
		name, server, kubeconfig string
		want                     []string
	}{
		{"neither", "", "", []string{DefaultServer}},
		{"server", "10.0.0.1:6443", "", []string{"10.0.0.1:6443"}},
		{"kubeconfig", "", kc, []string{"10.0.0.2:6443"}},
		{"server over kubeconfig", "10.0.0.1:6443", kc, []string{"10.0.0.1:6443"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ConfigFromFlags(tc.server, tc.kubeconfig)
			if err != nil || !reflect.DeepEqual(c.Servers, tc.want) {
				t.Errorf("got %+v %v, want servers %v", c, err, tc.want)
			}
		})
	}
	if _, err := ConfigFromFlags("", filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing --kubeconfig was accepted")
	}
	empty := writeFile(t, dir, "empty", "")
	if _, err := ConfigFromFlags("", empty); err == nil || !strings.Contains(err.Error(), "no server") {
		t.Errorf("a kubeconfig without a server: %v", err)
	}
	// --server supplies what the kubeconfig lacks.
	if c, err := ConfigFromFlags("10.0.0.1:6443", empty); err != nil || c.Servers[0] != "10.0.0.1:6443" {
		t.Errorf("--server with an empty kubeconfig: %+v %v", c, err)
	}
}
