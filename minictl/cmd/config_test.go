package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"minik8s/api/client"
)

// runEnv runs one minictl command line with the given environment and
// returns what it printed, its exit code and the options it settled on
// (o.cfg is nil if it did not connect).
func runEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int, o *Options) {
	t.Helper()
	var out, errOut bytes.Buffer
	o = &Options{
		In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return testNow },
		Connect: func(*client.Config) (Cluster, error) {
			return newFakeCluster(testNow), nil
		},
	}
	code = o.Run(context.Background(), args)
	return out.String(), errOut.String(), code, o
}

func writeKubeconfig(t *testing.T, path, current string, contexts ...[4]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\ncurrent-context: " + current + "\nclusters:\n")
	for _, c := range contexts { // name, server, namespace, (unused)
		b.WriteString("- name: " + c[0] + "\n  cluster: {server: \"" + c[1] + "\"}\n")
	}
	b.WriteString("users:\n- name: admin\n  user: {}\ncontexts:\n")
	for _, c := range contexts {
		b.WriteString("- name: " + c[0] + "\n  context: {cluster: " + c[0] + ", user: admin, namespace: \"" + c[2] + "\"}\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKubeconfigFlags checks which server and namespace a command ends up
// with for each combination of flags, environment and files.
func TestKubeconfigFlags(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	writeKubeconfig(t, filepath.Join(home, ".kube", "config"), "home", [4]string{"home", "http://10.0.0.1:6443", "home-ns"})
	a := writeKubeconfig(t, filepath.Join(dir, "a"), "a",
		[4]string{"a", "http://10.0.0.2:6443", "a-ns"}, [4]string{"a2", "http://10.0.0.3:6443", ""})
	b := writeKubeconfig(t, filepath.Join(dir, "b"), "b", [4]string{"b", "http://10.0.0.4:6443", "b-ns"})

	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		servers string
		ns      string
	}{
		{"nothing configured", nil, nil, DefaultServer, "default"},
		{"~/.kube/config", map[string]string{"HOME": home}, nil, "10.0.0.1:6443", "home-ns"},
		{"$KUBECONFIG over home", map[string]string{"HOME": home, "KUBECONFIG": b}, nil, "10.0.0.4:6443", "b-ns"},
		{"$KUBECONFIG merged", map[string]string{"KUBECONFIG": b + ":" + a}, []string{"--context", "a2"}, "10.0.0.3:6443", "default"},
		{"--kubeconfig over $KUBECONFIG", map[string]string{"KUBECONFIG": b}, []string{"--kubeconfig", a}, "10.0.0.2:6443", "a-ns"},
		{"--context", nil, []string{"--kubeconfig", a, "--context", "a2"}, "10.0.0.3:6443", "default"},
		{"-n over the context's namespace", nil, []string{"--kubeconfig", a, "-n", "mine"}, "10.0.0.2:6443", "mine"},
		{"$MINIK8S_SERVER over the kubeconfig", map[string]string{"KUBECONFIG": a, EnvServer: "10.1.0.1:6443,10.1.0.1:6444"}, nil, "10.1.0.1:6443,10.1.0.1:6444", "a-ns"},
		{"--server over $MINIK8S_SERVER", map[string]string{"KUBECONFIG": a, EnvServer: "10.1.0.1:6443"}, []string{"-s", "http://10.2.0.1:6443"}, "10.2.0.1:6443", "a-ns"},
		{"$MINIK8S_SERVER without a kubeconfig", map[string]string{EnvServer: "10.1.0.1:6443"}, nil, "10.1.0.1:6443", "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code, o := runEnv(t, tc.env, append(tc.args, "get", "pods")...)
			if code != 0 || o.cfg == nil {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := strings.Join(o.cfg.Servers, ","); got != tc.servers {
				t.Errorf("servers %s, want %s", got, tc.servers)
			}
			if o.Namespace != tc.ns {
				t.Errorf("namespace %s, want %s", o.Namespace, tc.ns)
			}
		})
	}
}

func TestKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("clusters: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := writeKubeconfig(t, filepath.Join(dir, "good"), "a", [4]string{"a", "http://10.0.0.2:6443", ""})
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"missing --kubeconfig", nil, []string{"--kubeconfig", filepath.Join(dir, "nope")}, "error: kubeconfig " + filepath.Join(dir, "nope") + ": no such file\n"},
		{"malformed --kubeconfig", nil, []string{"--kubeconfig", bad}, "error: kubeconfig " + bad + ": yaml: "},
		{"malformed file in $KUBECONFIG", map[string]string{"KUBECONFIG": good + ":" + bad}, nil, "error: kubeconfig " + bad + ": yaml: "},
		{"unknown --context", nil, []string{"--kubeconfig", good, "--context", "b"}, "error: kubeconfig " + good + `: context "b" not found` + "\n"},
		{"bad --server", nil, []string{"--kubeconfig", good, "-s", "ftp://x:1"}, `error: --server: server "ftp://x:1": scheme "ftp" is neither http nor https` + "\n"},
		{"http", nil, []string{"--kubeconfig", good, "-s", "http://10.0.0.2:6443"}, "error: apiserver 10.0.0.2:6443: http:// is not served (the API port is TLS only); use an https:// server URL\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			// The real Connect: an https config must fail before dialling.
			o := &Options{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(k string) string { return tc.env[k] }}
			code := o.Run(context.Background(), append(tc.args, "get", "pods"))
			if code != 1 || !strings.HasPrefix(errOut.String(), tc.want) || strings.Count(errOut.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q, want one line starting %q", code, errOut.String(), tc.want)
			}
		})
	}
}

// TestConfigWritesKubeconfig runs the commands `make up` uses to write its
// kubeconfig and checks the file is the standard shape, then reads it back.
func TestConfigWritesKubeconfig(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "local", "kubeconfig") // its directory does not exist yet
	run := func(args ...string) (string, string, int) {
		out, errOut, code, _ := runEnv(t, nil, append([]string{"--kubeconfig", kc, "config"}, args...)...)
		return out, errOut, code
	}
	for _, step := range []struct {
		args []string
		out  string
	}{
		{[]string{"set-cluster", "minik8s", "--server", "http://10.250.0.1:6443"}, "Cluster \"minik8s\" set.\n"},
		{[]string{"set-credentials", "admin"}, "User \"admin\" set.\n"},
		{[]string{"set-context", "minik8s", "--cluster", "minik8s", "--user", "admin"}, "Context \"minik8s\" created.\n"},
		{[]string{"use-context", "minik8s"}, "Switched to context \"minik8s\".\n"},
	} {
		if out, errOut, code := run(step.args...); code != 0 || out != step.out {
			t.Fatalf("config %v: exit %d, out %q, err %q", step.args, code, out, errOut)
		}
	}
	data, err := os.ReadFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	const want = `apiVersion: v1
clusters:
- cluster:
    server: http://10.250.0.1:6443
  name: minik8s
contexts:
- context:
    cluster: minik8s
    user: admin
  name: minik8s
current-context: minik8s
kind: Config
users:
- name: admin
  user: {}
`
	if string(data) != want {
		t.Errorf("kubeconfig:\n%s\nwant:\n%s", data, want)
	}
	if fi, _ := os.Stat(kc); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: it will hold credentials", fi.Mode().Perm())
	}
	cfg, err := client.LoadKubeconfig(client.KubeconfigOptions{Kubeconfig: kc})
	if err != nil || strings.Join(cfg.Servers, ",") != "10.250.0.1:6443" || cfg.Context != "minik8s" || cfg.User != "admin" {
		t.Errorf("read back: %+v, %v", cfg, err)
	}

	if out, _, code := run("set-context", "--current", "--namespace", "dev"); code != 0 || out != "Context \"minik8s\" modified.\n" {
		t.Errorf("set-context --current: %d %q", code, out)
	}
	if out, _, _ := run("current-context"); out != "minik8s\n" {
		t.Errorf("current-context: %q", out)
	}
	if out, _, _ := run("get-contexts"); out != "CURRENT   NAME      CLUSTER   AUTHINFO   NAMESPACE\n*         minik8s   minik8s   admin      dev\n" {
		t.Errorf("get-contexts:\n%s", out)
	}
	if out, _, code := run("set-credentials", "admin", "--token", "s3cret"); code != 0 || out != "User \"admin\" set.\n" {
		t.Errorf("set-credentials --token: %d %q", code, out)
	}
	if out, _, _ := run("view"); !strings.Contains(out, "token: REDACTED") || strings.Contains(out, "s3cret") {
		t.Errorf("view shows the token:\n%s", out)
	}
	if out, _, _ := run("view", "--raw"); !strings.Contains(out, "token: s3cret") {
		t.Errorf("view --raw hides the token:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"use-context", "nope"}, "error: no context exists with the name: \"nope\"\n"},
		{[]string{"set-cluster", "x", "--server", "10.0.0.1"}, "error: server \"10.0.0.1\": want https://HOST:PORT or HOST:PORT\n"},
		{[]string{"set-context"}, "error: you must specify a context name or --current\n"},
	} {
		if _, errOut, code := run(tc.args...); code != 1 || errOut != tc.err {
			t.Errorf("config %v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.err)
		}
	}
}

// TestConfigDestination checks which file config changes go to.
func TestConfigDestination(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	home := filepath.Join(dir, "home")
	for _, tc := range []struct {
		name   string
		env    map[string]string
		exists []string
		want   string
	}{
		{"home", map[string]string{"HOME": home}, nil, filepath.Join(home, ".kube", "config")},
		{"$KUBECONFIG: the first that exists", map[string]string{"HOME": home, "KUBECONFIG": a + ":" + b}, []string{b}, b},
		{"$KUBECONFIG: none exists, the last", map[string]string{"KUBECONFIG": a + ":" + b}, nil, b},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []string{a, b} {
				_ = os.Remove(f)
			}
			for _, f := range tc.exists {
				writeKubeconfig(t, f, "", [4]string{"x", "http://127.0.0.1:1", ""})
			}
			o := &Options{Getenv: func(k string) string { return tc.env[k] }}
			if got := o.kubeconfigDestination(); got != tc.want {
				t.Errorf("destination %s, want %s", got, tc.want)
			}
		})
	}
}
