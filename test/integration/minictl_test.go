package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/apiservertest"
)

// minictl runs the real minictl binary against one apiserver, with a
// private HOME and no KUBECONFIG so that no kubeconfig of the user interferes.
type minictl struct {
	t      *testing.T
	bin    string
	home   string
	server string
	// kubeconfig is the admin kubeconfig (CA, client certificate); empty
	// runs without credentials.
	kubeconfig string
}

// result is what one minictl run printed and how it exited.
type mcResult struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r mcResult) String() string {
	return fmt.Sprintf("minictl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// buildMinictl compiles minik8s/minictl into a temp dir of t.
func buildMinictl(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the module root")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "minictl")
	cmd := exec.Command("go", "build", "-o", bin, "minik8s/minictl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build minictl: %v\n%s", err, out)
	}
	return bin
}

func (m *minictl) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "MINIK8S_SERVER=") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+m.home)
}

func (m *minictl) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"--server", m.server}, args...)
	if m.kubeconfig != "" {
		full = append([]string{"--kubeconfig", m.kubeconfig}, full...)
	}
	cmd := exec.CommandContext(ctx, m.bin, full...)
	cmd.Env = m.env()
	cmd.Dir = m.home
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs minictl with args and returns its output and exit code.
func (m *minictl) run(args ...string) mcResult {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := m.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := mcResult{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			m.t.Fatalf("minictl %s: %v (stderr %q)", strings.Join(args, " "), err, r.stderr)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// ok runs minictl, requires exit 0, and returns its stdout.
func (m *minictl) ok(args ...string) string {
	m.t.Helper()
	r := m.run(args...)
	if r.code != 0 {
		m.t.Fatalf("want exit 0, got\n%s", r)
	}
	return r.stdout
}

// fails runs minictl, requires exit 1 with nothing on stdout and exactly
// one line on stderr, and returns that line.
func (m *minictl) fails(args ...string) string {
	m.t.Helper()
	r := m.run(args...)
	if r.code != 1 {
		m.t.Fatalf("want exit 1, got\n%s", r)
	}
	if r.stdout != "" {
		m.t.Errorf("want no stdout on failure, got\n%s", r)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		m.t.Errorf("want exactly one line on stderr, got\n%s", r)
	}
	return strings.TrimSuffix(r.stderr, "\n")
}

// writeFile writes content into a new file of the test's temp dir.
func mcWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// podManifest is a minimal pod; node, if set, binds it.
func podManifest(name string, labels map[string]string, node string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n", name)
	if len(labels) > 0 {
		b.WriteString("  labels:\n")
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "    %s: %q\n", k, labels[k])
		}
	}
	b.WriteString("spec:\n")
	if node != "" {
		fmt.Fprintf(&b, "  nodeName: %s\n", node)
	}
	b.WriteString("  containers:\n  - name: app\n    image: registry.local/kubia:1\n")
	return b.String()
}

// table is a parsed kubectl-style table: header cells and, for each row,
// the cells cut at the header's column positions, so a misaligned row
// shows up as wrong cells.
type mcTable struct {
	header []string
	rows   [][]string
}

var mcColumnGap = regexp.MustCompile(`\S+( \S+)*`)

func mcParseTable(t *testing.T, out string) mcTable {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("no table in %q", out)
	}
	locs := mcColumnGap.FindAllStringIndex(lines[0], -1)
	var tb mcTable
	for _, l := range locs {
		tb.header = append(tb.header, lines[0][l[0]:l[1]])
	}
	for _, line := range lines[1:] {
		row := make([]string, len(locs))
		for i, l := range locs {
			if l[0] > len(line) {
				t.Fatalf("row %q is shorter than the header %q", line, lines[0])
			}
			end := len(line)
			if i+1 < len(locs) && locs[i+1][0] < end {
				end = locs[i+1][0]
			}
			cell := line[l[0]:end]
			if i+1 < len(locs) && !strings.HasSuffix(cell, " ") {
				t.Fatalf("row %q is not aligned with the header %q", line, lines[0])
			}
			row[i] = strings.TrimSpace(cell)
		}
		tb.rows = append(tb.rows, row)
	}
	return tb
}

// row returns the row whose column col is value.
func (tb mcTable) row(t *testing.T, col, value string) map[string]string {
	t.Helper()
	idx := -1
	for i, h := range tb.header {
		if h == col {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("no column %s in %v", col, tb.header)
	}
	for _, r := range tb.rows {
		if r[idx] == value {
			m := map[string]string{}
			for i, h := range tb.header {
				m[h] = r[i]
			}
			return m
		}
	}
	t.Fatalf("no row with %s=%s in %v", col, value, tb.rows)
	return nil
}

func (tb mcTable) column(t *testing.T, col string) []string {
	t.Helper()
	for i, h := range tb.header {
		if h == col {
			var out []string
			for _, r := range tb.rows {
				out = append(out, r[i])
			}
			return out
		}
	}
	t.Fatalf("no column %s in %v", col, tb.header)
	return nil
}

func mcWantHeader(t *testing.T, tb mcTable, want ...string) {
	t.Helper()
	if strings.Join(tb.header, "|") != strings.Join(want, "|") {
		t.Fatalf("header = %q, want %q", tb.header, want)
	}
}

func mcWantLines(t *testing.T, got string, want ...string) {
	t.Helper()
	w := strings.Join(want, "\n") + "\n"
	if got != w {
		t.Fatalf("output:\n%s\nwant:\n%s", got, w)
	}
}

// mcSyncBuffer is a bytes.Buffer safe for a process writing while the test reads.
type mcSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *mcSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *mcSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or 15s pass.
func mcWaitFor(t *testing.T, what string, cond func() bool, show func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have:\n%s", what, show())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMinictl runs the real minictl binary against a real apiserver on a
// real etcd. The subtests share the server and keep apart by names and
// labels.
func TestMinictl(t *testing.T) {
	bin := buildMinictl(t)
	s := apiservertest.StartWithEtcd(t)
	m := &minictl{t: t, bin: bin, home: t.TempDir(), server: s.Addr, kubeconfig: s.Kubeconfig}
	cl := s.Client(t)
	sub := func(name string, fn func(t *testing.T, m *minictl)) {
		t.Run(name, func(t *testing.T) {
			fn(t, &minictl{t: t, bin: m.bin, home: m.home, server: m.server, kubeconfig: m.kubeconfig})
		})
	}

	sub("Apply", func(t *testing.T, m *minictl) {
		f := mcWriteFile(t, "pod.yaml", podManifest("apply-1", map[string]string{"app": "apply", "tier": "a"}, ""))
		mcWantLines(t, m.ok("apply", "-f", f), "pod/apply-1 created")
		mcWantLines(t, m.ok("apply", "-f", f), "pod/apply-1 unchanged")
		if err := os.WriteFile(f, []byte(podManifest("apply-1", map[string]string{"app": "apply", "tier": "b"}, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		mcWantLines(t, m.ok("apply", "-f", f), "pod/apply-1 configured")
		mcWantLines(t, m.ok("get", "pod", "apply-1", "-o", "jsonpath={.metadata.labels.tier}{'\\n'}"), "b")
		// A label the manifest drops is removed by the next apply.
		if err := os.WriteFile(f, []byte(podManifest("apply-1", map[string]string{"app": "apply"}, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		mcWantLines(t, m.ok("apply", "-f", f), "pod/apply-1 configured")
		mcWantLines(t, m.ok("get", "pod", "apply-1", "--no-headers", "-o", "custom-columns=L:metadata.labels"), "map[app:apply]")

		// A multi-document file: one line per object, in file order.
		web, err := filepath.Abs("../../deploy/examples/web-app.yaml")
		if err != nil {
			t.Fatal(err)
		}
		mcWantLines(t, m.ok("apply", "-f", web),
			"deployment.apps/frontend created",
			"service/frontend created",
			"ingress.networking.k8s.io/frontend created",
			"horizontalpodautoscaler.autoscaling/frontend created")
		mcWantLines(t, m.ok("apply", "-f", web),
			"deployment.apps/frontend unchanged",
			"service/frontend unchanged",
			"ingress.networking.k8s.io/frontend unchanged",
			"horizontalpodautoscaler.autoscaling/frontend unchanged")
		mcWantLines(t, m.ok("get", "deploy,svc,ing,hpa", "-o", "name"),
			"deployment.apps/frontend",
			"service/frontend",
			"service/kubernetes", // every cluster has it
			"ingress.networking.k8s.io/frontend",
			"horizontalpodautoscaler.autoscaling/frontend")
	})

	sub("Get", func(t *testing.T, m *minictl) {
		// Pods bound to nodes in an order unlike their names.
		nodes := map[string]string{"get-x": "node-c", "get-y": "node-a", "get-z": "node-b"}
		var docs []string
		for _, name := range []string{"get-x", "get-y", "get-z"} {
			docs = append(docs, podManifest(name, map[string]string{"app": "get"}, nodes[name]))
		}
		docs = append(docs, podManifest("get-free", map[string]string{"app": "get-free"}, ""))
		f := mcWriteFile(t, "pods.yaml", strings.Join(docs, "---\n"))
		mcWantLines(t, m.ok("apply", "-f", f), "pod/get-x created", "pod/get-y created", "pod/get-z created", "pod/get-free created")

		tb := mcParseTable(t, m.ok("get", "pods"))
		mcWantHeader(t, tb, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
		r := tb.row(t, "NAME", "get-free")
		if r["READY"] != "0/1" || r["STATUS"] != "Pending" || r["RESTARTS"] != "0" || !regexp.MustCompile(`^\d+s$`).MatchString(r["AGE"]) {
			t.Fatalf("row get-free = %v", r)
		}

		tb = mcParseTable(t, m.ok("get", "pods", "-o", "wide", "-l", "app=get"))
		mcWantHeader(t, tb, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
		if r := tb.row(t, "NAME", "get-y"); r["NODE"] != "node-a" || r["IP"] != "<none>" {
			t.Fatalf("wide row get-y = %v", r)
		}
		if got := tb.column(t, "NAME"); strings.Join(got, ",") != "get-x,get-y,get-z" {
			t.Fatalf("-l app=get listed %v", got)
		}

		mcWantLines(t, m.ok("get", "pods", "-l", "app=get", "-o", "name"), "pod/get-x", "pod/get-y", "pod/get-z")
		mcWantLines(t, m.ok("get", "pod/get-free", "-o", "name"), "pod/get-free")

		// -o yaml of one object parses back as that object.
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(m.ok("get", "pod", "get-x", "-o", "yaml")), &obj); err != nil {
			t.Fatal(err)
		}
		md, _ := obj["metadata"].(map[string]any)
		spec, _ := obj["spec"].(map[string]any)
		if obj["kind"] != "Pod" || obj["apiVersion"] != "v1" || md["name"] != "get-x" || md["resourceVersion"] == nil || md["resourceVersion"] == "" || spec["nodeName"] != "node-c" {
			t.Fatalf("-o yaml parsed to %v", obj)
		}
		// -o json of several objects is a List.
		var list struct {
			Kind  string
			Items []struct {
				Kind     string
				Metadata struct{ Name, ResourceVersion string }
			}
		}
		if err := json.Unmarshal([]byte(m.ok("get", "pods", "-l", "app=get", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		if list.Kind != "List" || len(list.Items) != 3 || list.Items[0].Kind != "Pod" || list.Items[0].Metadata.Name != "get-x" || list.Items[0].Metadata.ResourceVersion == "" {
			t.Fatalf("-o json = %+v", list)
		}

		// custom-columns, sorted by node.
		mcWantLines(t, m.ok("get", "pods", "-l", "app=get", "-o", "custom-columns=POD:metadata.name,NODE:spec.nodeName", "--sort-by", "spec.nodeName"),
			"POD     NODE",
			"get-y   node-a",
			"get-z   node-b",
			"get-x   node-c")
		mcWantLines(t, m.ok("get", "pods", "-l", "app in (get,get-free)", "--sort-by", "{.spec.nodeName}", "-o", "name"),
			"pod/get-free", "pod/get-y", "pod/get-z", "pod/get-x")
		mcWantLines(t, m.ok("get", "pods", "-l", "app=get-free", "-o", "custom-columns=POD:metadata.name,NODE:spec.nodeName"),
			"POD        NODE",
			"get-free   <none>")

		tb = mcParseTable(t, m.ok("get", "pods", "--field-selector", "spec.nodeName=node-b"))
		if got := tb.column(t, "NAME"); strings.Join(got, ",") != "get-z" {
			t.Fatalf("--field-selector spec.nodeName=node-b listed %v", got)
		}

		tb = mcParseTable(t, m.ok("get", "pods", "-A", "-l", "app=get"))
		mcWantHeader(t, tb, "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE")
		if r := tb.row(t, "NAME", "get-z"); r["NAMESPACE"] != "default" {
			t.Fatalf("-A row = %v", r)
		}

		tb = mcParseTable(t, m.ok("get", "ns"))
		mcWantHeader(t, tb, "NAME", "STATUS", "AGE")
		if got := strings.Join(tb.column(t, "NAME"), ","); got != "default,kube-node-lease,kube-public,kube-system" {
			t.Fatalf("namespaces = %s", got)
		}
		if r := tb.row(t, "NAME", "kube-system"); r["STATUS"] != "Active" {
			t.Fatalf("kube-system row = %v", r)
		}

		// Nothing found: a note on stderr, success.
		res := m.run("get", "pods", "-l", "app=no-such-app")
		if res.code != 0 || res.stdout != "" || res.stderr != "No resources found in default namespace.\n" {
			t.Fatalf("empty get:\n%s", res)
		}
		res = m.run("get", "pods", "-n", "kube-public")
		if res.code != 0 || res.stdout != "" || res.stderr != "No resources found in kube-public namespace.\n" {
			t.Fatalf("empty get -n kube-public:\n%s", res)
		}
	})

	sub("CreateGenerators", func(t *testing.T, m *minictl) {
		if out := m.ok("create", "namespace", "team-a"); out != "namespace/team-a created\n" {
			t.Errorf("create namespace: %q", out)
		}
		file := filepath.Join(t.TempDir(), "app.conf")
		if err := os.WriteFile(file, []byte("x=1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out := m.ok("create", "configmap", "cfg", "-n", "team-a", "--from-literal=mode=fast", "--from-file="+file); out != "configmap/cfg created\n" {
			t.Errorf("create configmap: %q", out)
		}
		if out := m.ok("get", "cm", "cfg", "-n", "team-a", "-o", "jsonpath={.data.mode} {.data.app\\.conf}"); out != "fast x=1\n" {
			t.Errorf("configmap data: %q", out)
		}
		if msg := m.fails("create", "configmap", "bad", "--from-literal=novalue"); !strings.Contains(msg, "want key=value") {
			t.Errorf("bad literal: %q", msg)
		}
		if msg := m.fails("create", "namespace", "team-a"); !strings.Contains(msg, "already exists") {
			t.Errorf("duplicate namespace: %q", msg)
		}
	})
	sub("Errors", func(t *testing.T, m *minictl) {
		if got := m.fails("get", "pods", "nope"); got != `Error from server (NotFound): pods "nope" not found` {
			t.Errorf("get pods nope: %q", got)
		}
		f := mcWriteFile(t, "typo.yaml", strings.Replace(podManifest("err-typo", nil, ""), "image:", "imagee:", 1))
		if got := m.fails("apply", "-f", f); !strings.Contains(got, `"spec.containers[0].imagee"`) || !strings.Contains(got, f) || !strings.HasPrefix(got, "error: ") {
			t.Errorf("apply with a typo: %q", got)
		}
		f = mcWriteFile(t, "noimage.yaml", strings.Replace(podManifest("err-noimage", nil, ""), "    image: registry.local/kubia:1\n", "", 1))
		if got := m.fails("apply", "-f", f); got != `The Pod "err-noimage" is invalid: spec.containers[0].image: Required value` {
			t.Errorf("apply of an invalid pod: %q", got)
		}
		if got := m.fails("create", "-f", f); got != `The Pod "err-noimage" is invalid: spec.containers[0].image: Required value` {
			t.Errorf("create of an invalid pod: %q", got)
		}
		if got := m.fails("get", "foos"); got != `error: the server doesn't have a resource type "foos"` {
			t.Errorf("get foos: %q", got)
		}
		// Nothing was created by the failed applies.
		if got := m.fails("get", "pod", "err-noimage"); got != `Error from server (NotFound): pods "err-noimage" not found` {
			t.Errorf("get err-noimage: %q", got)
		}
	})

	sub("Unreachable", func(t *testing.T, m *minictl) {
		down := &minictl{t: t, bin: m.bin, home: m.home, server: "127.0.0.1:1"}
		start := time.Now()
		got := down.fails("get", "pods", "--request-timeout", "3s")
		if got != "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?" {
			t.Errorf("unreachable server: %q", got)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("unreachable server took %v", d)
		}

		// A server that accepts connections but never answers: the
		// request timeout ends the wait.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns sync.WaitGroup
		var mu sync.Mutex
		var open []net.Conn
		conns.Add(1)
		go func() {
			defer conns.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				open = append(open, c)
				mu.Unlock()
			}
		}()
		defer func() {
			l.Close()
			conns.Wait()
			mu.Lock()
			for _, c := range open {
				c.Close()
			}
			mu.Unlock()
		}()
		mute := &minictl{t: t, bin: m.bin, home: m.home, server: l.Addr().String()}
		start = time.Now()
		got = mute.fails("get", "pods", "--request-timeout", "1s")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("silent server took %v", d)
		}
		if got != "error: the server did not answer within the request timeout (--request-timeout)" {
			t.Errorf("silent server: %q", got)
		}
	})

	sub("ReplaceConflict", func(t *testing.T, m *minictl) {
		f := mcWriteFile(t, "pod.yaml", podManifest("replace-1", map[string]string{"app": "replace"}, ""))
		m.ok("apply", "-f", f)
		saved := mcWriteFile(t, "saved.yaml", m.ok("get", "pod", "replace-1", "-o", "yaml"))
		// Replacing with the current version works.
		mcWantLines(t, m.ok("replace", "-f", saved), "pod/replace-1 replaced")
		saved = mcWriteFile(t, "saved2.yaml", m.ok("get", "pod", "replace-1", "-o", "yaml"))
		if err := os.WriteFile(f, []byte(podManifest("replace-1", map[string]string{"app": "replace", "v": "2"}, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		mcWantLines(t, m.ok("apply", "-f", f), "pod/replace-1 configured")
		got := m.fails("replace", "-f", saved)
		if !strings.HasPrefix(got, "Error from server (Conflict): ") || !strings.Contains(got, `pods "replace-1"`) || !strings.Contains(got, "the object has been modified") {
			t.Errorf("stale replace: %q", got)
		}
		// The newer version survived.
		mcWantLines(t, m.ok("get", "pod", "replace-1", "-o", "jsonpath={.metadata.labels.v}{'\\n'}"), "2")
	})

	sub("LabelAnnotateDelete", func(t *testing.T, m *minictl) {
		f := mcWriteFile(t, "pod.yaml", podManifest("label-1", map[string]string{"app": "label"}, ""))
		m.ok("apply", "-f", f)
		mcWantLines(t, m.ok("label", "pod", "label-1", "tier=web"), "pod/label-1 labeled")
		mcWantLines(t, m.ok("get", "pods", "-l", "tier=web", "-o", "name"), "pod/label-1")
		if got := m.fails("label", "pod", "label-1", "tier=db"); got != "error: 'tier' already has a value (web), and --overwrite is false" {
			t.Errorf("label without --overwrite: %q", got)
		}
		mcWantLines(t, m.ok("label", "pod", "label-1", "tier=db", "--overwrite"), "pod/label-1 labeled")
		mcWantLines(t, m.ok("annotate", "pod", "label-1", "example.com/note=hello"), "pod/label-1 annotated")
		mcWantLines(t, m.ok("get", "pod", "label-1", "-o", "jsonpath={.metadata.annotations.example\\.com/note}{'\\n'}"), "hello")
		mcWantLines(t, m.ok("label", "pod/label-1", "tier-"), "pod/label-1 unlabeled")
		mcWantLines(t, m.ok("get", "pod", "label-1", "-o", "custom-columns=L:metadata.labels", "--no-headers"), "map[app:label]")

		mcWantLines(t, m.ok("delete", "pod", "label-1"), `pod "label-1" deleted`)
		if got := m.fails("get", "pod", "label-1"); got != `Error from server (NotFound): pods "label-1" not found` {
			t.Errorf("get after delete: %q", got)
		}

		// delete -f of a multi-document file.
		f = mcWriteFile(t, "two.yaml", podManifest("del-f1", nil, "")+"---\n"+podManifest("del-f2", nil, ""))
		m.ok("apply", "-f", f)
		mcWantLines(t, m.ok("delete", "-f", f), `pod "del-f1" deleted`, `pod "del-f2" deleted`)

		// delete by selector, leaving the others.
		f = mcWriteFile(t, "sel.yaml", podManifest("del-l1", map[string]string{"app": "del"}, "")+"---\n"+
			podManifest("del-l2", map[string]string{"app": "del"}, "")+"---\n"+
			podManifest("del-keep", map[string]string{"app": "keep"}, ""))
		m.ok("apply", "-f", f)
		mcWantLines(t, m.ok("delete", "pods", "-l", "app=del"), `pod "del-l1" deleted`, `pod "del-l2" deleted`)
		mcWantLines(t, m.ok("get", "pods", "-l", "app in (del,keep)", "-o", "name"), "pod/del-keep")

		// A bound pod waits for its kubelet; --force --grace-period 0 removes it at once.
		f = mcWriteFile(t, "bound.yaml", podManifest("del-bound", nil, "node-1"))
		m.ok("apply", "-f", f)
		r := m.run("delete", "pod", "del-bound", "--grace-period", "0", "--force")
		if r.code != 0 || r.stdout != "pod \"del-bound\" force deleted\n" || !strings.HasPrefix(r.stderr, "Warning: Immediate deletion") {
			t.Fatalf("force delete:\n%s", r)
		}
		if got := m.fails("get", "pod", "del-bound"); got != `Error from server (NotFound): pods "del-bound" not found` {
			t.Errorf("get after force delete: %q", got)
		}
	})

	sub("Watch", func(t *testing.T, m *minictl) {
		pods := client.For[*corev1.Pod](cl)
		ctx := ctxT(t)
		if _, err := pods.Create(ctx, pod("watch-0", map[string]string{"app": "watch"})); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		cmd := m.command(wctx, "get", "pods", "-w", "-l", "app=watch")
		var out, errOut mcSyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stopped := false
		stop := func() error {
			if stopped {
				return nil
			}
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case err := <-exited:
				return err
			case <-time.After(10 * time.Second):
				cancel() // kills the process
				<-exited
				return fmt.Errorf("minictl get -w did not stop on SIGINT")
			}
		}
		defer func() { _ = stop() }()
		show := func() string { return "stdout:\n" + out.String() + "stderr:\n" + errOut.String() }
		rows := func(name string) [][]string {
			var rs [][]string
			for _, line := range strings.Split(out.String(), "\n") {
				if f := strings.Fields(line); len(f) > 0 && f[0] == name {
					rs = append(rs, f)
				}
			}
			return rs
		}

		mcWaitFor(t, "the initial table", func() bool { return len(rows("watch-0")) == 1 }, show)
		if first := strings.Fields(strings.SplitN(out.String(), "\n", 2)[0]); strings.Join(first, " ") != "NAME READY STATUS RESTARTS AGE" {
			t.Fatalf("watch header = %q", first)
		}
		if _, err := pods.Create(ctx, pod("watch-1", map[string]string{"app": "watch"})); err != nil {
			t.Fatal(err)
		}
		mcWaitFor(t, "a row for the new pod", func() bool { return len(rows("watch-1")) >= 1 }, show)
		if r := rows("watch-1")[0]; len(r) != 5 || r[1] != "0/1" || r[2] != "Pending" {
			t.Fatalf("watch row = %q", r)
		}
		m.ok("delete", "pod", "watch-1")
		mcWaitFor(t, "a row for the deletion", func() bool { return len(rows("watch-1")) >= 2 }, show)
		// A pod of another label does not show.
		if _, err := pods.Create(ctx, pod("watch-other", map[string]string{"app": "other"})); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Create(ctx, pod("watch-2", map[string]string{"app": "watch"})); err != nil {
			t.Fatal(err)
		}
		mcWaitFor(t, "a row for watch-2", func() bool { return len(rows("watch-2")) >= 1 }, show)
		if err := stop(); err != nil {
			t.Fatalf("minictl get -w: %v\n%s", err, show())
		}
		if len(rows("watch-other")) != 0 || len(rows("watch-0")) != 1 {
			t.Fatalf("watch printed rows it should not have:\n%s", show())
		}
		if errOut.String() != "" {
			t.Fatalf("watch wrote to stderr:\n%s", show())
		}
	})

	sub("WatchEvents", func(t *testing.T, m *minictl) {
		pods := client.For[*corev1.Pod](cl)
		ctx := ctxT(t)
		wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		cmd := m.command(wctx, "get", "pods", "--watch-only", "--output-watch-events", "-l", "app=watchev")
		var out, errOut mcSyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cancel()
			_ = cmd.Wait()
		}()
		show := func() string { return "stdout:\n" + out.String() + "stderr:\n" + errOut.String() }
		// The watch starts after its list; create pods until one shows.
		var created []string
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(out.String(), "ADDED") {
			if time.Now().After(deadline) {
				t.Fatalf("no ADDED event:\n%s", show())
			}
			name := fmt.Sprintf("watchev-%d", len(created))
			if _, err := pods.Create(ctx, pod(name, map[string]string{"app": "watchev"})); err != nil {
				t.Fatal(err)
			}
			created = append(created, name)
			time.Sleep(200 * time.Millisecond)
		}
		for _, name := range created {
			m.ok("delete", "pod", name)
		}
		last := created[len(created)-1]
		mcWaitFor(t, "a DELETED event", func() bool {
			return regexp.MustCompile(`(?m)^DELETED\s+` + last + `\s`).MatchString(out.String())
		}, show)
		lines := strings.Split(out.String(), "\n")
		if h := strings.Fields(lines[0]); strings.Join(h, " ") != "EVENT NAME READY STATUS RESTARTS AGE" {
			t.Fatalf("header = %q\n%s", h, show())
		}
		if !regexp.MustCompile(`(?m)^ADDED\s+` + last + `\s+0/1\s+Pending\s`).MatchString(out.String()) {
			t.Fatalf("no ADDED row for %s:\n%s", last, show())
		}
	})

	sub("Describe", func(t *testing.T, m *minictl) {
		f := mcWriteFile(t, "pod.yaml", podManifest("desc-1", map[string]string{"app": "desc"}, ""))
		m.ok("apply", "-f", f)
		pods := client.For[*corev1.Pod](cl)
		ctx := ctxT(t)
		p, err := pods.Get(ctx, "default", "desc-1")
		if err != nil {
			t.Fatal(err)
		}
		events := client.For[*corev1.Event](cl)
		at := timestamppb.New(time.Now().Add(-30 * time.Minute))
		event := func(name, pod, uid, reason, msg string) *corev1.Event {
			return &corev1.Event{
				Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
				InvolvedObject: &corev1.ObjectReference{
					ApiVersion: "v1", Kind: "Pod", Namespace: "default", Name: pod, Uid: uid,
				},
				Reason: reason, Message: msg, Type: "Warning", Count: 1,
				Source:         &corev1.EventSource{Component: "minictl-test"},
				FirstTimestamp: at, LastTimestamp: at,
			}
		}
		if _, err := events.Create(ctx, event("desc-1.a", "desc-1", p.Metadata.Uid, "TestReason", "something happened to desc-1")); err != nil {
			t.Fatal(err)
		}
		if _, err := events.Create(ctx, event("desc-other.a", "desc-other", "", "OtherReason", "not about desc-1")); err != nil {
			t.Fatal(err)
		}

		out := m.ok("describe", "pod", "desc-1")
		for _, re := range []string{
			`(?m)^Name:\s+desc-1$`,
			`(?m)^Namespace:\s+default$`,
			`(?m)^Labels:\s+app=desc$`,
			`(?m)^Status:\s+Pending$`,
			`(?m)^Containers:\n  app:\n    Image:\s+registry.local/kubia:1$`,
			`(?m)^Events:\n  Type\s+Reason\s+Age\s+From\s+Message\n  ----\s+------\s+----\s+----\s+-------\n  Warning\s+TestReason\s+30m\s+minictl-test\s+something happened to desc-1\n*$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("describe output does not match %s:\n%s", re, out)
			}
		}
		if strings.Contains(out, "OtherReason") {
			t.Errorf("describe shows an event about another pod:\n%s", out)
		}
		if got := m.fails("describe", "pod", "desc-nope"); got != `Error from server (NotFound): pods "desc-nope" not found` {
			t.Errorf("describe of a missing pod: %q", got)
		}
	})

	sub("DiscoveryVersionComponents", func(t *testing.T, m *minictl) {
		tb := mcParseTable(t, m.ok("api-resources"))
		mcWantHeader(t, tb, "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")
		r := tb.row(t, "NAME", "pods")
		if r["SHORTNAMES"] != "po" || r["APIVERSION"] != "v1" || r["NAMESPACED"] != "true" || r["KIND"] != "Pod" {
			t.Fatalf("pods row = %v", r)
		}
		if r := tb.row(t, "NAME", "deployments"); r["APIVERSION"] != "apps/v1" || r["SHORTNAMES"] != "deploy" {
			t.Fatalf("deployments row = %v", r)
		}
		if r := tb.row(t, "NAME", "namespaces"); r["NAMESPACED"] != "false" {
			t.Fatalf("namespaces row = %v", r)
		}

		out := m.ok("version")
		if !regexp.MustCompile(`(?m)^Client Version: v\S+$`).MatchString(out) || !strings.Contains(out, "Server: "+m.server+" (reachable") {
			t.Fatalf("version:\n%s", out)
		}
		down := &minictl{t: t, bin: m.bin, home: m.home, server: "127.0.0.1:1"}
		r2 := down.run("version")
		if r2.code != 1 || !strings.HasPrefix(r2.stdout, "Client Version: ") || !strings.Contains(r2.stderr, "refused") {
			t.Fatalf("version against no server:\n%s", r2)
		}
		mcWantLines(t, down.ok("version", "--client"), strings.SplitN(out, "\n", 2)[0])

		for _, typ := range []string{"componentstatuses", "cs"} {
			tb = mcParseTable(t, m.ok("get", typ))
			mcWantHeader(t, tb, "NAME", "STATUS", "MESSAGE", "ERROR")
			if r := tb.row(t, "NAME", "etcd-0"); r["STATUS"] != "Healthy" || r["ERROR"] != "" {
				t.Fatalf("etcd-0 row = %v", r)
			}
			// No scheduler or controller-manager runs here; their rows
			// are there, whatever they say.
			for _, name := range []string{"scheduler", "controller-manager"} {
				if r := tb.row(t, "NAME", name); r["STATUS"] != "Healthy" && r["STATUS"] != "Unhealthy" {
					t.Fatalf("%s row = %v", name, r)
				}
			}
		}
	})
}
