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
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/minictl/printers"
)

var testNow = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

// harness runs minictl command lines against a fake cluster.
type harness struct {
	t       *testing.T
	cluster fakeCluster
	dir     string
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, cluster: newFakeCluster(testNow.Add(-time.Minute)), dir: t.TempDir()}
}

func (h *harness) file(name, content string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) run(stdin string, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	o := &Options{
		In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut,
		Getenv: func(string) string { return "" },
		Now:    func() time.Time { return testNow },
		Connect: func(*client.Config) (Cluster, error) {
			return h.cluster, nil
		},
	}
	args = append([]string{"--kubeconfig", filepath.Join(h.dir, "none")}, args...)
	// --kubeconfig naming a missing file is an error; use an empty one.
	_ = os.WriteFile(filepath.Join(h.dir, "none"), nil, 0o644)
	code = o.Run(context.Background(), args)
	return out.String(), errOut.String(), code
}

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: nginx:1.25
    ports: [{containerPort: 80}]
`

func TestApplyCreateConfigureUnchanged(t *testing.T) {
	h := newHarness(t)
	f := h.file("pod.yaml", podYAML)
	out, errOut, code := h.run("", "apply", "-f", f)
	if code != 0 || out != "pod/web created\n" || errOut != "" {
		t.Fatalf("first apply: code %d, out %q, err %q", code, out, errOut)
	}
	live := h.cluster.Get("pods", "default", "web").(*corev1.Pod)
	la := live.GetMetadata().GetAnnotations()[printers.LastAppliedAnnotation]
	if !strings.Contains(la, `"namespace":"default"`) || !strings.HasSuffix(la, "\n") || strings.Contains(la, "last-applied") {
		t.Errorf("last-applied annotation = %q", la)
	}

	// Server-side changes apply does not own: a defaulted field and status.
	live.Spec.Containers[0].ImagePullPolicy = "IfNotPresent"
	live.Spec.RestartPolicy = "Always"
	live.Status = &corev1.PodStatus{Phase: "Running"}
	h.cluster.Put(live)

	out, _, code = h.run("", "apply", "-f", f)
	if code != 0 || out != "pod/web unchanged\n" {
		t.Fatalf("second apply: code %d, out %q", code, out)
	}

	f2 := h.file("pod2.yaml", strings.Replace(strings.Replace(podYAML, "nginx:1.25", "nginx:1.26", 1), "labels: {app: web}", "labels: {tier: fe}", 1))
	out, _, code = h.run("", "apply", "-f", f2)
	if code != 0 || out != "pod/web configured\n" {
		t.Fatalf("third apply: code %d, out %q", code, out)
	}
	got := h.cluster.Get("pods", "default", "web").(*corev1.Pod)
	c := got.GetSpec().GetContainers()[0]
	if c.GetImage() != "nginx:1.26" || c.GetImagePullPolicy() != "IfNotPresent" || got.GetSpec().GetRestartPolicy() != "Always" {
		t.Errorf("merge lost something: %v", got.GetSpec())
	}
	if got.GetStatus().GetPhase() != "Running" {
		t.Errorf("status not kept: %v", got.GetStatus())
	}
	if l := got.GetMetadata().GetLabels(); l["tier"] != "fe" || l["app"] != "" {
		t.Errorf("labels = %v, want app removed and tier added", l)
	}
}

func TestApplyMultiDocumentAndErrors(t *testing.T) {
	h := newHarness(t)
	f := h.file("all.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {k: v}
---
# a comment-only document
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: s}
  spec: {ports: [{port: 80, targetPort: 8080}]}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d, namespace: other}
  spec:
    selector: {matchLabels: {app: d}}
    template:
      metadata: {labels: {app: d}}
      spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers: [{name: c, imagee: busybox}]
`)
	out, errOut, code := h.run("", "apply", "-f", f)
	wantOut := "configmap/a created\nservice/s created\ndeployment.apps/d created\n"
	wantErr := "error: unknown field \"spec.containers[0].imagee\" in " + f + "\n"
	if code != 1 || out != wantOut || errOut != wantErr {
		t.Errorf("code %d\nout %q want %q\nerr %q want %q", code, out, wantOut, errOut, wantErr)
	}
	if h.cluster.Get("deployments", "other", "d") == nil {
		t.Error("deployment not created in its own namespace")
	}
	// An explicit -n that contradicts the manifest is refused.
	_, errOut, code = h.run("", "apply", "-n", "x", "-f", f)
	if code != 1 || !strings.Contains(errOut, `the namespace from the provided object "other" does not match the namespace "x"`) {
		t.Errorf("code %d, err %q", code, errOut)
	}
}

func TestReplaceConflict(t *testing.T) {
	h := newHarness(t)
	f := h.file("pod.yaml", podYAML)
	h.run("", "create", "-f", f)
	stale := h.file("stale.yaml", strings.Replace(podYAML, "name: web\n", "name: web\n  resourceVersion: \"999\"\n", 1))
	_, errOut, code := h.run("", "replace", "-f", stale)
	want := `Error from server (Conflict): Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again` + "\n"
	if code != 1 || errOut != want {
		t.Errorf("code %d, err %q", code, errOut)
	}
	out, _, code := h.run("", "replace", "-f", f)
	if code != 0 || out != "pod/web replaced\n" {
		t.Errorf("unconditional replace: code %d, out %q", code, out)
	}
	_, errOut, code = h.run("", "create", "-f", f)
	if code != 1 || errOut != "Error from server (AlreadyExists): pods \"web\" already exists\n" {
		t.Errorf("create again: code %d, err %q", code, errOut)
	}
}

func TestGetAndErrors(t *testing.T) {
	h := newHarness(t)
	out, errOut, code := h.run("", "get", "pods")
	if code != 0 || out != "" || errOut != "No resources found in default namespace.\n" {
		t.Errorf("empty get: %d %q %q", code, out, errOut)
	}
	_, errOut, code = h.run("", "get", "pod", "x")
	if code != 1 || errOut != "Error from server (NotFound): pods \"x\" not found\n" {
		t.Errorf("get missing: %d %q", code, errOut)
	}
	_, errOut, code = h.run("", "get", "flurbs")
	if code != 1 || errOut != "error: the server doesn't have a resource type \"flurbs\"\n" {
		t.Errorf("unknown type: %d %q", code, errOut)
	}
	h.cluster.Add(
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "b", Namespace: "default", Labels: map[string]string{"app": "x"}}, Spec: &corev1.PodSpec{NodeName: "n2", Containers: []*corev1.Container{{Name: "c"}}}},
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "a", Namespace: "default"}, Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "c"}}}},
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "c", Namespace: "kube-system"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c"}}}},
		&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "s", Namespace: "default"}, Spec: &corev1.ServiceSpec{ClusterIP: "10.96.0.9", Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP"}}}},
	)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "po"}, "NAME   READY   STATUS    RESTARTS   AGE\na      0/1     Pending   0          60s\nb      0/1     Pending   0          60s\n"},
		{[]string{"get", "pods", "-A", "--sort-by", "{.spec.nodeName}", "--no-headers"}, "kube-system   c     0/1   Pending   0     60s\ndefault       a     0/1   Pending   0     60s\ndefault       b     0/1   Pending   0     60s\n"},
		{[]string{"get", "pods", "-l", "app=x", "-o", "name"}, "pod/b\n"},
		{[]string{"get", "pods", "--field-selector", "spec.nodeName=n1", "-o", "custom-columns=POD:metadata.name,NODE:spec.nodeName"}, "POD   NODE\na     n1\n"},
		{[]string{"get", "pod/a", "svc/s"}, "NAME    READY   STATUS    RESTARTS   AGE\npod/a   0/1     Pending   0          60s\n\nNAME        TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE\nservice/s   ClusterIP   10.96.0.9    <none>        80/TCP    60s\n"},
		{[]string{"get", "pod", "a", "-o", "jsonpath={.metadata.name} {.spec.nodeName}"}, "a n1"},
		{[]string{"get", "pods", "-o", "jsonpath={.items[*].metadata.name}"}, "a b"},
	} {
		out, errOut, code := h.run("", tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("%v: code %d err %q\ngot:\n%s\nwant:\n%s", tc.args, code, errOut, out, tc.want)
		}
	}
	out, _, _ = h.run("", "get", "pod", "a", "-o", "yaml")
	if !strings.HasPrefix(out, "apiVersion: v1\nkind: Pod\nmetadata:\n") {
		t.Errorf("yaml:\n%s", out)
	}
	out, _, _ = h.run("", "get", "pods", "-o", "json")
	if !strings.HasPrefix(out, "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n") || !strings.Contains(out, `"kind": "List"`) {
		t.Errorf("json list:\n%s", out)
	}
	_, errOut, code = h.run("", "get", "pods", "-o", "bogus")
	if code != 1 || !strings.HasPrefix(errOut, "error: unable to match a printer suitable for the output format \"bogus\"") {
		t.Errorf("bad -o: %d %q", code, errOut)
	}
}

func TestDeleteLabelAnnotate(t *testing.T) {
	h := newHarness(t)
	h.cluster.Add(
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "a", Namespace: "default", Labels: map[string]string{"app": "web"}}},
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "b", Namespace: "default", Labels: map[string]string{"app": "web"}}},
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "c", Namespace: "default"}},
	)
	for _, tc := range []struct {
		args          []string
		code          int
		stdout, stder string
	}{
		{[]string{"label", "pod", "a", "tier=fe"}, 0, "pod/a labeled\n", ""},
		{[]string{"label", "pod", "a", "tier=be"}, 1, "", "error: 'tier' already has a value (fe), and --overwrite is false\n"},
		{[]string{"label", "pod", "a", "tier=be", "--overwrite"}, 0, "pod/a labeled\n", ""},
		{[]string{"label", "pod/a", "tier-"}, 0, "pod/a unlabeled\n", ""},
		{[]string{"label", "pod/a", "app-", "tier=x"}, 0, "pod/a label(s) changed\n", ""},
		{[]string{"label", "pod/a", "app=web", "tier-"}, 0, "pod/a label(s) changed\n", ""},
		{[]string{"label", "pod", "a", "app=web"}, 0, "pod/a not labeled\n", ""},
		{[]string{"annotate", "pods", "-l", "app=web", "note=hi"}, 0, "pod/a annotated\npod/b annotated\n", ""},
		{[]string{"delete", "pod", "c", "x"}, 1, "pod \"c\" deleted\n", "Error from server (NotFound): pods \"x\" not found\n"},
		{[]string{"delete", "pods", "-l", "app=web", "--grace-period", "5"}, 0, "pod \"a\" deleted\npod \"b\" deleted\n", ""},
		{[]string{"delete", "pods"}, 1, "", "error: resource(s) were provided, but no name was specified\n"},
		{[]string{"delete", "pods", "--all"}, 0, "", "No resources found in default namespace.\n"},
	} {
		out, errOut, code := h.run("", tc.args...)
		if code != tc.code || out != tc.stdout || errOut != tc.stder {
			t.Errorf("%v: code %d (want %d)\nout %q want %q\nerr %q want %q", tc.args, code, tc.code, out, tc.stdout, errOut, tc.stder)
		}
	}
}

func TestDescribeAndAPIResources(t *testing.T) {
	h := newHarness(t)
	h.cluster.Add(
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "a", Namespace: "default"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}},
		&corev1.Event{Metadata: &metav1.ObjectMeta{Name: "a.1", Namespace: "default"}, InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "a", Namespace: "default"},
			Reason: "Scheduled", Message: "assigned", Type: "Normal", Source: &corev1.EventSource{Component: "default-scheduler"}, Count: 1},
		&corev1.Event{Metadata: &metav1.ObjectMeta{Name: "b.1", Namespace: "default"}, InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "b", Namespace: "default"},
			Reason: "Other", Type: "Normal"},
	)
	out, errOut, code := h.run("", "describe", "pod", "a")
	if code != 0 || !strings.HasPrefix(out, "Name:         a\nNamespace:    default\n") || !strings.Contains(out, "Scheduled") || strings.Contains(out, "Other") {
		t.Errorf("describe: %d %q\n%s", code, errOut, out)
	}
	out, _, code = h.run("", "api-resources")
	if code != 0 || !strings.HasPrefix(out, "NAME ") || !strings.Contains(out, "\npods ") || !strings.Contains(out, "deployments ") {
		t.Errorf("api-resources:\n%s", out)
	}
	out, _, _ = h.run("", "api-resources", "-o", "name", "--namespaced=false")
	if !strings.Contains(out, "nodes\n") || strings.Contains(out, "pods\n") {
		t.Errorf("api-resources -o name:\n%s", out)
	}
	out, _, code = h.run("", "version")
	if code != 0 || !strings.HasPrefix(out, "Client Version: ") || !strings.Contains(out, "reachable") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestParseResourceArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  bool
	}{
		{[]string{"po"}, "pods[]", false},
		{[]string{"pods,svc"}, "pods[] services[]", false},
		{[]string{"deploy", "a", "b"}, "deployments[a b]", false},
		{[]string{"pod/a", "svc/b", "po/c"}, "pods[a c] services[b]", false},
		{[]string{"deployment.apps/x"}, "deployments[x]", false},
		{[]string{"pods", "pod/a"}, "", true},
		{[]string{"nope"}, "", true},
		{[]string{"pod/"}, "", true},
	} {
		refs, err := parseResourceArgs(tc.args)
		if (err != nil) != tc.err {
			t.Errorf("%v: err %v", tc.args, err)
			continue
		}
		var parts []string
		for _, r := range refs {
			parts = append(parts, r.kind.Resource+"["+strings.Join(r.names, " ")+"]")
		}
		if got := strings.Join(parts, " "); !tc.err && got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestThreeWayMerge(t *testing.T) {
	original := map[string]any{"a": "1", "gone": "x", "list": []any{map[string]any{"name": "c", "image": "old", "extra": "e"}}}
	modified := map[string]any{"a": "2", "list": []any{map[string]any{"name": "c", "image": "new"}, map[string]any{"name": "d"}}}
	current := map[string]any{"a": "1", "gone": "x", "server": "kept", "list": []any{map[string]any{"name": "c", "image": "old", "extra": "e", "default": "kept"}}}
	got := threeWayMerge(original, modified, current)
	want := map[string]any{"a": "2", "server": "kept", "list": []any{map[string]any{"name": "c", "image": "new", "default": "kept"}, map[string]any{"name": "d"}}}
	if !equalJSON(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func equalJSON(a, b any) bool {
	ja, _ := marshalIndent(a)
	jb, _ := marshalIndent(b)
	return bytes.Equal(ja, jb)
}

func TestFormatError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errorsNewInvalid(), `The Pod "x" is invalid: spec.containers[0].image: Required value`},
		{context.DeadlineExceeded, "error: the server did not answer within the request timeout (--request-timeout)"},
		{errorsNewTimeout("context deadline exceeded while waiting for connections to become ready"),
			"error: the server did not answer within the request timeout (--request-timeout)"},
		{errorsNewTimeout("context deadline exceeded"), "error: the server did not answer within the request timeout (--request-timeout)"},
		{errorsNewTimeout("request did not complete within 60s"), "Error from server (Timeout): request did not complete within 60s"},
		{errPlain("boom"), "error: boom"},
		{errPlain("rpc error: code = Unavailable desc = connection error: dial tcp 127.0.0.1:1: connect: connection refused"),
			"The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"},
	} {
		if got := FormatError(tc.err, []string{"127.0.0.1:1"}); got != tc.want {
			t.Errorf("FormatError(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
