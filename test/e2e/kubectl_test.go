package e2e

// The seed's walkthrough with the real kubectl (bin/kubectl, the pinned
// upstream build) against the cluster's Kubernetes REST API, configured
// only by the kubeconfig `make up` writes. The tests skip while the
// apiserver has no REST API (GET /version does not answer with a
// version), so they can land before it does.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	"minik8s/test/require"
)

// kubectl runs bin/kubectl with the cluster's kubeconfig.
type kubectl struct {
	bin        string
	kubeconfig string
	home       string // a private HOME: kubectl's discovery cache, no user config
}

var (
	kubectlOnce sync.Once
	kubectlSkip string // why the tests skip ("" = they run)
	kubectlErr  error  // a setup error: the tests fail
	theKubectl  *kubectl
)

// needKubectl returns kubectl for cluster c, or skips the test while the
// cluster serves no REST API.
func needKubectl(t *testing.T, c *cluster) *kubectl {
	t.Helper()
	kubectlOnce.Do(func() { theKubectl, kubectlSkip, kubectlErr = setupKubectl(c) })
	if kubectlErr != nil {
		t.Fatalf("kubectl: %v", kubectlErr)
	}
	if kubectlSkip != "" {
		// A plain skip even under MINIK8S_NO_SKIP: the REST API is a
		// feature still to come, not a broken environment.
		t.Skip(kubectlSkip)
	}
	return theKubectl
}

func setupKubectl(c *cluster) (k *kubectl, skip string, err error) {
	k = &kubectl{bin: filepath.Join(c.bin, "kubectl"), kubeconfig: clusterKubeconfig()}
	if _, err := os.Stat(k.bin); err != nil {
		return nil, "", fmt.Errorf("%v (hack/install-deps.sh builds it)", err)
	}
	if _, err := os.Stat(k.kubeconfig); err != nil {
		return nil, "", fmt.Errorf("the cluster's kubeconfig: %v (hack/local-up-cluster.sh writes it)", err)
	}
	cfg, err := client.LoadKubeconfig(client.KubeconfigOptions{Kubeconfig: k.kubeconfig})
	if err != nil {
		return nil, "", err
	}
	if len(cfg.Servers) == 0 {
		return nil, "", fmt.Errorf("%s names no server", k.kubeconfig)
	}
	tc, err := cfg.TLSConfig()
	if err != nil {
		return nil, "", err
	}
	if err := probeREST(cfg.Servers[0], tc); err != nil {
		return nil, fmt.Sprintf("the apiserver at %s serves no Kubernetes REST API yet: %v", cfg.Servers[0], err), nil
	}
	if k.home, err = os.MkdirTemp("", "mk8s-e2e-kubectl-home-"); err != nil {
		return nil, "", err
	}
	return k, "", nil
}

// clusterKubeconfig is the kubeconfig the harness wrote: cluster.env's
// MK8S_KUBECONFIG, else the kubeconfig beside cluster.env.
func clusterKubeconfig() string {
	path := os.Getenv(EnvCluster)
	if data, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MK8S_KUBECONFIG="); ok && v != "" {
				return v
			}
		}
	}
	return filepath.Join(filepath.Dir(path), "kubeconfig")
}

// probeREST checks that GET /version answers with a Kubernetes version.
func probeREST(server string, tc *tls.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+server+"/version", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tc}}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /version: %s", resp.Status)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.GitVersion == "" {
		return fmt.Errorf("GET /version answered %q, not a version", body)
	}
	return nil
}

func (k *kubectl) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = k.env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// env is the environment kubectl runs in; later duplicates win, so the
// user's KUBECONFIG and HOME never leak in.
func (k *kubectl) env() []string {
	return append(os.Environ(), "KUBECONFIG="+k.kubeconfig, "HOME="+k.home)
}

// run runs kubectl with stdin and returns its output and exit code
// (-1 when it could not run or timed out).
func (k *kubectl) run(stdin string, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := k.command(ctx, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return out.String(), errOut.String(), exit.ExitCode()
	default:
		return out.String(), errOut.String() + err.Error(), -1
	}
}

// ok runs kubectl and fails the test unless it exits 0; it returns stdout.
func (k *kubectl) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := k.run("", args...)
	if code != 0 {
		t.Fatalf("kubectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// expect runs kubectl and checks that stdout contains every want.
func (k *kubectl) expect(t *testing.T, args []string, want ...string) string {
	t.Helper()
	out := k.ok(t, args...)
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl %s: output lacks %q:\n%s", strings.Join(args, " "), w, out)
		}
	}
	return out
}

// kubectlNamespace makes a namespace unique to this run of one test (one
// of an earlier run may still be terminating), deleted afterwards.
func (c *cluster) kubectlNamespace(t *testing.T, what string) string {
	t.Helper()
	return c.namespace(t, fmt.Sprintf("mk8s-e2e-kc-%s-%s", what, strconv.FormatInt(time.Now().UnixNano()%(1<<30), 36)))
}

// TestKubectlCluster: the read-only commands of the walkthrough.
func TestKubectlCluster(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)

	out := k.ok(t, "version", "-o", "json")
	var v struct {
		Client struct {
			GitVersion string `json:"gitVersion"`
		} `json:"clientVersion"`
		Server *struct {
			GitVersion string `json:"gitVersion"`
		} `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Client.GitVersion != "v1.37.2" || v.Server == nil || v.Server.GitVersion == "" {
		t.Errorf("kubectl version -o json: %v\n%s", err, out)
	}

	eventually(t, 60*time.Second, "kubectl get componentstatuses: all Healthy", func() string {
		out, errOut, code := k.run("", "get", "componentstatuses")
		if code != 0 {
			return fmt.Sprintf("exit %d: %s", code, errOut)
		}
		for _, name := range c.statusNames() {
			if !hasRow(out, name, "Healthy") {
				return fmt.Sprintf("%s is not Healthy:\n%s", name, out)
			}
		}
		return ""
	})

	out = k.ok(t, "get", "nodes")
	for _, n := range c.nodes {
		if !hasRow(out, n, "Ready") {
			t.Errorf("kubectl get nodes: %s is not Ready:\n%s", n, out)
		}
	}

	// The control plane's and the add-ons' pods, by node.
	args := []string{"get", "po", "-o", "custom-columns=POD:metadata.name,NODE:spec.nodeName", "--sort-by", "spec.nodeName", "-n", "kube-system"}
	out = k.ok(t, args...)
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(rows[0]); len(f) != 2 || f[0] != "POD" || f[1] != "NODE" || len(rows) < 2 {
		t.Fatalf("kubectl %s:\n%s", strings.Join(args, " "), out)
	}
	var nodes []string
	for _, r := range rows[1:] {
		if f := strings.Fields(r); len(f) == 2 {
			nodes = append(nodes, f[1])
		}
	}
	if !sort.StringsAreSorted(nodes) {
		t.Errorf("--sort-by spec.nodeName did not sort by node:\n%s", out)
	}

	k.expect(t, []string{"api-resources"}, "pods", "deployments", "services", "namespaces")
	k.expect(t, []string{"explain", "pod.spec.containers"}, "KIND:", "Pod", "FIELD", "image")
	// kubectl top: TestKubectlTop (kubectl_drain_top_test.go).
}

// hasRow says some line of a table starts with name and has value in a
// later column.
func hasRow(table, name, value string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == name {
			for _, x := range f[1:] {
				if x == value {
					return true
				}
			}
		}
	}
	return false
}

// bgKubectl is a kubectl running in the background (get -w, logs -f)
// whose output is collected.
type bgKubectl struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	out    strings.Builder
}

func (b *bgKubectl) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *bgKubectl) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// stop ends the command and waits for it; calling it again is harmless.
func (b *bgKubectl) stop() {
	b.cancel()
	<-b.done
}

func (k *kubectl) background(t *testing.T, args ...string) *bgKubectl {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bgKubectl{cancel: cancel, done: make(chan struct{})}
	cmd := k.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = b, b
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(b.done) }()
	t.Cleanup(b.stop)
	return b
}

// TestKubectlRunWatch: `kubectl run nginx --image=nginx` while `kubectl
// get pods -w` watches (Pending, then Running); then get -o wide,
// describe, label, annotate and the pod's events.
func TestKubectlRunWatch(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "run")

	// kubectl get -w prints nothing for an empty list, so a pod is there
	// first: once the watch printed it, the list is done and the watch
	// runs from the list's resourceVersion, so it sees every later change.
	k.expect(t, []string{"-n", ns, "run", "anchor", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "3600"}, "pod/anchor created")
	w := k.background(t, "-n", ns, "get", "pods", "-w")
	eventually(t, 30*time.Second, "kubectl get pods -w listed the namespace", func() string {
		if out := w.String(); !strings.Contains(out, "anchor") {
			return fmt.Sprintf("%q", out)
		}
		return ""
	})
	k.expect(t, []string{"-n", ns, "run", "nginx", "--image=nginx"}, "pod/nginx created")
	k.ok(t, "-n", ns, "wait", "--for=condition=Ready", "pod/nginx", "--timeout=150s")
	var phases []string
	eventually(t, 30*time.Second, "kubectl get pods -w showed nginx Running", func() string {
		phases = nil
		for _, line := range strings.Split(w.String(), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "nginx" {
				phases = append(phases, f[2])
			}
		}
		if indexOf(phases, "Running") < 0 {
			return w.String()
		}
		return ""
	})
	w.stop()
	if i, j := indexOf(phases, "Pending"), indexOf(phases, "Running"); i < 0 || j < i {
		t.Errorf("get pods -w: want Pending then Running, got %v:\n%s", phases, w.String())
	}

	node := strings.TrimSpace(k.ok(t, "-n", ns, "get", "pod", "nginx", "-o", "jsonpath={.spec.nodeName}"))
	ip := strings.TrimSpace(k.ok(t, "-n", ns, "get", "pod", "nginx", "-o", "jsonpath={.status.podIP}"))
	out := k.expect(t, []string{"-n", ns, "get", "po", "-o", "wide"}, "NOMINATED NODE", "nginx", "Running", node, ip)
	t.Logf("kubectl get po -o wide:\n%s", out)

	k.expect(t, []string{"-n", ns, "describe", "pod", "nginx"}, "Name:", "nginx", "Node:", node, "Status:", "Running", "Events:")

	k.expect(t, []string{"-n", ns, "label", "pod", "nginx", "tier=frontend"}, "pod/nginx labeled")
	k.expect(t, []string{"-n", ns, "get", "pods", "-l", "tier=frontend", "-o", "name"}, "pod/nginx")
	k.expect(t, []string{"-n", ns, "annotate", "pod", "nginx", "mk8s.io/note=hello"}, "pod/nginx annotated")
	if got := k.ok(t, "-n", ns, "get", "pod", "nginx", "-o", `jsonpath={.metadata.annotations.mk8s\.io/note}`); got != "hello" {
		t.Errorf("annotation: %q", got)
	}

	eventually(t, 30*time.Second, "the pod's events", func() string {
		out, errOut, code := k.run("", "-n", ns, "get", "events", "--field-selector", "involvedObject.name=nginx")
		if code != 0 {
			return errOut
		}
		for _, reason := range []string{"Scheduled", "Pulled", "Created", "Started"} {
			if !strings.Contains(out, reason) {
				return fmt.Sprintf("no %s event:\n%s", reason, out)
			}
		}
		return ""
	})
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// TestKubectlLogsExec: logs, logs -f, and exec with and without -it, the
// command's exit code passed through.
func TestKubectlLogsExec(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "exec")
	k.expect(t, []string{"-n", ns, "run", "ticker", "--image=busybox", "--restart=Never", "--command", "--",
		"sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 1; done"}, "pod/ticker created")
	k.ok(t, "-n", ns, "wait", "--for=condition=Ready", "pod/ticker", "--timeout=150s")

	eventually(t, 30*time.Second, "kubectl logs", func() string {
		out, errOut, _ := k.run("", "-n", ns, "logs", "ticker")
		if !strings.Contains(out, "tick-0\n") {
			return out + errOut
		}
		return ""
	})

	// logs -f keeps printing new lines: wait for two beyond what exists.
	out, _, _ := k.run("", "-n", ns, "logs", "ticker")
	n := strings.Count(out, "\n")
	f := k.background(t, "-n", ns, "logs", "-f", "ticker")
	eventually(t, 30*time.Second, "kubectl logs -f follows", func() string {
		if got := f.String(); !strings.Contains(got, fmt.Sprintf("tick-%d\n", n+2)) {
			return got
		}
		return ""
	})
	f.stop()

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		out   string
		code  int
	}{
		{"exit code", "", []string{"exec", "ticker", "--", "sh", "-c", "echo out; exit 3"}, "out\n", 3},
		{"stdin", "hello\n", []string{"exec", "-i", "ticker", "--", "cat"}, "hello\n", 0},
		{"success", "", []string{"exec", "ticker", "--", "sh", "-c", "echo $((6*7))"}, "42\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := k.run(tc.stdin, append([]string{"-n", ns}, tc.args...)...)
			if code != tc.code || out != tc.out {
				t.Errorf("kubectl %s: exit %d, stdout %q (stderr %q), want %d %q", strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.out)
			}
		})
	}

	t.Run("-it", func(t *testing.T) {
		// -t needs a terminal: script(1) runs kubectl on one.
		script, err := exec.LookPath("script")
		if err != nil {
			require.Skip(t, "no script(1) to run kubectl exec -it on a terminal")
		}
		line := shellQuote(k.bin, "-n", ns, "exec", "-it", "ticker", "--", "sh", "-c", "tty; exit 4")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
		cmd.Env = k.env()
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 4 || !strings.Contains(string(out), "/dev/pts/") {
			t.Errorf("kubectl exec -it ... 'tty; exit 4': %v, output %q; want exit 4 and a /dev/pts terminal", err, out)
		}
	})
}

// TestKubectlPortForward: `kubectl port-forward pod/NAME LOCAL:8080` to
// the sample app (what "nginx" is on this cluster) answers on loopback.
func TestKubectlPortForward(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.namespace(t, "mk8s-e2e-kubectl-pf")
	k.expect(t, []string{"-n", ns, "run", "web", "--image=nginx", "--restart=Never"}, "pod/web created")
	k.ok(t, "-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=150s")
	pf := k.background(t, "-n", ns, "port-forward", "pod/web", ":8080")
	var local string
	eventually(t, 30*time.Second, "port-forward listening", func() string {
		m := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`).FindStringSubmatch(pf.String())
		if m == nil {
			return fmt.Sprintf("no forwarding line yet: %q", pf.String())
		}
		local = m[1]
		return ""
	})
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://127.0.0.1:" + local + "/")
	if err != nil {
		t.Fatalf("GET through the forwarded port: %v\n%s", err, pf.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "You've hit web") {
		t.Fatalf("GET through the forwarded port: %s %q", resp.Status, body)
	}
}

// shellQuote joins args into one sh command line.
func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

const applyManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: GREETING
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox
        command: ["sleep", "3600"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`

func writeManifest(t *testing.T, name, greeting string, replicas int) string {
	t.Helper()
	m := strings.NewReplacer("GREETING", greeting, "REPLICAS", strconv.Itoa(replicas)).Replace(applyManifest)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKubectlApplyRollout: apply of a multi-document file, again after an
// edit, and server-side; then scale, rollout status, set image, rollout
// undo, and delete with foreground and background cascading.
func TestKubectlApplyRollout(t *testing.T) {
	c := need(t)
	k := needKubectl(t, c)
	ns := c.kubectlNamespace(t, "apply")

	f := writeManifest(t, "v1.yaml", "hello", 1)
	out := k.ok(t, "-n", ns, "apply", "-f", f)
	for _, w := range []string{"configmap/settings created", "deployment.apps/web created", "service/web created"} {
		if !strings.Contains(out, w) {
			t.Errorf("first apply lacks %q:\n%s", w, out)
		}
	}
	f = writeManifest(t, "v2.yaml", "bonjour", 2)
	out = k.ok(t, "-n", ns, "apply", "-f", f)
	for _, w := range []string{"configmap/settings configured", "deployment.apps/web configured", "service/web unchanged"} {
		if !strings.Contains(out, w) {
			t.Errorf("apply after the edit lacks %q:\n%s", w, out)
		}
	}
	if got := k.ok(t, "-n", ns, "get", "configmap", "settings", "-o", "jsonpath={.data.greeting}"); got != "bonjour" {
		t.Errorf("configmap after the edit: %q", got)
	}

	// Server-side apply takes the objects over from client-side apply
	// without conflicts, as in Kubernetes, and applies a further edit.
	f = writeManifest(t, "v3.yaml", "hola", 2)
	out = k.ok(t, "-n", ns, "apply", "--server-side", "-f", f)
	for _, w := range []string{"configmap/settings serverside-applied", "deployment.apps/web serverside-applied", "service/web serverside-applied"} {
		if !strings.Contains(out, w) {
			t.Errorf("apply --server-side lacks %q:\n%s", w, out)
		}
	}
	if got := k.ok(t, "-n", ns, "get", "configmap", "settings", "-o", "jsonpath={.data.greeting}"); got != "hola" {
		t.Errorf("configmap after apply --server-side: %q", got)
	}
	managers := k.ok(t, "-n", ns, "get", "configmap", "settings", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
	if !strings.Contains(managers, "kubectl") {
		t.Errorf("managedFields managers %q: want kubectl's", managers)
	}

	k.ok(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=3m")
	k.expect(t, []string{"-n", ns, "scale", "deployment/web", "--replicas=3"}, "deployment.apps/web scaled")
	k.expect(t, []string{"-n", ns, "rollout", "status", "deployment/web", "--timeout=3m"}, "successfully rolled out")
	if got := k.ok(t, "-n", ns, "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}"); got != "3" {
		t.Errorf("readyReplicas after scale: %q", got)
	}

	k.expect(t, []string{"-n", ns, "set", "image", "deployment/web", "web=busybox:1.36"}, "deployment.apps/web image updated")
	k.expect(t, []string{"-n", ns, "rollout", "status", "deployment/web", "--timeout=3m"}, "successfully rolled out")
	image := func() string {
		return k.ok(t, "-n", ns, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	}
	if got := image(); got != "busybox:1.36" {
		t.Errorf("image after set image: %q", got)
	}
	k.expect(t, []string{"-n", ns, "rollout", "history", "deployment/web"}, "REVISION")
	k.expect(t, []string{"-n", ns, "rollout", "undo", "deployment/web"}, "deployment.apps/web rolled back")
	k.expect(t, []string{"-n", ns, "rollout", "status", "deployment/web", "--timeout=3m"}, "successfully rolled out")
	if got := image(); got != "busybox" {
		t.Errorf("image after rollout undo: %q, want busybox", got)
	}

	// Foreground: the deployment goes only after its ReplicaSets and
	// pods, and kubectl waits for it to go.
	k.expect(t, []string{"-n", ns, "delete", "deployment", "web", "--cascade=foreground"}, `deployment.apps "web" deleted`)
	if out := k.ok(t, "-n", ns, "get", "replicasets,pods", "-l", "app=web", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("left after a foreground delete returned:\n%s", out)
	}

	// Background: the deployment goes at once, the garbage collector
	// removes the rest.
	f = writeManifest(t, "v4.yaml", "hi", 2)
	k.ok(t, "-n", ns, "apply", "-f", f)
	k.ok(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=3m")
	k.expect(t, []string{"-n", ns, "delete", "deployment", "web", "--cascade=background"}, `deployment.apps "web" deleted`)
	eventually(t, 90*time.Second, "the garbage collector removed web's replicasets and pods", func() string {
		out, errOut, code := k.run("", "-n", ns, "get", "replicasets,pods", "-l", "app=web", "-o", "name")
		if code != 0 {
			return errOut
		}
		return strings.TrimSpace(out)
	})
}
