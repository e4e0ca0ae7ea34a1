package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	kubeletapi "minik8s/api/kubelet"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kubelet/runtime"
)

// fakeRT implements the few runtime calls the server makes; the embedded
// nil interface makes any other call panic, which would be a test bug.
type fakeRT struct {
	runtime.Runtime
	containers []runtime.Container
}

func (f *fakeRT) Version(context.Context) (string, error) { return "fake://1", nil }

func (f *fakeRT) PodContainers(_ context.Context, uid string) ([]runtime.Container, error) {
	var out []runtime.Container
	for _, c := range f.containers {
		if c.PodUID == uid {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeRT) ListContainers(context.Context) ([]runtime.Container, error) {
	return f.containers, nil
}

func (f *fakeRT) ContainerStatus(_ context.Context, id string) (runtime.Container, error) {
	for _, c := range f.containers {
		if c.ID == id {
			return c, nil
		}
	}
	return runtime.Container{}, runtime.ErrNotFound
}

// Exec echoes stdin upper-cased to stdout, writes "err" to stderr and
// exits with the number of arguments.
func (f *fakeRT) Exec(_ context.Context, id string, o runtime.ExecOptions) (int, error) {
	if o.Stdin != nil {
		b, _ := io.ReadAll(o.Stdin)
		_, _ = o.Stdout.Write(bytes.ToUpper(b))
	}
	if o.Stderr != nil {
		_, _ = o.Stderr.Write([]byte("err"))
	}
	return len(o.Cmd), nil
}

type fakePods struct{ pods []*corev1.Pod }

func (f fakePods) Pods() []*corev1.Pod                     { return f.pods }
func (f fakePods) Status(string) (*corev1.PodStatus, bool) { return nil, false }

func testServer(t *testing.T) (*httptest.Server, string) {
	dir := t.TempDir()
	cur, prev := filepath.Join(dir, "1.log"), filepath.Join(dir, "0.log")
	_ = os.WriteFile(prev, []byte("old run\n"), 0o644)
	_ = os.WriteFile(cur, []byte("one\ntwo\nthree\n"), 0o644)
	rt := &fakeRT{containers: []runtime.Container{
		{ID: "c1", PodUID: "u1", Name: "app", Attempt: 1, State: runtime.ContainerRunning, LogPath: cur},
		{ID: "c0", PodUID: "u1", Name: "app", Attempt: 0, State: runtime.ContainerExited, LogPath: prev},
	}}
	pods := fakePods{pods: []*corev1.Pod{{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "u1"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app"}}}}}}
	srv := httptest.NewServer(New(Config{NodeName: "n1"}, rt, pods).Handler())
	t.Cleanup(srv.Close)
	return srv, dir
}

func get(t *testing.T, url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLogs(t *testing.T) {
	srv, _ := testServer(t)
	for path, want := range map[string]string{
		"/containerLogs/default/web/app":               "one\ntwo\nthree\n",
		"/containerLogs/default/web/app?tailLines=2":   "two\nthree\n",
		"/containerLogs/default/web/app?tailLines=0":   "",
		"/containerLogs/default/web/app?tailLines=10":  "one\ntwo\nthree\n",
		"/containerLogs/default/web/app?previous=true": "old run\n",
		"/containerLogs/default/web/_":                 "one\ntwo\nthree\n",
	} {
		if code, body := get(t, srv.URL+path); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
	if code, _ := get(t, srv.URL+"/containerLogs/default/nope/app"); code != 404 {
		t.Errorf("unknown pod: %d", code)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthz %d %q", code, body)
	}
}

func TestExecStream(t *testing.T) {
	srv, _ := testServer(t)
	var out, errb bytes.Buffer
	code, err := kubeletapi.Exec(context.Background(), srv.URL, "default", "web", "app", []string{"cat", "-"},
		kubeletapi.ExecOptions{Stdin: strings.NewReader("hello"), Stdout: &out, Stderr: &errb})
	if err != nil || code != 2 || out.String() != "HELLO" || errb.String() != "err" {
		t.Fatalf("exec: %d %v %q %q", code, err, out.String(), errb.String())
	}
	if _, err := kubeletapi.Exec(context.Background(), srv.URL, "default", "nope", "app", []string{"x"}, kubeletapi.ExecOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("exec in unknown pod: %v", err)
	}
	resp, err := http.Post(srv.URL+"/run/default/web/app?command=a&command=b&command=c", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("X-Exit-Code") != "3" || string(b) != "err" {
		t.Fatalf("run: %s %q", resp.Header.Get("X-Exit-Code"), b)
	}
}

func TestCPURate(t *testing.T) {
	s := New(Config{}, nil, nil)
	t0 := time.Unix(1000, 0)
	started := t0.Add(-10 * time.Second)
	at := func(d time.Duration, cpuMillis uint64) runtime.Stats {
		return runtime.Stats{Time: t0.Add(d), CPUUsageNanos: cpuMillis * 1e6}
	}
	// First sample: the average since start (2 s of CPU in 10 s = 200m).
	if got := s.rate("c", at(0, 2000), started).UsageNanoCores; got != 200e6 {
		t.Errorf("first sample: %d, want 200m", got)
	}
	// Back to back, inside the window: still no window-long base, so the
	// average since start (2.05 s in 10.1 s), not 50 ms / 100 ms = 500m.
	if got := s.rate("c", at(100*time.Millisecond, 2050), started).UsageNanoCores; got < 200e6 || got > 205e6 {
		t.Errorf("inside the window: %d, want about 203m", got)
	}
	// A window later: measured against the first sample (500 ms in 1 s).
	if got := s.rate("c", at(time.Second, 2500), started).UsageNanoCores; got != 500e6 {
		t.Errorf("after a window: %d, want 500m", got)
	}
	// Forgotten once the container is gone.
	s.prune(map[string]bool{"/": true})
	if len(s.samples) != 0 {
		t.Errorf("samples after prune: %v", s.samples)
	}
}
