package restapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/app"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/restapi"
	"minik8s/apiserver/storage/memory"
)

// benchPods is how many pods the list benchmarks serve (issue 10's
// `kubectl get pods` of 10,000 pods).
const benchPods = 10000

// benchServer is the REST front over in-memory storage holding n pods
// shaped as hack/bench creates them (labels, a 560-byte annotation, one
// container with a port, managedFields of their creator on every pod).
func benchServer(b *testing.B, n int) string {
	b.Helper()
	mem := memory.New()
	st := generic.New(mem, cache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	if err := st.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	nsKind, _ := scheme.ByResource("namespaces")
	podKind, _ := scheme.ByResource("pods")
	if _, err := st.Create(ctx, nsKind, "", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "rest"}}, rest.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	var managed []*metav1.ManagedFieldsEntry
	for i := 0; i < n; i++ {
		p := &corev1.Pod{
			Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), Namespace: "rest",
				Labels:      map[string]string{"app": "bench", "tier": "backend"},
				Annotations: map[string]string{"bench/padding": strings.Repeat("p", 560)}},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "registry.local/kubia:1",
				Ports: []*corev1.ContainerPort{{ContainerPort: 8080, Name: "http"}}}}},
		}
		o := rest.WriteOptions{}
		if i == 0 {
			o.FieldManager = "Go-http-client"
		} else {
			// The first pod's entry, as tracking every create would
			// record it (tracking all 10,000 is slow to set up).
			p.Metadata.ManagedFields = managed
		}
		out, err := st.Create(ctx, podKind, "rest", p, o)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			managed = out.GetMetadata().GetManagedFields()
		}
	}
	api := app.NewAPI(st, nil, nil, nil, nil, nil)
	hs := httptest.NewServer(restapi.New(restapi.Config{API: api, Patch: app.ApplyPatch}))
	b.Cleanup(hs.Close)
	// Wait until the cache holds every pod.
	for {
		resp, err := http.Get(hs.URL + "/api/v1/namespaces/rest/pods?limit=1&resourceVersion=0")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		items, _, _, _ := st.List(ctx, podKind, cache.Filter{Namespace: "rest"}, cache.ListOptions{})
		if len(items) == n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return hs.URL
}

// BenchmarkKubectlGetPods lists benchPods pods as `kubectl get pods`
// asks for them: Table in JSON, pages of 500 following continue tokens,
// reading every body.
func BenchmarkKubectlGetPods(b *testing.B) {
	base := benchServer(b, benchPods)
	client := &http.Client{}
	b.ResetTimer()
	for b.Loop() {
		cont, rows := "", 0
		for {
			u := base + "/api/v1/namespaces/rest/pods?limit=500"
			if cont != "" {
				u += "&continue=" + url.QueryEscape(cont)
			}
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			data, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%d %v %s", resp.StatusCode, err, data)
			}
			var page struct {
				Metadata struct{ Continue string } `json:"metadata"`
				Rows     []json.RawMessage         `json:"rows"`
			}
			if err := json.Unmarshal(data, &page); err != nil {
				b.Fatal(err)
			}
			rows += len(page.Rows)
			if cont = page.Metadata.Continue; cont == "" {
				break
			}
		}
		if rows != benchPods {
			b.Fatalf("%d rows, want %d", rows, benchPods)
		}
	}
}

// BenchmarkKubectlEndToEnd runs `kubectl get pods -n rest` of benchPods
// pods against the REST front (process start, cached discovery, the
// Table pages and printing), with the kubectl of $KUBECTL, bin/kubectl
// or PATH; it is skipped without one.
func BenchmarkKubectlEndToEnd(b *testing.B) {
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		if _, err := os.Stat("../../bin/kubectl"); err == nil {
			kubectl = "../../bin/kubectl"
		} else if p, err := exec.LookPath("kubectl"); err == nil {
			kubectl = p
		}
	}
	if kubectl == "" {
		b.Skip("no kubectl: set $KUBECTL")
	}
	base := benchServer(b, benchPods)
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: %q}\n"+
		"users:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n", base)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	get := func() {
		args := []string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}
		if p := os.Getenv("KUBECTL_PROFILE"); p != "" {
			args = append(args, "--profile=cpu", "--profile-output="+p, "-v=6")
		}
		cmd := exec.Command(kubectl, append(args, "get", "pods", "-n", "rest")...)
		cmd.Stdout = io.Discard
		out := &strings.Builder{}
		cmd.Stderr = out
		if err := cmd.Run(); err != nil {
			b.Fatalf("kubectl get pods: %v: %s", err, out)
		}
		if p := os.Getenv("KUBECTL_PROFILE"); p != "" {
			_ = os.WriteFile(p+".log", []byte(out.String()), 0o644)
		}
	}
	get() // discovery cached, as for a user's second command
	b.ResetTimer()
	for b.Loop() {
		get()
	}
}
